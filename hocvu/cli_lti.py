"""``hocvu lti``: platform registrations, the tool's keys, registration invitations, score retries.

Registered on the main CLI by ``hocvu.cli`` (``main.add_command(lti)``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from hocvu.cli_session import cli_session, emit
from hocvu.settings import Settings
from lrs import credentials
from lrs.storage import Database, Tenant
from lti_tool import keys
from lti_tool.ags import retry_pending_scores
from lti_tool.dynamic_registration import create_invite
from lti_tool.errors import LtiError
from lti_tool.launch_cache import make_cache
from lti_tool.message_launch import TimeoutSession
from lti_tool.registrations import PlatformSpec, add_platform, describe, list_platforms
from lti_tool.services import LtiTool


@contextmanager
def _session() -> Iterator[tuple[Session, Settings]]:
    with cli_session(errors=(LtiError,)) as session:
        yield session, Settings.from_env()


@click.group()
def lti() -> None:
    """LTI 1.3 tool: platform registrations, signing keys, dynamic registration, AGS retries."""


@lti.group()
def platform() -> None:
    """Platform (LMS) registrations: one per LMS, owned by one tenant."""


@platform.command("add")
@click.option("--tenant", "tenant_slug", required=True, help="Tenant slug that owns this LMS.")
@click.option("--issuer", required=True, help="The platform's iss, e.g. https://lms.example.edu.vn")
@click.option("--client-id", required=True, help="The client_id the platform gave this tool.")
@click.option("--deployment-id", "deployment_ids", multiple=True, required=True,
              help="A deployment id (repeat for several).")
@click.option("--auth-login-url", required=True, help="The platform's OIDC authorization endpoint.")
@click.option("--token-url", required=True, help="The platform's OAuth 2 token endpoint.")
@click.option("--keyset-url", required=True, help="The platform's JWKS URL.")
@click.option("--auth-audience", default=None, help="Token audience, when not the token URL.")
@click.option("--name", default="", help="A display name for the LMS.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def platform_add(tenant_slug: str, issuer: str, client_id: str, deployment_ids: tuple[str, ...], auth_login_url: str,
                 token_url: str, keyset_url: str, auth_audience: str | None, name: str, as_json: bool) -> None:
    """Register an LMS (or add deployment ids to its registration)."""
    with _session() as (session, settings):
        tenant = credentials.get_tenant(session, tenant_slug)
        spec = PlatformSpec(issuer=issuer, client_id=client_id, auth_login_url=auth_login_url, token_url=token_url,
                            keyset_url=keyset_url, auth_audience=auth_audience, name=name)
        row = add_platform(session, tenant, spec, deployment_ids)
        data = describe(row, tenant.slug)
        base = settings.public_url.rstrip("/")
        data["tool"] = {"login_url": f"{base}/lti/login", "launch_url": f"{base}/lti/launch",
                        "jwks_url": f"{base}/lti/jwks"}
    emit(as_json, data, f"registered {issuer} client {client_id} for tenant {tenant_slug} "
          f"(deployments: {', '.join(data['deployment_ids'])})\n"
          f"tool login URL:  {data['tool']['login_url']}\ntool launch URL: {data['tool']['launch_url']}\n"
          f"tool JWKS URL:   {data['tool']['jwks_url']}")


@platform.command("list")
@click.option("--tenant", "tenant_slug", default=None, help="Only this tenant's registrations.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def platform_list(tenant_slug: str | None, as_json: bool) -> None:
    """List registrations, per tenant."""
    with _session() as (session, _):
        tenant = credentials.get_tenant(session, tenant_slug) if tenant_slug else None
        slugs = {t.id: t.slug for t in session.scalars(select(Tenant))}
        rows = [describe(r, slugs.get(r.tenant_id, "?")) for r in list_platforms(session, tenant)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['tenant']}\t{r['issuer']}\t{r['client_id']}\t{','.join(r['deployment_ids'])}")  # type: ignore[arg-type]


@lti.command("keys")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def key_list(as_json: bool) -> None:
    """List the tool's keys (public information only)."""
    with _session() as (session, _):
        active = [k.kid for k in keys.active_keys(session)]
        rows = [{"kid": k.kid, "created": k.created.isoformat(),
                 "retired": k.retired.isoformat() if k.retired else None,
                 "signing": bool(active) and k.kid == active[0]} for k in keys.all_keys(session)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        state = "signing" if r["signing"] else ("retired" if r["retired"] else "published")
        click.echo(f"{r['kid']}\t{r['created']}\t{state}")


@lti.command("rotate-key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def rotate_key(as_json: bool) -> None:
    """Add a new signing key; older keys stay published until retired."""
    with _session() as (session, settings):
        row = keys.rotate_key(session, keys.KeyRing.from_secret(settings.secret_key))
        data = {"kid": row.kid, "created": row.created.isoformat()}
    emit(as_json, data, f"new signing key {row.kid} (older keys stay in /lti/jwks until retire-key)")


@lti.command("retire-key")
@click.argument("kid")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def retire_key(kid: str, as_json: bool) -> None:
    """Stop publishing key KID (platforms can no longer verify what it signed)."""
    with _session() as (session, _):
        row = keys.retire_key(session, kid)
        data = {"kid": row.kid, "retired": row.retired.isoformat() if row.retired else None}
    emit(as_json, data, f"retired {kid}")


@lti.command("register-url")
@click.option("--tenant", "tenant_slug", required=True, help="The tenant the LMS will belong to.")
@click.option("--days", default=7, show_default=True, help="How long the link stays valid.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def register_url(tenant_slug: str, days: int, as_json: bool) -> None:
    """Make a one-time LTI Dynamic Registration URL for an LMS administrator to paste."""
    from datetime import timedelta

    with _session() as (session, settings):
        tenant = credentials.get_tenant(session, tenant_slug)
        invite, token = create_invite(session, tenant, ttl=timedelta(days=days))
        url = f"{settings.public_url.rstrip('/')}/lti/register/{tenant.slug}?invite={token}"
        data = {"tenant": tenant.slug, "url": url, "expires": invite.expires.isoformat()}
    emit(as_json, data, f"{url}\n(one use, valid until {data['expires']}; shown only now)")


@lti.command("retry-scores")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def retry_scores(as_json: bool) -> None:
    """Send AGS scores still waiting in the outbox (run it from cron every minute or so)."""
    settings = Settings.from_env()
    database = Database(settings.database_url)
    try:
        tool = LtiTool(db=database, ring=keys.KeyRing.from_secret(settings.secret_key),
                       cache=make_cache(settings.hub.redis_url), base_url=settings.public_url, http=TimeoutSession())
        report = retry_pending_scores(tool)
    finally:
        database.dispose()
    data = {"delivered": report.delivered, "pending": report.pending, "failed": report.failed}
    emit(as_json, data, f"delivered {report.delivered}, still pending {report.pending}, failed {report.failed}")
