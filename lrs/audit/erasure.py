"""Erasure on a privacy request: a learner's statements, documents and attachments removed from one tenant's
store, with 'erased' entries appended to its audit chain (``lrs.audit.chain``), so the chain still
verifies and shows what was removed (each statement's 'stored' entry keeps its content hash).
Months archived to the lake or detached are out of its reach: it records a pending erasure for each
(``lrs.audit.archive_erasure``), which ``connectors.archive.eraser`` applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from lrs.audit import archive_erasure
from lrs.audit.chain import NewEntry, always_appending, append, policy_of
from lrs.blobs import attachments as attachment_store
from lrs.documents import key_part
from lrs.identifiers import agent_key
from lrs.storage import Document, Statement, StatementActivity, StatementAgent, StatementId

ERASED_IDS_PER_ENTRY: Final = 1000  # keeps one erasure entry small however many statements it removes
# Session.info key: callables the composition root registers (lrs imports no other package), run in
# the erasure's transaction after the deletes with (session, tenant_id, agent key, erased statement
# ids): e.g. the credentials package revokes the learner's credentials, and both commit or neither.
ERASURE_HOOKS_KEY: Final = "lrs.erasure_hooks"
ErasureHook = Callable[[Session, int, str, list[str]], None]


@dataclass
class Erasure:
    statement_ids: list[str]
    documents: int
    positions: list[int]
    attachments: list[str] = field(default_factory=list)  # sha2 of the tenant's attachment rows removed
    archived_months: int = 0  # archived months the erasure is pending for (lrs.audit.archive_erasure)
    # sha2 kept until `hocvu lake erase` lists the archived months archived before their lists (lrs.blobs.archived)
    attachments_deferred: list[str] = field(default_factory=list)


def erase_agent(session: Session, tenant_id: int, agent: dict[str, Any], *, actor: str, reason: str = "") -> Erasure:
    """A privacy request: remove every statement of the tenant the Agent/Group appears in (the
    ``related_agents`` set: actor, object, member, instructor, team, authority) with its side-table
    rows, and the Agent's State and Agent Profile documents. The chain keeps each statement's
    'stored' entry and its content hash; 'erased' entries naming the removed ids are appended (in
    the same transaction, no commit). The Agent itself is not written into the chain. A tenant with
    months archived to the lake gets a pending erasure per month (``archive_erasure.record``)."""
    key = agent_key(agent)
    if key is None:
        raise ValueError("the agent has no inverse functional identifier (mbox, mbox_sha1sum, openid, account)")
    related = select(StatementAgent.seq).where(StatementAgent.tenant_id == tenant_id, StatementAgent.agent_key == key)
    # Lock the rows in statement id order before deleting, the order lrs.statements locks voided
    # targets in: a DELETE locks in its plan's order, which could cross a concurrent voiding batch.
    locked = session.execute(select(Statement.seq, Statement.statement_id).where(
        Statement.tenant_id == tenant_id, (Statement.seq.in_(related)) | (Statement.actor_key == key))
        .order_by(Statement.statement_id).with_for_update()).all()
    rows = sorted(locked, key=lambda r: r.seq)
    seqs = [r.seq for r in rows]
    hashes = attachment_store.cited_by(session, tenant_id, seqs)  # read before the statements go
    for i in range(0, len(seqs), 1000):
        chunk = seqs[i:i + 1000]
        # By seq alone (globally unique): their (seq) index answers it. With tenant_id too, a planner
        # without statistics may take the key (tenant_id, ...) and read the tenant's every row.
        session.execute(delete(StatementAgent).where(StatementAgent.seq.in_(chunk)))
        session.execute(delete(StatementActivity).where(StatementActivity.seq.in_(chunk)))
        # tenant_id too: PostgreSQL's key is (tenant_id, seq, stored), and there is no index on seq alone.
        session.execute(delete(Statement).where(Statement.tenant_id == tenant_id, Statement.seq.in_(chunk)))
    documents = cast(CursorResult[Any], session.execute(delete(Document).where(
        Document.tenant_id == tenant_id, Document.agent_key == key_part(key)))).rowcount or 0
    ids = [r.statement_id for r in rows]
    if session.get_bind().dialect.name == "postgresql":
        # The ids' registry of the partitioned table (lrs.partitions): an erased id is free again,
        # as it is on SQLite where the unique key went with the row.
        for i in range(0, len(ids), 1000):
            session.execute(delete(StatementId).where(StatementId.tenant_id == tenant_id,
                                                      StatementId.statement_id.in_(ids[i:i + 1000])))
    # The attachments no remaining statement of the tenant cites; their blobs once no tenant names them.
    # (Or all kept while an archived month's citations are not listed: lrs.blobs.archived.)
    forgotten = attachment_store.forget(session, tenant_id, hashes)
    for hook in session.info.get(ERASURE_HOOKS_KEY, ()):
        hook(session, tenant_id, key, ids)
    chunks = [ids[i:i + ERASED_IDS_PER_ENTRY] for i in range(0, len(ids), ERASED_IDS_PER_ENTRY)] or [[]]
    entries = [NewEntry("erased", None, None, {"statements": chunk, "documents": documents if n == 0 else 0,
                                                "actor": actor, "reason": reason})
               for n, chunk in enumerate(chunks)]
    # Head last, as in lrs.statements.store: the row locks of the deletes come first.
    positions = append(session, tenant_id, entries, always_appending(policy_of(session)))
    # The archived months are out of reach here: what they must lose is recorded, without the agent.
    months = archive_erasure.record(session, tenant_id, key, positions[0] if positions else None)
    archive_erasure.defer(session, tenant_id, forgotten.deferred)
    return Erasure(ids, documents, positions, forgotten.gone, months, forgotten.deferred)
