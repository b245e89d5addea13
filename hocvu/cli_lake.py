"""``hocvu lake figures``: the dashboard's figures recomputed from the Parquet lake by DuckDB or Spark
(connectors.lake), with provinces and names from the hub's database, to check the rollups or to
work past one machine."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select

from hocvu.cli_session import cli_session
from hocvu.settings import Settings
from lrs.storage import Database


@click.group("lake")
def lake() -> None:
    """The analytics lake: the partitioned Parquet export read by DuckDB or Apache Spark."""


@lake.command("figures")
@click.option("--lake", "directory", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The Parquet export directory (tenant=<slug>/date=<day>/part-*.parquet).")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True)
@click.option("--pseudonymised", is_flag=True, help="The lake was exported with --pseudonymise: provinces are "
                                                    "joined by the same pseudonyms.")
@click.option("--min-group", type=click.IntRange(min=1), default=None,
              help="k: suppress groups with fewer learners (default $HOCVU_REPORT_MIN_GROUP or 5).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the report page (HTML).")
def figures(directory: Path, engine: str, pseudonymised: bool, min_group: int | None, out: Path | None) -> None:
    """Print the report's figures as JSON (the same shape as /reports/report.json)."""
    from connectors.export import Pseudonymiser, pseudonym_key
    from connectors.lake import LakeInputs, lake_report, open_engine
    from connectors.storage import LearnerRecord
    from lrs.storage import Tenant

    settings = Settings.from_env()
    k = min_group if min_group is not None else settings.reports.report_min_group
    pseudo = Pseudonymiser(pseudonym_key(settings.secret_key)) if pseudonymised else None
    with cli_session() as session:
        tenants = list(session.scalars(select(Tenant)))
        slug_of = {t.id: t.slug for t in tenants}
        records = [(slug_of[t], pseudo.agent(key) if pseudo else key, province) for t, key, province in
                   session.execute(select(LearnerRecord.tenant_id, LearnerRecord.learner_key, LearnerRecord.province)
                                   .where(LearnerRecord.province.is_not(None))) if province is not None]
        inputs = LakeInputs(records, {t.slug: t.province for t in tenants}, {t.slug: t.name for t in tenants})
    try:
        chosen = open_engine(engine)
    except RuntimeError as err:
        raise click.ClickException(str(err)) from None
    report = lake_report(directory, chosen, inputs, min_group=k, pseudonymised=pseudonymised)
    if out is not None:
        from connectors.report_page import render

        out.write_text(render(report), encoding="utf-8")
    click.echo(json.dumps(report.to_json(), ensure_ascii=False, allow_nan=False))


@lake.command("archive")
@click.argument("month", type=click.DateTime(["%Y-%m"]))
@click.option("--to", "root", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The archive directory (tenant=<slug>/month=<YYYY-MM>/...; one of its own, not an export's).")
@click.option("--cert", "certs", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate(s) of the hub's signing key, to check the checkpoints (default: the hub's own).")
def archive(month: datetime, root: Path, certs: tuple[str, ...]) -> None:
    """PostgreSQL: archive MONTH (YYYY-MM, a month that has ended) to the lake with its chain proofs,
    then drop its partition. The files are written, fsynced and read back and checked against the
    audit chain first; on any failure the partition stays. The chain entries stay in the database
    (`hocvu audit verify --archive DIR` proves them, `hocvu audit bundle --archive DIR` bundles them).
    Archived statements are served from the lake: the LRS answers 404 for their ids (naming the month)
    and refuses to store them again (409). The report rollups read the month first: its figures stay
    on the dashboard, and a rollup rebuild keeps them."""
    from connectors.archive.writer import ArchiveError, finish, write_month
    from hocvu.cli_audit import certificates_from
    from lrs import partitions

    first = partitions.month_start(month)
    if partitions.add_months(first, 1) > partitions.month_start(datetime.now(UTC)):
        raise click.ClickException(f"{first:%Y-%m} has not ended: only past months are archived")
    certificates = certificates_from(certs)
    if not certificates:
        raise click.ClickException("no certificate of the hub to check the checkpoints with (give --cert)")
    database = Database(Settings.from_env().database_url)
    started = time.perf_counter()
    try:
        if database.engine.dialect.name != "postgresql":
            raise click.ClickException("archiving needs PostgreSQL (SQLite's statements are not partitioned)")
        _rollups_caught_up(database)
        with database.session() as session:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            written = write_month(session, first, root, certificates)
        wrote = time.perf_counter() - started
        with database.session() as session:
            dropped = finish(session, first, written, str(root))
            session.commit()
    except ArchiveError as err:
        raise click.ClickException(str(err)) from None
    finally:
        database.dispose()
    rows = sum(w.statements for w in written)
    for w in written:
        click.echo(f"{w.tenant}: {w.statements} statements, {w.bytes} bytes in {w.directory}")
    click.echo(f"archived {first:%Y-%m}: {rows} statements of {len(written)} tenant(s) in {wrote:.2f} s "
               f"({rows / wrote if wrote else 0:.0f} rows/s); dropped {dropped or 'no partition'}")


def _rollups_caught_up(database: Database) -> None:
    """The report rollups read the month's statements before they leave the store: the month's
    figures stay on the dashboard (its sums are kept, connectors.rollups.archived), and ``finish``
    refuses a tenant whose watermark is still inside the month. Tenants without rollups start them
    later from the kept sums."""
    from connectors.rollups import refresh
    from connectors.storage import RollupState
    from lrs.storage import Tenant

    with database.session() as session:
        slugs = list(session.scalars(select(Tenant.slug).join(RollupState, RollupState.tenant_id == Tenant.id)))
    if slugs:
        refresh(database, tenants=slugs)


@lake.command("erase")
@click.option("--archive", "root", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The lake archive (`hocvu lake archive --to DIR`).")
@click.option("--tenant", "tenant_slug", default=None, help="Only this tenant (default: every tenant).")
@click.option("--reason", default="privacy request", show_default=True, help="Recorded in the chain.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def erase(ctx: click.Context, root: Path, tenant_slug: str | None, reason: str, as_json: bool) -> None:
    """Apply the erasures `hocvu audit erase` left pending for archived months: rewrite each month
    without the learner's rows (files staged, fsynced, renamed), pin the new manifest and append
    'erased' chain entries naming the removed statements (a month detached, not yet archived, loses
    the rows from its table). Safe to rerun after a crash, and a no-op
    with nothing pending: run it from cron after the erasures. Exit 1 when a month could not be
    rewritten (it stays pending; the message says why)."""
    with cli_session() as session:
        if session.get_bind().dialect.name != "postgresql":
            click.echo("archives are PostgreSQL-only: no archived month, no erasure pending")
            return
    from hocvu.archive_erasures import erase_archives

    done, failed = erase_archives(root, tenant_slug, reason)
    if as_json:
        click.echo(json.dumps({"months": done, "failures": failed}, ensure_ascii=False))
    else:
        for line in [*(d["line"] for d in done), *failed]:
            click.echo(line)
        click.echo(f"{sum(d['erased'] for d in done)} archived statement(s) erased in {len(done)} month(s); "
                   f"{len(failed)} month(s) still pending")
    ctx.exit(1 if failed else 0)
