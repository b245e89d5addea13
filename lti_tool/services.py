"""The tool's shared parts (database, key ring, launch cache, HTTP client, public URL) and the
service connector AGS and NRPS calls go through.

``LtiTool`` is built once by ``lti_tool.http.init_app``; domain functions take it as ``tool=``
and, when called inside a request without one, find the app's (``current_tool``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from pylti1p3.service_connector import ServiceConnector, TServiceConnectorResponse
from sqlalchemy.orm import Session

from lrs.storage import Database
from lti_tool.errors import NotFound
from lti_tool.keys import KeyRing
from lti_tool.launch_cache import HubLaunchDataStorage, LaunchCache
from lti_tool.tool_config import DbToolConf, HubRegistration

EXTENSION = "lti_tool"
# Access tokens are reused across calls for this long (Security Framework 1.0 §4.1: tokens are
# short-lived; platforms issue them for an hour or so). A 401 drops the cached token at once.
TOKEN_TTL = 300


@dataclass
class LtiTool:
    db: Database
    ring: KeyRing
    cache: LaunchCache
    base_url: str
    http: requests.Session

    @property
    def launch_url(self) -> str:
        return self.base_url.rstrip("/") + "/lti/launch"

    @property
    def login_url(self) -> str:
        return self.base_url.rstrip("/") + "/lti/login"

    @property
    def jwks_url(self) -> str:
        return self.base_url.rstrip("/") + "/lti/jwks"

    def session(self) -> Session:
        return self.db.session()

    def storage(self) -> HubLaunchDataStorage:
        # Per request: pylti1p3's storage remembers the request and its session id.
        return HubLaunchDataStorage(self.cache)

    def conf(self, session: Session) -> DbToolConf:
        return DbToolConf(session, self.ring)

    def registration(self, session: Session, registration_id: int) -> HubRegistration:
        found = self.conf(session).registration_by_id(registration_id)
        if found is None:
            raise NotFound(f"platform registration {registration_id} no longer exists")
        return found

    def connector(self, registration: HubRegistration) -> HubServiceConnector:
        return HubServiceConnector(registration, self.http, self.cache)


def current_tool() -> LtiTool:
    """The app's tool, for callers inside a request (the player) that pass no ``tool=``."""
    from flask import current_app  # only here: the domain modules stay importable without Flask

    tool: LtiTool = current_app.extensions[EXTENSION]
    return tool


_NEXT_LINK = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)


class HubServiceConnector(ServiceConnector):
    """pylti1p3's connector (client-credentials grant with a JWT client assertion, Security
    Framework 1.0 §4.1), plus an access-token cache shared by processes, and a paging fix."""

    def __init__(self, registration: HubRegistration, http: requests.Session, cache: LaunchCache) -> None:
        super().__init__(registration, http)
        self._hub_registration, self._cache = registration, cache

    def _token_key(self, scopes: Sequence[str]) -> str:
        digest = hashlib.sha256(" ".join(sorted(scopes)).encode()).hexdigest()[:32]
        return f"lti1p3-token-{self._hub_registration.row_id}-{digest}"

    def get_access_token(self, scopes: Sequence[str]) -> str:
        key = self._token_key(scopes)
        cached = self._cache.get(key)
        if cached:
            return str(cached)
        token = super().get_access_token(scopes)
        self._cache.set(key, token, TOKEN_TTL)
        return token

    def forget_token(self, scopes: Sequence[str]) -> None:
        self._cache.delete(self._token_key(scopes))
        self._access_tokens.clear()

    def make_service_request(self, *args: Any, **kwargs: Any) -> TServiceConnectorResponse:
        response = super().make_service_request(*args, **kwargs)
        # pylti1p3 lower-cases the whole Link header before reading the next-page URL, which breaks
        # case-sensitive URLs (NRPS 2.0 §2.4.2 / AGS 2.0 §3.2.7: follow rel="next" as given).
        headers = {k.lower(): v for k, v in response["headers"].items()}
        match = _NEXT_LINK.search(headers.get("link", "").replace("\n", " "))
        response["next_page_url"] = match.group(1) if match else None
        return response
