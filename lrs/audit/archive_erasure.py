"""An erasure reaching the months archived to the lake (issue 17 item 2 follow-up; privacy).

``lrs.audit.erasure.erase_agent`` removes a learner's rows from the store, but an archived month's
statements are in its Parquet archive, out of the database's reach. So the erasure records, in its
own transaction, one ``archive_erasures`` row per archived month of the tenant (``record``): the
learner's agent key as an HMAC under a key derived from the hub's secret, never in clear, and the
key's id (a changed secret is then a clear error, not a silent miss). The rewrite of the archives
(connectors.archive.eraser, ``hocvu lake erase --archive DIR``) hashes each archived row's related
agents the same way (``row_digests``: the set erase_agent matches, actor, object agent, members,
instructor, team, authority) and removes the rows that meet a pending digest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, Final

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lrs import partitions
from lrs.errors import ServerError
from lrs.related import related
from lrs.storage import ArchiveErasure, StatementArchive

# Session.info key: the HMAC key (bytes, ``archive_key``, or a callable giving it) the composition root
# registers; an erasure of a tenant with archived months refuses to run without it rather than forget them.
ARCHIVE_KEY_KEY: Final = "lrs.archive_erasure_key"


def archive_key(secret_key: str) -> bytes:
    """The key of the pending erasures' digests, derived from the hub's secret for this one use (it
    reveals nothing of the secret, and no other derived key matches it)."""
    return hashlib.sha256(b"hocvu/archive-erasure/" + secret_key.encode()).digest()


def key_id(key: bytes) -> str:
    """Names the key without revealing it: a rewrite under another secret is refused by it."""
    return hashlib.sha256(b"hocvu/archive-erasure/key-id/" + key).hexdigest()[:16]


def digest(key: bytes, agent_key: str) -> str:
    return hmac.new(key, agent_key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def row_digests(key: bytes, statement: dict[str, Any], actor_key: str | None) -> set[str]:
    """The digests of an archived statement's related agents, as ``statement_agents`` holds their
    keys (lrs.related.related) plus the actor column (an anonymous Group's key is only there)."""
    keys = {k for k, _ in related(statement)[0]}
    if actor_key:
        keys.add(actor_key)
    return {digest(key, k) for k in keys}


def months_out_of_reach(session: Session, tenant_id: int) -> list[date]:
    """The tenant's months an erasure of the store cannot reach: archived ones, and detached ones
    (``hocvu db partitions --detach``) holding its rows, which ``hocvu lake archive`` would carry to
    the lake after the erasure. None on SQLite (no partitions)."""
    months = set(session.scalars(select(StatementArchive.month).where(StatementArchive.tenant_id == tenant_id)))
    conn = session.connection()
    for name in partitions.detached(conn):
        if conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {name} WHERE tenant_id = :t)"), {"t": tenant_id}).scalar():
            months.add(partitions.month_of(name))
    return sorted(months)


def record(session: Session, tenant_id: int, agent_key: str, position: int | None) -> int:
    """In the erasure's transaction: a pending erasure for each month out of the store's reach
    (``months_out_of_reach``); returns how many. A learner erased again before the rewrite keeps the
    row already pending."""
    months = months_out_of_reach(session, tenant_id)
    if not months:
        return 0
    key = session.info.get(ARCHIVE_KEY_KEY)
    key = key() if callable(key) else key
    if not isinstance(key, bytes):
        raise ServerError("the tenant has archived months but no archive erasure key is configured: the "
                          "erasure could not reach them, so nothing was erased")
    agent = digest(key, agent_key)
    now = datetime.now(UTC)
    for month in months:
        if session.get(ArchiveErasure, (tenant_id, month, agent)) is None:
            session.add(ArchiveErasure(tenant_id=tenant_id, month=month, agent_digest=agent, key_id=key_id(key),
                                       position=position, requested=now))
    session.flush()
    return len(months)


def defer(session: Session, tenant_id: int, hashes: Iterable[str]) -> int:
    """In the caller's transaction: attachments an erasure could not forget yet, because an archived
    month of the tenant not listed yet may cite them (lrs.blobs.archived), kept on that month's
    pending erasures: ``hocvu lake erase`` lists the month when it applies them, then forgets these.
    Returns how many pending rows hold them."""
    wanted = sorted(set(hashes))
    if not wanted:
        return 0
    rows = session.scalars(select(ArchiveErasure).join(StatementArchive, (
        StatementArchive.tenant_id == ArchiveErasure.tenant_id) & (StatementArchive.month == ArchiveErasure.month))
        .where(ArchiveErasure.tenant_id == tenant_id, StatementArchive.attachments_listed.is_(False))).all()
    for row in rows:
        row.attachments = sorted(set(row.attachments or ()) | set(wanted))
    session.flush()
    return len(rows)


def pending(session: Session, tenant_ids: Iterable[int] | None = None) -> list[tuple[int, Any]]:
    """(tenant id, month) of every archived month with an erasure to apply, oldest first."""
    q = select(ArchiveErasure.tenant_id, ArchiveErasure.month).distinct().order_by(
        ArchiveErasure.tenant_id, ArchiveErasure.month)
    if tenant_ids is not None:
        q = q.where(ArchiveErasure.tenant_id.in_(list(tenant_ids)))
    return [(int(t), m) for t, m in session.execute(q)]


def erase_detached(session: Session, tenant_id: int, month: date, key: bytes,
                   digests: set[str]) -> list[tuple[int, str, dict[str, Any]]]:
    """In the caller's transaction: delete the tenant's rows of the detached ``month`` whose related
    agents meet ``digests`` (their side rows went at the detach); returns their (seq, statement id,
    statement) in seq order. Read in batches: a detached month of a large tenant is millions of rows."""
    name = partitions.partition_name(month)
    result = session.execute(text(f'SELECT seq, statement_id, actor_key, "full" FROM {name} WHERE tenant_id = :t '
                                  "ORDER BY seq"), {"t": tenant_id},
                             execution_options={"stream_results": True, "max_row_buffer": 5000})
    read = ((int(seq), str(sid), actor, full if isinstance(full, dict) else json.loads(full))
            for rows in result.partitions(5000) for seq, sid, actor, full in rows)
    hit = [(seq, sid, full) for seq, sid, actor, full in read if row_digests(key, full, actor) & digests]
    seqs = [seq for seq, _, _ in hit]
    for i in range(0, len(seqs), 1000):
        session.execute(text(f"DELETE FROM {name} WHERE tenant_id = :t AND seq = ANY(:s)"),
                        {"t": tenant_id, "s": seqs[i:i + 1000]})
    return hit
