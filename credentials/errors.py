"""Credential errors: each class *is* the wire error (HTTP status + code), rendered by one handler in
``credentials.http`` as JSON (``{"error": {"code", "message"}}``, DESIGN.md Conventions) or a page
(DESIGN.md, Codebases: Authlib's errors). Messages never carry a key, a citizen ID or a learner's
account: they can be logged and shown as they are.

A credential that *fails verification* is not an error: verification answers with a report
(``credentials.verify.Report``) saying which check failed. These are for requests the hub cannot
serve at all.
"""

from __future__ import annotations

from typing import Any


class CredentialError(Exception):
    """Base of every error the credentials package raises."""

    status: int = 400
    code: str = "credential_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class BadCredentialInput(CredentialError):
    """What was pasted or uploaded is not a JSON object (or is too large to be a credential)."""

    status, code = 400, "bad_credential_input"


class NotSignedIn(CredentialError):
    """The learner's own pages need the session a source (the player) opened."""

    status, code = 401, "not_signed_in"


class CredentialNotFound(CredentialError):
    status, code = 404, "credential_not_found"


class StatusListNotFound(CredentialError):
    status, code = 404, "status_list_not_found"


class IssuerKeyError(CredentialError):
    """The issuer key cannot be used (none published, a sealed key that does not open, an unknown kid)."""

    status, code = 500, "issuer_key_error"


class NotComplete(CredentialError):
    """The learner has not completed the course under its rules: nothing to issue."""

    status, code = 409, "course_not_complete"


class UnknownCourse(CredentialError):
    status, code = 404, "unknown_course"


class ContextNotAvailable(CredentialError):
    """A JSON-LD context that is not shipped with the hub: nothing is ever fetched from the network."""

    status, code = 400, "context_not_available"


class StatusListFull(CredentialError):
    status, code = 503, "status_list_full"
