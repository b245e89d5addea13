"""The tool's shared parts (database, key ring, launch cache, platform key cache, HTTP client, public
URL); AGS and NRPS calls go through ``connector`` (``lti_tool.service_connector``).

``LtiTool`` is built once by ``lti_tool.http.init_app``; domain functions take it as ``tool=``
and, when called inside a request without one, find the app's (``current_tool``).
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from sqlalchemy.orm import Session

from lrs.storage import Database
from lti_tool.errors import NotFound, RegistrationDisabled
from lti_tool.keys import KeyRing
from lti_tool.launch_cache import HubLaunchDataStorage, LaunchCache
from lti_tool.platform_keys import PlatformKeys
from lti_tool.service_connector import HubServiceConnector
from lti_tool.tool_config import DbToolConf, HubRegistration

EXTENSION = "lti_tool"


@dataclass
class LtiTool:
    db: Database
    ring: KeyRing
    cache: LaunchCache
    base_url: str
    http: requests.Session
    platform_keys: PlatformKeys | None = None   # made from ``http`` with the default ages when None
    token_margin: float = 60.0                 # seconds: a cached access token is dropped this early

    def __post_init__(self) -> None:
        if self.platform_keys is None:
            self.platform_keys = PlatformKeys(self.http)

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
        assert self.platform_keys is not None
        return DbToolConf(session, self.ring, self.platform_keys)

    def registration(self, session: Session, registration_id: int) -> HubRegistration:
        """The registration services are called for; a disabled one calls nothing (its scores wait)."""
        found = self.conf(session).registration_by_id(registration_id)
        if found is None:
            raise NotFound(f"platform registration {registration_id} no longer exists")
        if found.disabled:
            raise RegistrationDisabled(f"platform registration {registration_id} is disabled")
        return found

    def connector(self, registration: HubRegistration) -> HubServiceConnector:
        return HubServiceConnector(registration, self.http, self.cache, self.ring, self.token_margin)


def current_tool() -> LtiTool:
    """The app's tool, for callers inside a request (the player) that pass no ``tool=``."""
    from flask import current_app  # only here: the domain modules stay importable without Flask

    tool: LtiTool = current_app.extensions[EXTENSION]
    return tool
