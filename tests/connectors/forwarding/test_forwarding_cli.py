"""``hocvu forward add|list|status|retry|replay|remove|run`` on the SQLite app's database."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import func, select

from connectors.forwarding import targets as fw
from connectors.forwarding.delivery import TargetKey, deliver_target
from connectors.storage import ForwardTarget
from hocvu.cli import main
from lrs import credentials
from lrs.storage import Database, Statement
from tests.conftest import Xapi, new_credential
from tests.connectors.forwarding.forwarding_support import (
    LrsServer,
    fast_config,
    free_port,
    holdings,
    stmt,
)


@pytest.fixture
def cli(sqlite_only_app: Flask) -> Iterator[Any]:
    db: Database = sqlite_only_app.extensions["hocvu.db"]
    # The CLI reads the same database and, with the same app secret, the same sealing key.
    env = {"HOCVU_DATABASE_URL": db.url, "HOCVU_SECRET_KEY": "test-secret"}
    runner = CliRunner()

    def run(*args: str, ok: bool = True, secret: str | None = None) -> Result:
        extra = {"HOCVU_FORWARD_SECRET": secret} if secret is not None else {}
        result = runner.invoke(main, ["forward", *args], env={**env, **extra}, catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result

    yield run
    with db.session() as session:
        for target in session.scalars(select(ForwardTarget)):
            session.delete(target)
        session.commit()


def test_forward_commands_from_add_to_remove(cli: Any, sqlite_only_app: Flask, target_lrs: LrsServer) -> None:
    db: Database = sqlite_only_app.extensions["hocvu.db"]
    slug, key, secret = new_credential(sqlite_only_app, ["all"])
    xapi = Xapi(sqlite_only_app.test_client(), key, secret)
    target_tenant, target_key, target_secret = target_lrs.tenant()

    added = cli("add", "--tenant", slug, "national", "--endpoint", target_lrs.endpoint, "--key", target_key,
                "--batch-size", "5", "--json", secret=target_secret)
    assert json.loads(added.output)["name"] == "national"
    down_port = free_port()
    cli("add", "--tenant", slug, "broken", "--endpoint", f"http://127.0.0.1:{down_port}/xapi", "--key", "k",
        "--xapi-version", "2.0.0", secret="s3cr3t-value")
    listed = cli("list", "--tenant", slug).output
    assert "national" in listed and f"127.0.0.1:{down_port}/xapi/" in listed and "xAPI 2.0.0" in listed
    for output in (added.output, listed, cli("list", "--json").output):
        assert target_secret not in output and "s3cr3t-value" not in output

    ids = [xapi.post("statements", json_body=[stmt(n) for n in range(7)]).get_json()]
    assert len(ids[0]) == 7
    # A 2.0.0 statement the 1.0.3 target refuses: dead-lettered quickly with the fast schedule.
    bad = stmt(9, context={"contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "mailto:g@x.vn"}}]})
    xapi2 = Xapi(sqlite_only_app.test_client(), key, secret, "2.0.0")
    assert xapi2.post("statements", json_body=bad).status_code == 200
    with db.session() as session:
        national = fw.get_target(session, credentials.get_tenant(session, slug), "national")
    for _ in range(3):
        deliver_target(db, fast_config(max_attempts=3, backoff_base=0.0, backoff_cap=0.0),
                       TargetKey(national.tenant_id, national.id))

    run = json.loads(cli("run", "--json").output)  # the broken target: one failed round
    assert run["targets"] >= 1 and any("cannot reach" in e for e in run["errors"].values())

    status = {r["name"]: r for r in json.loads(cli("status", "--tenant", slug, "--json").output)}
    assert status["national"]["backlog"] == 0 and status["national"]["dead_letters"] == 1
    assert status["national"]["delivered"] == 7 and status["national"]["cursor"] > 0
    broken = status["broken"]
    assert broken["backlog"] == 8 and broken["failures"] == 1 and broken["cursor"] == 0
    assert "cannot reach the target" in broken["last_error"] and broken["next_attempt"]
    text = cli("status", "--tenant", slug, "--dead").output
    assert "backlog 0" in text and "dead letters 1" in text and "cannot reach the target" in text
    assert "dead: seq" in text and bad["id"] in text and "contextAgents" in text

    assert "re-queued 1 dead letter(s)" in cli("retry", "--tenant", slug, "national").output
    status = {r["name"]: r for r in json.loads(cli("status", "--tenant", slug, "--json").output)}
    assert status["national"]["dead_letters"] == 0 and status["national"]["backlog"] == 1

    since = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
    replayed = cli("replay", "--tenant", slug, "national", "--since", since).output
    with db.session() as session:  # back to just before the tenant's first statement
        first = session.scalar(select(func.min(Statement.seq)).where(Statement.tenant_id == national.tenant_id))
    assert f"cursor now {first - 1};" in replayed
    assert json.loads(cli("status", "--tenant", slug, "--json").output)[1]["backlog"] == 9  # 8 again + the item
    cli("replay", "--tenant", slug, "national", "--since", "yesterday", ok=False)
    assert len(holdings(target_lrs.db, target_tenant)) == 7

    missing = cli("retry", "--tenant", slug, "nope", ok=False)
    assert "has no forwarding target 'nope'" in missing.output
    assert "not in the endpoint URL" in cli("add", "--tenant", slug, "x", "--endpoint", "http://u:p@h/xapi/",
                                            "--key", "k", secret="s", ok=False).output
    cli("remove", "--tenant", slug, "broken")
    cli("remove", "--tenant", slug, "national")
    assert cli("status", "--tenant", slug).output.strip() == "no forwarding targets"


def test_worker_needs_a_broker(cli: Any) -> None:
    assert "HOCVU_BROKER_URL" in cli("worker", ok=False).output


def test_add_unknown_tenant_is_a_clear_error(cli: Any) -> None:
    result = cli("add", "--tenant", f"t-{uuid.uuid4().hex[:8]}", "x", "--endpoint", "https://h/xapi/", "--key", "k",
                 secret="s", ok=False)
    assert "no tenant" in result.output
