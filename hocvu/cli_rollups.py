"""``hocvu rollups``: the report rollups (connectors.rollups) from the command line, for cron or a
Celery beat where the web processes' own refresh is off (HOCVU_ROLLUP_SECONDS=0)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import click
from sqlalchemy import select

from hocvu.cli_session import cli_session, emit
from hocvu.settings import Settings
from lrs.storage import Database


@click.group("rollups")
def rollups() -> None:
    """Report rollups: SQL aggregates the dashboard reads instead of every statement."""


@rollups.command("refresh")
@click.option("--tenant", "tenants", multiple=True, help="Tenant slug; repeat for several (default: every tenant).")
@click.option("--settle", type=click.FloatRange(0, 3600), default=5.0, show_default=True,
              help="Seconds to stay behind the present, so statements still committing are not passed over.")
@click.option("--batch", type=click.IntRange(1, 100_000), default=5000, show_default=True,
              help="Statements per transaction.")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes refreshing tenants in parallel (a catch-up after a bulk load; each tenant has one).")
@click.option("--max-seconds", type=click.FloatRange(0, None), default=None,
              help="Start no batch after this many seconds (a catch-up in a window; the next run goes on).")
@click.option("--rebuild", is_flag=True, help="Forget the rollups first and recompute them from every statement "
                                           "(archived months from the sums kept when they were archived).")
@click.option("--archive", "root", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The lake archive (`hocvu lake archive --to DIR`): compute the figures of months archived "
                   "before the hub kept them (a rebuild refuses without it while there are some) and take out "
                   "the statements voided after their month was archived.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def refresh_command(tenants: tuple[str, ...], settle: float, batch: int, jobs: int, max_seconds: float | None,
                    rebuild: bool, root: Path | None, as_json: bool) -> None:
    """Add the statements stored since the last refresh (voided ones leave the figures). Safe to run
    from several machines at once: each tenant's watermark row is locked while it moves."""
    from connectors.rollups import RebuildRefused, archived_voids, refresh
    from connectors.rollups import rebuild as forget
    from connectors.rollups.archived import fill

    until = time.time() + max_seconds if max_seconds is not None else None
    database = Database(Settings.from_env().database_url)
    computed: list[str] = []
    taken = 0
    try:
        chosen = _chosen(database, list(tenants) or None)
        if rebuild:
            computed = forget(database, list(tenants) or None, root)
        elif root is not None:
            computed, left = fill(database, chosen, root)
            if left:
                raise click.ClickException("archived months whose figures could not be computed:\n  "
                                           + "\n  ".join(left))
        done = refresh(database, tenants=list(tenants) or None, settle=timedelta(seconds=settle), batch=batch,
                       jobs=jobs, until=until)
        if root is not None:  # after the refresh: the voidings it read are noted, then taken out
            taken, left = archived_voids.apply(database, chosen, root)
            if left:
                raise click.ClickException("archived months the voided statements of which could not be read:\n  "
                                           + "\n  ".join(left))
        waiting = archived_voids.pending(database, [t for t, _ in chosen])
    except RebuildRefused as err:
        raise click.ClickException(err.message) from None
    finally:
        database.dispose()
    data = {"tenants": done.tenants, "statements": done.statements, "batches": done.batches,
            "recomputed": done.recomputed, "behind_seconds": done.behind, "archived_months_computed": computed,
            "archived_voided_taken_out": taken, "archived_voided_waiting": waiting}
    more = (f"; {waiting} statement(s) voided after their month was archived still count: run with --archive DIR"
            if waiting else "")
    emit(as_json, data, f"rolled up {done.statements} statements of {done.tenants} tenant(s) in {done.batches} "
                        f"batch(es); {done.recomputed} enrolment(s) recomputed after voiding" + more)


def _chosen(database: Database, tenants: list[str] | None) -> list[tuple[int, str]]:
    from lrs.storage import Tenant

    with database.session() as session:
        query = select(Tenant.id, Tenant.slug).order_by(Tenant.id)
        if tenants is not None:
            query = query.where(Tenant.slug.in_(tenants))
        return [(int(i), str(s)) for i, s in session.execute(query)]


@rollups.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def status_command(as_json: bool) -> None:
    """Each tenant's watermark: the rollups hold every statement stored up to it."""
    from connectors.storage import RollupState
    from lrs.storage import Tenant

    with cli_session() as session:
        rows = [{"tenant": slug, "complete_to": stored.isoformat() if stored else None, "statements": n}
                for slug, stored, n in session.execute(
                    select(Tenant.slug, RollupState.stored, RollupState.statements)
                    .join(RollupState, RollupState.tenant_id == Tenant.id, isouter=True).order_by(Tenant.slug))]
    emit(as_json, rows, "\n".join(f"{r['tenant']}\t{r['complete_to'] or 'never'}\t{r['statements'] or 0}"
                                  for r in rows))
