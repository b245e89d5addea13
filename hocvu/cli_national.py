"""``hocvu national``: cross-tenant credentials for national auditors and analysts."""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from hocvu.cli_session import cli_session, emit
from lrs import credentials
from lrs.storage import NationalCredential


@click.group()
def national() -> None:
    """National credentials: auditors (read-only, every access logged) and analysts (pseudonymised exports)."""


@national.command("create")
@click.option("--role", type=click.Choice(credentials.NATIONAL_ROLES), required=True)
@click.option("--name", required=True, help="Who holds it, e.g. 'Kiểm toán Nhà nước'.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def national_create(role: str, name: str, as_json: bool) -> None:
    """Create a national credential; its secret is printed this once and never stored."""
    with cli_session() as session:
        cred, secret = credentials.create_national_credential(session, role, name)
        data = {"key": cred.key, "secret": secret, "role": cred.role, "name": cred.name}
    emit(as_json, data, f"key: {data['key']}\nsecret: {secret}\nrole: {role}\n(the secret is shown only now)")


@national.command("revoke")
@click.argument("key")
def national_revoke(key: str) -> None:
    """Revoke national credential KEY: it stops working at once."""
    with cli_session() as session:
        credentials.revoke_national_credential(session, key)
    click.echo(f"revoked {key}")


@national.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def national_list(as_json: bool) -> None:
    """List national credentials (never their secrets)."""
    with cli_session() as session:
        rows = [{"key": c.key, "role": c.role, "name": c.name, "revoked": c.revoked is not None}
                for c in session.scalars(select(NationalCredential).order_by(NationalCredential.id))]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
    for r in [] if as_json else rows:
        click.echo(f"{r['key']}\t{r['role']}\t{'revoked' if r['revoked'] else 'active'}\t{r['name']}")
