"""Face checks at the identity gate, without Flask: the face key and model, enrolment with consent,
withdrawal, and each check written as an xAPI statement where the gate's consumer says.

Each face check (initial and repeated, pass or fail) is a statement; the photo never is:

- verb ``CHECK_VERB`` https://hocvu.vn/xapi/verbs/checked-identity ("đã kiểm tra danh tính");
- object ``<checked activity's id>/identity-check``, type ``CHECK_TYPE``
  https://hocvu.vn/xapi/activity-types/identity-check (the checked activity is the consumer's: a
  quiz of the player, a platform's proctored assessment);
- result ``success``: the face matched; ``extensions[EXT_FACE_CHECK]``
  (https://hocvu.vn/xapi/extensions/face-check): kind ("initial" or "recheck"), outcome, distance
  (absent without exactly one face), threshold, metric, model, detector, faces, and after a
  ``no_match`` ``otherEnrolments`` {compared, limit, truncated, matches: [{subject, distance}]}: the
  tenant's other learners whose enrolment the face matches (``identity.gate.crossmatch``);
- context: registration, the checked activity as parent (xAPI 1.0.3 Part Two §2.4.6.2) and the
  consumer's grouping, the cmi5 session id of the attempt, and the stamp, which the sealer adds when
  the consumer's writer stores the statement.

Configuration (``AssuranceConfig``, built by the composition root from the settings tree): the face
key (``HOCVU_FACE_KEY``, base64 of 16, 24 or 32 random bytes; else derived from the app secret with
HKDF), the threshold (``HOCVU_FACE_THRESHOLD``; default: the model's), the weights' folder
(``HOCVU_DEEPFACE_HOME``, what ``hocvu face setup`` installs). The key is never logged.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from identity import storage as identity_storage
from identity.gate.consumers import CheckContext
from identity.gate.crossmatch import CrossMatch, cross_match
from identity.gate.domain import GateCheck, Learner, gate_outcome, record_check
from identity.gate.errors import (
    BurstRefused,
    ConsentMissing,
    EnrolmentRequired,
    EnrolmentUnreadable,
    FaceUnavailable,
    GateUnavailable,
    PhotoMissing,
    PhotoNotAllowed,
    UnusablePhoto,
)
from identity.settings import AssurancePolicy
from identity.signing import HubKey, SigningMaterial
from identity.storage import AttemptAssurance
from lrs.statements import format_time
from lrs.storage import as_utc
from schemas.cmi5 import EXT_SESSION

if TYPE_CHECKING:
    from face_check.challenge import Challenge
    from face_check.service import FaceService
    from face_check.verification import Embedding

log = logging.getLogger(__name__)

CHECK_VERB: Final = "https://hocvu.vn/xapi/verbs/checked-identity"
CHECK_TYPE: Final = "https://hocvu.vn/xapi/activity-types/identity-check"
EXT_FACE_CHECK: Final = "https://hocvu.vn/xapi/extensions/face-check"
_FACE_KEY_INFO: Final = b"hocvu/face-embedding-key/v1"


# --- configuration: the face key, the model, the hub's signing key --------------------------------

def face_key_from(secret_key: str, raw: str | None = None) -> bytes | None:
    """``raw`` (standard base64 of 16, 24 or 32 random bytes: the ``HOCVU_FACE_KEY`` setting) or, when
    there is none, a key derived from the app secret with HKDF-SHA256 (RFC 5869) under its own label,
    so neither key is the other. None when there is neither; a malformed ``raw`` is a ValueError
    (a start-up error)."""
    raw = (raw or "").strip()
    if raw:
        try:
            key = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the face key is not standard base64") from None
        if len(key) not in (16, 24, 32):
            raise ValueError(f"the face key must hold 16, 24 or 32 bytes, not {len(key)}")
        return key
    if not secret_key:
        return None
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_FACE_KEY_INFO).derive(secret_key.encode())


class AssuranceConfig:
    """What the gate needs, built once per app: the face service (its model loads lazily, once, and
    a missing model is ``FaceUnavailable``), the hub's signing material, and the pepper of the
    pseudonymous subjects (``IdentitySettings.pepper``; empty when VNeID is not configured)."""

    def __init__(self, *, face_key: bytes | None, pepper: bytes, instance_dir: Path, face_home: Path | None = None,
                 threshold: float | None = None, hub_key: HubKey | None = None,
                 policy: AssurancePolicy | None = None) -> None:
        self._face_key, self.pepper = face_key, pepper
        self.instance_dir, self.face_home, self.threshold = instance_dir, face_home, threshold
        self.hub_key = hub_key or HubKey(instance_dir)
        self.policy = policy or AssurancePolicy()
        self._lock = threading.Lock()
        self._service: FaceService | None = None

    def __repr__(self) -> str:  # the keys never reach a log
        return f"AssuranceConfig(face_home={self.face_home!r}, threshold={self.threshold!r})"

    def require_configured(self) -> None:
        if len(self.pepper) < 16:
            raise GateUnavailable("VNeID sign-in is not configured (HOCVU_VNEID_ISSUER or HOCVU_DEMO_IDP)")

    def _key(self) -> bytes:
        if not self._face_key:
            raise FaceUnavailable("no face key: set HOCVU_FACE_KEY or the app secret (HOCVU_SECRET_KEY)")
        return self._face_key

    def face(self) -> FaceService:
        """The face service with its model loaded; ``FaceUnavailable`` while it cannot be (retried
        on the next call, so ``hocvu face setup`` fixes a running hub)."""
        key = self._key()
        with self._lock:
            if self._service is None:
                try:
                    from face_check.errors import FaceCheckError
                    from face_check.service import FaceService
                except ImportError as err:
                    raise FaceUnavailable(f"the face check is not installed ({err})") from None
                try:
                    service = FaceService(key, home=self.face_home, threshold=self.threshold)
                    service.load()
                except FaceCheckError as err:
                    log.error("identity gate: the face model cannot be used: %s", err.message)
                    raise FaceUnavailable(err.message) from None
                self._service = service
            return self._service

    def unloaded_face(self) -> FaceService:
        """A face service for what needs no model (consent withdrawal must work without it)."""
        from face_check.service import FaceService

        return FaceService(self._key(), home=self.face_home)

    def open_enrolment(self, subject: str, ciphertext: bytes) -> Embedding:
        """A stored enrolment's embedding, in memory only (``identity.gate.crossmatch``); raises
        face_check's ``EmbeddingInvalid`` when it is not ``subject``'s under the current key."""
        from face_check.service import open_embedding

        return open_embedding(self._key(), subject, ciphertext)

    def material(self) -> SigningMaterial:
        """The hub's signing key and certificate (``HubKey``: loaded once, on first use)."""
        return self.hub_key.material()


# --- face operations ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Burst:
    """A camera burst answering the challenge ``challenge`` (already taken: used once, see
    ``identity.gate.challenges``): ``(t_ms, JPEG)`` frames in capture order. Held in memory only."""

    challenge: Challenge
    frames: list[tuple[int, bytes]]


@dataclass(frozen=True)
class Photo:
    """A single photo: only the accessibility fallback (``AssurancePolicy.photo_fallback``)."""

    data: bytes


Capture = Burst | Photo


def _allow_photo(cfg: AssuranceConfig, capture: Capture) -> None:
    if isinstance(capture, Photo):
        if not cfg.policy.photo_fallback:
            raise PhotoNotAllowed("photos are not accepted: a camera burst answering a challenge is")
        if not capture.data:
            raise PhotoMissing("no photo was sent")


def enrol(db: Session, cfg: AssuranceConfig, learner: Learner, capture: Capture, *, consent: bool,
          now: datetime) -> None:
    """Enrol the learner's face with their explicit consent, from a live burst (the reference is the
    burst's mean aligned embedding) or, where allowed, a photo: only the sealed embedding is kept."""
    from face_check.errors import NoUsableFace

    if consent is not True:
        raise ConsentMissing("enrolment needs the learner's explicit consent")
    _allow_photo(cfg, capture)
    service = cfg.face()
    if isinstance(capture, Photo):
        try:
            sealed, model, detector = service.enrol_frame(learner.subject, capture.data, consent=True)
        except NoUsableFace as err:
            raise UnusablePhoto(err.message, outcome=err.outcome) from None
    else:
        enrolment = service.enrol_burst(learner.subject, capture.challenge, capture.frames, consent=True, now=now)
        if enrolment.ciphertext is None:
            outcome = gate_outcome(enrolment.liveness.reason.value)
            log.info("identity gate: enrolment burst of account %s refused: %s", learner.account_id,
                     enrolment.liveness.reason.value)
            raise BurstRefused(enrolment.liveness.detail, outcome=outcome)
        sealed, model, detector = enrolment.ciphertext, enrolment.liveness.model, enrolment.liveness.detector
    identity_storage.save_face_enrolment(db, learner.account_id, ciphertext=sealed, model=model, detector=detector,
                                         consent_at=now, now=now)


def withdraw(db: Session, cfg: AssuranceConfig, learner: Learner) -> bool:
    """Consent withdrawn: the reference is deleted; True when there was one."""
    row = identity_storage.face_enrolment(db, learner.account_id)
    if row is None:
        return False
    receipt = cfg.unloaded_face().withdraw(learner.subject, row.ciphertext)
    identity_storage.delete_face_enrolment(db, learner.account_id)
    log.info("identity gate: face reference of account %s deleted (consent withdrawn, sha256 %s)",
             learner.account_id, receipt.ciphertext_sha256[:16])
    return True


def _judge(cfg: AssuranceConfig, row: AttemptAssurance, ciphertext: bytes, capture: Capture,
           now: datetime) -> tuple[GateCheck, Embedding | None, dict[str, Any] | None]:
    """The check itself: the gate's record of it, the probe embedding (for the cross-match) and the
    liveness decision as plain data (for the statement)."""
    from face_check.alignment import embed_aligned
    from face_check.errors import NoUsableFace
    from face_check.verification import CheckResult, Outcome

    service = cfg.face()
    if isinstance(capture, Photo):
        result = service.verify_frame(row.subject, ciphertext, capture.data).result
        if result.distance is not None:
            result = replace(result, distance=round(result.distance, 6))
        probe = None
        if result.outcome is Outcome.NO_MATCH:
            try:
                probe = embed_aligned(capture.data, limits=service.limits)
            except NoUsableFace:
                probe = None
        return GateCheck(result), probe, None
    lr = service.verify_burst(row.subject, ciphertext, capture.challenge, capture.frames, now=now).liveness
    outcome = gate_outcome(lr.reason.value)
    known = outcome in {o.value for o in Outcome}
    distance = None if lr.distance is None else round(lr.distance, 6)
    result = CheckResult(Outcome(outcome) if known else Outcome.NO_MATCH, distance, lr.accept_threshold,
                         lr.metric, lr.model, lr.detector, 1 if lr.frames_with_face else 0,
                         detail=lr.detail, reject_threshold=lr.reject_threshold)
    check = GateCheck(result, lr.method, lr.reason.value, None if known else outcome)
    return check, lr.embedding, lr.to_dict()


def run_check(db: Session, cfg: AssuranceConfig, where: CheckContext, row: AttemptAssurance, capture: Capture,
              now: datetime, *, rng: Any = None) -> GateCheck:
    """One face check of ``row``'s learner: a burst answering its challenge (liveness, one identity
    through it, the enrolled person), or a photo where the fallback is allowed; kept on the gate, its
    statement written where the consumer says (``where``). A live face that is not the learner's is
    also compared with the tenant's other enrolments (``identity.gate.crossmatch``), for the auditors."""
    from face_check.errors import EmbeddingInvalid

    _allow_photo(cfg, capture)
    enrolment = current_enrolment(db, cfg, row.account_id, now)
    if enrolment is None:
        raise EnrolmentRequired("no face reference is enrolled")
    try:
        check, probe, liveness = _judge(cfg, row, enrolment.ciphertext, capture, now)
    except EmbeddingInvalid:
        raise EnrolmentUnreadable("the enrolled reference cannot be read; enrol again") from None
    others = None
    if check.outcome == "no_match" and probe is not None:
        others = cross_match(db, cfg, tenant_id=row.tenant_id, account_id=row.account_id, probe=probe)
        if others is not None and others.matches:
            log.warning("identity gate: a failed check of account %s matches %d other enrolment(s) of tenant %s",
                        row.account_id, len(others.matches), row.tenant_id)
    del probe  # the probe embedding is not kept past the comparison
    kind = "recheck" if row.pending_key is None else "initial"
    record_check(db, row, check, now, rng)
    where.write(db, [check_statement(where, row, check, now, kind, others, liveness)])
    return check


def current_enrolment(db: Session, cfg: AssuranceConfig, account_id: int,
                      now: datetime) -> identity_storage.FaceEnrolment | None:
    """The account's enrolment, unless its retention period has run out: then it is deleted now (the
    periodic purge may not have passed yet) and the learner enrols again, with consent again."""
    row = identity_storage.face_enrolment(db, account_id)
    if row is not None and as_utc(row.consent_at) < now - timedelta(days=cfg.policy.face_retention_days):
        identity_storage.delete_face_enrolment(db, account_id)
        log.info("identity gate: face reference of account %s deleted (retention period over)", account_id)
        return None
    return row


def purge_expired(db: Session, policy: AssurancePolicy, now: datetime) -> int:
    """Delete every enrolment older than the retention period (``hocvu identity purge-enrolments``
    and the periodic purge); how many. The caller commits."""
    count = identity_storage.purge_face_enrolments(db, now - timedelta(days=policy.face_retention_days))
    if count:
        log.info("identity gate: %d face reference(s) deleted (retention period of %d days over)", count,
                 policy.face_retention_days)
    return count


# --- statements -----------------------------------------------------------------------------------

def check_statement(where: CheckContext, row: AttemptAssurance, check: GateCheck, when: datetime,
                    kind: str, others: CrossMatch | None = None,
                    liveness: dict[str, Any] | None = None) -> dict[str, Any]:
    """The face check as an xAPI statement (see the module's docstring); the sealer adds the stamp."""
    from identity.stamp import LIVENESS_NONE, assurance_of

    result = check.result
    detail: dict[str, Any] = {"kind": kind, "outcome": check.outcome, "threshold": result.threshold,
                              "metric": result.metric, "model": result.model, "detector": result.detector,
                              "faces": result.faces, "assurance": assurance_of(check.derived(row.level))}
    if result.reject_threshold is not None:
        detail["rejectThreshold"] = result.reject_threshold
    if result.distance is not None:
        detail["distance"] = result.distance
    detail["liveness"] = _liveness_detail(liveness) if liveness is not None else LIVENESS_NONE
    if others is not None:
        detail["otherEnrolments"] = others.detail()
    activities: dict[str, Any] = {"parent": [dict(where.parent)]}
    if where.grouping:
        activities["grouping"] = [dict(g) for g in where.grouping]
    return {
        "id": str(uuid.uuid4()),
        "actor": dict(where.actor),
        "verb": {"id": CHECK_VERB, "display": {"vi": "đã kiểm tra danh tính", "en": "checked identity"}},
        "object": {"objectType": "Activity", "id": where.parent["id"] + "/identity-check",
                   "definition": {"type": CHECK_TYPE, "name": {"vi": "Kiểm tra khuôn mặt", "en": "Face check"}}},
        "result": {"success": result.matched, "extensions": {EXT_FACE_CHECK: detail}},
        "context": {"registration": row.registration, "contextActivities": activities,
                    "extensions": {EXT_SESSION: row.session_id}},
        "timestamp": format_time(when),
    }


def _liveness_detail(found: dict[str, Any]) -> dict[str, Any]:
    """The liveness decision as the statement keeps it: what was decided and why, no timing; numbers to
    six decimals (more says nothing, and a long run of digits reads like an identity number)."""
    keep = ("method", "passed", "reason", "detail", "landmarks", "steps", "frames", "frames_with_face", "motion",
            "planar_residual", "frontal_gap", "turned_gap")
    return {k: _rounded(found[k]) for k in keep if k in found and found[k] is not None}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value
