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
              help="The lake archive (`hocvu lake archive --to DIR`): first compute the figures of months "
                   "archived before the hub kept them (a rebuild refuses without it while there are some).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def refresh_command(tenants: tuple[str, ...], settle: float, batch: int, jobs: int, max_seconds: float | None,
                    rebuild: bool, root: Path | None, as_json: bool) -> None:
    """Add the statements stored since the last refresh (voided ones leave the figures). Safe to run
    from several machines at once: each tenant's watermark row is locked while it moves."""
    from connectors.rollups import RebuildRefused, refresh
    from connectors.rollups import rebuild as forget

    until = time.time() + max_seconds if max_seconds is not None else None
    database = Database(Settings.from_env().database_url)
    computed: list[str] = []
    try:
        if rebuild:
            computed = forget(database, list(tenants) or None, root)
        elif root is not None:
            computed, left = _fill(database, list(tenants) or None, root)
            if left:
                raise click.ClickException("archived months whose figures could not be computed:\n  "
                                           + "\n  ".join(left))
        done = refresh(database, tenants=list(tenants) or None, settle=timedelta(seconds=settle), batch=batch,
                       jobs=jobs, until=until)
    except RebuildRefused as err:
        raise click.ClickException(err.message) from None
    finally:
        database.dispose()
    data = {"tenants": done.tenants, "statements": done.statements, "batches": done.batches,
            "recomputed": done.recomputed, "behind_seconds": done.behind, "archived_months_computed": computed}
    emit(as_json, data, f"rolled up {done.statements} statements of {done.tenants} tenant(s) in {done.batches} "
                        f"batch(es); {done.recomputed} enrolment(s) recomputed after voiding")


def _fill(database: Database, tenants: list[str] | None, root: Path) -> tuple[list[str], list[str]]:
    """The months of ``tenants`` archived before their figures were kept, computed from the lake."""
    from connectors.rollups.archived import fill
    from lrs.storage import Tenant

    with database.session() as session:
        query = select(Tenant.id, Tenant.slug).order_by(Tenant.id)
        if tenants is not None:
            query = query.where(Tenant.slug.in_(tenants))
        chosen = [(int(i), str(s)) for i, s in session.execute(query)]
    return fill(database, chosen, root)


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
