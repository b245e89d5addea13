"""Revoking: the credential's bit is set in its status list, and the list is re-signed and republished
(W3C Bitstring Status List v1.0 §2.1: a set bit with purpose "revocation" means revoked, for good).

Why a credential is revoked (``REASONS``): an auditor found fraud, an attempt it cites was voided or
erased, the learner's records were erased on a privacy request, the learner asked for a copy with
another name ("replaced"), or an operator decided. Erasure also removes everything the hub kept
about the learner in the credential's row; the bit stays set, so a copy anyone kept reads as revoked.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from credentials.config import CredentialsConfig, Holder
from credentials.errors import CredentialNotFound
from credentials.issuing import issue, ring_of
from credentials.status_list import rebuild
from credentials.storage import IssuedCredential
from lrs.storage import Statement, Tenant

REASONS: Final = ("fraud", "voided", "erased", "replaced", "operator")
SWEEP_BATCH: Final = 500


def revoke(session: Session, cfg: CredentialsConfig, rows: Iterable[IssuedCredential], reason: str,
           now: datetime) -> list[IssuedCredential]:
    """Revoke ``rows`` (already revoked ones are left as they are) and republish their lists."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}")
    done = []
    for row in rows:
        if row.revoked is None:
            row.revoked, row.revoked_reason, row.live_key = now, reason, None
            done.append(row)
    session.flush()
    lists = sorted({(r.tenant_id, r.status_list) for r in done})
    ring = ring_of(cfg) if lists else None
    for tenant_id, number in lists:  # in key order: two revokers lock lists in the same order
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None and ring is not None
        rebuild(session, cfg, ring, tenant, number, now)
    return done


def _forget(row: IssuedCredential) -> None:
    row.document = row.agent_key = row.subject_id = row.display_name = None
    row.evidence = []


def erase_learner(session: Session, cfg: CredentialsConfig, tenant_id: int, agent_key: str,
                  statement_ids: list[str], now: datetime) -> int:
    """The erasure hook's work (``lrs.audit.erasure``): every credential of the learner in the tenant,
    and any citing an erased statement, revoked ("erased") and emptied of what named the learner."""
    rows = list(session.scalars(select(IssuedCredential).where(
        IssuedCredential.tenant_id == tenant_id, IssuedCredential.agent_key == agent_key)))
    erased = set(statement_ids)
    if erased:
        rows += [r for r in session.scalars(select(IssuedCredential).where(
            IssuedCredential.tenant_id == tenant_id, IssuedCredential.revoked.is_(None)))
            if erased.intersection(r.evidence or []) and r not in rows]
    revoke(session, cfg, rows, "erased", now)
    for row in rows:
        _forget(row)
    session.flush()
    return len(rows)


def _broken_evidence(session: Session, row: IssuedCredential) -> str | None:
    """Why the credential's evidence no longer stands ("voided", "erased"), or None."""
    found = {sid: voided for sid, voided in session.execute(select(Statement.statement_id, Statement.voided).where(
        Statement.tenant_id == row.tenant_id, Statement.statement_id.in_(row.evidence or [])))}
    if any(found.values()):
        return "voided"
    if len(found) < len(set(row.evidence or [])):
        return "erased"
    return None


def sweep(session: Session, cfg: CredentialsConfig, now: datetime) -> dict[str, int]:
    """Revoke every live credential whose evidence was voided or erased since it was issued (the LRS
    cannot call the credentials package when a statement is voided: DESIGN.md one-way imports)."""
    counts = {"checked": 0, "voided": 0, "erased": 0}
    after: tuple[int, str] = (0, "")
    while True:
        batch = list(session.scalars(select(IssuedCredential).where(
            IssuedCredential.revoked.is_(None),
            (IssuedCredential.tenant_id > after[0])
            | ((IssuedCredential.tenant_id == after[0]) & (IssuedCredential.public_id > after[1])))
            .order_by(IssuedCredential.tenant_id, IssuedCredential.public_id).limit(SWEEP_BATCH)))
        if not batch:
            return counts
        for row in batch:
            counts["checked"] += 1
            reason = _broken_evidence(session, row)
            if reason is not None:
                revoke(session, cfg, [row], reason, now)
                counts[reason] += 1
        after = (batch[-1].tenant_id, batch[-1].public_id)


def rename(session: Session, cfg: CredentialsConfig, holder_row: IssuedCredential, holder: Holder,
           now: datetime) -> IssuedCredential:
    """Re-issue ``holder_row`` (the learner's live credential) showing ``holder.name`` instead; the old
    one is revoked ("replaced") first, so one copy with the learner's name is live at a time."""
    if holder_row.revoked is not None:
        raise CredentialNotFound("this credential is no longer live")
    revoke(session, cfg, [holder_row], "replaced", now)
    new = issue(session, cfg, holder, holder_row.course_id, now).row
    holder_row.replaced_by = new.public_id
    session.flush()
    return new
