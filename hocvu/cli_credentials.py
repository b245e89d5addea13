"""``hocvu credentials``: the issuer's keys, revocation, the evidence sweep, verifying a file, issuing by
hand. Registered in ``hocvu.cli``. The domain: ``credentials.keys``, ``credentials.revocation``,
``credentials.verify``, ``credentials.issuing``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from credentials import keys
from credentials.config import CredentialsConfig, Holder
from credentials.errors import CredentialError
from credentials.issuing import credential_url, issue, ring_of
from credentials.revocation import REASONS, revoke, sweep
from credentials.storage import IssuedCredential
from credentials.verify import verify_document
from hocvu import configs
from hocvu.cli_session import cli_session, emit
from hocvu.settings import Settings
from lrs import credentials as tenants
from lrs.audit.erasure import ERASURE_HOOKS_KEY
from lrs.identifiers import agent_key
from lrs.query_params import parse_agent
from lrs.storage import Database


def config() -> CredentialsConfig:
    settings = Settings.from_env()
    return configs.credentials_config(settings, Database(settings.database_url))


def erasure_info() -> dict[str, Any]:
    """Sessions' ``info`` that makes ``lrs.audit.erasure`` revoke the learner's credentials, as the
    web processes' sessions do (``hocvu.app.init_credentials``)."""
    from credentials.hooks import CredentialHooks

    return {ERASURE_HOOKS_KEY: (CredentialHooks(config()).erased,)}


@contextmanager
def _session() -> Iterator[tuple[Session, CredentialsConfig]]:
    with cli_session(errors=(CredentialError,)) as session:
        yield session, config()


@click.group()
def credentials() -> None:
    """Verifiable credentials (Open Badges 3.0): issuer keys, revocation, verification."""


@credentials.command("rotate-key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def rotate_key(as_json: bool) -> None:
    """A new Ed25519 issuer key signs from now on; older keys stay published, so what they signed
    still verifies."""
    with _session() as (s, cfg):
        row = keys.rotate_key(s, ring_of(cfg))
        data = {"kid": row.kid, "created": row.created.isoformat()}
    emit(as_json, data, f"new issuer key {row.kid} (older keys stay published)")


@credentials.command("keys")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_keys(as_json: bool) -> None:
    """List issuer keys, oldest first (never their private halves)."""
    with _session() as (s, _cfg):
        rows = [{"kid": k.kid, "created": k.created.isoformat(),
                 "retired": k.retired.isoformat() if k.retired else None} for k in keys.all_keys(s)]
    if as_json:
        click.echo(json.dumps(rows))
    for r in [] if as_json else rows:
        click.echo(f"{r['kid']}\t{r['created']}\t{'retired' if r['retired'] else 'published'}")


@credentials.command("retire-key")
@click.argument("kid")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def retire_key(kid: str, yes: bool) -> None:
    """Stop publishing key KID (after a compromise): every credential it signed stops verifying."""
    if not yes:
        click.confirm(f"Credentials signed with {kid} will no longer verify. Retire it?", abort=True)
    with _session() as (s, _cfg):
        keys.retire_key(s, kid)
    click.echo(f"retired {kid}")


def _targets(s: Session, cfg: CredentialsConfig, credential: str | None, tenant: str | None,
             statement: str | None, agent: str | None) -> list[IssuedCredential]:
    if credential:
        slug, _, public_id = credential.removeprefix(cfg.base + "/credentials/").rpartition("/")
        t = tenants.get_tenant(s, slug)
        row = s.get(IssuedCredential, (t.id, public_id))
        if row is None:
            raise click.ClickException(f"no credential {credential}")
        return [row]
    if not tenant or not (statement or agent):
        raise click.UsageError("give a CREDENTIAL (its URL), or --tenant with --statement or --agent")
    t = tenants.get_tenant(s, tenant)
    rows = list(s.scalars(select(IssuedCredential).where(IssuedCredential.tenant_id == t.id,
                                                         IssuedCredential.revoked.is_(None))))
    if statement:
        return [r for r in rows if statement in (r.evidence or [])]
    key = agent_key(parse_agent(agent or "", "2.0.0"))
    return [r for r in rows if r.agent_key == key]


@credentials.command("revoke")
@click.argument("credential", required=False)
@click.option("--tenant", default=None, help="Tenant slug (with --statement or --agent).")
@click.option("--statement", default=None, help="Every credential citing this statement id (a voided attempt).")
@click.option("--agent", default=None, help="Every credential of this learner, as an xAPI Agent (JSON).")
@click.option("--reason", type=click.Choice(REASONS), default="operator", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def revoke_command(credential: str | None, tenant: str | None, statement: str | None, agent: str | None,
                   reason: str, as_json: bool) -> None:
    """Revoke credentials: one (CREDENTIAL, its URL or <tenant>/<id>), those citing a statement, or a
    learner's. Their bits are set in the status list, which is re-signed and republished at once."""
    with _session() as (s, cfg):
        done = revoke(s, cfg, _targets(s, cfg, credential, tenant, statement, agent), reason, datetime.now(UTC))
        ids = [r.public_id for r in done]
    emit(as_json, {"revoked": ids, "reason": reason}, f"revoked {len(ids)} credential(s) ({reason})")


@credentials.command("sweep")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def sweep_command(as_json: bool) -> None:
    """Revoke every live credential whose evidence statements were voided or erased since it was issued."""
    with _session() as (s, cfg):
        counts = sweep(s, cfg, datetime.now(UTC))
    emit(as_json, counts, f"checked {counts['checked']}; revoked {counts['voided']} (voided evidence), "
                          f"{counts['erased']} (erased evidence)")


@credentials.command("verify")
@click.argument("path", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_command(path: Any, as_json: bool) -> None:
    """Verify a credential file against this hub's keys and status lists (exit 1 unless valid)."""
    try:
        document = json.loads(path.read())
    except ValueError as err:
        raise click.ClickException(f"not JSON: {err}") from None
    with _session() as (s, cfg):
        report = verify_document(s, cfg, document)
    emit(as_json, report.as_json(), f"{report.outcome}: " + "; ".join(
        f"{c.name} {'ok' if c.ok else 'FAILED: ' + c.detail}" for c in report.checks))
    if not report.verified:
        raise SystemExit(1)


@credentials.command("issue")
@click.option("--tenant", "tenant_slug", required=True)
@click.option("--home-page", required=True, help="The learner's account homePage (their LMS's issuer).")
@click.option("--account", required=True, help="The learner's account name there.")
@click.option("--course", "course_id", required=True)
@click.option("--name", default="", help="The name the learner chose to show (default: none).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def issue_command(tenant_slug: str, home_page: str, account: str, course_id: str, name: str, as_json: bool) -> None:
    """Issue a learner's credential for a course they completed (what the player's hook does)."""
    with _session() as (s, cfg):
        t = tenants.get_tenant(s, tenant_slug)
        issued = issue(s, cfg, Holder(t.id, home_page, account, name), course_id, datetime.now(UTC))
        url = credential_url(cfg, t.slug, issued.row.public_id)
    emit(as_json, {"id": url, "new": issued.new}, f"{'issued' if issued.new else 'already issued'}: {url}")
