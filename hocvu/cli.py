"""The ``hocvu`` command line: database, tenants, credentials, demo data."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click
from sqlalchemy import select

from hocvu import configs
from hocvu import db as dbops
from hocvu.cli_session import cli_session, emit
from hocvu.settings import SettingError, Settings
from lrs import credentials
from lrs.storage import Credential, Database, Tenant

DEMO_TENANT = "demo"


class HubGroup(click.Group):
    """The ``hocvu`` group: a bad setting ends any command with one line and exit status 2 (the
    status click gives a usage error), never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SettingError as err:
            click.echo(f"hocvu: {err}", err=True)
            ctx.exit(2)


@click.group(cls=HubGroup)
def main() -> None:
    """hocvu: the "Bình dân học vụ số" interoperability hub (xAPI LRS, LTI tool, identity)."""
    Settings.from_env()  # every command starts from a valid tree


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (HOCVU_DATABASE_URL chooses the database)."""
    settings = Settings.from_env()
    database = Database(settings.database_url)
    # Migration 0090 hashes existing accounts' subjects with the pepper sign-ins use (never made here).
    dbops.upgrade(database, revision, pepper=configs.existing_pepper(settings))
    if revision == "heads":
        _ensure_national_tenant(database, settings)
    click.echo(f"database at {database.engine.url.render_as_string(hide_password=True)} is at {revision}")


@db.command("analyze")
def db_analyze() -> None:
    """ANALYZE the statement tables: fresh planner statistics after an import, a restore or a bulk load
    (the web processes also do it every HOCVU_ANALYZE_EVERY statements they store)."""
    from lrs.maintenance import analyze

    database = Database(Settings.from_env().database_url)
    try:
        click.echo(f"analysed the statement tables in {analyze(database.engine):.2f} s")
    finally:
        database.dispose()


@db.command("partitions")
@click.option("--ahead", type=click.IntRange(0, 120), default=dbops.PARTITIONS_AHEAD, show_default=True,
              help="Months after this one to create partitions for.")
@click.option("--detach", "before", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Detach the monthly partitions that end on or before this date (YYYY-MM-DD).")
def db_partitions(ahead: int, before: datetime | None) -> None:
    """PostgreSQL: create the statements' monthly partitions ahead (also done by `db upgrade` and by
    the web processes every HOCVU_PARTITION_SECONDS; with that off, run `--ahead 3` daily from cron),
    or detach old ones (their tables stay). Archiving a month to the lake with its chain proofs, then
    dropping it: `hocvu lake archive`. Nothing on SQLite."""
    from lrs import partitions

    database = Database(Settings.from_env().database_url)
    try:
        with database.engine.begin() as conn:
            names = (partitions.detach_before(conn, before.date()) if before
                     else partitions.ensure(conn, ahead=ahead))
        click.echo(f"{'detached' if before else 'created'}: {', '.join(names) or 'none'}")
    finally:
        database.dispose()


def _ensure_national_tenant(database: Database, settings: Settings) -> None:
    """The tenant of citizens who learn from the front door (HOCVU_NATIONAL_TENANT) exists."""
    from player.citizen import national_tenant_id

    with database.session() as session:
        national_tenant_id(session, settings.hub.national_tenant, settings.hub.national_tenant_name)
        session.commit()


@main.group()
def tenant() -> None:
    """Tenants: one per ministry LMS."""


@tenant.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name, e.g. 'Bộ Giáo dục và Đào tạo'.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def tenant_create(slug: str, name: str, as_json: bool) -> None:
    """Create tenant SLUG."""
    with cli_session() as session:
        t = credentials.create_tenant(session, slug, name)
        data = {"id": t.id, "slug": t.slug, "name": t.name}
    emit(as_json, data, f"created tenant {slug} ({name})")


@tenant.command("set")
@click.argument("slug")
@click.option("--name", help="Display name.")
@click.option("--ministry", help="The ministry (bộ, ngành) the tenant belongs to; '' clears it.")
@click.option("--province", help="The tenant's province: reports place its learners there when no roster "
                                 "says otherwise; '' clears it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def tenant_set(slug: str, name: str | None, ministry: str | None, province: str | None, as_json: bool) -> None:
    """Change tenant SLUG's metadata (issue 17: grouping without a roster import)."""
    from connectors.rollups import restate_provinces

    for label, value, most in (("--name", name, 255), ("--ministry", ministry, 255), ("--province", province, 128)):
        if value is not None and len(value) > most:
            raise click.BadParameter(f"at most {most} characters", param_hint=label)
    if name is not None and not name.strip():
        raise click.BadParameter("a tenant keeps a name", param_hint="--name")
    with cli_session() as session:
        t = credentials.get_tenant(session, slug)
        if name is not None:
            t.name = name.strip()
        if ministry is not None:
            t.ministry = ministry.strip() or None
        if province is not None:
            t.province = province.strip() or None
        session.flush()
        moved = restate_provinces(session, t.id) if province is not None else 0
        data = {"slug": t.slug, "name": t.name, "ministry": t.ministry, "province": t.province,
                "enrolments_moved": moved}
    emit(as_json, data, f"tenant {slug}: ministry {data['ministry'] or '—'}, province {data['province'] or '—'}"
                        f" ({moved} enrolment(s) moved)")


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def tenant_list(as_json: bool) -> None:
    """List tenants."""
    with cli_session() as session:
        rows = [{"slug": t.slug, "name": t.name, "ministry": t.ministry, "province": t.province}
                for t in session.scalars(select(Tenant).order_by(Tenant.slug))]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
    else:
        for r in rows:
            click.echo(f"{r['slug']}\t{r['name']}")


@main.group()
def credential() -> None:
    """xAPI credentials (key + secret) with scopes."""


@credential.command("create")
@click.option("--tenant", "tenant_slug", required=True, help="Tenant slug.")
@click.option("--scopes", default="statements/write,statements/read/mine", show_default=True,
              help=f"Comma-separated xAPI scopes: {', '.join(credentials.SCOPES)}.")
@click.option("--name", default="LMS", show_default=True, help="What this credential is for.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def credential_create(tenant_slug: str, scopes: str, name: str, as_json: bool) -> None:
    """Create a credential; its secret is printed this once and never stored."""
    with cli_session() as session:
        t = credentials.get_tenant(session, tenant_slug)
        cred, secret = credentials.create_credential(session, t, name, [s.strip() for s in scopes.split(",") if s])
        data = {"tenant": t.slug, "key": cred.key, "secret": secret, "scopes": cred.scopes}
    emit(as_json, data, f"key: {data['key']}\nsecret: {secret}\nscopes: {' '.join(data['scopes'])}\n"
          "(the secret is shown only now)")


@credential.command("revoke")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def credential_revoke(key: str, as_json: bool) -> None:
    """Revoke credential KEY: it stops working at once."""
    with cli_session() as session:
        cred = credentials.revoke_credential(session, key)
        data = {"key": cred.key, "revoked": cred.revoked.isoformat() if cred.revoked else None}
    emit(as_json, data, f"revoked {key}")


@credential.command("list")
@click.option("--tenant", "tenant_slug", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def credential_list(tenant_slug: str, as_json: bool) -> None:
    """List a tenant's credentials (never their secrets)."""
    with cli_session() as session:
        t = credentials.get_tenant(session, tenant_slug)
        rows: list[dict[str, Any]] = [  # JSON for --json, columns otherwise
            {"key": c.key, "name": c.name, "scopes": c.scopes, "revoked": c.revoked is not None}
            for c in session.scalars(select(Credential).where(Credential.tenant_id == t.id))]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
    else:
        for r in rows:
            click.echo(f"{r['key']}\t{','.join(r['scopes'])}\t{'revoked' if r['revoked'] else 'active'}\t{r['name']}")


@main.group()
def demo() -> None:
    """Demo data for the embedded mode."""


@demo.command("seed")
def demo_seed() -> None:
    """Create the national tenant (citizens at the front door), the demo tenant, a demo credential and
    demo auditor/analyst credentials (printed once). The front door's address comes first."""
    settings = Settings.from_env()
    front = f"front door:    {settings.public_url}/   (sign in with the demo VNeID; national tenant "\
            f"{settings.hub.national_tenant})"
    _ensure_national_tenant(Database(settings.database_url), settings)
    with cli_session() as session:
        if session.scalar(select(Tenant).where(Tenant.slug == DEMO_TENANT)):
            click.echo(front)
            click.echo(f"demo tenant exists; xAPI endpoint {settings.public_url}/xapi/ "
                       f"(new credential: hocvu credential create --tenant {DEMO_TENANT} --scopes all)")
            return
        t = credentials.create_tenant(session, DEMO_TENANT, "Demo — Bình dân học vụ số")
        cred, secret = credentials.create_credential(session, t, "demo LMS", ["all"])
        # So the auditor pages and the analysts' dashboard can be tried at once, like the LRS.
        auditor, auditor_secret = credentials.create_national_credential(session, "auditor", "demo auditor")
        analyst, analyst_secret = credentials.create_national_credential(session, "analyst", "demo analyst")
    click.echo("=" * 64)
    click.echo(front)
    click.echo(f"xAPI endpoint: {settings.public_url}/xapi/")
    click.echo(f"demo key:      {cred.key}")
    click.echo(f"demo secret:   {secret}   (shown once)")
    click.echo(f"auditor pages: {settings.public_url}/audit/    key {auditor.key}  secret {auditor_secret}")
    click.echo(f"dashboard:     {settings.public_url}/reports/  analyst key {analyst.key}  secret {analyst_secret}")
    click.echo("=" * 64)
    sys.stdout.flush()


def _register_package_commands() -> None:
    # Each package's admin commands live beside the composition root, one module per package.
    from hocvu.cli_attachments import attachments
    from hocvu.cli_audit import audit
    from hocvu.cli_audit_bundle import register as register_audit_bundle
    from hocvu.cli_courses import courses
    from hocvu.cli_credentials import credentials as credentials_group
    from hocvu.cli_export import export, report
    from hocvu.cli_face import face
    from hocvu.cli_forward import forward
    from hocvu.cli_identity import identity
    from hocvu.cli_identity_supervised import register as register_supervised
    from hocvu.cli_import import import_group
    from hocvu.cli_lake import lake
    from hocvu.cli_lti import lti
    from hocvu.cli_national import national
    from hocvu.cli_rollups import rollups
    from hocvu.cli_settings import settings_group

    register_audit_bundle(audit)  # `hocvu audit bundle` and `verify-bundle` (identity.auditor.proof_bundle)
    register_supervised(identity)  # `hocvu identity supervised-check` (identity.gate.supervised)
    for group in (attachments, audit, courses, credentials_group, export, face, forward, identity, import_group,
                  lake, lti, national, report, rollups, settings_group):
        main.add_command(group)


_register_package_commands()

if __name__ == "__main__":
    main()
