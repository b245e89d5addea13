"""``hocvu courses``: check and list the course catalogue (``courses/*.yaml``, or HOCVU_COURSES_DIR)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from hocvu.settings import Settings
from player import catalogue, catalogue_files


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
def courses_list(locale: str, directory: Path | None, as_json: bool) -> None:
    """List every linkable item: its target, kind, whether it is graded, and its title."""
    try:
        cat = catalogue.load_catalogue(directory or _courses_dir())
    except catalogue.CatalogueError as err:
        raise click.ClickException(str(err)) from None
    items = cat.list_items(locale)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(i) for i in items], ensure_ascii=False))
        return
    for i in items:
        grade = f"graded /{i.max_score:g}" if i.graded and i.max_score is not None else "-"
        click.echo(f"{i.target}\t{i.kind}\t{grade}\t{i.title}")
