"""Adoption of statements older than the audit chain (``lrs.audit.chain``): stores from before
migration 0006, or written while the bench switch was on, hold statements with no entry; ``adopt``
gives each an 'adopted' entry, the hash of the statement as it is at adoption. It proves the
statement has not changed *since*, and nothing about before; the kind keeps that difference
visible to auditors (``lrs.audit.verify``). `hocvu audit adopt` runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import exists, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Exists

from lrs.audit.chain import (
    STATEMENT_KINDS,
    AuditPolicy,
    NewEntry,
    always_appending,
    append,
    content_hash,
    lock_head,
    policy_of,
)
from lrs.storage import AuditEntry, Statement

ADOPT_CHUNK: Final = 5000  # statements adopted per transaction: the tenant's ingest waits on its head meanwhile


@dataclass
class Adoption:
    statements: int  # statements without an entry that this call adopted (at most ``limit``)
    positions: list[int]  # the 'adopted' entries appended: those, plus voided targets adopted anew


def accounted() -> Exists:
    """SQL: the statement row has an entry that accounts for it ('stored' or 'adopted')."""
    e = AuditEntry
    return exists().where(e.tenant_id == Statement.tenant_id, e.statement_id == Statement.statement_id,
                          e.kind.in_(STATEMENT_KINDS))


def _first_voiders(session: Session, tenant_id: int, targets: list[str]) -> dict[str, str]:
    """Target id -> the first voiding statement naming it (xAPI 1.0.3 Part Two §2.3.2)."""
    found: dict[str, str] = {}
    for i in range(0, len(targets), 1000):
        for target, by in session.execute(select(Statement.object_statement_id, Statement.statement_id).where(
                Statement.tenant_id == tenant_id, Statement.is_voiding.is_(True),
                Statement.object_statement_id.in_(targets[i:i + 1000])).order_by(Statement.seq)):
            if target is not None:  # a voiding statement always names its target (is_voiding)
                found.setdefault(target, by)
    return found


def _adopted_entry(statement_id: str, full: dict[str, Any], voided: bool, voiders: dict[str, str]) -> NewEntry:
    # A voided row's voiding is part of the state adopted: recorded in the entry (voided_by may be
    # None when the voiding statement is gone), so the one entry accounts for the row's flag too.
    return NewEntry("adopted", statement_id, content_hash(full),
                    {"voided_by": voiders.get(statement_id)} if voided else None)


def _unrecorded_voidings(session: Session, tenant_id: int, targets: list[str]) -> list[NewEntry]:
    """Targets of adopted voiding statements that already have an entry and are marked voided, but
    whose voiding no entry records (voided while the chain was off): their state is adopted anew."""
    e = AuditEntry
    rows = session.execute(select(Statement.statement_id, Statement.full).where(
        Statement.tenant_id == tenant_id, Statement.statement_id.in_(targets), Statement.voided.is_(True),
        accounted()).order_by(Statement.seq)).all()
    if not rows:
        return []
    ids = [r.statement_id for r in rows]
    recorded = set(session.scalars(select(e.statement_id).where(
        e.tenant_id == tenant_id, e.statement_id.in_(ids), e.kind == "voided")))
    recorded |= {sid for sid, detail in session.execute(select(e.statement_id, e.detail).where(
        e.tenant_id == tenant_id, e.statement_id.in_(ids), e.kind == "adopted")) if detail and "voided_by" in detail}
    voiders = _first_voiders(session, tenant_id, ids)
    return [_adopted_entry(sid, full, True, voiders) for sid, full in rows if sid not in recorded]


def adopt(session: Session, tenant_id: int, policy: AuditPolicy | None = None, *,
          limit: int = ADOPT_CHUNK) -> Adoption:
    """Append an 'adopted' entry, in ``seq`` order, for up to ``limit`` of the tenant's statements
    that no 'stored' or 'adopted' entry accounts for (stored before the chain existed, or while the
    bench switch was on); in the caller's transaction, no commit. Call it, committing each time,
    until it adopts fewer than ``limit``; then checkpoint. Statements with an entry are never
    adopted again, so running it twice adds nothing."""
    policy = always_appending(policy or policy_of(session))
    orphans = ~accounted() & (Statement.tenant_id == tenant_id)
    if session.scalar(select(exists().where(orphans))) is not True:
        return Adoption(0, [])  # nothing to do: no head lock that would pause ingest, no head row made
    # The head first, before looking: a second adopter (or any appender) waits here, so no
    # statement can be adopted twice. Holding it first cannot deadlock with writers, which take it
    # last: from here this transaction only reads and appends, taking no other lock.
    lock_head(session, tenant_id, datetime.now(UTC))
    rows = session.execute(select(Statement.statement_id, Statement.full, Statement.voided, Statement.is_voiding,
                                  Statement.object_statement_id).where(orphans).order_by(Statement.seq).limit(limit)).all()
    if not rows:
        return Adoption(0, [])
    voiders = _first_voiders(session, tenant_id, [r.statement_id for r in rows if r.voided])
    entries = [_adopted_entry(r.statement_id, r.full, r.voided, voiders) for r in rows]
    targets = {r.object_statement_id for r in rows if r.is_voiding} - {r.statement_id for r in rows}
    entries += _unrecorded_voidings(session, tenant_id, sorted(t for t in targets if t))
    return Adoption(len(rows), append(session, tenant_id, entries, policy))
