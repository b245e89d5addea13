"""The verification stamp: a statement context extension saying how the learner was identified.

DESIGN.md, "Identity assurance" (Stamp). Statements of an attempt carry, under one context
extension IRI (xAPI 1.0.3 Part Two §2.4.6.2 "Context" ``extensions`` / §5.3 "Extensions";
IEEE 9274.1.1 §4.2.2.5 and §4.2.4.4), a small JSON object: the method, the VNeID identification
level, when the person signed in, when the face was last checked, the face distance against its
threshold (metric, model, detector) and a pseudonymous subject. The hub then signs the statement
(``identity.signing``) so an auditor can check it offline.

Pure functions, no I/O and no request context (DESIGN.md, "Flask's sansio/ split").

Two rules this module enforces rather than leaves to callers:

* the ``outcome`` is *derived* from the face check, never passed in: a missing check, a check
  that did not match, or one whose distance is over its threshold gives ``"unverified"``;
* the subject is pseudonymous: a value shaped like a citizen ID (CCCD, 12 digits; old CMND,
  9 digits) is refused, so a stamp can never carry one.
"""

from __future__ import annotations

import copy
import math
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from identity.claims import subject_hmac

if TYPE_CHECKING:  # annotations only: the stamp loads without the face extra (OpenCV)
    from face_check.verification import CheckResult

# The one extension IRI of the stamp. Documented at this address (1.0.3 Part Two §5.3: an
# extension key is an IRI, and SHOULD resolve to its description); the value is the object
# ``build_stamp`` returns, with these keys:
#   method          how identity was established, e.g. "vneid+face"
#   level           VNeID identification level at sign-in (1 or 2); absent when unknown
#   signedInAt      ISO 8601 UTC time of the VNeID sign-in
#   faceCheckedAt   ISO 8601 UTC time of the last face check; absent when none was made
#   faceOutcome     the face check's own outcome ("match", "no_match", "no_face", ...)
#   faceDistance    distance between live frame and enrolment; absent when no single face
#   threshold, metric, model, detector   what the distance was compared with, and how made
#   liveness        how the face was shown to be live: the challenge method (e.g. "active-challenge-v1":
#                   random head turns / blink in timed slots, decided from the burst's frames), or "none"
#                   for a single photo (the accessibility fallback a tenant may allow)
#   livenessResult  the liveness decision ("passed", "static", "planar", "step_missing", ...); absent
#                   with liveness "none"
#   assurance       the assurance level: "face-liveness" (a live burst matched the enrolment),
#                   "face-photo" (a photo matched: lower, the same face only), "none" (no match)
#   outcome         "verified" (face-liveness matched), "photo-only" (face-photo matched: never
#                   "verified"), "unverified" (derived, see below); "supervised" for a supervised check
#   subject         pseudonymous subject (see ``pseudonymous_subject``), never a citizen ID
# A supervised in-person check (``build_supervised_stamp``: the alternative for a learner who refuses
# face enrolment) has method "supervised", assurance "supervised", supervisedAt, supervisor, document
# (the kind of identity document shown, never its number), level when a VNeID account is linked, and
# outcome "supervised": a lower assurance, never "verified", which only a matching face check gives.
STAMP_IRI: Final = "https://hocvu.vn/xapi/extensions/identity-verification"

VERIFIED: Final = "verified"
UNVERIFIED: Final = "unverified"
PHOTO_ONLY: Final = "photo-only"        # a photo matched, no liveness: a lower assurance, never "verified"
LIVENESS_NONE: Final = "none"
LIVENESS_PASSED: Final = "passed"       # face_check.Reason.PASSED
ASSURANCE_LIVENESS: Final = "face-liveness"
ASSURANCE_PHOTO: Final = "face-photo"
ASSURANCE_NONE: Final = "none"
SUPERVISED: Final = "supervised"
DOCUMENTS: Final = ("cccd", "passport", "other")  # the kind of identity document a supervisor checked
LEVELS: Final = (1, 2)
PSEUDONYM_PREFIX: Final = "hocvu-subject:"

# CCCD (12 digits) and the old CMND (9 digits), with or without separators: refused as subjects.
_CITIZEN_ID_LIKE = re.compile(r"\d{9}|\d{12}")


def pseudonymous_subject(pepper: bytes, issuer: str, subject: str) -> str:
    """A stable pseudonym for the provider's (iss, sub) (OIDC Core §5.7: the stable key).

    Keyed HMAC-SHA256 with the hub's pepper (``IdentitySettings.pepper``), so a reader of the
    LRS cannot reverse it nor link it to another hub's; the provider's own ``sub`` is not used
    as is because a provider may put the citizen ID there. The HMAC is the one accounts are keyed
    by (``identity.claims.subject_hmac``), so ``pseudonym_of(account.subject_hmac)`` is the same.
    """
    return pseudonym_of(subject_hmac(pepper, issuer, subject))


def pseudonym_of(account_subject_hmac: str) -> str:
    """The stamp's subject for an account keyed by ``account_subject_hmac``."""
    return PSEUDONYM_PREFIX + account_subject_hmac


def subject_hmac_of(pseudonym: str) -> str | None:
    """The account key a stamp's subject names, or None when it is not one of ours."""
    value = pseudonym.removeprefix(PSEUDONYM_PREFIX)
    return value if value != pseudonym and re.fullmatch(r"[0-9a-f]{64}", value) else None


def _utc(moment: datetime, name: str) -> str:
    # DESIGN.md Conventions: UTC, ISO 8601 with timezone, microseconds kept. A naive datetime
    # would be a guess about the zone, so it is refused.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _check_subject(subject: str) -> None:
    if not isinstance(subject, str) or not subject.strip():
        raise ValueError("the stamp needs a pseudonymous subject")
    digits = re.sub(r"[\s.\-]", "", subject)
    if _CITIZEN_ID_LIKE.fullmatch(digits):
        raise ValueError("the stamp subject looks like a citizen ID; pass a pseudonymous subject")


def derive_outcome(check: CheckResult | None, level: int | None, *, liveness: str | None = None,
                   liveness_result: str | None = None) -> str:
    """"verified" only after a face check that matched with a distance within its threshold, whose
    liveness challenge passed (``liveness`` names its method), for a person signed in at a known VNeID
    level; the same match without liveness (a photo) is "photo-only"; anything else is "unverified"."""
    if check is None or level not in LEVELS or not check.matched:
        return UNVERIFIED
    # Belt and braces: a MATCH must also carry the number that justifies it.
    if check.distance is None or not math.isfinite(check.distance) or check.distance > check.threshold:
        return UNVERIFIED
    if liveness in (None, LIVENESS_NONE):
        return PHOTO_ONLY
    return VERIFIED if liveness_result == LIVENESS_PASSED else UNVERIFIED


def assurance_of(outcome: str) -> str:
    """The assurance level a derived outcome gives."""
    return {VERIFIED: ASSURANCE_LIVENESS, PHOTO_ONLY: ASSURANCE_PHOTO}.get(outcome, ASSURANCE_NONE)


def build_stamp(*, subject: str, signed_in_at: datetime, level: int | None,
                check: CheckResult | None, checked_at: datetime | None = None,
                method: str = "vneid+face", liveness: str | None = None,
                liveness_result: str | None = None, face_outcome: str | None = None) -> dict[str, Any]:
    """The stamp for ``STAMP_IRI``. ``check`` is the last face check (None: none was made) and
    ``checked_at`` when it was made (required with a check); ``liveness`` the method that showed the
    face live (None: a photo, "none") and ``liveness_result`` its decision. The outcome and the
    assurance level are derived from them. ``face_outcome`` is the gate's outcome when it is not the
    comparison's own ("not_live": the burst failed its liveness challenge)."""
    _check_subject(subject)
    if level is not None and level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS} or None, not {level!r}")
    if check is not None and checked_at is None:
        raise ValueError("checked_at is required with a face check")
    stamp: dict[str, Any] = {"method": method, "signedInAt": _utc(signed_in_at, "signed_in_at")}
    if level is not None:
        stamp["level"] = level
    if check is not None and checked_at is not None:
        # Keys are left out rather than set to null: absent says "not measured" just as well and
        # keeps the extension free of nulls some LRS consumers mishandle.
        stamp["faceCheckedAt"] = _utc(checked_at, "checked_at")
        stamp["faceOutcome"] = face_outcome or check.outcome.value
        if check.distance is not None:
            stamp["faceDistance"] = check.distance
        stamp.update(threshold=check.threshold, metric=check.metric, model=check.model, detector=check.detector)
        stamp["liveness"] = liveness or LIVENESS_NONE
        if liveness not in (None, LIVENESS_NONE) and liveness_result:
            stamp["livenessResult"] = liveness_result
    outcome = derive_outcome(check, level, liveness=liveness, liveness_result=liveness_result)
    stamp["assurance"] = assurance_of(outcome)
    stamp["outcome"] = outcome
    stamp["subject"] = subject
    return stamp


def build_supervised_stamp(*, subject: str, supervised_at: datetime, supervisor: str, document: str,
                           level: int | None = None) -> dict[str, Any]:
    """The stamp of a supervised in-person check (see ``STAMP_IRI``'s comment): outcome "supervised",
    never "verified". ``supervisor`` names who checked (a staff name or id, as the tenant records it);
    it must not look like a citizen ID either."""
    _check_subject(subject)
    supervisor = " ".join(supervisor.split())
    if not supervisor or len(supervisor) > 200 or _CITIZEN_ID_LIKE.search(re.sub(r"[\s.\-]", "", supervisor)):
        raise ValueError("the supervisor is named by a name or staff id (≤200 characters), never a citizen ID")
    if document not in DOCUMENTS:
        raise ValueError(f"document must be one of {', '.join(DOCUMENTS)}")
    if level is not None and level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS} or None, not {level!r}")
    stamp: dict[str, Any] = {"method": SUPERVISED, "assurance": SUPERVISED,
                             "supervisedAt": _utc(supervised_at, "supervised_at"), "supervisor": supervisor,
                             "document": document}
    if level is not None:
        stamp["level"] = level
    stamp.update(outcome=SUPERVISED, subject=subject)
    return stamp


def stamp_statement(statement: dict[str, Any], stamp: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``statement`` with ``context.extensions[STAMP_IRI] = stamp``; the input is
    not changed (the caller may still hold it, e.g. to sign or resend)."""
    out = copy.deepcopy(statement)
    context = out.get("context")
    if context is None:
        context = out["context"] = {}
    elif not isinstance(context, dict):
        raise ValueError("the statement's context is not an object")
    extensions = context.get("extensions")
    if extensions is None:
        extensions = context["extensions"] = {}
    elif not isinstance(extensions, dict):
        raise ValueError("the statement's context.extensions is not an object")
    extensions[STAMP_IRI] = copy.deepcopy(stamp)
    return out


def stamp_of(statement: dict[str, Any]) -> dict[str, Any] | None:
    """The stamp a statement carries, or None."""
    context = statement.get("context")
    extensions = context.get("extensions") if isinstance(context, dict) else None
    value = extensions.get(STAMP_IRI) if isinstance(extensions, dict) else None
    return value if isinstance(value, dict) else None
