"""``hocvu forward``: statement forwarding to other LRSs (connectors.forwarding.targets).

Registered on the main CLI by ``hocvu.cli``. Secrets are read from a hidden prompt or
HOCVU_FORWARD_SECRET, sealed before they reach the database and never printed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

import schemas
from connectors.forwarding import targets as fw
from connectors.forwarding.tasks import DEFAULT_QUEUE, RUNTIMES, Runtime, make_celery, run_round
from connectors.storage import ForwardTarget
from hocvu.cli_session import cli_session, emit
from hocvu.settings import Settings
from lrs import credentials
from lrs.storage import Database, Tenant


def _config(settings: Settings) -> fw.ForwardConfig:
    return fw.ForwardConfig.from_secret(settings.secret_key)


@contextmanager
def _session() -> Iterator[tuple[Session, fw.ForwardConfig]]:
    with cli_session(errors=(fw.ForwardError,)) as session:
        yield session, _config(Settings.from_env())


def _tenant(session: Session, slug: str | None) -> Tenant | None:
    return credentials.get_tenant(session, slug) if slug else None


def _named_target(session: Session, tenant_slug: str, name: str) -> ForwardTarget:
    return fw.get_target(session, credentials.get_tenant(session, tenant_slug), name)


tenant_option = click.option("--tenant", "tenant_slug", required=True, help="Tenant slug.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group()
def forward() -> None:
    """Forward each tenant's statements to other LRSs (targets), in order, exactly once."""


@forward.command("add")
@tenant_option
@click.argument("name")
@click.option("--endpoint", required=True, help="The target's xAPI endpoint, e.g. https://lrs.example.vn/xapi/.")
@click.option("--key", required=True, help="Key of a target credential with statements/write.")
@click.option("--secret", default=None,
              help="Its secret (else HOCVU_FORWARD_SECRET, else prompted, hidden). Stored encrypted, never shown.")
@click.option("--xapi-version", type=click.Choice(fw.XAPI_VERSIONS), default="1.0.3", show_default=True)
@click.option("--verb-prefix", default=None, help="Forward only statements whose verb id starts with this.")
@click.option("--activity-prefix", default=None, help="Forward only statements whose object Activity id starts "
              "with this.")
@click.option("--batch-size", type=int, default=100, show_default=True, help="Statements per request.")
@click.option("--disabled", is_flag=True, help="Add it switched off (`hocvu forward enable` later).")
@click.option("--from-now", is_flag=True, help="Skip what is stored already (default: the tenant's whole history).")
@json_option
def forward_add(tenant_slug: str, name: str, endpoint: str, key: str, secret: str | None, xapi_version: str,
                verb_prefix: str | None, activity_prefix: str | None, batch_size: int, disabled: bool,
                from_now: bool, as_json: bool) -> None:
    """Add target NAME for a tenant."""
    secret = secret or Settings.from_env().forwarding.forward_secret or click.prompt("Secret", hide_input=True)
    with _session() as (session, config):
        tenant = credentials.get_tenant(session, tenant_slug)
        target = fw.add_target(session, config, tenant, fw.TargetSpec(
            name=name, endpoint=endpoint, key=key, secret=secret, xapi_version=xapi_version,
            verb_prefix=verb_prefix, activity_prefix=activity_prefix, batch_size=batch_size,
            enabled=not disabled, from_now=from_now))
        data = {"tenant": tenant.slug, **fw.describe(target), "cursor": target.cursor_seq}
    emit(as_json, data, f"added target {name} → {data['endpoint']} (xAPI {xapi_version}"
          f"{', disabled' if disabled else ''}); starts after seq {data['cursor']}")


@forward.command("list")
@click.option("--tenant", "tenant_slug", default=None, help="Only this tenant's targets.")
@json_option
def forward_list(tenant_slug: str | None, as_json: bool) -> None:
    """List targets (never their secrets)."""
    with _session() as (session, _):
        rows = [{**fw.describe(t), "tenant_id": t.tenant_id}
                for t in fw.list_targets(session, _tenant(session, tenant_slug))]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        filters = ", ".join(f"{k}={r[k]}" for k in ("verb_prefix", "activity_prefix") if r[k]) or "all statements"
        click.echo(f"{r['name']}\t{r['endpoint']}\txAPI {r['xapi_version']}\t"
                   f"{'enabled' if r['enabled'] else 'disabled'}\t{filters}")


@forward.command("remove")
@tenant_option
@click.argument("name")
def forward_remove(tenant_slug: str, name: str) -> None:
    """Remove target NAME, with its cursor and dead letters."""
    with _session() as (session, _):
        fw.remove_target(session, _named_target(session, tenant_slug, name))
    click.echo(f"removed target {name}")


@forward.command("enable")
@tenant_option
@click.argument("name")
def forward_enable(tenant_slug: str, name: str) -> None:
    """Switch target NAME on (it resumes from its cursor)."""
    with _session() as (session, _):
        fw.set_enabled(session, _named_target(session, tenant_slug, name), True)
    click.echo(f"enabled target {name}")


@forward.command("disable")
@tenant_option
@click.argument("name")
def forward_disable(tenant_slug: str, name: str) -> None:
    """Switch target NAME off (its cursor is kept)."""
    with _session() as (session, _):
        fw.set_enabled(session, _named_target(session, tenant_slug, name), False)
    click.echo(f"disabled target {name}")


def _status_text(row: dict[str, Any]) -> str:
    lines = [f"{row['tenant']}/{row['name']} → {row['endpoint']} (xAPI {row['xapi_version']}, "
             f"{'enabled' if row['enabled'] else 'disabled'})",
             f"  cursor {row['cursor']} (horizon {row['safe_seq']}), backlog {row['backlog']}, "
             f"delivered {row['delivered']}, dead letters {row['dead_letters']}",
             f"  last success {row['last_success'] or '-'}, next attempt {row['next_attempt'] or 'now'}"]
    if row["last_error"]:
        lines.append(f"  last error ({row['last_error_at']}, {row['failures']} failure(s) in a row): "
                     f"{row['last_error']}")
    for dead in row.get("dead", []):
        lines.append(f"  dead: seq {dead['seq']} statement {dead['statement_id']} after {dead['attempts']} "
                     f"attempt(s): {dead['reason']}")
    return "\n".join(lines)


@forward.command("status")
@click.option("--tenant", "tenant_slug", default=None, help="Only this tenant's targets.")
@click.option("--dead", "show_dead", is_flag=True, help="List each dead letter with its reason.")
@json_option
def forward_status(tenant_slug: str | None, show_dead: bool, as_json: bool) -> None:
    """Per target: cursor, backlog, last error, next attempt, dead letters."""
    with _session() as (session, _):
        tenant = _tenant(session, tenant_slug)
        rows = fw.status(session, tenant)
        if show_dead:
            targets = {t.id: t for t in fw.list_targets(session, tenant)}
            for row in rows:
                row["dead"] = fw.dead_letters(session, targets[row["id"]])
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
    else:
        click.echo("\n".join(_status_text(r) for r in rows) if rows else "no forwarding targets")


@forward.command("retry")
@tenant_option
@click.argument("name")
@click.option("--statement", "statement_id", default=None, help="Only this statement id.")
def forward_retry(tenant_slug: str, name: str, statement_id: str | None) -> None:
    """Queue target NAME's dead letters for delivery again (fresh attempts)."""
    with _session() as (session, _):
        count = fw.retry_dead(session, _named_target(session, tenant_slug, name),
                              statement_id)
    click.echo(f"re-queued {count} dead letter(s) for {name}")


@forward.command("replay")
@tenant_option
@click.argument("name")
@click.option("--since", required=True, help="ISO 8601 time: send again everything stored since then.")
def forward_replay(tenant_slug: str, name: str, since: str) -> None:
    """Rewind target NAME's cursor (the target ignores what it already holds)."""
    try:
        moment = schemas.parse_timestamp(since)
    except ValueError:
        raise click.BadParameter(f"{since!r} is not an ISO 8601 time with a timezone", param_hint="--since") from None
    with _session() as (session, _):
        cursor = fw.replay(session, _named_target(session, tenant_slug, name), moment)
    click.echo(f"{name}: cursor now {cursor}; statements stored since {since} will be sent again")


def _database(settings: Settings) -> Database:
    """The database with the attachment store registered: forwarded statements carry their bytes."""
    from hocvu.attachments import blob_store, register

    database = Database(settings.database_url)
    register(database, blob_store(settings))
    return database


@forward.command("run")
@json_option
def forward_run(as_json: bool) -> None:
    """Deliver now, in this process, to every target with work due (one round)."""
    settings = Settings.from_env()
    database = _database(settings)
    try:
        report = run_round(Runtime(database, _config(settings)))
    finally:
        database.dispose()
    emit(as_json, report, f"{report['targets']} target(s): delivered {report['delivered']}, "
          f"refused {report['rejected']}" + "".join(f"\n  target {t}: {e}" for t, e in report["errors"].items()))


@forward.command("worker")
@click.option("--beat", is_flag=True, help="Also kick delivery every HOCVU_FORWARD_SECONDS (Celery beat).")
@click.option("--concurrency", type=int, default=2, show_default=True)
@click.option("--queue", default=DEFAULT_QUEUE, show_default=True)
def forward_worker(beat: bool, concurrency: int, queue: str) -> None:
    """Run a Celery worker for forwarding on HOCVU_BROKER_URL (Redis or RabbitMQ)."""
    settings = Settings.from_env()
    if not settings.hub.broker_url:
        raise click.ClickException("set HOCVU_BROKER_URL (redis://... or amqp://...) to run a worker; "
                                   "without a broker the web process delivers by itself")
    RUNTIMES["default"] = Runtime(_database(settings), _config(settings))
    app = make_celery(settings.hub.broker_url, queue=queue)
    if beat:
        app.conf.beat_schedule = {"forward-kick": {"task": "hocvu.forward.kick",
                                                   "schedule": settings.forwarding.forward_seconds or 30.0}}
    argv = ["worker", "--pool=threads", f"--concurrency={concurrency}", "-Q", queue, "--loglevel=INFO"]
    app.worker_main([*argv, *(["--beat"] if beat else [])])
