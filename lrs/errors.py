"""xAPI error classes: each class *is* the wire error (status + code), rendered by one handler.

xAPI 1.0.3 Part Three §3.2 / xAPI 2.0 (IEEE 9274.1.1) §4.1.6 "Error Codes" fixes the statuses;
the JSON body shape ``{"error": {"code", "message"}}`` is ours (DESIGN.md, Conventions).
"""

from __future__ import annotations

from typing import Any


class XapiError(Exception):
    """Base of every error an xAPI resource can answer with."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(XapiError):
    status, code = 400, "bad_request"


class Unauthorized(XapiError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str = "Authentication required") -> None:
        # RFC 7235 §3.1: a 401 carries a challenge.
        super().__init__(message, headers={"WWW-Authenticate": 'Basic realm="xAPI"'})


class Forbidden(XapiError):
    status, code = 403, "forbidden"


class NotFound(XapiError):
    status, code = 404, "not_found"



class Conflict(XapiError):
    status, code = 409, "conflict"


class PreconditionFailed(XapiError):
    status, code = 412, "precondition_failed"


class PayloadTooLarge(XapiError):
    status, code = 413, "payload_too_large"




class ServerError(XapiError):
    status, code = 500, "server_error"


class ServiceUnavailable(XapiError):
    """A valid request the server could not complete now (say, its transaction kept losing to
    concurrent writers); nothing was written. RFC 9110 §15.6.4: 503 is for a temporary condition,
    and §10.2.3 lets Retry-After say how soon to try again."""

    status, code = 503, "service_unavailable"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
