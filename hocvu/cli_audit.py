"""``hocvu audit ...``: verify the audit chain, make due checkpoints, erase a learner's data, adopt
statements older than the chain.
Registered in ``hocvu.cli`` with ``main.add_command(audit)``. The chain itself: ``lrs.audit.chain``
(erasure: ``lrs.audit.erasure``, adoption: ``lrs.audit.adoption``)."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hocvu.cli_session import chain_policy, cli_session
from hocvu.settings import Settings
from identity.signing import CERT_FILE_NAME
from lrs import credentials
from lrs.audit import adoption as audit_adoption
from lrs.audit import cadence as audit_cadence
from lrs.audit import chain as audit_chain
from lrs.audit import erasure as audit_erasure
from lrs.audit import verify as audit_verify
from lrs.audit import witness as audit_witness
from lrs.query_params import parse_agent
from lrs.storage import ArchiveErasure, AuditHead, Statement, Tenant


def certificates_from(paths: tuple[str, ...]) -> list[bytes]:
    """--cert files, else the hub's own certificate (HOCVU_SIGNING_CERT_FILE or the instance
    folder). Never generates a key: verifying must not create what it checks against."""
    if paths:
        return [Path(p).read_bytes() for p in paths]
    settings = Settings.from_env()
    default = settings.signing.signing_cert_file or settings.hub.instance_dir / CERT_FILE_NAME
    return [default.read_bytes()] if default.exists() else []


@click.group()
def audit() -> None:
    """The tamper-evident audit chain of every tenant's statements."""


def _cadence() -> audit_cadence.Cadence:
    settings = Settings.from_env()
    audit = settings.audit
    return audit_cadence.Cadence(audit.checkpoint_every, audit.checkpoint_minutes,
                                 audit.audit_verify_grace_entries, audit.audit_verify_grace_minutes,
                                 datetime.now(UTC))


def _witness_file(path: str) -> list[dict[str, Any]]:
    try:
        return audit_witness.read(Path(path))
    except ValueError as err:
        raise click.ClickException(str(err)) from None


@audit.command("verify")
@click.option("--tenant", "tenant_slug", default=None, help="Only this tenant (default: every tenant).")
@click.option("--cert", "certs", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate(s) of the hub's signing key (default: the hub's own).")
@click.option("--witness", "witness_path", type=click.Path(exists=True, dir_okay=False),
              help="Also compare with a witness file (`hocvu audit witness export`).")
@click.option("--archive", "archive_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The lake archive of old months (`hocvu lake archive --to DIR`): their statements are "
                   "checked there (without it they are counted, not checked).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def audit_verify_cmd(ctx: click.Context, tenant_slug: str | None, certs: tuple[str, ...], witness_path: str | None,
                     archive_dir: Path | None, as_json: bool) -> None:
    """Recompute the chain; name the first entry that does not match, and the positions that lack
    the checkpoints the configured cadence makes (HOCVU_AUDIT_CHECKPOINT_EVERY/_MINUTES plus
    HOCVU_AUDIT_VERIFY_GRACE_ENTRIES/_MINUTES). Exit 1 when one fails; exit 3 when the chain holds
    but an archived month's archive was not found under --archive (unproven, not tampered)."""
    certificates = certificates_from(certs)
    witnessed = _witness_file(witness_path) if witness_path else []
    archives = None
    if archive_dir is not None:
        from connectors.archive.reader import LakeArchive

        archives = LakeArchive(archive_dir)
    with cli_session() as session:
        reports = audit_verify.verify_all(session, certificates, tenant_slug, cadence=_cadence(), archives=archives)
        contradicted = audit_witness.check(session, witnessed, certificates, tenant_slug)
        waiting = _archive_erasures(session, [r.tenant_id for r in reports])
    intact = all(r.ok for r in reports) and not contradicted
    ok = intact and not any(r.archives_missing for r in reports)
    if as_json:
        click.echo(json.dumps({"ok": ok, "tenants": [r.as_dict() for r in reports],
                               "witness": [c.as_dict() for c in contradicted], "archive_erasures": waiting},
                              ensure_ascii=False))
    else:
        _witness_report(contradicted, len(witnessed) if witness_path else None)
        if waiting["pending"]:
            # Not a failure: the erasure is recorded, the archive keeps the rows until rewritten.
            click.echo(f"note: {waiting['pending']} archived month(s) await an erasure ({waiting['interrupted']} "
                       "interrupted): run `hocvu lake erase --archive DIR`")
        for r in reports:
            if r.failure is None:
                # Adopted statements are vouched for only since their adoption: say how many.
                adoption = f", {r.adopted} adopted (unchanged since adoption only)" if r.adopted else ""
                click.echo(f"tenant {r.tenant}: intact, {r.entries} entries{adoption}, {r.checkpoints} checkpoints "
                           f"(last at position {r.last_checkpoint}; {r.uncovered} entries not yet checkpointed)")
            else:
                f = r.failure
                where = f"position {f.position}" if f.position is not None else "no entry"
                click.echo(f"tenant {r.tenant}: FAILED at {where}, statement {f.statement_id or '-'}: {f.reason}")
            _archive_notes(r)
            for first, last in r.gaps:
                click.echo(f"tenant {r.tenant}: note: positions {first}..{last} went longer than the cadence without "
                           "a checkpoint (covered by the next one)")
        entries = sum(r.entries for r in reports)
        checkpoints = sum(r.checkpoints for r in reports)
        broken = sum(not r.ok for r in reports)
        adopted = sum(r.adopted for r in reports)
        state = "intact" if ok else "intact but INCOMPLETE (archives missing)" if intact else "BROKEN"
        click.echo(f"audit chain {state}: {len(reports)} tenants ({broken} failing), "
                   f"{entries} entries ({adopted} adopted), {checkpoints} checkpoints")
    ctx.exit(0 if ok else 3 if intact else 1)


def _archive_erasures(session: Session, tenant_ids: list[int]) -> dict[str, int]:
    """Archived months still to rewrite for an erasure, and those whose rewrite began (a crash after
    its renames leaves rows removed with no 'erased' entry yet: verify fails until the rerun finishes)."""
    rows = session.execute(select(ArchiveErasure.tenant_id, ArchiveErasure.month, ArchiveErasure.rewrite_sha256)
                           .where(ArchiveErasure.tenant_id.in_(tenant_ids))).all()
    return {"pending": len({(t, m) for t, m, _ in rows}),
            "interrupted": len({(t, m) for t, m, sha in rows if sha is not None})}


def _archive_notes(r: audit_verify.TenantReport) -> None:
    if r.archived_checked:
        click.echo(f"tenant {r.tenant}: {r.archived_checked} archived statements checked in the lake archive")
    if r.archived_erased:
        click.echo(f"tenant {r.tenant}: {r.archived_erased} archived statements erased from the lake archive "
                   "(named by 'erased' entries)")
    if r.archived_unchecked:
        click.echo(f"tenant {r.tenant}: note: {r.archived_unchecked} archived statements not checked "
                   "(give --archive DIR to check them)")
    for month in r.archives_missing:
        click.echo(f"tenant {r.tenant}: ARCHIVE MISSING for {month} (not found under --archive; "
                   "its statements are unproven, not shown tampered)")


def _witness_report(contradicted: list[audit_witness.Contradiction], witnessed: int | None) -> None:
    for c in contradicted:
        click.echo(f"tenant {c.tenant}: WITNESS CONTRADICTED at position {c.position}: {c.reason}")
    if witnessed is not None:
        click.echo(f"witness: {witnessed} checkpoint(s) witnessed, {len(contradicted)} contradicted by the store")


@audit.group("witness")
def witness() -> None:
    """Checkpoints kept outside the hub, so deleting or rewriting them is evident."""


@witness.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The witness file (JSON Lines): created, or appended to with the checkpoints it lacks.")
@click.option("--tenant", "tenant_slug", default=None, help="Only this tenant (default: every tenant).")
def witness_export(out: str, tenant_slug: str | None) -> None:
    """Append the store's checkpoints the witness file does not hold yet (run it from cron, and keep
    the file where the hub's database administrators cannot write)."""
    _witness_file(out)  # a file that is not a witness is refused before anything is appended
    with cli_session() as session:
        added = audit_witness.export(session, Path(out), tenant_slug)
    click.echo(f"{added} checkpoint(s) added to {out}")


@witness.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--tenant", "tenant_slug", default=None, help="Only this tenant's lines.")
@click.option("--cert", "certs", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate(s) of the hub's signing key (default: the hub's own).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def witness_verify(ctx: click.Context, path: str, tenant_slug: str | None, certs: tuple[str, ...],
                   as_json: bool) -> None:
    """Compare the witness file with the store: name each witnessed checkpoint the store deleted or
    replaced, or whose position in the chain now holds another hash. Exit 1 when one is."""
    witnessed = _witness_file(path)
    with cli_session() as session:
        contradicted = audit_witness.check(session, witnessed, certificates_from(certs), tenant_slug)
    if as_json:
        click.echo(json.dumps({"ok": not contradicted, "witnessed": len(witnessed),
                               "contradicted": [c.as_dict() for c in contradicted]}, ensure_ascii=False))
    else:
        _witness_report(contradicted, len(witnessed))
    ctx.exit(1 if contradicted else 0)


@audit.command("checkpoint")
@click.option("--tenant", "tenant_slug", default=None, help="Only this tenant (default: every tenant).")
@click.option("--force", is_flag=True, help="Checkpoint every head with new entries, due or not.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def audit_checkpoint(tenant_slug: str | None, force: bool, as_json: bool) -> None:
    """Sign a checkpoint for each tenant whose last one is HOCVU_AUDIT_CHECKPOINT_MINUTES old
    (run it from cron so quiet tenants are checkpointed too)."""
    made = []
    with cli_session(info=chain_policy()) as session:
        policy = audit_chain.policy_of(session)
        q = select(AuditHead.tenant_id).order_by(AuditHead.tenant_id)
        if tenant_slug is not None:
            q = q.where(AuditHead.tenant_id == credentials.get_tenant(session, tenant_slug).id)
        for tenant_id in session.scalars(q).all():
            cp = audit_chain.make_checkpoint(session, tenant_id, policy, force=force)
            if cp is not None:
                made.append({"tenant_id": tenant_id, "position": cp.position, "entry_hash": cp.entry_hash})
    if as_json:
        click.echo(json.dumps({"checkpoints": made}))
    else:
        for m in made:
            click.echo(f"tenant {m['tenant_id']}: checkpoint at position {m['position']}")
        click.echo(f"{len(made)} checkpoint(s) made")


@audit.command("erase")
@click.option("--tenant", "tenant_slug", required=True, help="Tenant slug.")
@click.option("--agent", "agent_json", required=True,
              help='The learner as an xAPI Agent, e.g. \'{"mbox": "mailto:an@example.vn"}\'.')
@click.option("--reason", default="privacy request", show_default=True, help="Recorded in the chain.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--archive", "archive_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The lake archive (`hocvu lake archive --to DIR`): rewrite the tenant's archived months "
                   "at once (else `hocvu lake erase --archive DIR` does, from cron).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def audit_erase(ctx: click.Context, tenant_slug: str, agent_json: str, reason: str, yes: bool,
                archive_dir: Path | None, as_json: bool) -> None:
    """Erase a learner's statements, documents and attachments (a privacy request). The chain keeps each
    statement's hash and records the erasure, so it still verifies; the content is gone. Months archived
    to the lake get a pending erasure each (the learner only as a keyed digest), applied by
    `hocvu lake erase --archive DIR` or at once with --archive."""
    from connectors.rollups import forget_learner
    from hocvu.cli_credentials import erasure_info  # the learner's credentials are revoked with the erasure

    # The report rollups forget her in the erasure's transaction, as the web processes' erasures do
    # (hocvu.app.init_rollups): else she stayed countable in the group-learner rows (privacy rule).
    info = {**chain_policy(), **erasure_info()}
    info[audit_erasure.ERASURE_HOOKS_KEY] = (*info.get(audit_erasure.ERASURE_HOOKS_KEY, ()), forget_learner)
    with cli_session(info=info) as session:
        tenant = credentials.get_tenant(session, tenant_slug)
        agent = parse_agent(agent_json, "2.0.0")
        if not yes:
            click.confirm(f"Erase every statement of tenant {tenant_slug} that names this agent?", abort=True)
        done = audit_erasure.erase_agent(session, tenant.id, agent, actor=f"cli:{getpass.getuser()}",
                                         reason=reason)
    data: dict[str, Any] = {"tenant": tenant_slug, "statements": len(done.statement_ids), "documents": done.documents,
                            "attachments": len(done.attachments), "entries": done.positions}
    failed: list[str] = []
    if done.archived_months:  # a tenant with nothing archived gets today's answer, key for key
        data["archived_months_pending"] = done.archived_months
        if done.attachments_deferred:
            data["attachments_pending"] = len(done.attachments_deferred)
        if archive_dir is not None:
            from hocvu.archive_erasures import erase_archives

            data["archives"], failed = erase_archives(archive_dir, tenant_slug, reason)
            data["archive_failures"] = failed
    if as_json:
        click.echo(json.dumps(data))
    else:
        click.echo(f"erased {data['statements']} statement(s), {done.documents} document(s) and "
                   f"{len(done.attachments)} attachment(s) of tenant "
                   f"{tenant_slug}; erasure recorded at position(s) {', '.join(map(str, done.positions))}")
        if done.archived_months and archive_dir is None:
            click.echo(f"{done.archived_months} archived month(s) still hold the learner's statements: run "
                       "`hocvu lake erase --archive DIR` (pending erasures recorded)")
        if done.attachments_deferred:
            click.echo(f"{len(done.attachments_deferred)} attachment(s) kept until `hocvu lake erase --archive DIR` "
                       "has listed the attachments of the months archived before such lists (one may cite them)")
        for line in [*(a["line"] for a in data.get("archives", [])), *failed]:
            click.echo(line)
    ctx.exit(1 if failed else 0)


@audit.command("adopt")
@click.option("--tenant", "tenant_slug", default=None, help="Only this tenant (default: every tenant).")
@click.option("--dry-run", is_flag=True, help="Count the statements that have no entry yet; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def audit_adopt(tenant_slug: str | None, dry_run: bool, as_json: bool) -> None:
    """Give statements stored before the audit chain existed (or with it switched off) an
    'adopted' entry each, in stored order, then sign a checkpoint. An adopted entry records the
    statement as it is now: the chain shows it unchanged from here on, and nothing about before.
    Running it again adopts nothing new."""
    done: list[dict[str, Any]] = []
    with cli_session(info=chain_policy()) as session:
        policy = audit_chain.policy_of(session)
        q = select(Tenant.id, Tenant.slug).order_by(Tenant.id)
        if tenant_slug is not None:
            q = q.where(Tenant.id == credentials.get_tenant(session, tenant_slug).id)
        for tenant_id, slug in session.execute(q).all():
            if dry_run:
                waiting = session.scalar(select(func.count()).select_from(Statement).where(
                    Statement.tenant_id == tenant_id, ~audit_adoption.accounted()))
                done.append({"tenant": slug, "adopted": waiting or 0, "checkpoint": None})
                continue
            adopted = 0
            while True:  # one transaction per chunk: the tenant's ingest waits on its head only briefly
                step = audit_adoption.adopt(session, tenant_id, policy)
                session.commit()
                adopted += len(step.positions)
                if step.statements < audit_adoption.ADOPT_CHUNK:
                    break
            position = None
            if adopted:  # signed now, so the adopted state is covered at once, not at the next due checkpoint
                try:
                    audit_chain.make_checkpoint(session, tenant_id, policy, force=True)
                except Exception as err:
                    raise click.ClickException(
                        f"tenant {slug}: adopted {adopted} statement(s) but could not sign the checkpoint ({err}); "
                        "run `hocvu audit checkpoint --force` once the hub's key is readable") from None
                session.commit()
                # The head's checkpoint, whether made just now or by the last chunk's append.
                position = session.scalar(select(AuditHead.checkpoint_position).where(AuditHead.tenant_id == tenant_id))
            done.append({"tenant": slug, "adopted": adopted, "checkpoint": position})
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "tenants": done}))
        return
    for d in done:
        if d["adopted"]:
            verb = "would adopt" if dry_run else "adopted"
            signed = f", checkpoint at position {d['checkpoint']}" if d["checkpoint"] else ""
            click.echo(f"tenant {d['tenant']}: {verb} {d['adopted']} statement(s){signed}")
    total = sum(d["adopted"] for d in done)
    click.echo(f"{total} statement(s) {'would be ' if dry_run else ''}adopted in {len(done)} tenant(s)")
