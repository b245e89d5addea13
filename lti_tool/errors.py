"""LTI error classes: each class *is* the answer the tool gives (HTTP status, code, heading),
rendered by one handler in ``lti_tool.http`` as an HTML page (DESIGN.md, Codebases: Authlib's errors).

Launch statuses follow what each failure means: 400 for a malformed message (a claim missing or
wrong, 1EdTech LTI Core 1.3 §5), 401 for a message that does not authenticate (signature, key,
issuer/audience, expiry, nonce, state: 1EdTech Security Framework 1.0 §5.1.3), 403 for an
authenticated platform asking for something it is not allowed (an unknown deployment, LTI Core
1.3 §3.1.3; a learner opening the instructor's content picker).
"""

from __future__ import annotations

from werkzeug.exceptions import HTTPException


class LtiError(Exception):
    """Base of every error the LTI tool answers with."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Yêu cầu LTI không hợp lệ / Invalid LTI request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def as_lti_error(exc: Exception, what: str) -> LtiError:
    """An HTTP exception (404, 405, ...) or an unexpected one, as the tool's error page shows it:
    werkzeug's status kept, anything else a 500 that says nothing of its cause."""
    if isinstance(exc, HTTPException):
        err = LtiError(exc.description or exc.name)
        err.status, err.code, err.title = exc.code or 400, exc.name.lower().replace(" ", "_"), exc.name
        return err
    err = LtiError(f"{what} failed to handle this request; it has been logged")
    err.status, err.code, err.title = 500, "server_error", "Lỗi máy chủ / Server error"
    return err


class BadLaunch(LtiError):
    """The message is malformed: a required claim or parameter is missing or has a wrong value."""

    status, code = 400, "invalid_request"


class LaunchUnauthorized(LtiError):
    """The message does not prove it comes from a registered platform, or it was replayed."""

    status, code = 401, "invalid_token"
    title = "Không xác thực được lần mở / Launch could not be authenticated"


class LaunchForbidden(LtiError):
    status, code = 403, "forbidden"
    title = "Không được phép / Not allowed"


class RegistrationDisabled(LtiError):
    """The platform's registration is known but an operator disabled it (`hocvu lti platform
    disable`, /lti/admin/): no launch is accepted until it is enabled again."""

    status, code = 403, "registration_disabled"
    title = "Kết nối LMS đang tạm dừng / This LMS connection is disabled"


class LaunchStateUnavailable(LtiError):
    """The shared launch store (database or Redis) did not answer: the hub's fault, not the
    learner's, so it is a 503 that says to try again, never a "replayed launch"."""

    status, code = 503, "temporarily_unavailable"
    title = "Hệ thống đang bận / The hub is briefly unavailable"


class InvalidConfiguration(LtiError):
    """A platform registration with a missing or unusable value (URL, client id)."""

    status, code = 400, "invalid_configuration"
    title = "Cấu hình không hợp lệ / Invalid configuration"


class NotFound(LtiError):
    status, code = 404, "not_found"
    title = "Không tìm thấy / Not found"


class Conflict(LtiError):
    status, code = 409, "conflict"
    title = "Đã tồn tại / Already exists"


class RegistrationFailed(LtiError):
    """Dynamic registration could not complete (the platform's configuration or answer is unusable)."""

    status, code = 400, "registration_failed"
    title = "Đăng ký không thành công / Registration failed"


class PlatformUnavailable(LtiError):
    """The platform did not answer a call the tool made to it (keyset, token, AGS, NRPS, registration)."""

    status, code = 502, "platform_unavailable"
    title = "Hệ thống LMS không phản hồi / The platform did not answer"

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class ServiceNotOffered(LtiError):
    """The launch carries no AGS line item / NRPS endpoint, or lacks the scope the call needs."""

    status, code = 400, "service_not_offered"


class InvalidScore(LtiError):
    """A score that AGS 2.0 §3.4 would reject (negative values, unknown progress values)."""

    status, code = 400, "invalid_score"


class ToolKeyError(LtiError):
    """Tool key management refused (unknown kid, retiring the last published key)."""

    status, code = 400, "key_error"


# --- the admin pages (lti_tool.http_admin) ---


class AdminUnauthorized(LtiError):
    """No credentials, or a key/secret that does not authenticate (RFC 7235 §3.1: answered with a
    Basic challenge so the browser asks for them)."""

    status, code = 401, "unauthorized"
    title = "Cần đăng nhập / Sign-in required"


class AdminForbidden(LtiError):
    """An authenticated credential without the ``all`` scope: it may write statements, not
    change which LMSs may launch into the tenant."""

    status, code = 403, "forbidden"
    title = "Không được phép / Not allowed"


class CsrfFailed(LtiError):
    """A POST whose CSRF token is missing or is not the session's: possibly a forged cross-site form."""

    status, code = 400, "csrf_failed"
    title = "Biểu mẫu đã hết hạn / The form has expired"
