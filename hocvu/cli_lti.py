"""``hocvu lti``: platform registrations (add, list, show, disable, enable, remove), the tool's keys,
registration invitations, AGS scores (list, retry).

Registered on the main CLI by ``hocvu.cli`` (``main.add_command(lti)``).
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from hocvu.cli_session import cli_session, emit
from hocvu.settings import Settings
from lrs import credentials
from lrs.storage import Database, Tenant
from lti_tool import keys
from lti_tool.ags import STATUSES, requeue_failed, retry_pending_scores
from lti_tool.dynamic_registration import create_invite
from lti_tool.errors import LtiError
from lti_tool.launch_cache import make_cache
from lti_tool.message_launch import TimeoutSession
from lti_tool.registrations import (
    PlatformSpec,
    add_platform,
    describe,
    get_platform,
    list_platforms,
    remove_platform,
    score_counts,
    set_disabled,
)
from lti_tool.score_delivery import list_scores
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
        data: dict[str, Any] = describe(row, tenant.slug)
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
        state = "enabled" if r["enabled"] else "DISABLED"
        deployment_ids = r["deployment_ids"]
        assert isinstance(deployment_ids, list)   # describe() makes it one
        deployments = ",".join(str(d) for d in deployment_ids)
        click.echo(f"{r['id']}\t{r['tenant']}\t{r['issuer']}\t{r['client_id']}\t{deployments}\t{state}")


def _actor() -> str:
    # The audit line names who acted: the operating-system account running the command.
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _slug(session: Session, tenant_id: int) -> str:
    tenant = session.get(Tenant, tenant_id)
    return tenant.slug if tenant else "?"


@platform.command("show")
@click.argument("registration_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def platform_show(registration_id: int, as_json: bool) -> None:
    """Show registration REGISTRATION_ID (from `platform list`) and its AGS scores by status."""
    with _session() as (session, _):
        row = get_platform(session, registration_id)
        data = describe(row, _slug(session, row.tenant_id)) | {"scores": score_counts(session, row)}
    text = "\n".join(f"{k}: {', '.join(v) if isinstance(v, list) else v}" for k, v in data.items())
    emit(as_json, data, text)


def _confirm(yes: bool, question: str) -> None:
    if not yes:
        click.confirm(question, abort=True)


@platform.command("disable")
@click.argument("registration_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def platform_disable(registration_id: int, yes: bool) -> None:
    """Refuse this LMS's launches (with a clear message) until it is enabled; its scores wait."""
    with _session() as (session, _):
        row = get_platform(session, registration_id)
        _confirm(yes, f"Disable {row.issuer} client {row.client_id}? Its launches will be refused")
        set_disabled(session, row, True, actor=_actor())
    click.echo(f"disabled registration {registration_id}")


@platform.command("enable")
@click.argument("registration_id", type=int)
def platform_enable(registration_id: int) -> None:
    """Accept this LMS's launches again and send its waiting scores."""
    with _session() as (session, _):
        set_disabled(session, get_platform(session, registration_id), False, actor=_actor())
    click.echo(f"enabled registration {registration_id}")


@platform.command("remove")
@click.argument("registration_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--discard-pending", is_flag=True, help="Remove it even though scores still wait to reach it.")
def platform_remove(registration_id: int, yes: bool, discard_pending: bool) -> None:
    """Delete a registration with its deployments and score history (cannot be undone)."""
    with _session() as (session, _):
        row = get_platform(session, registration_id)
        _confirm(yes, f"Remove {row.issuer} client {row.client_id} and its score history? This cannot be undone")
        remove_platform(session, row, actor=_actor(), discard_pending=discard_pending)
    click.echo(f"removed registration {registration_id}")


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
    """Stop publishing key KID (platforms can no longer verify what it signed). A KID is a JWK
    thumbprint (base64url) and may start with "-": then put it after `--` (`retire-key -- -AbC…`)."""
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
    with _session() as (session, settings):
        tenant = credentials.get_tenant(session, tenant_slug)
        invite, token = create_invite(session, tenant, ttl=timedelta(days=days))
        url = f"{settings.public_url.rstrip('/')}/lti/register/{tenant.slug}?invite={token}"
        data = {"tenant": tenant.slug, "url": url, "expires": invite.expires.isoformat()}
    emit(as_json, data, f"{url}\n(one use, valid until {data['expires']}; shown only now)")


@lti.command("retry-scores")
@click.option("--failed", "include_failed", is_flag=True,
              help="Also send again the scores the platform refused (after fixing the cause).")
@click.option("--now", "ignore_backoff", is_flag=True,
              help="Send every pending score now, not only those whose backoff delay has passed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def retry_scores(include_failed: bool, ignore_backoff: bool, as_json: bool) -> None:
    """Send AGS scores still waiting in the outbox (run it from cron every minute or so)."""
    settings = Settings.from_env()
    database = Database(settings.database_url)
    try:
        tool = LtiTool(db=database, ring=keys.KeyRing.from_secret(settings.secret_key),
                       cache=make_cache(settings.hub.redis_url, database), base_url=settings.public_url,
                       http=TimeoutSession(), token_margin=settings.lti.lti_token_margin_seconds)
        requeued = requeue_failed(tool) if include_failed else 0
        # Cron keeps the backoff (a recovering LMS is not hit every minute); --now is an operator's "go".
        report = retry_pending_scores(tool, due_by=_far_future() if ignore_backoff else None)
    finally:
        database.dispose()
    data = {"requeued": requeued, "delivered": report.delivered, "pending": report.pending, "failed": report.failed}
    emit(as_json, data, (f"requeued {requeued} failed, " if include_failed else "")
         + f"delivered {report.delivered}, still pending {report.pending}, failed {report.failed}")


def _far_future() -> datetime:
    return datetime.now(UTC) + timedelta(days=3650)


@lti.command("scores")
@click.option("--failed", "status", flag_value="failed", help="Only scores the platform refused for good.")
@click.option("--pending", "status", flag_value="pending", help="Only scores still waiting to be delivered.")
@click.option("--tenant", "tenant_slug", default=None, help="Only this tenant's scores.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def scores(status: str | None, tenant_slug: str | None, limit: int, as_json: bool) -> None:
    """List AGS scores (newest first) with their delivery state and the reason of the last failure."""
    assert status in (None, *STATUSES)
    with _session() as (session, _):
        tenant = credentials.get_tenant(session, tenant_slug) if tenant_slug else None
        rows = [{"id": r.id, "tenant_id": r.tenant_id, "registration_id": r.registration_id,
                 "resource_link_id": r.resource_link_id, "user_id": r.user_id or r.score.get("userId"),
                 "score": f"{r.score.get('scoreGiven')}/{r.score.get('scoreMaximum')}", "status": r.status,
                 "attempts": r.attempts, "lineitem": r.lineitem_url or r.lineitems_url, "error": r.last_error,
                 "created": r.created.isoformat()}
                for r in list_scores(session, status=status, tenant_id=tenant.id if tenant else None, limit=limit)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['id']}\t{r['status']}\t{r['created']}\treg {r['registration_id']}\t{r['user_id']}\t"
                   f"{r['score']}\t{r['attempts']} attempt(s)\t{r['error'] or ''}")
