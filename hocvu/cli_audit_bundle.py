"""``hocvu audit bundle`` and ``hocvu audit verify-bundle``: proof bundles (``identity.auditor.proof_bundle``).
Joined to the ``hocvu audit`` group (``hocvu.cli_audit``) by ``register``, called from ``hocvu.cli``.

``verify-bundle`` needs no database and no network: it reads the file, and the certificate files
given with ``--cert`` (pin the hub's certificate, obtained out of band: a forger could replace the
bundle's own). It never reads settings, so no database URL or instance folder is needed.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click


@click.command("bundle")
@click.option("--tenant", "tenant_slug", required=True, help="Tenant slug.")
@click.option("--registration", default=None, help="The attempt's registration (with --session).")
@click.option("--session", "session_id", default=None, help="The attempt's cmi5 session id (with --registration).")
@click.option("--statement", "statement_ids", multiple=True, help="A statement id (repeatable), instead of an attempt.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="Where to write the bundle (JSON).")
@click.option("--archive", "root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="The lake archive (`hocvu lake archive --to DIR`): statements of archived months are read "
                   "from it, each checked against its chain entry first.")
def audit_bundle(tenant_slug: str, registration: str | None, session_id: str | None,
                 statement_ids: tuple[str, ...], output: str, root: Path | None) -> None:
    """Write the proof bundle of an attempt or of chosen statements. The read is recorded in the
    tenant's audit chain; a checkpoint is signed first when none covers the statements yet.
    Statements of archived months need --archive DIR (without it the bundle is refused, naming the
    months: never one silently missing statements)."""
    from connectors.archive.reader import LakeArchive
    from hocvu import configs
    from hocvu.app import audit_policy
    from hocvu.cli_session import cli_session
    from hocvu.settings import Settings
    from identity.auditor import archived, proof_bundle
    from lrs import credentials
    from lrs.audit import chain as audit_chain
    from lrs.errors import XapiError

    if not statement_ids and not (registration and session_id):
        raise click.UsageError("name an attempt (--registration and --session) or --statement ids")
    settings = Settings.from_env()
    policy = audit_policy(settings)
    certificates = [configs.hub_key(settings).material().cert_pem, *configs.trusted_certificates(settings)]
    source = LakeArchive(root) if root is not None else None
    with cli_session(info={audit_chain.POLICY_KEY: policy}) as session:
        tenant = credentials.get_tenant(session, tenant_slug)
        try:
            if statement_ids:
                rows = archived.chosen(session, tenant.id, tenant_slug, statement_ids, source)
                selection: dict[str, object] = {"statements": [r.statement_id for r in rows]}
            else:
                _, selection, rows = archived.attempt(session, tenant_slug, registration or "", session_id or "",
                                                      certificates, source)
        except (XapiError, archived.ArchiveRefused) as err:
            raise click.ClickException(f"no bundle: {err}") from None
        audit_chain.record_access(session, tenant.id, f"cli:{getpass.getuser()}",
                                  {"view": "bundle", "shown": [r.statement_id for r in rows][:40], "count": len(rows)})
        bundle = proof_bundle.build(session, tenant.id, rows, certificates, selection=selection, policy=policy)
    Path(output).write_bytes(proof_bundle.dumps(bundle))
    checkpoint = bundle["chain"]["checkpoint"]
    from_archive = sum("archive" in s for s in bundle["statements"])
    click.echo(f"wrote {output}: {len(rows)} statement(s)"
               f"{f' ({from_archive} from the archive)' if from_archive else ''}, "
               f"{len(bundle['chain']['entries'])} chain entries, "
               f"checkpoint at position {checkpoint['position'] if checkpoint else '(none yet)'}")


@click.command("verify-bundle")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--cert", "certs", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate(s) of the hub to check with instead of the bundle's own.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def audit_verify_bundle(ctx: click.Context, file: str, certs: tuple[str, ...], as_json: bool) -> None:
    """Check a proof bundle offline: signatures, statement hashes, chain links, the signed
    checkpoint. Names the first failure and exits 1; exits 0 when everything holds."""
    from identity.auditor.proof_bundle import verify_bundle

    report = verify_bundle(file, [Path(c).read_bytes() for c in certs] or None)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        click.echo(f"bundle of tenant {report.tenant or '?'}: {report.statements} statement(s), "
                   f"{report.signatures} signature(s), {report.entries} chain entries, "
                   f"checkpoint at position {report.checkpoint if report.checkpoint is not None else '-'}")
        for fp in report.certificates:
            click.echo(f"bundle certificate SHA-256 {fp}{'' if certs else ' (compare with the hub’s, out of band)'}")
        click.echo("VERIFIED: every signature, hash and link holds" if report.ok else f"FAILED: {report.failure}")
    ctx.exit(0 if report.ok else 1)


def register(group: click.Group) -> None:
    group.add_command(audit_bundle)
    group.add_command(audit_verify_bundle)
