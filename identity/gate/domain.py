"""The identity gate without Flask: who may pass, the gate's state, and the stamp.

Something that requires identity assurance (a quiz of the player, an assessment an LMS proctors)
opens only after a *gate*: the learner is signed in with VNeID at the required level or above, has
linked the identity its consumer vouches for (``ExternalId``: an LMS account) to that VNeID account
(once), has enrolled a face reference with consent, and has just passed a face check
(``GATE_TTL``). During the attempt the check repeats at moments the server draws at random in
[min, max] seconds; answers and submission are refused once a check is overdue by more than
``RECHECK_GRACE``. The face operations and their statements are in ``identity.gate.face``.

State lives in ``player_assurances`` rows (``AttemptAssurance``), one per gate: *pending* for
(tenant, registration, target) until the attempt starts, then attached to it. The row holds the
cmi5 session id the attempt will use, so the ``Sealer`` stamps (``identity.stamp``) and signs
(``identity.signing``) every statement written with that session id, whichever request or process
writes it. The stamp reports the latest check; once a check fails during the attempt it reports
that failed check for the rest of it ("unverified", derived by ``identity.stamp.derive_outcome``):
an attempt is never silently verified again.

Consumers (Flask-free; the browser part is ``/player/identity/gate``, ``identity.gate.http``):
``start_gate(db, key, learner, min_level, now)`` opens or returns the pending gate of a ``GateKey``
(tenant, registration, target: the consumer makes it), ``gate_result(db, key, now)`` reads whether it
passed, with its stamp and the session id whose statements are sealed, ``consume(db, row, now, ...)``
closes it when the attempt starts; ``identity.gate.face.run_check`` and ``require_current`` serve the
repeated checks.

``identity.stamp`` imports ``face_check`` (numpy, OpenCV): it is imported where it is used, so the
player starts, and says what is missing, on an installation without the ``face`` extra.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from identity import storage as identity_storage
from identity.gate.errors import (
    AccountMismatch,
    BindRequired,
    CheckRequired,
    EnrolmentRequired,
    GateError,
    LevelTooLow,
    RecheckOverdue,
    SignInRequired,
)
from identity.storage import AttemptAssurance
from lrs.storage import as_utc

if TYPE_CHECKING:
    from face_check.verification import CheckResult

GATE_TTL: Final = timedelta(minutes=10)       # a passing check opens the quiz for this long
# Binding an LMS identity and enrolling a face both vouch for who the VNeID account holder is, so
# they need a sign-in this recent: a VNeID session left open in a shared browser cannot be used.
SIGN_IN_FRESH: Final = timedelta(minutes=15)
RECHECK_GRACE: Final = timedelta(seconds=60)  # time to take the photo once a recheck falls due
DEFAULT_MIN_LEVEL: Final = 2                  # a gate on something that names no level of its own


class Step(StrEnum):
    SIGN_IN = "sign_in"
    LEVEL = "level"
    BIND = "bind"
    ENROL = "enrol"
    CHECK = "check"
    PASSED = "passed"


STEP_ERRORS: Final[Mapping[Step, type[GateError]]] = {
    Step.SIGN_IN: SignInRequired, Step.LEVEL: LevelTooLow, Step.BIND: BindRequired, Step.ENROL: EnrolmentRequired,
    Step.CHECK: CheckRequired}


# --- who: the VNeID learner behind the identity a consumer vouches for ---------------------------

@dataclass(frozen=True)
class ExternalId:
    """The learner as the system that brought them knows them (an LMS's issuer and ``sub``, in the
    tenant of its registration): linked once to a VNeID account, never moved to another."""

    tenant_id: int
    issuer: str
    subject: str


@dataclass(frozen=True)
class Learner:
    account_id: int
    subject: str              # pseudonymous (identity.stamp.pseudonymous_subject), never a citizen ID
    level: int | None
    signed_in_at: datetime
    name: str | None
    bound: bool               # the consumer's external identity is linked to this account


def learner_for(db: Session, external: ExternalId, account_id: int | None) -> Learner | None:
    """The VNeID account signed in (``account_id`` from the browser session) as the gate sees it;
    ``AccountMismatch`` when ``external`` is already bound to another account.
    ``signed_in_at`` is the account's last sign-in (the HTTP layer puts this browser's instead)."""
    from identity.stamp import pseudonym_of

    if account_id is None:
        return None
    account = identity_storage.get_account(db, account_id)
    bound = identity_storage.account_for_external(db, tenant_id=external.tenant_id, issuer=external.issuer,
                                                   subject=external.subject)
    if bound is not None and bound.id != account.id:
        raise AccountMismatch("this LMS learner is bound to another VNeID account")
    return Learner(account.id, pseudonym_of(account.subject_hmac), account.level,
                   as_utc(account.last_login), account.full_name, bound is not None)


def fresh(learner: Learner, now: datetime) -> bool:
    return now - learner.signed_in_at <= SIGN_IN_FRESH


def bind(db: Session, external: ExternalId, learner: Learner) -> None:
    """Link ``external`` (an LMS's issuer and sub, in its tenant) to the learner's VNeID account,
    once (``identity.storage.bind_external_identity``: never moved to another account)."""
    identity_storage.bind_external_identity(db, learner.account_id, tenant_id=external.tenant_id,
                                            issuer=external.issuer, subject=external.subject)


# --- the gate ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GateKey:
    """One gate: a learner (tenant + registration) before one target (a quiz, or a proctored link)."""

    tenant_id: int
    registration: str
    target: str

    @property
    def pending_key(self) -> str:
        return hashlib.sha256(f"{self.tenant_id}\x1f{self.registration}\x1f{self.target}".encode()).hexdigest()


def pending_gate(db: Session, key: GateKey) -> AttemptAssurance | None:
    # The tenant leads the unique key (tenant_id, pending_key): naming it lets that index answer.
    return db.scalar(select(AttemptAssurance).where(AttemptAssurance.tenant_id == key.tenant_id,
                                                    AttemptAssurance.pending_key == key.pending_key))


# A liveness decision (face_check.Reason) as the gate's outcome: the burst's own failures are one
# outcome, "not_live", for the learner, the statement and the repeated-failures signal; the reason
# itself is kept beside it (``check_liveness_result``).
_REASON_OUTCOME: Final[Mapping[str, str]] = {
    "passed": "match", "no_match": "no_match", "retry": "retry", "no_face": "no_face",
    "several_faces": "several_faces", "unreadable": "unreadable", "over_limits": "unreadable",
    "too_few_frames": "unreadable"}
NOT_LIVE: Final = "not_live"


@dataclass(frozen=True)
class GateCheck:
    """One face check as the gate keeps it: face_check's comparison (``result``; for a burst, the mean
    frontal embedding against the enrolment) and how liveness was shown: ``liveness`` is the challenge
    method, None for a single photo (the fallback); ``liveness_result`` its decision."""

    result: CheckResult
    liveness: str | None = None
    liveness_result: str | None = None
    # The gate's outcome when it is not the comparison's ("not_live"; ``result`` then says no_match).
    outcome_value: str | None = None

    @property
    def outcome(self) -> str:
        return self.outcome_value or self.result.outcome.value

    def derived(self, level: int | None) -> str:
        from identity.stamp import derive_outcome

        return derive_outcome(self.result, level, liveness=self.liveness, liveness_result=self.liveness_result)


def gate_outcome(reason: str) -> str:
    """The gate's outcome for a liveness decision (see ``_REASON_OUTCOME``)."""
    return _REASON_OUTCOME.get(reason, NOT_LIVE)


def check_of(row: AttemptAssurance) -> GateCheck | None:
    """The check the row's stamp reports."""
    from face_check.verification import CheckResult, Outcome

    if row.check_outcome is None or row.check_threshold is None:
        return None
    known = row.check_outcome in {o.value for o in Outcome}
    result = CheckResult(Outcome(row.check_outcome) if known else Outcome.NO_MATCH, row.check_distance,
                         row.check_threshold, row.check_metric or "", row.check_model or "", row.check_detector or "")
    return GateCheck(result, row.check_liveness, row.check_liveness_result, None if known else row.check_outcome)


def _verified(row: AttemptAssurance) -> bool:
    """The latest check opens the gate: verified (live), or photo-only when the tenant allows the fallback."""
    from identity.stamp import PHOTO_ONLY, VERIFIED

    check = check_of(row)
    return check is not None and check.derived(row.level) in (VERIFIED, PHOTO_ONLY)


def _passed(row: AttemptAssurance, now: datetime) -> bool:
    return (row.pending_key is not None and row.checked_at is not None and now - as_utc(row.checked_at) <= GATE_TTL
            and row.level is not None and row.level >= row.min_level and _verified(row))


def gate_step(db: Session, key: GateKey, learner: Learner | None, min_level: int, now: datetime) -> Step:
    """Where the learner stands before ``key``'s target: the first step not yet done."""
    if learner is None:
        return Step.SIGN_IN
    if learner.level is None or learner.level < min_level:
        return Step.LEVEL
    if not learner.bound:
        return Step.BIND if fresh(learner, now) else Step.SIGN_IN
    if identity_storage.face_enrolment(db, learner.account_id) is None:
        return Step.ENROL if fresh(learner, now) else Step.SIGN_IN
    row = pending_gate(db, key)
    if row is None or row.account_id != learner.account_id or row.min_level < min_level or not _passed(row, now):
        return Step.CHECK
    return Step.PASSED


def start_gate(db: Session, key: GateKey, learner: Learner, min_level: int, now: datetime) -> AttemptAssurance:
    """The pending gate of ``key`` (created with the cmi5 session id its attempt will use), for
    ``learner``. A check made by another account does not carry over."""
    row = pending_gate(db, key)
    if row is None:
        row = AttemptAssurance(tenant_id=key.tenant_id, registration=key.registration, target=key.target,
                               session_id=str(uuid.uuid4()), pending_key=key.pending_key, attempt_id=None,
                               account_id=learner.account_id, subject=learner.subject, level=learner.level,
                               signed_in_at=learner.signed_in_at, min_level=min_level, checks=0, created=now)
        try:
            with db.begin_nested():
                db.add(row)
        except IntegrityError:  # a concurrent request (another tab) opened it first
            row = pending_gate(db, key)
            if row is None:
                raise
    if row.account_id != learner.account_id:
        _set_check(row, None, None)
    row.account_id, row.subject, row.level = learner.account_id, learner.subject, learner.level
    row.signed_in_at, row.min_level = learner.signed_in_at, min_level
    db.flush()
    return row


@dataclass(frozen=True)
class GateResult:
    """What a gate established, read on the server with no browser session (LTI Proctoring)."""

    passed: bool
    session_id: str | None          # statements written with it are stamped and signed
    stamp: dict[str, Any] | None    # the stamp they get now
    row: AttemptAssurance | None


def gate_result(db: Session, key: GateKey, now: datetime) -> GateResult:
    row = pending_gate(db, key)
    if row is None:
        return GateResult(False, None, None, None)
    return GateResult(_passed(row, now), row.session_id, stamp_for(row), row)


def consume(db: Session, row: AttemptAssurance, now: datetime, *, attempt_id: int | None = None,
            recheck: tuple[int, int] | None = None, rng: Any = None) -> None:
    """The attempt starts: the gate is no longer pending (the next attempt needs a new check), and
    the first recheck is scheduled when ``recheck`` = (min, max) seconds is given."""
    row.pending_key, row.attempt_id = None, attempt_id
    if recheck is not None:
        row.recheck_min, row.recheck_max = recheck
        _schedule(row, now, rng)
    db.flush()


def _schedule(row: AttemptAssurance, when: datetime, rng: Any = None) -> None:
    if row.recheck_min is None or row.recheck_max is None:
        return
    # The server draws the moment from the OS's CSPRNG: the page cannot know it in advance.
    draw = (rng or secrets.SystemRandom()).uniform(row.recheck_min, row.recheck_max)
    row.recheck_due = when + timedelta(seconds=draw)


def _set_check(row: AttemptAssurance, check: GateCheck | None, when: datetime | None) -> None:
    result = check.result if check else None
    row.check_outcome = check.outcome if check else None
    row.check_distance = result.distance if result else None
    row.check_threshold = result.threshold if result else None
    row.check_metric = result.metric if result else None
    row.check_model = result.model if result else None
    row.check_detector = result.detector if result else None
    row.check_liveness = check.liveness if check else None
    row.check_liveness_result = check.liveness_result if check else None
    row.check_assurance = _assurance(check, row.level) if check else None
    row.checked_at = when


def _assurance(check: GateCheck, level: int | None) -> str:
    from identity.stamp import assurance_of

    return assurance_of(check.derived(level))


def record_check(db: Session, row: AttemptAssurance, check: GateCheck, when: datetime,
                 rng: Any = None) -> bool:
    """Keep one face check on the gate; True when it verified (live, or photo-only where allowed).
    Before the attempt the latest check counts (a bad capture can be taken again); during it, the
    first failed check stays in the stamp for the rest of the attempt. During an attempt the next
    recheck is scheduled either way."""
    from identity.stamp import PHOTO_ONLY, VERIFIED

    attached = row.pending_key is None
    verified = check.derived(row.level) in (VERIFIED, PHOTO_ONLY)
    row.checks, row.last_check_at = row.checks + 1, when
    if not attached or row.failed_at is None:
        _set_check(row, check, when)
        if attached and not verified:
            row.failed_at = when
    if attached:
        _schedule(row, when, rng)
    db.flush()
    return verified


def assurance_for(db: Session, tenant_id: int, session_id: str) -> AttemptAssurance | None:
    """The gate whose checks cover the attempt run in cmi5 session ``session_id`` (None: not assured)."""
    return db.scalar(select(AttemptAssurance).where(AttemptAssurance.tenant_id == tenant_id,
                                                    AttemptAssurance.session_id == session_id))


def seconds_to_recheck(row: AttemptAssurance | None, now: datetime) -> int | None:
    """Seconds until the next check is due (negative: overdue); None when none is scheduled."""
    if row is None or row.recheck_due is None:
        return None
    return int((as_utc(row.recheck_due) - now).total_seconds())


def require_current(db: Session, tenant_id: int, session_id: str, now: datetime, **params: str) -> None:
    """Answers and submission wait for an overdue recheck (the server's due time, plus grace);
    ``params`` go into the error (the consumer's way back to the attempt)."""
    row = assurance_for(db, tenant_id, session_id)
    if row is not None and row.recheck_due is not None and now > as_utc(row.recheck_due) + RECHECK_GRACE:
        raise RecheckOverdue("a face check is overdue", **params)


# --- stamping and signing ------------------------------------------------------------------------

def stamp_for(row: AttemptAssurance) -> dict[str, Any]:
    from identity.stamp import build_stamp

    check = check_of(row)
    return build_stamp(subject=row.subject, signed_in_at=as_utc(row.signed_in_at), level=row.level,
                       check=check.result if check is not None else None,
                       checked_at=as_utc(row.checked_at) if check is not None and row.checked_at else None,
                       liveness=check.liveness if check else None,
                       liveness_result=check.liveness_result if check else None,
                       face_outcome=check.outcome if check else None)
