"""The tool's calls to a platform's LTI Advantage services (AGS, NRPS, Proctoring ACS): pylti1p3's
``ServiceConnector`` with the access-token handling a deployment needs.

- Tokens (1EdTech Security Framework 1.0 §4.1, client-credentials grant with a JWT client
  assertion, RFC 7523) are kept in the shared launch cache until the platform's ``expires_in``
  less a margin, so every worker reuses one; sealed with the tool's key ring, since a cache row
  or a Redis dump must not hand out a live bearer token.
- A service that answers 401 or 403 to a cached token (expired early, revoked, the platform's
  tool keys re-created) gets that token dropped and one fresh token; a refusal of the fresh one,
  or a token endpoint that refuses the grant, raises a ``TokenError`` (still pylti1p3's
  ``LtiServiceException``, with the platform's status) so a score waits and is retried instead of
  being given up.
- The next-page link is read as sent (pylti1p3 lower-cases the whole Link header, which breaks
  case-sensitive URLs: NRPS 2.0 §2.4.2, AGS 2.0 §3.2.7).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

import jwt
import requests
from pylti1p3.exception import LtiServiceException
from pylti1p3.service_connector import ServiceConnector, TServiceConnectorResponse

from lti_tool.keys import KeyRing
from lti_tool.launch_cache import LaunchCache
from lti_tool.tool_config import HubRegistration

log = logging.getLogger(__name__)
# Security Framework §4.1: "expires_in" is RECOMMENDED; without it a token is reused this long.
DEFAULT_EXPIRES_IN = 300
ASSERTION_LIFETIME = 60     # seconds the client assertion is valid (RFC 7523 §3: short-lived)
TOKEN_STATUSES = (401, 403)  # RFC 6750 §3.1: invalid_token (401), insufficient_scope (403)
_NEXT_LINK = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)


class TokenError(LtiServiceException):
    """No usable access token: the token endpoint refused or failed the grant, or the service
    refused a token fetched a moment ago. ``reason`` is safe to log (no token, no response body)."""

    def __init__(self, response: requests.Response, reason: str) -> None:
        super().__init__(response)
        self.reason = reason


def _oauth_error(response: requests.Response) -> str:
    # RFC 6749 §5.2: the error code is safe to log; the description may echo what we sent.
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        code = None
    return f" ({str(code)[:40]})" if isinstance(code, str) and code else ""


class HubServiceConnector(ServiceConnector):
    def __init__(self, registration: HubRegistration, http: requests.Session, cache: LaunchCache, ring: KeyRing,
                 margin: float = 60.0) -> None:
        super().__init__(registration, http)
        self._hub_registration, self._cache, self._ring, self._margin = registration, cache, ring, margin

    def _token_key(self, scopes: Sequence[str]) -> str:
        digest = hashlib.sha256(" ".join(sorted(set(scopes))).encode()).hexdigest()[:32]
        return f"lti1p3-token-{self._hub_registration.row_id}-{digest}"

    def get_access_token(self, scopes: Sequence[str]) -> str:
        key = self._token_key(scopes)
        cached = self._cache.get(key)
        if isinstance(cached, str):
            try:
                return self._ring.open(key, base64.b64decode(cached)).decode()
            except Exception:  # sealed under another app secret: fetch a new one
                self._cache.delete(key)
        token, expires_in = self._request_token(scopes)
        keep = int(expires_in - self._margin)
        if keep > 0:
            sealed = base64.b64encode(self._ring.seal(key, token.encode())).decode()
            self._cache.set(key, sealed, keep)
        return token

    def forget_token(self, scopes: Sequence[str]) -> None:
        self._cache.delete(self._token_key(scopes))

    def _assertion(self) -> str:
        registration = self._hub_registration
        client_id = str(registration.get_client_id())
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id,
                  "aud": registration.get_auth_audience() or registration.get_auth_token_url(),
                  "iat": now - 5, "exp": now + ASSERTION_LIFETIME, "jti": f"hocvu-{uuid.uuid4()}"}
        return jwt.encode(claims, registration.get_tool_private_key(), algorithm="RS256",
                          headers={"kid": registration.get_kid()})

    def _request_token(self, scopes: Sequence[str]) -> tuple[str, float]:
        url = str(self._hub_registration.get_auth_token_url())
        form = {"grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self._assertion(), "scope": " ".join(sorted(set(scopes)))}
        # A network failure propagates as requests' own exception: the caller retries those.
        response = self._requests_session.post(url, data=form, headers={"Accept": "application/json"})
        if not response.ok:
            raise TokenError(response, f"the token endpoint answered HTTP {response.status_code}"
                                       f"{_oauth_error(response)}")
        try:
            data = response.json()
            token = str(data["access_token"])
            expires_in = float(data.get("expires_in") or DEFAULT_EXPIRES_IN)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TokenError(response, "the token endpoint's answer has no access_token") from exc
        return token, expires_in

    def make_service_request(self, scopes: Sequence[str], url: str, *args: Any,
                             **kwargs: Any) -> TServiceConnectorResponse:
        try:
            response = super().make_service_request(scopes, url, *args, **kwargs)
        except LtiServiceException as exc:
            if exc.response.status_code not in TOKEN_STATUSES:
                raise
            # The cached token is no longer accepted: drop it, take a fresh one, try once more.
            log.info("platform answered HTTP %s to a cached access token (registration %s): fetching a new one",
                     exc.response.status_code, self._hub_registration.row_id)
            self.forget_token(scopes)
            try:
                response = super().make_service_request(scopes, url, *args, **kwargs)
            except LtiServiceException as again:
                if again.response.status_code not in TOKEN_STATUSES:
                    raise
                self.forget_token(scopes)
                raise TokenError(again.response, "the platform refused a freshly issued access token: "
                                                 f"HTTP {again.response.status_code}") from again
        headers = {k.lower(): v for k, v in response["headers"].items()}
        match = _NEXT_LINK.search(headers.get("link", "").replace("\n", " "))
        response["next_page_url"] = match.group(1) if match else None
        return response
