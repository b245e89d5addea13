"""``hocvu import``: files from other systems into a tenant's store (connectors.importers).

Exit status: 0 when at least one record could be read and accepted (rejected lines are reported,
not fatal); 1 when nothing could be read — an unreadable file, no usable header, a refused
citizen-ID column, or every record rejected.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from connectors.importers import Report, SourceError, caliper, moodle_log, roster, scorm
from hocvu.cli_session import chain_policy, cli_session
from lrs import credentials


@click.group("import")
def import_group() -> None:
    """Import Caliper events, SCORM run-time data, Moodle logs and learner rosters."""


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
    options = (
        click.argument("file", type=click.Path(dir_okay=False, path_type=Path)),
        click.option("--tenant", "tenant_slug", required=True, help="Tenant slug."),
        click.option("--dry-run", is_flag=True, help="Read, map and check everything; store nothing."),
        click.option("--json", "as_json", is_flag=True, help="Print the report as JSON for scripts."),
        click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 5000),
                     help="Statements (or roster rows) per database batch."),
        click.option("--progress/--no-progress", default=None, help="Progress bar (default: when on a terminal)."),
    )
    for option in reversed(options):
        command = option(command)
    return command


_LMS = click.option("--lms-url", help="The LMS's address: learners' account homePage and base of activity IRIs.")
_LANGUAGE = click.option("--language", default="vi", show_default=True,
                         help="Language tag for names from the source (which carries none).")


def _run(tenant_slug: str, as_json: bool, progress: bool | None,
         work: Callable[[Session, int, bool | None], Report]) -> None:
    # Imported statements are chained and checkpointed as the web processes would (hocvu.cli_session).
    with cli_session(chain_policy(), errors=(SourceError,)) as session:
        tenant = credentials.get_tenant(session, tenant_slug)
        report = work(session, tenant.id, False if as_json else progress)
    _print(report, tenant_slug, as_json)
    if report.accepted == 0:
        raise SystemExit(1)


def _print(report: Report, tenant_slug: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"tenant": tenant_slug, **report.as_dict()}, ensure_ascii=False))
        return
    verb = "would store" if report.dry_run else "stored"
    click.echo(f"{report.format} → tenant {tenant_slug}{' (dry run: nothing was written)' if report.dry_run else ''}")
    click.echo(f"read {report.read} {report.record}s: {verb} {report.stored} {report.unit}, "
               f"{report.already_present} already present, rejected {len(report.rejected)} {report.record}s")
    for r in report.rejected:
        where = f"line {r.line}" + (f", {report.record} {r.item}" if r.item is not None else "")
        click.echo(f"  {where}: {r.reason}")


@import_group.command("caliper")
@_common
@_LANGUAGE
def import_caliper(file: Path, tenant_slug: str, dry_run: bool, as_json: bool, batch_size: int,
                   progress: bool | None, language: str) -> None:
    """IMS Caliper 1.2 envelopes, one per line (JSON Lines), as xAPI statements."""
    _run(tenant_slug, as_json, progress, lambda s, t, p: caliper.import_file(
        s, t, file, language=language, dry_run=dry_run, progress=p, batch_size=batch_size))


@import_group.command("scorm")
@_common
@_LMS
@_LANGUAGE
def import_scorm(file: Path, tenant_slug: str, dry_run: bool, as_json: bool, batch_size: int,
                 progress: bool | None, lms_url: str | None, language: str) -> None:
    """SCORM 1.2/2004 run-time data, one SCO session per line (JSON Lines), as xAPI statements."""
    _run(tenant_slug, as_json, progress, lambda s, t, p: scorm.import_file(
        s, t, file, lms_url=lms_url, language=language, dry_run=dry_run, progress=p, batch_size=batch_size))


@import_group.command("moodle-log")
@_common
@_LMS
@_LANGUAGE
@click.option("--timezone", default=moodle_log.TIMEZONE, show_default=True, help="Time zone of the Time column.")
@click.option("--time-format", default=moodle_log.TIME_FORMAT, show_default=True,
              help="strptime format of the Time column (Moodle's short date-time).")
def import_moodle_log(file: Path, tenant_slug: str, dry_run: bool, as_json: bool, batch_size: int,
                      progress: bool | None, lms_url: str | None, language: str, timezone: str,
                      time_format: str) -> None:
    """Moodle's standard log export (CSV) as xAPI statements."""
    _run(tenant_slug, as_json, progress, lambda s, t, p: moodle_log.import_file(
        s, t, file, lms_url=lms_url, timezone=timezone, time_format=time_format, language=language,
        dry_run=dry_run, progress=p, batch_size=batch_size))


@import_group.command("roster")
@_common
@_LMS
def import_roster(file: Path, tenant_slug: str, dry_run: bool, as_json: bool, batch_size: int,
                  progress: bool | None, lms_url: str | None) -> None:
    """A learner roster (CSV) into the tenant's learner records (upserted)."""
    _run(tenant_slug, as_json, progress, lambda s, t, p: roster.import_file(
        s, t, file, lms_url=lms_url, dry_run=dry_run, progress=p, batch_size=batch_size))
