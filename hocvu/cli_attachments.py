"""``hocvu attachments``: move attachment bytes out of the database into the blob store, and sweep
blobs no row names (lrs.blobs; README "Attachments")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from hocvu.attachments import blob_store
from hocvu.cli_session import cli_session, emit
from hocvu.settings import Settings
from lrs.blobs import maintenance

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group("attachments")
def attachments() -> None:
    """xAPI attachment bytes in the blob store (HOCVU_ATTACHMENTS_STORE)."""


@attachments.command("migrate")
@click.option("--batch", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Rows per transaction.")
@json_option
def attachments_migrate(batch: int, as_json: bool) -> None:
    """Move the bytes of attachments stored before migration 0135 from the database to the blob
    store. Safe to stop and run again: it only takes rows that still hold bytes."""
    from tqdm import tqdm

    store = blob_store(Settings.from_env())
    with cli_session() as session:
        total = maintenance.rows_to_migrate(session)
        with tqdm(total=total, unit=" attachments", desc="migrate", disable=as_json or None) as bar:
            done = maintenance.migrate(session, store, batch=batch, progress=bar.update)
    corrupt = [f"tenant {t} {h}" for t, h in done.corrupt]
    emit(as_json, {"moved": done.moved, "store": store.name, "corrupt": corrupt},
         f"moved {done.moved} attachment(s) to the {store.name} store"
         + "".join(f"\n  left in the database, bytes do not match their hash: {c}" for c in corrupt))
    if corrupt:
        raise SystemExit(1)


@attachments.command("sweep")
@click.option("--grace-hours", type=click.FloatRange(min=1), default=None,
              help="Keep unreferenced blobs younger than this [default: HOCVU_ATTACHMENTS_SWEEP_GRACE_HOURS].")
@click.option("--dry-run", is_flag=True, help="List what would be removed, remove nothing.")
@json_option
def attachments_sweep(grace_hours: float | None, dry_run: bool, as_json: bool) -> None:
    """Remove blobs that no tenant's attachment row names (left by rolled-back requests and erasures)."""
    settings = Settings.from_env()
    store = blob_store(settings)
    hours = settings.attachments.attachments_sweep_grace_hours if grace_hours is None else grace_hours
    with cli_session() as session:
        done = maintenance.sweep(session, store, grace=timedelta(hours=hours), now=datetime.now(UTC),
                                 dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    stray = f", and {done.temporaries} stray temporary file(s)" if done.temporaries else ""
    emit(as_json, {"seen": done.seen, "removed": done.removed, "temporaries": done.temporaries, "dry_run": dry_run},
         f"{done.seen} blob(s) in the {store.name} store; {verb} {len(done.removed)} unreferenced "
         f"(older than {hours:g} h){stray}")
