"""The attachments that statements out of the store's reach cite: archived months and detached ones.

``hocvu lake archive`` moves a month's statements to the lake but keeps their attachment rows and
blobs (proof bundles and lake readers need them). An erasure forgets the attachments no statement
of the tenant cites (lrs.blobs.attachments.forget); without this module it saw only the live
statements and forgot an attachment another learner's archived statement cites: data lost for good.

The lake is not the database's to read (it may be offline, and reading every month's Parquet on each
erasure would not scale), so each archived month's cited hashes are listed in ``archived_attachments``
(``record``: by the archive writer, from the rows it writes; by ``hocvu lake erase``, which rewrites
a month and lists months archived before the list existed). A month not listed yet
(``statement_archives.attachments_listed`` false) may cite anything: while the tenant has one, an
erasure keeps every attachment it would forget (``Citations.unknown``) and the caller records them as
still to forget on the pending archive erasures (lrs.audit.archive_erasure.defer). A detached month
not archived yet is a table of the database: searched as the live statements are.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from lrs import partitions
from lrs.blobs.storage import ArchivedAttachment
from lrs.storage import StatementArchive, dialect_insert

CHUNK: Final = 500


@dataclass(frozen=True)
class Citations:
    cited: set[str] = field(default_factory=set)  # hashes an archived or detached statement cites
    unknown: list[date] = field(default_factory=list)  # archived months whose citations are not listed


def citations(session: Session, tenant_id: int, hashes: Collection[str]) -> Citations:
    """Which of ``hashes`` the tenant's archived months (their lists) and detached months cite, and
    the archived months not listed yet (any hash may be cited there)."""
    wanted = sorted(set(hashes))
    unknown = sorted(session.scalars(select(StatementArchive.month).where(
        StatementArchive.tenant_id == tenant_id, StatementArchive.attachments_listed.is_(False))))
    if not wanted:
        return Citations(set(), unknown)
    cited: set[str] = set()
    for i in range(0, len(wanted), CHUNK):
        cited.update(session.scalars(select(ArchivedAttachment.sha2).distinct().where(
            ArchivedAttachment.tenant_id == tenant_id, ArchivedAttachment.sha2.in_(wanted[i:i + CHUNK]))))
    conn = session.connection()
    for name in partitions.detached(conn):
        # The same text search as the live statements' (lrs.blobs.attachments.forget): never misses one.
        cited.update(h for h in wanted if h not in cited and conn.execute(text(
            f'SELECT 1 FROM {name} WHERE tenant_id = :t AND strpos("full"::text, :h) > 0 LIMIT 1'),
            {"t": tenant_id, "h": h}).first() is not None)
    return Citations(cited, unknown)


def record(session: Session, tenant_id: int, month: date, hashes: Iterable[str]) -> None:
    """In the caller's transaction: ``hashes`` are all the attachments the tenant's archived
    ``month`` cites (its registry row exists); the month is listed from now on."""
    ordered = sorted({h.lower() for h in hashes})
    session.execute(delete(ArchivedAttachment).where(ArchivedAttachment.tenant_id == tenant_id,
                                                     ArchivedAttachment.month == month))
    for i in range(0, len(ordered), CHUNK):
        session.execute(dialect_insert(session)(ArchivedAttachment.__table__).on_conflict_do_nothing(),
                        [{"tenant_id": tenant_id, "sha2": h, "month": month} for h in ordered[i:i + CHUNK]])
    row = session.get(StatementArchive, (tenant_id, month))
    if row is not None:
        row.attachments_listed = True
    session.flush()


def uncite(session: Session, tenant_id: int, month: date, hashes: Collection[str]) -> None:
    """The rewritten ``month`` (an erasure) no longer cites ``hashes``."""
    ordered = sorted(hashes)
    for i in range(0, len(ordered), CHUNK):
        session.execute(delete(ArchivedAttachment).where(
            ArchivedAttachment.tenant_id == tenant_id, ArchivedAttachment.month == month,
            ArchivedAttachment.sha2.in_(ordered[i:i + CHUNK])))


def unlisted(session: Session, tenant_ids: Iterable[int] | None = None) -> list[tuple[int, date]]:
    """(tenant id, month) of the archived months whose citations are not listed (archived before 0180)."""
    q = select(StatementArchive.tenant_id, StatementArchive.month).where(
        StatementArchive.attachments_listed.is_(False)).order_by(StatementArchive.tenant_id, StatementArchive.month)
    if tenant_ids is not None:
        q = q.where(StatementArchive.tenant_id.in_(list(tenant_ids)))
    return [(int(t), m) for t, m in session.execute(q)]
