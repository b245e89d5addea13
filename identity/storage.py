"""The identity package's one storage module: VNeID accounts, external-identity bindings, face
enrolments and the identity gate's state (``AttemptAssurance``).

Tenancy (DESIGN.md, Data): a VNeID account is **national**, not per tenant. It is keyed by the
provider's (issuer, sub), which names one citizen for every ministry, and a citizen who learns in
two ministries' LMSs is one person with one verification level. No tenant owns that row, so it
carries no ``tenant_id``, and no tenant-scoped API ever lists accounts. What a tenant does own is
the *binding* of its LMS's learner (LTI issuer + sub, seen through that tenant's registration) to
an account: bindings carry ``tenant_id`` and are unique per tenant, so one tenant's bindings never
block, reveal or change another's.

Privacy: the citizen ID is only ever stored as ``citizen_id_hmac``, and the provider's ``sub``
(which VNeID may fill with the citizen ID) only as ``subject_hmac`` (see ``identity.claims``);
migration 0090 turned the clear ``subject`` of older rows into that hash.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from identity.errors import AccountNotFound, BadRequest, BindingConflict
from lrs.dialect_schema import POSTGRESQL_ONLY, SQLITE_ONLY, tenant_identity
from lrs.storage import Base

if TYPE_CHECKING:
    from identity.oidc_client import VerifiedIdentity

MAX_SUBJECT = 255  # OIDC Core §2: sub "MUST NOT exceed 255 ASCII characters"
MAX_ISSUER = 1024


class IdentityAccount(Base):
    """One person as a provider identified them (OIDC Core §5.7: iss + sub is the stable key;
    neither a name nor an e-mail is), keyed by the HMAC of (iss, sub), never ``sub`` itself."""

    __tablename__ = "identity_accounts"
    __table_args__ = (UniqueConstraint("subject_hmac", name="uq_identity_accounts_subject_hmac"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(MAX_ISSUER))
    # identity.claims.subject_hmac(pepper, iss, sub), hex; the issuer is inside the hash, so the
    # hash alone is unique. "hocvu-subject:" + it is the pseudonym in stamps (identity.stamp).
    subject_hmac: Mapped[str] = mapped_column(String(64))
    # HMAC-SHA256 hex of the 12-digit citizen ID; lets us find the same citizen again.
    citizen_id_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    full_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    birthdate: Mapped[date | None] = mapped_column(Date, nullable=True)
    # VNeID identification level at the last sign-in (1 or 2); None when the provider has none.
    level: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_login: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdentityBinding(Base):
    """An external learner identity (e.g. an LTI 1.3 platform's iss + sub) bound once to an
    account, within the tenant whose LMS presented it."""

    __tablename__ = "identity_bindings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_issuer", "external_subject", name="uq_identity_bindings_external"),
    )
    # PostgreSQL's primary key is (tenant_id, id), for Citus (migration 0214); so is the ORM's identity.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("identity_accounts.id"), index=True)
    external_issuer: Mapped[str] = mapped_column(String(MAX_ISSUER))
    external_subject: Mapped[str] = mapped_column(String(MAX_SUBJECT))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __mapper_args__ = tenant_identity(tenant_id, id)


class FaceEnrolment(Base):
    """A VNeID account's face reference, kept only with the learner's explicit consent (issue 4).

    ``ciphertext`` is ``face_check.FaceService.enrol``'s output: the embedding (128 numbers, no
    picture) sealed with AES-256-GCM under the hub's face key and bound to the account's
    pseudonymous subject. One per account; withdrawing consent deletes the row. National like the
    account it belongs to: no tenant owns a person's face.
    """

    __tablename__ = "face_enrolments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("identity_accounts.id"), unique=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    model: Mapped[str] = mapped_column(String(64))      # e.g. "Dlib": embeddings of other models do not compare
    detector: Mapped[str] = mapped_column(String(64))
    # Retention counts from here (re-enrolling renews it); indexed for the purge (migration 0091).
    consent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _now() -> datetime:
    return datetime.now(UTC)


def record_sign_in(session: Session, identity: VerifiedIdentity, now: datetime | None = None) -> IdentityAccount:
    """Creates or updates the account keyed by HMAC(issuer, sub). The provider is authoritative for
    the claims, so each sign-in refreshes them (a level-1 citizen who verifies in person at
    level 2 is level 2 from the next sign-in). The caller commits."""
    now = now or _now()
    account = account_by_subject_hmac(session, identity.subject_hmac)
    if account is None:
        account = IdentityAccount(issuer=identity.issuer, subject_hmac=identity.subject_hmac, created=now)
        session.add(account)
    account.citizen_id_hmac = identity.citizen_id_hmac or account.citizen_id_hmac
    account.full_name = identity.name or account.full_name
    account.birthdate = identity.birthdate or account.birthdate
    account.level = identity.level
    account.last_login = now
    session.flush()
    return account


def account_by_subject_hmac(session: Session, subject_hmac: str) -> IdentityAccount | None:
    return session.scalar(select(IdentityAccount).where(IdentityAccount.subject_hmac == subject_hmac))


def get_account(session: Session, account_id: int) -> IdentityAccount:
    account = session.get(IdentityAccount, account_id)
    if account is None:
        raise AccountNotFound(f"no identity account {account_id}")
    return account


def _find_binding(session: Session, tenant_id: int, issuer: str, subject: str) -> IdentityBinding | None:
    return session.scalar(select(IdentityBinding).where(
        IdentityBinding.tenant_id == tenant_id, IdentityBinding.external_issuer == issuer,
        IdentityBinding.external_subject == subject))


def bind_external_identity(session: Session, account_id: int, *, tenant_id: int, issuer: str,
                           subject: str, now: datetime | None = None) -> IdentityBinding:
    """Binds an external learner identity (issuer, subject) seen in ``tenant_id`` to an account,
    once: binding it again to the same account returns the existing binding; binding it to
    another account raises ``BindingConflict`` (409) — a binding is never silently moved, since
    that would hand one learner's records to another person. The caller commits."""
    if not issuer or not subject or len(issuer) > MAX_ISSUER or len(subject) > MAX_SUBJECT:
        raise BadRequest("an external identity needs an issuer (≤1024) and a subject (≤255 characters)")
    get_account(session, account_id)
    existing = _find_binding(session, tenant_id, issuer, subject)
    if existing is None:
        binding = IdentityBinding(tenant_id=tenant_id, account_id=account_id, external_issuer=issuer,
                                  external_subject=subject, created=now or _now())
        try:
            with session.begin_nested():  # a concurrent bind may win the unique constraint
                session.add(binding)
            return binding
        except IntegrityError:
            existing = _find_binding(session, tenant_id, issuer, subject)
            if existing is None:
                raise
    if existing.account_id != account_id:
        raise BindingConflict("this learner identity is already bound to another VNeID account")
    return existing


def account_for_external(session: Session, *, tenant_id: int, issuer: str, subject: str) -> IdentityAccount | None:
    """The account an external identity is bound to in ``tenant_id``, or None."""
    binding = _find_binding(session, tenant_id, issuer, subject)
    return session.get(IdentityAccount, binding.account_id) if binding else None


# --- face enrolments ---------------------------------------------------------------------------


def face_enrolment(session: Session, account_id: int) -> FaceEnrolment | None:
    return session.scalar(select(FaceEnrolment).where(FaceEnrolment.account_id == account_id))


def save_face_enrolment(session: Session, account_id: int, *, ciphertext: bytes, model: str, detector: str,
                        consent_at: datetime, now: datetime | None = None) -> FaceEnrolment:
    """Keeps the account's (new) face reference; enrolling again replaces the old one, so there is
    never more than one to delete. The caller commits."""
    get_account(session, account_id)
    row = face_enrolment(session, account_id)
    if row is None:
        row = FaceEnrolment(account_id=account_id, created=now or _now())
        session.add(row)
    row.ciphertext, row.model, row.detector, row.consent_at = bytes(ciphertext), model, detector, consent_at
    session.flush()
    return row


def purge_face_enrolments(session: Session, consented_before: datetime) -> int:
    """Retention (``AssurancePolicy.face_retention_days``): deletes every enrolment whose consent is
    older than ``consented_before``; how many. Safe from several processes at once (a plain DELETE by
    time). The caller commits."""
    result = session.execute(delete(FaceEnrolment).where(FaceEnrolment.consent_at < consented_before))
    return int(getattr(result, "rowcount", 0) or 0)


def tenant_enrolments(session: Session, tenant_id: int, *, exclude_account: int,
                      limit: int) -> list[tuple[int, str, bytes]]:
    """(account id, subject HMAC, sealed embedding) of the enrolments of accounts linked to a learner
    of ``tenant_id``, but ``exclude_account``'s, the most recent first, at most ``limit``."""
    in_tenant = select(IdentityBinding.account_id).where(IdentityBinding.tenant_id == tenant_id)
    rows = session.execute(
        select(FaceEnrolment.account_id, IdentityAccount.subject_hmac, FaceEnrolment.ciphertext)
        .join(IdentityAccount, IdentityAccount.id == FaceEnrolment.account_id)
        .where(FaceEnrolment.account_id.in_(in_tenant), FaceEnrolment.account_id != exclude_account)
        .order_by(FaceEnrolment.id.desc()).limit(limit))
    return [(int(a), str(h), bytes(c)) for a, h, c in rows]


def linked_learners(session: Session, tenant_id: int, subject_hmac: str) -> int:
    """How many external learner identities of ``tenant_id`` (LMS accounts) are linked to the VNeID
    account keyed by ``subject_hmac`` (0: no such account)."""
    return int(session.scalar(
        select(func.count(IdentityBinding.id)).join(IdentityAccount, IdentityAccount.id == IdentityBinding.account_id)
        .where(IdentityAccount.subject_hmac == subject_hmac, IdentityBinding.tenant_id == tenant_id)) or 0)


def delete_face_enrolment(session: Session, account_id: int) -> bool:
    """Consent withdrawn: the reference is deleted (not flagged), so nothing biometric remains.
    True when there was one. The caller commits."""
    result = session.execute(delete(FaceEnrolment).where(FaceEnrolment.account_id == account_id))
    return bool(getattr(result, "rowcount", 0))


class AttemptAssurance(Base):
    """Identity assurance of one quiz attempt (``identity.gate.domain``): the gate before it
    (VNeID sign-in, face check) and the checks repeated during it. Kept here, not in the cookie,
    so every request and process (and an expiry nobody watches) stamps the attempt the same way.

    A row starts as a *pending gate* for (tenant, registration, target) before the attempt exists,
    with the cmi5 session id the attempt will use; statements carrying that session id are stamped
    from this row and signed. When the attempt starts the row is attached to it.
    """

    __tablename__ = "player_assurances"
    __table_args__ = (
        # Every key leads with tenant_id, so Citus can distribute by tenant (migration 0212). Unique per
        # tenant is enough: session_id is a uuid4, pending_key hashes the tenant with the rest, and every
        # look-up by either (identity.gate, player, lti_tool.proctoring) names the tenant.
        UniqueConstraint("tenant_id", "session_id", name="uq_player_assurances_session_id"),
        # NULLs never collide: one pending gate per learner, link and target; attached rows have none.
        UniqueConstraint("tenant_id", "pending_key", name="uq_player_assurances_pending_key"),
        UniqueConstraint("tenant_id", "attempt_id", name="uq_player_assurances_attempt_id"),
        # The attempt is the tenant's own: on PostgreSQL the key is (tenant_id, attempt_id); SQLite keeps
        # the single-column one (its attempts' primary key is id alone). NULL attempt_id: not checked.
        ForeignKeyConstraint(["tenant_id", "attempt_id"], ["player_quiz_attempts.tenant_id", "player_quiz_attempts.id"],
                             name="fk_player_assurances_attempt", info=POSTGRESQL_ONLY),
        ForeignKeyConstraint(["attempt_id"], ["player_quiz_attempts.id"], info=SQLITE_ONLY),
    )
    # PostgreSQL's primary key is (tenant_id, id), for Citus (migration 0212); so is the ORM's identity.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    registration: Mapped[str] = mapped_column(String(36))
    target: Mapped[str] = mapped_column(String(512))
    session_id: Mapped[str] = mapped_column(String(36))
    pending_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempt_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # foreign keys above
    # identity_accounts.id: that table is on another migration branch (identity), hence no FK here.
    account_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(128))  # pseudonymous (identity.stamp), never a citizen ID
    level: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    signed_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    min_level: Mapped[int] = mapped_column(SmallInteger)
    # The face check the stamp reports: the latest one, or once a check failed during the
    # attempt, that failed one for the rest of it (never silently verified again).
    check_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    check_distance: Mapped[float | None] = mapped_column(Float, nullable=True)
    check_threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    check_metric: Mapped[str | None] = mapped_column(String(16), nullable=True)
    check_model: Mapped[str | None] = mapped_column(String(32), nullable=True)
    check_detector: Mapped[str | None] = mapped_column(String(32), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # How liveness was established for that check (issue 12; migration 0100): the challenge method
    # (face_check.LIVENESS_METHOD) or None for a single photo (the fallback, ``liveness: none``), the
    # liveness decision (face_check.Reason: "passed", "static", ...) and the assurance level it gives
    # (identity.stamp.ASSURANCE_*). Rows older than 0100 have none: their check was a photo.
    check_liveness: Mapped[str | None] = mapped_column(String(32), nullable=True)
    check_liveness_result: Mapped[str | None] = mapped_column(String(24), nullable=True)
    check_assurance: Mapped[str | None] = mapped_column(String(24), nullable=True)
    checks: Mapped[int] = mapped_column(Integer)
    last_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    recheck_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recheck_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recheck_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __mapper_args__ = tenant_identity(tenant_id, id)


class GateChallenge(Base):
    """A liveness challenge the gate issued (``identity.gate.challenges``): kept here, not in the
    cookie, so it is used once whichever process receives the burst. Bound to the VNeID account and
    to what it is for (``scope``: an enrolment of that account, or the gate row whose check it is),
    expiring with the challenge. Holds no biometric data; deleted a day after it expired."""

    __tablename__ = "identity_challenges"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(80))
    document: Mapped[str] = mapped_column(String(2000))  # face_check.Challenge.to_dict() as JSON
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def save_challenge(session: Session, *, nonce: str, account_id: int, scope: str, document: str,
                   expires_at: datetime, now: datetime) -> None:
    """Keep a new challenge; challenges expired for a day are deleted on the way. The caller commits."""
    session.execute(delete(GateChallenge).where(GateChallenge.expires_at < now - timedelta(days=1)))
    session.add(GateChallenge(nonce=nonce, account_id=account_id, scope=scope, document=document,
                              expires_at=expires_at))
    session.flush()


def take_challenge(session: Session, *, nonce: str, account_id: int, scope: str, now: datetime) -> str | None:
    """Mark the challenge ``nonce`` used and return its document, if it is ``account_id``'s, for
    ``scope``, unexpired and not used yet; None otherwise. One conditional UPDATE: of two requests
    racing with the same nonce, one wins."""
    result = session.execute(
        update(GateChallenge).where(GateChallenge.nonce == nonce, GateChallenge.account_id == account_id,
                                    GateChallenge.scope == scope, GateChallenge.used_at.is_(None),
                                    GateChallenge.expires_at >= now)
        .values(used_at=now).execution_options(synchronize_session=False))
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return None
    return session.scalar(select(GateChallenge.document).where(GateChallenge.nonce == nonce))
