"""pylti1p3's tool configuration backed by our database: registrations and deployments come from
``lti_tool.storage``, the tool's key from ``lti_tool.keys``, the platforms' keys from the per-process
cache of ``lti_tool.platform_keys``.

Every issuer may hold several client ids here (one per LMS tenant or per registration made by
Dynamic Registration), so this is a "many clients per issuer" configuration throughout:
pylti1p3 then always looks registrations up by (iss, client_id).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pylti1p3.contrib.flask.request import FlaskRequest
from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.keys import KeyRing, jwks, signing_key
from lti_tool.platform_keys import PlatformKeys
from lti_tool.storage import LtiDeployment, LtiRegistration


class HubRegistration(Registration):
    """A pylti1p3 Registration for one of our rows. It signs with the tool's current key and
    publishes every non-retired key, so rotation never breaks a platform mid-flight."""

    def __init__(self, row: LtiRegistration, session: Session, ring: KeyRing) -> None:
        super().__init__()
        self.row_id = row.id
        self.tenant_id = row.tenant_id
        self.disabled = row.disabled is not None
        self._session, self._ring = session, ring
        self._signing: Any = None
        (self.set_issuer(row.issuer).set_client_id(row.client_id).set_key_set_url(row.keyset_url)
         .set_auth_token_url(row.token_url).set_auth_login_url(row.auth_login_url))
        if row.auth_audience:
            self.set_auth_audience(row.auth_audience)

    def _key(self) -> Any:
        if self._signing is None:  # opened only when something is signed (deep linking, tokens)
            self._signing = signing_key(self._session, self._ring)
        return self._signing

    def get_tool_private_key(self) -> str:
        return str(self._key().private_pem)

    def get_kid(self) -> str:
        return str(self._key().kid)

    def get_jwks(self) -> list[Mapping[str, Any]]:
        return list(jwks(self._session)["keys"])


def disabled_message(registration: Registration) -> str:
    """What a launch into a disabled registration is told: which connection, and who can fix it."""
    return (f"the connection of this LMS ({registration.get_issuer()}, client {registration.get_client_id()}) "
            "to the hub has been disabled by the hub's administrator; launches resume once they enable it again")


class DbToolConf(ToolConfAbstract[FlaskRequest]):
    """Registrations and deployments from the database, for one request (one DB session)."""

    def __init__(self, session: Session, ring: KeyRing, platform_keys: PlatformKeys) -> None:
        super().__init__()
        self._session, self._ring = session, ring
        self.platform_keys = platform_keys
        # One launch asks for its registration three times (registration, deployment, the view):
        # one query per request is enough.
        self._rows: dict[tuple[str, str | None], LtiRegistration | None] = {}

    @property
    def session(self) -> Session:
        """The request's database session (a launch records what AGS needs through it)."""
        return self._session

    # Always "many client ids per issuer": pylti1p3's class-level issuer map is not used.
    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def registration_row(self, iss: str, client_id: str | None) -> LtiRegistration | None:
        if (iss, client_id) not in self._rows:
            self._rows[(iss, client_id)] = self._registration_row(iss, client_id)
        return self._rows[(iss, client_id)]

    def _registration_row(self, iss: str, client_id: str | None) -> LtiRegistration | None:
        query = select(LtiRegistration).where(LtiRegistration.issuer == iss)
        if client_id:
            return self._session.scalar(query.where(LtiRegistration.client_id == client_id))
        # LTI Core 1.3 §4.1 (login initiation): client_id is optional; without it the issuer
        # must name one registration only, else we cannot tell which client is meant.
        rows = list(self._session.scalars(query.limit(2)))
        return rows[0] if len(rows) == 1 else None

    # pylti1p3 annotates these two "-> Registration", yet its callers test the result for None (an
    # unknown issuer or client) and its own ToolConfDict returns None; so do we.
    def find_registration_by_issuer(  # type: ignore[override]
            self, iss: str, *args: Any, **kwargs: Any) -> Registration | None:
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(  # type: ignore[override]
            self, iss: str, client_id: str | None, *args: Any, **kwargs: Any) -> Registration | None:
        row = self.registration_row(iss, client_id)
        return HubRegistration(row, self._session, self._ring) if row else None

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str | None, *args: Any,
                                  **kwargs: Any) -> Deployment | None:
        # LTI Core 1.3 §3.1.3: deployment ids are scoped to one registration (iss + client_id).
        row = self.registration_row(iss, client_id)
        if row is None:
            return None
        # With the tenant: the unique key (tenant_id, registration_id, deployment_id) answers it, and on
        # Citus the query goes to the tenant's shard only.
        found = self._session.scalar(select(LtiDeployment).where(
            LtiDeployment.tenant_id == row.tenant_id, LtiDeployment.registration_id == row.id,
            LtiDeployment.deployment_id == deployment_id))
        return Deployment().set_deployment_id(found.deployment_id) if found else None

    def registration_by_id(self, registration_id: int) -> HubRegistration | None:
        row = self._session.get(LtiRegistration, registration_id)
        return HubRegistration(row, self._session, self._ring) if row else None
