"""``hocvu export statements`` and ``hocvu report``: analysts' files from the command line.

The operator running these on the hub reads every tenant with real learner keys unless
``--pseudonymise`` is given; the pseudonyms are the same as the web exports' (keyed from
HOCVU_SECRET_KEY), so files made either way join.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import click

from connectors.archive.coverage import warning
from connectors.export import ExportQuery, parse_time, parse_until, pseudonym_key
from connectors.export_files import FORMATS, export_statements
from connectors.export_schema import SCHEMA
from hocvu.cli_session import cli_session
from hocvu.settings import Settings

_TIME_HELP = "ISO 8601 date (UTC) or date-time"


def _query(tenants: tuple[str, ...], since: str | None, until: str | None, after_cursor: str | None,
           settle: float, pseudonymise: bool) -> ExportQuery:
    return ExportQuery(tenants=list(tenants) or None, since=parse_time(since, "--since") if since else None,
                       until=parse_until(until) if until else None, after_cursor=after_cursor,
                       settle=timedelta(seconds=settle), pseudonymise=pseudonymise)


@click.group("export")
def export() -> None:
    """Analysts' exports in the hocvu.statements.v1 schema (docs/export-schema.md)."""


@export.command("statements")
@click.option("--tenant", "tenants", multiple=True, help="Tenant slug; repeat for several (default: every tenant).")
@click.option("--since", help=f"Only statements stored after this ({_TIME_HELP}).")
@click.option("--until", help=f"Only statements stored up to this ({_TIME_HELP}; a date includes that day).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--out", required=True,
              help="A file for csv/jsonl ('-' for standard output), a directory for parquet "
                   "(tenant=<slug>/date=<day>/part-*.parquet; later exports add parts).")
@click.option("--after-cursor", help="Only statements stored after this cursor (the previous export printed it).")
@click.option("--pseudonymise", is_flag=True, help="Replace learner keys and registrations with keyed pseudonyms.")
@click.option("--settle", type=click.FloatRange(0, 3600), default=5.0, show_default=True,
              help="Seconds to stay behind the present, so statements still committing are not skipped.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON for scripts.")
def export_statements_command(tenants: tuple[str, ...], since: str | None, until: str | None, fmt: str, out: str,
                              after_cursor: str | None, pseudonymise: bool, settle: float, progress: bool | None,
                              as_json: bool) -> None:
    """One row per stored statement; ends by printing the cursor for the next incremental export.
    Months archived to the lake (`hocvu lake archive`) are not in the store: a range covering them is
    warned about on stderr and listed under "archived" in the --json summary, with their counts."""

    settings = Settings.from_env()
    with cli_session() as session:
        query = _query(tenants, since, until, after_cursor, settle, pseudonymise)
        result = export_statements(session, query, fmt, out, pseudonym_key=pseudonym_key(settings.secret_key),
                                   progress=progress)
    summary = {"rows": result.rows, "cursor": result.cursor, "format": fmt, "schema": SCHEMA, "files": result.files,
               "archived": result.archived}
    if result.archived:  # never a silent gap: those months left the store for the lake
        click.echo(warning(result.archived), err=True)
    # With --out - the data is on stdout, so the summary goes to stderr.
    err = out == "-"
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False), err=err)
    else:
        where = "standard output" if err else out
        click.echo(f"exported {result.rows} statements ({SCHEMA}, {fmt}) to {where}", err=err)
        click.echo(f"cursor: {result.cursor}", err=err)


@click.command("report")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write (self-contained: charts inline, nothing loaded from the network).")
@click.option("--tenant", "tenants", multiple=True, help="Tenant slug; repeat for several (default: every tenant).")
@click.option("--since", help=f"Statements stored after this ({_TIME_HELP}).")
@click.option("--until", help=f"Statements stored up to this ({_TIME_HELP}; a date includes that day).")
@click.option("--min-group", type=click.IntRange(min=1), default=None,
              help="k: suppress groups with fewer learners (default $HOCVU_REPORT_MIN_GROUP or 5).")
@click.option("--pseudonymise", is_flag=True, help="Build the report over pseudonymised learner keys.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report's figures as JSON to this file.")
@click.option("--from-statements", is_flag=True,
              help="Compute from every statement instead of the rollups (as a window with --since/--until is).")
def report(out: Path, tenants: tuple[str, ...], since: str | None, until: str | None, min_group: int | None,
           pseudonymise: bool, json_out: Path | None, from_statements: bool) -> None:
    """Enrolments, completion and pass rates, verified attempts and time spent, by ministry, course,
    province and week, as an HTML page with charts. Months archived to the lake are not in the store:
    a --since/--until window covering them is warned about on stderr, named on the page and listed
    under "archived" in the --json figures."""
    from connectors.export import plan
    from connectors.report_page import render
    from connectors.reports import load_report
    from connectors.rollups.report import rollup_report

    settings = Settings.from_env()
    k = min_group if min_group is not None else settings.reports.report_min_group
    with cli_session() as session:
        query = _query(tenants, since, until, None, 0, pseudonymise)
        key = pseudonym_key(settings.secret_key)
        if since or until or from_statements:
            built = load_report(session, query, min_group=k, pseudonym_key=key)
        else:  # the rollups and their tail: no statement is read but the fresh ones
            built = rollup_report(session, plan(session, query, pseudonym_key=key).tenants, min_group=k,
                                  pseudonymised=pseudonymise)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(built), encoding="utf-8")
    if json_out is not None:
        figures = json.dumps(built.to_json(), ensure_ascii=False, indent=1, allow_nan=False)
        json_out.write_text(figures, encoding="utf-8")
    if built.archived:  # never a silent gap: those months left the store for the lake
        click.echo(warning(built.archived, "report"), err=True)
    total = built.breakdowns["tenant"].total
    learners = f"fewer than {k}" if total.suppressed else str(total.learners)
    click.echo(f"report for {len(built.tenants)} tenant(s), {learners} learners, k = {k}: {out}")
    sys.stdout.flush()
