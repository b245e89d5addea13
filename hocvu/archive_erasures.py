"""Applying the archive erasures `hocvu audit erase` left pending (connectors.archive.eraser), for
``hocvu lake erase`` and ``hocvu audit erase --archive``; on the hub's database and secret."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import click

from connectors.archive.eraser import EraseError, apply_pending
from hocvu.attachments import blob_store
from hocvu.attachments import register as register_blobs
from hocvu.cli_session import chain_policy
from hocvu.settings import Settings
from lrs.audit.archive_erasure import archive_key
from lrs.storage import Database


def erase_archives(root: Path, tenant_slug: str | None, reason: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Apply the pending archive erasures (connectors.archive.eraser) under ``root``: what each month
    lost, as JSON with a line to print, and the months that could not be rewritten (still pending)."""
    settings = Settings.from_env()
    database = Database(settings.database_url)
    try:
        if database.engine.dialect.name != "postgresql":
            return [], []  # nothing is archived on SQLite, so no erasure is ever pending there
        database.sessions.configure(info=chain_policy())
        register_blobs(database, blob_store(settings))  # the erased statements' attachments go as a live erasure's
        done, failed = apply_pending(database, root, archive_key(settings.secret_key),
                                     actor=f"cli:{getpass.getuser()}", reason=reason, tenant_slug=tenant_slug)
    except EraseError as err:
        raise click.ClickException(str(err)) from None
    finally:
        database.dispose()
    out = []
    for d in done:
        again = " (finished an interrupted rewrite)" if d.resumed else ""
        kind = "detached (not yet archived)" if d.detached else "archived"
        line = (f"{d.tenant}: {d.month:%Y-%m}: {len(d.removed)} {kind} statement(s) erased, recorded at "
                f"position(s) {', '.join(map(str, d.positions))}{again}" if d.removed else
                f"{d.tenant}: {d.month:%Y-%m}: no archived statement of the learner(s); pending erasure cleared")
        out.append({"tenant": d.tenant, "month": f"{d.month:%Y-%m}", "erased": len(d.removed),
                    "entries": d.positions, "resumed": d.resumed, "detached": d.detached, "line": line})
    return out, [f"FAILED {f}" for f in failed]
