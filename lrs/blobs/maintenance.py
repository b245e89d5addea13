"""Moving attachment bytes out of the database, and sweeping blobs no row names
(``hocvu attachments migrate`` / ``sweep``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session

from lrs.blobs import BlobInfo, BlobStore
from lrs.blobs.filesystem import FileBlobStore
from lrs.multipart import sha2_matches
from lrs.storage import Attachment

log = logging.getLogger(__name__)


@dataclass
class Migrated:
    moved: int = 0
    corrupt: list[tuple[int, str]] = field(default_factory=list)  # (tenant, sha2) left in the row


def rows_to_migrate(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Attachment).where(Attachment.content.is_not(None))) or 0


def migrate(session: Session, store: BlobStore, *, batch: int = 100,
            progress: Callable[[int], object] = lambda n: None) -> Migrated:
    """Move every row's bytes to ``store`` and empty its ``content``, committing each batch.

    Idempotent: only rows that still hold bytes are read, and a blob is put before its row is
    emptied, so a run stopped anywhere leaves rows that still hold their bytes (the next run puts
    them again) and never a row without bytes anywhere. Bytes that do not match their hash
    (corrupted in the database) stay where they are and are reported."""
    done = Migrated()
    after: tuple[int, str] = (-1, "")
    while True:
        rows = session.execute(
            select(Attachment.tenant_id, Attachment.sha2, Attachment.content)
            .where(Attachment.content.is_not(None), tuple_(Attachment.tenant_id, Attachment.sha2) > after)
            .order_by(Attachment.tenant_id, Attachment.sha2).limit(batch)).all()
        if not rows:
            return done
        for tenant_id, sha2, content in rows:
            if content is None or not sha2_matches(sha2, content):
                log.error("attachment %s of tenant %s: its bytes in the database do not match it; left there",
                          sha2, tenant_id)
                done.corrupt.append((tenant_id, sha2))
                continue
            store.put(sha2, content)
            # The row is emptied only if it still holds these bytes (a concurrent run did nothing else).
            session.execute(update(Attachment).where(Attachment.tenant_id == tenant_id, Attachment.sha2 == sha2,
                                                     Attachment.content.is_not(None)).values(content=None))
            done.moved += 1
        session.commit()
        progress(len(rows))
        after = (rows[-1].tenant_id, rows[-1].sha2)


@dataclass
class Swept:
    seen: int = 0
    removed: list[str] = field(default_factory=list)
    temporaries: int = 0


def sweep(session: Session, store: BlobStore, *, grace: timedelta, now: datetime, dry_run: bool = False,
          batch: int = 500) -> Swept:
    """Remove the blobs that no tenant's row names and that are older than ``grace``.

    The grace period protects a blob put by a request that has not committed yet (its row is not
    visible here). Just before removing, the blob's time is read again: a blob rewritten since the
    scan (the same bytes stored again) is kept."""
    cutoff = now - grace
    done = Swept()
    pending: list[BlobInfo] = []

    def flush() -> None:
        keys = [b.key for b in pending]
        named = set(session.scalars(select(Attachment.sha2).where(Attachment.sha2.in_(keys)).distinct()))
        for blob in pending:
            if blob.key in named:
                continue
            modified = store.modified(blob.key)
            if modified is None or modified >= cutoff:
                continue
            if not dry_run:
                store.delete(blob.key)
            done.removed.append(blob.key)
        pending.clear()

    for blob in store.scan():
        done.seen += 1
        if blob.modified < cutoff:
            pending.append(blob)
            if len(pending) >= batch:
                flush()
    if pending:
        flush()
    if isinstance(store, FileBlobStore) and not dry_run:
        done.temporaries = store.remove_stale_temporaries(cutoff)
    return done
