"""``hocvu courses``: check and list the course catalogue (``courses/*.yaml``, or HOCVU_COURSES_DIR); import,
list, assess (identity assurance for chosen AUs/SCOs), remove and export cmi5 and SCORM packages
(player.packages)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hocvu import configs
from hocvu.cli_session import cli_session
from hocvu.settings import Settings
from player import catalogue, catalogue_files
from player.packages import assessed, imports
from player.packages.cmi5 import progress
from player.packages.cmi5.export import export_course
from player.packages.errors import PackageError
from player.packages.fetch import fetch
from player.packages.storage import ImportedPackage
from player.packages.store import PackageStore


def _courses_dir() -> Path:
    return Settings.from_env().hub.courses_dir or catalogue.default_courses_dir()


@click.group("courses")
def courses() -> None:
    """The course catalogue: one YAML file per course."""


@courses.command("validate")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def courses_validate(files: tuple[Path, ...]) -> None:
    """Check course FILES (default: every course file of the catalogue); exit 1 on any problem."""
    paths = [p for f in files for p in catalogue_files.course_files(f)] if files \
        else catalogue_files.course_files(_courses_dir())
    if not paths:
        raise click.ClickException("no course files to check")
    problems = catalogue_files.validate_files(paths)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"{len(paths)} course file(s) OK")


@courses.command("list")
@click.option("--locale", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
              help="Catalogue directory (default: HOCVU_COURSES_DIR or the shipped courses/).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--packages/--no-packages", default=None,
              help="Also list imported packages, from the database (default: yes, unless --dir is given).")
def courses_list(locale: str, directory: Path | None, as_json: bool, packages: bool | None) -> None:
    """List every linkable item: its target, kind, whether it is graded, and its title; the YAML
    courses first, then imported packages (``package/<slug>``)."""
    try:
        cat = catalogue.load_catalogue(directory or _courses_dir())
    except catalogue.CatalogueError as err:
        raise click.ClickException(str(err)) from None
    items = cat.list_items(locale)
    if packages or (packages is None and directory is None):
        try:
            with cli_session() as db:
                items += imports.catalogue_items(db, locale)
        except SQLAlchemyError as err:
            # The YAML catalogue is still worth listing when no database is set up yet.
            click.echo(f"imported packages not listed: the database cannot be read ({type(err).__name__})", err=True)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(i) for i in items], ensure_ascii=False))
        return
    for i in items:
        grade = f"graded /{i.max_score:g}" if i.graded and i.max_score is not None else "-"
        click.echo(f"{i.target}\t{i.kind}\t{grade}\t{i.title}")



def _store() -> PackageStore:
    return PackageStore(configs.package_store(Settings.from_env()))


@courses.command("import")
@click.argument("source")
@click.option("--assessed", "assessed_ids", multiple=True, metavar="UNIT_ID",
              help="An AU id (cmi5) or SCO identifier (SCORM) that identity assurance applies to; repeat it.")
def courses_import(source: str, assessed_ids: tuple[str, ...]) -> None:
    """Import a cmi5 or SCORM package (a zip, or a cmi5.xml) from a file PATH or a URL (https, from a host
    in HOCVU_PACKAGE_FETCH_HOSTS); refused packages store nothing."""
    store = _store()
    started = datetime.now(UTC)
    with click.progressbar(length=1, label=f"{source}", show_percent=True) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        with cli_session(errors=(PackageError,)) as db:
            if source.startswith(("http://", "https://")):
                data = fetch(source, store.config.fetch)
                pkg = imports.import_package(db, store, data, source, started, progress)
            else:
                path = Path(source)
                if not path.is_file():
                    raise click.ClickException(f"{source}: no such file")
                with open(path, "rb") as fh:
                    pkg = imports.import_package(db, store, fh, path.name, started, progress)
            if assessed_ids:
                assessed.set_assessed(pkg, assessed_ids)
            described = imports.describe(pkg)
        imports.after_commit(db, store)
    units = "AU(s)" if pkg.format == "cmi5" else "item(s)"   # cmi5 AUs; a SCORM organisation's SCOs and assets
    marked = f"; assessed: {', '.join(pkg.assessed)}" if pkg.assessed else ""
    click.echo(f"imported {described['target']}: {imports.unit_count(pkg)} {units}{marked}")


@courses.command("assess")
@click.argument("slug")
@click.argument("unit_ids", nargs=-1)
def courses_assess(slug: str, unit_ids: tuple[str, ...]) -> None:
    """Mark exactly UNIT_IDS (AU ids of a cmi5 course, SCO identifiers of a SCORM one) of the imported
    course SLUG as assessed: launching them needs the identity gate. No UNIT_IDS: none is."""
    with cli_session(errors=(PackageError,)) as db:
        pkg = db.scalars(select(ImportedPackage).where(ImportedPackage.slug == slug)).first()
        if pkg is None:
            raise click.ClickException(f"no imported course {slug!r} (see `hocvu courses list`)")
        chosen = assessed.set_assessed(pkg, unit_ids)
    click.echo(f"{slug}: assessed: {', '.join(chosen) or 'none'}")


@courses.command("remove")
@click.argument("slug")
def courses_remove(slug: str) -> None:
    """Remove the imported course package/SLUG and its files (LMS links to it stop working)."""
    store = _store()
    with cli_session(errors=(PackageError,)) as db:
        pkg = db.scalars(select(ImportedPackage).where(ImportedPackage.slug == slug)).first()
        if pkg is None:
            raise click.ClickException(f"no imported course {slug!r} (see `hocvu courses list`)")
        key, files, target = pkg.package_key, pkg.has_files, imports.describe(pkg)["target"]
        db.delete(pkg)
    if files:
        store.remove(key)
    click.echo(f"removed {target}")


@courses.command("export")
@click.argument("course_id")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="The zip to write (default: <course>.cmi5.zip).")
def courses_export(course_id: str, output: Path | None) -> None:
    """Export the YAML course COURSE_ID as a cmi5 package any cmi5 LMS can import."""
    try:
        cat = catalogue.load_catalogue(_courses_dir())
    except catalogue.CatalogueError as err:
        raise click.ClickException(str(err)) from None
    course = cat.courses.get(course_id)
    if course is None:
        raise click.ClickException(f"no course {course_id!r}; courses: {', '.join(sorted(cat.courses))}")
    out = output or Path(f"{course_id}.cmi5.zip")
    out.write_bytes(export_course(course))
    click.echo(f"wrote {out}")


@courses.command("sweep")
def courses_sweep() -> None:
    """Abandon cmi5 AU sessions left open past HOCVU_CMI5_SESSION_HOURS (cmi5 §9.3.6); for cron."""
    with cli_session(errors=(PackageError,)) as db:
        count = progress.abandon_expired(db, datetime.now(UTC))
    click.echo(f"{count} AU session(s) abandoned")
