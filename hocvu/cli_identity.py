"""``hocvu identity ...``: check the VNeID configuration, find an account by citizen ID, list the
demo citizens. Registered in ``hocvu.cli`` with ``main.add_command(identity)``.

No command prints a citizen ID or a provider's ``sub`` (which may be one): an account is shown by
its id, its issuer and its pseudonym (``identity.stamp.pseudonym_of``), the name the auditors see."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click
from sqlalchemy import func, select

from hocvu import configs
from hocvu.settings import Settings
from identity.claims import citizen_id_hmac, validate_citizen_id
from identity.errors import IdentityError
from identity.oidc_client import OidcClient
from identity.settings import IdentitySettings
from identity.stamp import pseudonym_of
from identity.storage import IdentityAccount
from lrs.storage import Database


def _settings() -> tuple[Settings, IdentitySettings]:
    settings = Settings.from_env()
    return settings, configs.identity_settings(settings)


@click.group()
def identity() -> None:
    """VNeID sign-in (OpenID Connect) and identity accounts."""


@identity.command("check")
def identity_check() -> None:
    """Fetch the provider's metadata and keys and print what the hub will use (no secrets).
    With the demo provider, the hub must be running (`make run`)."""
    _, ids = _settings()
    client = OidcClient(ids)
    try:
        meta = client.metadata()
        kids = [k.kid for k in client.signing_keys()]
    except IdentityError as err:
        raise click.ClickException(f"{err.code}: {err.message}") from None
    click.echo(json.dumps({
        "issuer": meta.issuer, "authorization_endpoint": meta.authorization_endpoint,
        "token_endpoint": meta.token_endpoint, "jwks_uri": meta.jwks_uri,
        "userinfo_endpoint": meta.userinfo_endpoint, "signing_key_ids": kids,
        "client_id": ids.client_id, "token_auth_method": ids.token_auth_method, "scopes": list(ids.scopes),
        "redirect_uri": ids.redirect_uri, "min_level": ids.min_level, "demo_provider": ids.demo_idp,
    }, ensure_ascii=False, indent=2))


@identity.command("find")
def identity_find() -> None:
    """Find the account of a citizen ID (asked without echo, so it stays out of shell history)."""
    settings, ids = _settings()
    raw = click.prompt("Số định danh cá nhân / citizen ID", hide_input=True)
    try:
        digest = citizen_id_hmac(validate_citizen_id(raw), ids.pepper)
    except (IdentityError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            rows = session.scalars(select(IdentityAccount).where(IdentityAccount.citizen_id_hmac == digest)).all()
            for a in rows:
                click.echo(f"{a.id}\t{a.issuer}\t{pseudonym_of(a.subject_hmac)}\tlevel {a.level}\t{a.full_name or ''}")
    finally:
        database.dispose()
    if not rows:
        raise click.ClickException("no account has this citizen ID")


@identity.command("purge-enrolments")
@click.option("--dry-run", is_flag=True, help="Count the expired enrolments, delete nothing.")
def identity_purge_enrolments(dry_run: bool) -> None:
    """Delete face enrolments older than HOCVU_FACE_RETENTION_DAYS (days since consent; default 365).
    The web processes also do it every HOCVU_FACE_PURGE_SECONDS; run this from cron when that is 0."""
    from identity.gate.face import purge_expired
    from identity.storage import FaceEnrolment

    settings = Settings.from_env()
    policy = configs.assurance_policy(settings)
    now = datetime.now(UTC)
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            if dry_run:
                cutoff = now - timedelta(days=policy.face_retention_days)
                count = session.scalar(select(func.count()).select_from(FaceEnrolment).where(
                    FaceEnrolment.consent_at < cutoff)) or 0
            else:
                count = purge_expired(session, policy, now)
                session.commit()
    finally:
        database.dispose()
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {count} face enrolment(s) consented more than {policy.face_retention_days} days ago")


@identity.command("demo-citizens")
def identity_demo_citizens() -> None:
    """List the demo provider's invented citizens (HOCVU_DEMO_IDP=1)."""
    from identity.demo_provider import DEMO_CITIZENS

    for c in DEMO_CITIZENS:
        click.echo(f"{c.sub}\t{c.name}\t{c.birthdate}\tlevel {c.level}")
