"""Erasure revokes the learner's credentials in the same transaction (``lrs.audit.erasure``'s hook, both
from the app's sessions and from ``hocvu audit erase``), and ``hocvu credentials``: keys, revoke,
sweep, verify.

Clauses: Bitstring Status List v1.0 §2.1 (a set bit is revoked for good); DESIGN.md (erasure keeps
the audit chain provable, nothing of the learner kept beyond it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from credentials.issuing import find
from hocvu.cli import main
from lrs.audit import erasure
from tests.credentials.support import completed, learner


def test_erasure_revokes_and_forgets(app: Flask) -> None:
    who, credential = completed(app, name="Phạm Minh Châu")
    slug, public_id = credential["id"].rsplit("/", 2)[1:]
    with app.extensions["hocvu.db"].session() as s:
        done = erasure.erase_agent(s, who.launch.tenant_id, who.holder.actor, actor="test", reason="privacy request")
        s.commit()
        assert done.statement_ids
    with app.extensions["hocvu.db"].session() as s:
        row = find(s, slug, public_id)[1]
        assert row.revoked is not None and row.revoked_reason == "erased"
        assert (row.document, row.agent_key, row.subject_id, row.display_name, row.evidence) == (None, None, None,
                                                                                                None, [])
    res = who.client.post("/credentials/api/verify", json=credential)
    assert res.get_json()["outcome"] == "revoked"  # the copy the learner or an employer kept
    page = who.client.get(f"/credentials/{slug}/{public_id}").get_data(as_text=True)
    assert 'data-outcome="revoked"' in page and "Phạm Minh Châu" not in page
    assert who.client.get(f"/credentials/{slug}/{public_id}.json").status_code == 404
    assert who.mine() == []  # nothing links the learner to it any more


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """An app on a file database the CLI reaches through HOCVU_DATABASE_URL."""
    from hocvu import db as dbops
    from hocvu.app import create_app
    from hocvu.settings import Settings
    from lrs.storage import Database

    url = f"sqlite:///{tmp_path / 'hocvu.db'}"
    monkeypatch.setenv("HOCVU_DATABASE_URL", url)
    monkeypatch.setenv("HOCVU_SECRET_KEY", "test-secret")
    monkeypatch.setenv("HOCVU_INSTANCE_DIR", str(tmp_path / "instance"))
    database = Database(url)
    dbops.upgrade(database)
    return create_app(Settings.of(database_url=url, secret_key="test-secret", instance_dir=tmp_path / "instance"),
                      db=database)


def run(*args: str) -> Any:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return res


def test_cli_keys_revoke_verify_and_audit_erase(cli_env: Flask, tmp_path: Path) -> None:
    _, credential = completed(cli_env)
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(credential, ensure_ascii=False), encoding="utf-8")
    ok = run("credentials", "verify", str(path), "--json")
    assert ok.exit_code == 0 and json.loads(ok.output)["outcome"] == "valid"

    rotated = run("credentials", "rotate-key", "--json")
    assert rotated.exit_code == 0
    keys = json.loads(run("credentials", "keys", "--json").output)
    assert [k["kid"] for k in keys][-1] == json.loads(rotated.output)["kid"] and len(keys) == 2
    assert run("credentials", "verify", str(path)).exit_code == 0  # the old key is still published

    slug, public_id = credential["id"].rsplit("/", 2)[1:]
    revoked = run("credentials", "revoke", f"{slug}/{public_id}", "--reason", "fraud", "--json")
    assert revoked.exit_code == 0 and json.loads(revoked.output) == {"revoked": [public_id], "reason": "fraud"}
    bad = run("credentials", "verify", str(path))
    assert bad.exit_code == 1 and bad.output.startswith("revoked:")

    other, theirs = completed(cli_env, course="ky-nang-so-vneid")
    agent = json.dumps(other.holder.actor)
    erased = run("audit", "erase", "--tenant", theirs["id"].rsplit("/", 2)[1], "--agent", agent, "--yes")
    assert erased.exit_code == 0, erased.output
    again = tmp_path / "theirs.json"
    again.write_text(json.dumps(theirs), encoding="utf-8")
    assert run("credentials", "verify", str(again)).output.startswith("revoked:")
    swept = run("credentials", "sweep", "--json")
    assert swept.exit_code == 0 and json.loads(swept.output)["checked"] >= 0


def test_cli_revoke_by_statement_and_issue_by_hand(cli_env: Flask) -> None:
    who = learner(cli_env)
    who.pass_quiz()
    slug = json.loads(run("tenant", "list", "--json").output)[0]["slug"]
    issued = run("credentials", "issue", "--tenant", slug, "--home-page", who.launch.learner.home_page,
                 "--account", who.launch.learner.account, "--course", "an-toan-khong-gian-mang", "--json")
    assert issued.exit_code == 0, issued.output
    data = json.loads(issued.output)
    [item] = who.mine()
    # The player's hook issued it when the quiz was passed; by hand the CLI finds that same one.
    assert data["new"] is False and data["id"] == item["id"]
    statement = json.loads(cli_env.test_client().get(item["links"]["json"]).get_data())["evidence"][0]["id"]
    res = run("credentials", "revoke", "--tenant", slug, "--statement", statement.removeprefix("urn:uuid:"),
              "--reason", "voided", "--json")
    assert json.loads(res.output)["revoked"] == [item["public_id"]]
    assert run("credentials", "revoke", "--reason", "fraud").exit_code != 0  # says what to give
