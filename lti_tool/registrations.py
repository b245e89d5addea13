"""Platform registrations: adding, listing and looking up the LMSs a tenant connects.

One LMS is one registration (issuer + client_id) and belongs to one tenant; it holds one or more
deployment ids (LTI Core 1.3 §3.1.3). Registrations are made by an operator (``hocvu lti platform
add``) or by the LMS itself through Dynamic Registration (``lti_tool.dynamic_registration``), and
disabled, enabled again or removed by an operator (CLI or /lti/admin/), each change one audit line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lrs.storage import Tenant
from lti_tool.errors import Conflict, InvalidConfiguration, NotFound
from lti_tool.storage import LtiDeployment, LtiRegistration, LtiScoreOutbox

# Who disabled, enabled or removed which LMS, one line each: the audit trail of registrations.
audit = logging.getLogger("lti_tool.audit")

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
            row.deployments.append(LtiDeployment(tenant_id=row.tenant_id, deployment_id=dep, created=now))
            known.add(dep)
    session.flush()
    return row


def list_platforms(session: Session, tenant: Tenant | None = None) -> list[LtiRegistration]:
    query = select(LtiRegistration).order_by(LtiRegistration.tenant_id, LtiRegistration.issuer,
                                             LtiRegistration.client_id)
    if tenant is not None:
        query = query.where(LtiRegistration.tenant_id == tenant.id)
    return list(session.scalars(query))


def get_platform(session: Session, registration_id: int, tenant: Tenant | None = None) -> LtiRegistration:
    """One registration; with ``tenant``, only that tenant's (another tenant's is "not found", so
    an administrator cannot learn which ids exist elsewhere)."""
    row = session.get(LtiRegistration, registration_id)
    if row is None or (tenant is not None and row.tenant_id != tenant.id):
        raise NotFound(f"no platform registration {registration_id}")
    return row


def _audit(row: LtiRegistration, action: str, actor: str) -> None:
    audit.info("LTI registration %s (%s, client %s, tenant %s) %s by %s", row.id, row.issuer, row.client_id,
               row.tenant_id, action, actor)


def set_disabled(session: Session, row: LtiRegistration, disabled: bool, *, actor: str,
                 now: datetime | None = None) -> LtiRegistration:
    """Disables (launches refused, scores held) or enables a registration. Idempotent."""
    if disabled and row.disabled is None:
        row.disabled = now or datetime.now(UTC)
        _audit(row, "disabled", actor)
    elif not disabled and row.disabled is not None:
        row.disabled = None
        _audit(row, "enabled", actor)
    session.flush()
    return row


def score_counts(session: Session, row: LtiRegistration) -> dict[str, int]:
    """AGS scores for this registration by status (what a removal would drop)."""
    # With the registration's tenant (all its scores are that tenant's): one shard on Citus.
    counts = session.execute(select(LtiScoreOutbox.status, func.count()).where(
        LtiScoreOutbox.tenant_id == row.tenant_id, LtiScoreOutbox.registration_id == row.id)
        .group_by(LtiScoreOutbox.status))
    return {str(status): int(n) for status, n in counts}


def remove_platform(session: Session, row: LtiRegistration, *, actor: str, discard_pending: bool = False) -> None:
    """Deletes a registration with its deployments, proctoring sessions, links and score history.
    Scores still waiting to reach this LMS are not thrown away silently: without
    ``discard_pending`` the removal is refused (disable it instead, or retry them first)."""
    pending = score_counts(session, row).get("pending", 0)
    if pending and not discard_pending:
        raise Conflict(f"{pending} score(s) are still waiting to reach this LMS; disable the registration "
                       "instead, or remove it discarding them")
    session.execute(delete(LtiScoreOutbox).where(LtiScoreOutbox.tenant_id == row.tenant_id,
                                                 LtiScoreOutbox.registration_id == row.id))
    _audit(row, f"removed (discarding {pending} pending score(s))" if pending else "removed", actor)
    session.delete(row)
    session.flush()


def describe(row: LtiRegistration, tenant_slug: str) -> dict[str, object]:
    """A registration as the CLI and admin page show it (no secrets: a registration holds none)."""
    return {"id": row.id, "tenant": tenant_slug, "name": row.name, "issuer": row.issuer,
            "client_id": row.client_id, "deployment_ids": [d.deployment_id for d in row.deployments],
            "auth_login_url": row.auth_login_url, "token_url": row.token_url, "keyset_url": row.keyset_url,
            "auth_audience": row.auth_audience, "enabled": row.disabled is None,
            "disabled": row.disabled.isoformat() if row.disabled else None}
