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
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.errors import ServerError
from lrs.statements import related
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
    keys (lrs.statements.related) plus the actor column (an anonymous Group's key is only there)."""
    keys = {k for k, _ in related(statement)[0]}
    if actor_key:
        keys.add(actor_key)
    return {digest(key, k) for k in keys}


def archived_months(session: Session, tenant_id: int) -> list[Any]:
    return list(session.scalars(select(StatementArchive.month).where(StatementArchive.tenant_id == tenant_id)
                                .order_by(StatementArchive.month)))


def record(session: Session, tenant_id: int, agent_key: str, position: int | None) -> int:
    """In the erasure's transaction: a pending erasure for each archived month of the tenant (none
    on SQLite, where nothing is archived); returns how many months it reaches. A learner erased
    again before the rewrite keeps the row already pending."""
    months = archived_months(session, tenant_id)
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


def pending(session: Session, tenant_ids: Iterable[int] | None = None) -> list[tuple[int, Any]]:
    """(tenant id, month) of every archived month with an erasure to apply, oldest first."""
    q = select(ArchiveErasure.tenant_id, ArchiveErasure.month).distinct().order_by(
        ArchiveErasure.tenant_id, ArchiveErasure.month)
    if tenant_ids is not None:
        q = q.where(ArchiveErasure.tenant_id.in_(list(tenant_ids)))
    return [(int(t), m) for t, m in session.execute(q)]
