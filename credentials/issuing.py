"""Issuing: when a learner has completed a course under its rules, one signed OpenBadgeCredential.

``issue`` is idempotent: a learner has at most one live credential per course (the database's
unique ``live_key`` settles two requests racing), and asking again returns it. ``rename``
re-issues it with another display name and revokes the old one ("replaced"), so only one copy
with the learner's name is ever live. Callers commit.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credentials import openbadge
from credentials.completion import Completion, completion
from credentials.config import CredentialsConfig, Holder
from credentials.errors import CredentialNotFound, NotComplete, StatusListFull, UnknownCourse
from credentials.issuer import issuer_for
from credentials.keys import KeyRing, signing_key
from credentials.proof import add_proof
from credentials.status_list import allocate, current_list, status_entry
from credentials.storage import IssuedCredential
from lrs.identifiers import actor_key
from lrs.storage import Tenant

TRIES = 3  # a status index taken by a concurrent issuer between the check and the insert: pick again


@dataclass(frozen=True)
class Issued:
    row: IssuedCredential
    new: bool   # False: the learner's live credential for the course already existed


def ring_of(cfg: CredentialsConfig) -> KeyRing:
    return KeyRing(cfg.key_ring_secret())


def credential_url(cfg: CredentialsConfig, tenant_slug: str, public_id: str) -> str:
    """The credential's ``id``: an https URL that shows its verification page (JSON on request)."""
    return f"{cfg.base}/credentials/{tenant_slug}/{public_id}"


def live_key(agent: str, course_id: str) -> str:
    return hashlib.sha256(f"{agent}\x1f{course_id}".encode()).hexdigest()


def live_credential(session: Session, holder: Holder, course_id: str) -> IssuedCredential | None:
    return session.scalar(select(IssuedCredential).where(
        IssuedCredential.tenant_id == holder.tenant_id,
        IssuedCredential.live_key == live_key(actor_key(holder.actor), course_id)))


def check_completion(session: Session, cfg: CredentialsConfig, holder: Holder, course_id: str) -> Completion:
    rules = cfg.courses(course_id)
    if rules is None:
        raise UnknownCourse(f"no course {course_id!r} in the catalogue")
    return completion(session, holder, rules, dict(cfg.trusted_authority))


def _build(session: Session, cfg: CredentialsConfig, holder: Holder, done: Completion, now: datetime
           ) -> IssuedCredential:
    tenant = session.get(Tenant, holder.tenant_id)
    if tenant is None:
        raise CredentialNotFound(f"no tenant {holder.tenant_id}")
    ring = ring_of(cfg)
    key = signing_key(session, ring)
    status_list = current_list(session, cfg, ring, tenant, now)
    index = allocate(session, status_list)
    public_id = str(uuid.uuid4())
    issuer = issuer_for(cfg, tenant)
    valid_until = now + timedelta(days=cfg.valid_days) if cfg.valid_days > 0 else None
    document = openbadge.credential(
        credential_id=credential_url(cfg, tenant.slug, public_id), issuer=issuer.profile,
        subject_id=cfg.subject_id(holder), display_name=holder.name, completion=done, base=cfg.base,
        status=status_entry(cfg, tenant.slug, status_list.number, index), valid_from=now, valid_until=valid_until)
    agent = actor_key(holder.actor)
    return IssuedCredential(
        tenant_id=tenant.id, public_id=public_id, course_id=done.rules.course_id, agent_key=agent,
        live_key=live_key(agent, done.rules.course_id), subject_id=cfg.subject_id(holder),
        display_name=holder.name or None, kid=key.kid, status_list=status_list.number, status_index=index,
        evidence=[e.statement_id for e in done.evidence], identity_level=done.identity_level,
        document=add_proof(document, key.private_key, issuer.method(key.kid), now), issued=now,
        valid_until=valid_until, revoked=None, revoked_reason=None, replaced_by=None)


def issue(session: Session, cfg: CredentialsConfig, holder: Holder, course_id: str, now: datetime) -> Issued:
    """The learner's live credential for the course, issued now if they have completed it;
    ``NotComplete`` (naming the quizzes still missing) otherwise."""
    existing = live_credential(session, holder, course_id)
    if existing is not None:
        return Issued(existing, new=False)
    done = check_completion(session, cfg, holder, course_id)
    if not done.complete:
        missing = ", ".join(q.activity_id for q in done.missing) or "the course has no graded quiz"
        raise NotComplete(f"course {course_id} is not complete: {missing}")
    for _ in range(TRIES):
        row = _build(session, cfg, holder, done, now)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            existing = live_credential(session, holder, course_id)
            if existing is not None:
                return Issued(existing, new=False)  # a concurrent request issued it first
            continue  # the status index was taken meanwhile
        return Issued(row, new=True)
    raise StatusListFull("no status index could be reserved; try again")


def mine(session: Session, holder: Holder) -> list[IssuedCredential]:
    """The learner's credentials in their tenant, newest first (revoked ones too: the page says so)."""
    return list(session.scalars(select(IssuedCredential).where(
        IssuedCredential.tenant_id == holder.tenant_id, IssuedCredential.agent_key == actor_key(holder.actor))
        .order_by(IssuedCredential.issued.desc())))


def find(session: Session, tenant_slug: str, public_id: str) -> tuple[Tenant, IssuedCredential]:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
    row = session.get(IssuedCredential, (tenant.id, public_id)) if tenant is not None else None
    if tenant is None or row is None:
        raise CredentialNotFound("no such credential")
    return tenant, row
