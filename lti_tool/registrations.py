"""Platform registrations: adding, listing and looking up the LMSs a tenant connects.

One LMS is one registration (issuer + client_id) and belongs to one tenant; it holds one or more
deployment ids (LTI Core 1.3 §3.1.3). Registrations are made by an operator (``hocvu lti platform
add``) or by the LMS itself through Dynamic Registration (``lti_tool.dynamic_registration``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.storage import Tenant
from lti_tool.errors import Conflict, InvalidConfiguration
from lti_tool.storage import LtiDeployment, LtiRegistration

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class PlatformSpec:
    issuer: str
    client_id: str
    auth_login_url: str
    token_url: str
    keyset_url: str
    auth_audience: str | None = None
    name: str = ""


def check_url(label: str, url: str, *, issuer: bool = False) -> str:
    """Security Framework 1.0 §5.1.1 / LTI Core 1.3 §5.1.2: platform URLs are HTTPS (plain HTTP is
    accepted on loopback only, for the embedded mode and tests); an issuer has no query or fragment."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidConfiguration(f"{label} must be an absolute https URL, got {url!r}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise InvalidConfiguration(f"{label} must use https: {url}")
    if issuer and (parts.query or parts.fragment):
        raise InvalidConfiguration(f"{label} must not have a query or fragment: {url}")
    return url


def add_platform(session: Session, tenant: Tenant, spec: PlatformSpec, deployment_ids: Iterable[str],
                 *, now: datetime | None = None) -> LtiRegistration:
    """Registers a platform for ``tenant``, or adds deployment ids to the tenant's existing
    registration of the same (issuer, client_id). Another tenant's registration is never touched."""
    check_url("issuer", spec.issuer, issuer=True)
    for label, url in (("auth login URL", spec.auth_login_url), ("token URL", spec.token_url),
                       ("keyset URL", spec.keyset_url)):
        check_url(label, url)
    if not spec.client_id.strip():
        raise InvalidConfiguration("client_id is required")
    now = now or datetime.now(UTC)
    row = session.scalar(select(LtiRegistration).where(LtiRegistration.issuer == spec.issuer,
                                                       LtiRegistration.client_id == spec.client_id))
    if row is not None and row.tenant_id != tenant.id:
        raise Conflict(f"{spec.issuer} client {spec.client_id} is registered to another tenant")
    if row is None:
        row = LtiRegistration(tenant_id=tenant.id, issuer=spec.issuer, client_id=spec.client_id, name=spec.name,
                              auth_login_url=spec.auth_login_url, token_url=spec.token_url,
                              keyset_url=spec.keyset_url, auth_audience=spec.auth_audience, created=now)
        session.add(row)
    else:  # the platform's endpoints may have moved: the latest registration wins
        row.auth_login_url, row.token_url, row.keyset_url = spec.auth_login_url, spec.token_url, spec.keyset_url
        row.auth_audience = spec.auth_audience
        row.name = spec.name or row.name
    known = {d.deployment_id for d in row.deployments}
    for dep in deployment_ids:
        dep = dep.strip()
        if dep and dep not in known:
            row.deployments.append(LtiDeployment(deployment_id=dep, created=now))
            known.add(dep)
    session.flush()
    return row


def list_platforms(session: Session, tenant: Tenant | None = None) -> list[LtiRegistration]:
    query = select(LtiRegistration).order_by(LtiRegistration.tenant_id, LtiRegistration.issuer,
                                             LtiRegistration.client_id)
    if tenant is not None:
        query = query.where(LtiRegistration.tenant_id == tenant.id)
    return list(session.scalars(query))


def describe(row: LtiRegistration, tenant_slug: str) -> dict[str, object]:
    """A registration as the CLI and admin page show it (no secrets: a registration holds none)."""
    return {"id": row.id, "tenant": tenant_slug, "name": row.name, "issuer": row.issuer,
            "client_id": row.client_id, "deployment_ids": [d.deployment_id for d in row.deployments],
            "auth_login_url": row.auth_login_url, "token_url": row.token_url, "keyset_url": row.keyset_url,
            "auth_audience": row.auth_audience}
