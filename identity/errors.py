"""Identity error classes: each class *is* the wire error (HTTP status + code), rendered by one
handler in ``identity.http`` (DESIGN.md, "Authlib's errors").

Messages are for operators and the signed-in person; they never carry a token, a claim value or
a citizen ID, so an error can be logged and shown as it is.
"""

from __future__ import annotations

from typing import Any


class IdentityError(Exception):
    """Base of every error the identity package raises."""

    status: int = 400
    code: str = "identity_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class NotConfigured(IdentityError):
    """No provider is configured (neither HOCVU_VNEID_ISSUER nor the demo provider)."""

    status, code = 503, "identity_not_configured"


class ProviderUnavailable(IdentityError):
    """The provider's discovery, JWKS, token or userinfo endpoint did not answer usefully."""

    status, code = 502, "provider_unavailable"


class ProviderMisconfigured(IdentityError):
    """The provider's metadata contradicts our configuration (e.g. another issuer)."""

    status, code = 502, "provider_misconfigured"


class InvalidState(IdentityError):
    """The callback's ``state`` matches no login started in this browser (RFC 6749 §10.12)."""

    status, code = 400, "invalid_state"


class LoginRejected(IdentityError):
    """The provider answered the authorization request with an error (RFC 6749 §4.1.2.1)."""

    status, code = 401, "login_rejected"

    def __init__(self, message: str, provider_error: str = "") -> None:
        super().__init__(message)
        self.provider_error = provider_error


class TokenExchangeFailed(IdentityError):
    """The token endpoint refused the code (RFC 6749 §5.2), e.g. replayed code or bad PKCE."""

    status, code = 401, "token_exchange_failed"

    def __init__(self, message: str, provider_error: str = "") -> None:
        super().__init__(message)
        self.provider_error = provider_error


class InvalidIdToken(IdentityError):
    """The ID token failed validation (OpenID Connect Core 1.0 §3.1.3.7)."""

    status, code = 401, "invalid_id_token"


class InvalidClaims(IdentityError):
    """A mapped claim is missing or malformed (e.g. the citizen ID is not 12 digits)."""

    status, code = 422, "invalid_claims"


class InsufficientLevel(IdentityError):
    """The identification level is below the configured minimum (VNeID level 1 vs 2)."""

    status, code = 403, "insufficient_level"


class AccountNotFound(IdentityError):
    status, code = 404, "account_not_found"


class BindingConflict(IdentityError):
    """The external identity is already bound to another account (bindings are made once)."""

    status, code = 409, "binding_conflict"


class BadRequest(IdentityError):
    status, code = 400, "bad_request"
