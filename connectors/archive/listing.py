"""Listing the attachments archived months cite, for the months archived before the list existed
(lrs.blobs.archived; migration 0180).

``hocvu lake archive`` lists a month's cited hashes as it writes it; a month archived earlier is not
listed, and while a tenant has one an erasure forgets none of its attachments (it cannot tell which
the month cites). ``hocvu lake erase --archive DIR`` lists them first (``list_months``), from the
statements file, read once, streamed, the ``statement`` column only, and only once its files are
the ones the hub pinned (an altered file could hide a citation and lose its attachment).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Final

from sqlalchemy import select

from connectors.archive.layout import STATEMENTS_FILE, month_dir, where
from connectors.archive.reader import LakeArchive
from lrs.blobs import archived
from lrs.blobs.attachments import declared_hashes
from lrs.storage import Database, StatementArchive

_BATCH: Final = 10_000


def hashes_in(path: Path) -> set[str]:
    """The attachment hashes the statements of an archived month's statements file cite."""
    import pyarrow.parquet as pq

    found: set[str] = set()
    for batch in pq.ParquetFile(path).iter_batches(_BATCH, columns=["statement"]):
        # Most statements have no attachment: the JSON is parsed only when the key is there.
        found |= declared_hashes(json.loads(t) for t in batch.column(0).to_pylist() if '"attachments"' in t)
    return found


def list_months(database: Database, root: Path, tenant_ids: Iterable[int],
                slugs: dict[int, str]) -> list[tuple[int, date, str]]:
    """List the unlisted archived months of ``tenant_ids`` found intact under ``root``; returns the
    (tenant id, month, why) of each month left unlisted (its tenant's erasures keep their attachments
    until it is listed)."""
    lake, left = LakeArchive(root), []
    with database.session() as s:
        todo = archived.unlisted(s, tenant_ids)
    for tenant_id, month in todo:
        slug = slugs[tenant_id]
        with database.session() as s:
            pinned = s.scalar(select(StatementArchive.manifest_sha256).where(
                StatementArchive.tenant_id == tenant_id, StatementArchive.month == month))
        problem = lake.files_problem(slug, month, pinned or "")
        if problem is not None:
            left.append((tenant_id, month, f"{where(slug, month)}: its attachments are not listed ({problem}): "
                                           "the tenant's erasures keep every attachment until they are"))
            continue
        cited = hashes_in(month_dir(root, slug, month) / STATEMENTS_FILE)  # no transaction open while it reads
        with database.session() as s:
            row = s.get(StatementArchive, (tenant_id, month), with_for_update=True)
            # Only if nobody rewrote the month meanwhile (its files are the ones just read).
            if row is not None and not row.attachments_listed and row.manifest_sha256 == pinned:
                archived.record(s, tenant_id, month, cited)
                s.commit()
    return left
