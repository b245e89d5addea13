"""The identity gate's errors: each is the page (or JSON) the learner sees, a status and a message key
of ``identity.gate.texts``; ``params`` may carry ``gate_url`` (the way back to the gate) and
``outcome`` (a face check's). Rendered by ``identity.gate.http.render_error``, for the gate's own
pages and for its consumers' (the player's quiz pages, proctoring)."""

from __future__ import annotations

from typing import Any


class GateError(Exception):
    """The identity gate is not passed, or cannot run; the page links to the gate when it can."""

    status = 400
    key = "identity.error.bad_request"
    title_key = "identity.error_title"

    def __init__(self, detail: str = "", **params: Any) -> None:
        super().__init__(detail or self.key)
        self.detail, self.params = detail, params



class SignInRequired(GateError):
    status, key = 403, "identity.error.sign_in_required"


class LevelTooLow(GateError):
    status, key = 403, "identity.error.level_too_low"


class BindRequired(GateError):
    """The learner has not yet confirmed the link of their LMS identity to the VNeID account."""

    status, key = 409, "identity.error.bind_required"


class EnrolmentRequired(GateError):
    status, key = 409, "identity.error.enrolment_required"


class CheckRequired(GateError):
    status, key = 409, "identity.error.check_required"


class RecheckOverdue(GateError):
    status, key = 409, "identity.error.recheck_overdue"


class AccountMismatch(GateError):
    """The LMS identity is bound to another VNeID account than the one signed in (bound once)."""

    status, key = 409, "identity.error.account_mismatch"


class GateUnavailable(GateError):
    """VNeID sign-in is not configured on this hub: a required quiz cannot open (never a pass)."""

    status, key = 503, "identity.error.unavailable"


class FaceUnavailable(GateError):
    """The face model is not installed (``hocvu face setup``): a clear error, never a pass."""

    status, key = 503, "identity.error.face_unavailable"


class UnusablePhoto(GateError):
    status, key = 422, "identity.error.unusable_photo"


class ConsentMissing(GateError):
    status, key = 400, "identity.error.consent_required"


class PhotoMissing(GateError):
    status, key = 400, "identity.error.photo_missing"


class PhotoTooLarge(GateError):
    status, key = 413, "identity.outcome.unreadable"


class EnrolmentUnreadable(GateError):
    """The stored reference no longer opens (the face key changed): enrol again."""

    status, key = 409, "identity.error.enrolment_unreadable"


class NotOpened(GateError):
    """The gate request names nothing this browser opened (no session of the consumer, or none it
    knows): the learner starts again from where they came."""

    status, key = 403, "identity.error.not_opened"


class ChallengeInvalid(GateError):
    """The burst names a challenge that is unknown, used, expired or issued to another learner or gate."""

    status, key = 409, "identity.error.challenge_invalid"


class BurstMissing(GateError):
    """No burst of camera frames (or a malformed one) was sent where one is required."""

    status, key = 400, "identity.error.burst_missing"


class PhotoNotAllowed(GateError):
    """A photo was sent for an assessed check or an enrolment: only camera bursts, unless the operator
    allows the accessibility fallback (HOCVU_FACE_PHOTO_FALLBACK)."""

    status, key = 403, "identity.error.photo_not_allowed"


class BurstRefused(GateError):
    """An enrolment burst that did not show a live person doing the challenge (``outcome`` says why)."""

    status, key = 422, "identity.error.burst_refused"
