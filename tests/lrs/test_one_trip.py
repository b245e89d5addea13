"""Issue 17 item 1: a small request stored, chained and committed by one statement on PostgreSQL
(lrs.pg_one_trip, migration 0190). The statement is its own transaction, so whatever the hub would
decide between the write and the commit, the database refuses it first, keeps nothing, and the
request is stored the usual way with the same answer. Each case below is one such decision: an id
stored before (re-sent or conflicting, Part Three §2.1.1/§2.1.2), an Activity definition that is
new or changes (Part Three §2.5), an audit checkpoint due (lrs.audit.chain), and a connection lost
under the statement, which is the commit and so is not run again."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import func, select, text

from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import pg_one_trip
from lrs.activity_definitions import merge_definition
from lrs.audit import verify as audit_verify
from lrs.audit.chain import policy_of
from lrs.pg_ingest import json_text
from lrs.pg_one_trip import _DEFINITIONS_KEPT
from lrs.storage import AuditCheckpoint, AuditEntry, Database, Statement
from tests.conftest import Xapi, new_credential, statement

pytestmark = pytest.mark.postgres


def _client(app: Flask) -> Xapi:
    _, key, secret = new_credential(app, ["all"])
    return Xapi(app.test_client(), key, secret, "2.0.0")


def _tenant_of(app: Flask, ids: list[str]) -> tuple[int, int, int]:
    """(tenant id, its statements, its 'stored' chain entries) for the tenant that stored ``ids``."""
    db: Database = app.extensions["hocvu.db"]
    with db.session() as s:
        tid = s.scalar(select(Statement.tenant_id).where(Statement.statement_id == ids[0]))
        assert tid is not None
        rows = s.scalar(select(func.count()).select_from(Statement).where(Statement.tenant_id == tid))
        entries = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.tenant_id == tid, AuditEntry.kind == "stored"))
        return tid, int(rows or 0), int(entries or 0)


def test_a_resent_statement_is_stored_once_xapi_part3_s2_1_2(postgresql_app: Flask) -> None:
    x = _client(postgresql_app)
    body = statement(id=str(uuid.uuid4()))
    for _ in range(3):
        res = x.post("statements", json_body=body)
        assert res.status_code == 200 and res.get_json() == [body["id"]]
    assert _tenant_of(postgresql_app, [body["id"]])[1:] == (1, 1)


def test_a_conflicting_id_stores_nothing_xapi_part3_s2_1_1(postgresql_app: Flask) -> None:
    x = _client(postgresql_app)
    first = statement(id=str(uuid.uuid4()))
    assert x.post("statements", json_body=first).status_code == 200
    other = {**first, "verb": {"id": "http://adlnet.gov/expapi/verbs/failed", "display": {"en-US": "failed"}}}
    assert x.post("statements", json_body=other).status_code == 409
    # A small batch, one of whose ids is taken by a different statement: none of it is kept.
    fresh = [statement(id=str(uuid.uuid4())) for _ in range(3)]
    assert x.post("statements", json_body=[*fresh, other]).status_code == 409
    for s in fresh:
        assert x.get("statements", statementId=s["id"]).status_code == 404
    assert _tenant_of(postgresql_app, [first["id"]])[1:] == (1, 1)
    stored = x.get("statements", statementId=first["id"]).get_json()
    assert stored["verb"]["id"] == first["verb"]["id"]


def test_a_batch_with_one_resent_stores_the_rest_in_order_xapi_part3_s2_1_2(postgresql_app: Flask) -> None:
    x = _client(postgresql_app)
    old = statement(id=str(uuid.uuid4()))
    assert x.post("statements", json_body=old).status_code == 200
    batch = [statement(id=str(uuid.uuid4())), old, statement(id=str(uuid.uuid4()))]
    res = x.post("statements", json_body=batch)
    assert res.status_code == 200 and res.get_json() == [s["id"] for s in batch]
    assert _tenant_of(postgresql_app, [old["id"]])[1:] == (3, 3)
    got = x.get("statements", limit=3).get_json()["statements"]
    assert [s["id"] for s in got] == [batch[2]["id"], batch[0]["id"], old["id"]]  # stored order, newest first


def test_definitions_new_same_and_changed_xapi_part3_s2_5(postgresql_app: Flask) -> None:
    x = _client(postgresql_app)
    activity = f"https://hocvu.vn/courses/one-trip/{uuid.uuid4()}"
    lesson = "http://adlnet.gov/expapi/activities/lesson"
    sends = [
        ({"type": lesson, "name": {"vi": "Bài 1"}}, {"type": lesson, "name": {"vi": "Bài 1"}}),  # new
        ({"name": {"vi": "Bài 1"}}, {"type": lesson, "name": {"vi": "Bài 1"}}),  # contained: unchanged
        ({"name": {"en": "Lesson 1"}}, {"type": lesson, "name": {"vi": "Bài 1", "en": "Lesson 1"}}),  # gains
        ({"name": {"vi": "Bài một"}}, {"type": lesson, "name": {"vi": "Bài một", "en": "Lesson 1"}}),  # changes
        ({"type": "http://adlnet.gov/expapi/activities/module"},
         {"type": "http://adlnet.gov/expapi/activities/module", "name": {"vi": "Bài một", "en": "Lesson 1"}}),
        ({"extensions": {"https://hocvu.vn/x/level": [1, 2]}},
         {"type": "http://adlnet.gov/expapi/activities/module", "name": {"vi": "Bài một", "en": "Lesson 1"},
          "extensions": {"https://hocvu.vn/x/level": [1, 2]}}),
        ({"extensions": {"https://hocvu.vn/x/level": [1]}},  # a value replaced, though contained in the old
         {"type": "http://adlnet.gov/expapi/activities/module", "name": {"vi": "Bài một", "en": "Lesson 1"},
          "extensions": {"https://hocvu.vn/x/level": [1]}}),
    ]
    for sent, expected in sends:
        res = x.post("statements", json_body=statement(object={"id": activity, "definition": sent}))
        assert res.status_code == 200, res.get_json()
        assert x.definition(activity) == expected, sent


# (stored, sent): every case where the database's "kept" could disagree with the hub's merge.
DEFINITION_CASES: list[tuple[dict[str, Any] | None, dict[str, Any]]] = [
    (None, {"name": {"vi": "a"}}),
    ({"name": {"vi": "a"}}, {"name": {"vi": "a"}}),
    ({"name": {"vi": "a", "en": "b"}}, {"name": {"en": "b"}}),
    ({"name": {"vi": "a"}}, {"name": {"en": "b"}}),
    ({"name": {"vi": "a"}}, {"name": {"vi": "á"}}),
    ({"name": {"vi": "a"}}, {"name": "a"}),
    ({"name": "a"}, {"name": {"vi": "a"}}),
    ({"type": "t"}, {"type": "t"}),
    ({"type": "t"}, {"type": "u"}),
    ({"type": "t"}, {"moreInfo": "https://hocvu.vn"}),
    ({"type": "t"}, {"moreInfo": None}),
    ({"type": "t", "moreInfo": None}, {"moreInfo": None}),
    ({"extensions": {"e": 1.0}}, {"extensions": {"e": 1}}),
    ({"extensions": {"e": [1, 2]}}, {"extensions": {"e": [1]}}),
    ({"extensions": {"e": {"a": 1, "b": 2}}}, {"extensions": {"e": {"a": 1}}}),
    ({"extensions": {"e": None}}, {"extensions": {"e": None}}),
    ({"extensions": {}}, {"extensions": {"e": None}}),
    ({"choices": [{"id": "a"}, {"id": "b"}]}, {"choices": [{"id": "a"}]}),
    ({"choices": [{"id": "a"}]}, {"choices": [{"id": "a"}]}),
    ({"name": {"vi": "a"}, "type": "t"}, {}),
]


@pytest.mark.parametrize(("stored", "sent"), DEFINITION_CASES)
def test_the_database_keeps_a_definition_when_the_merge_would_xapi_part3_s2_5(
        postgresql_app: Flask, stored: dict[str, Any] | None, sent: dict[str, Any]) -> None:
    """The one statement's test ("the stored definition is what merging this one into it gives")
    agrees with lrs.activity_definitions.merge_definition, the usual path's rule."""
    db: Database = postgresql_app.extensions["hocvu.db"]
    activity = f"https://hocvu.vn/a/{uuid.uuid4()}"
    with db.engine.begin() as conn:
        tenant = conn.execute(text("SELECT min(id) FROM tenants")).scalar_one()
        if stored is not None:
            conn.execute(text("INSERT INTO activities (tenant_id, activity_id, definition) "
                              "VALUES (:t, :a, CAST(:d AS json))"),
                         {"t": tenant, "a": activity, "d": json_text(stored)})
    raw = psycopg.connect(db.url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        row = raw.execute("SELECT " + _DEFINITIONS_KEPT,
                          {"definitions": json_text({activity: sent}), "tenant": tenant}).fetchone()
    finally:
        raw.close()
    assert row is not None
    assert row[0] is (stored is not None and merge_definition(stored, sent) == stored), (stored, sent)


def test_checkpoints_due_are_signed_in_the_same_transaction(tmp_path: Path, postgresql_app: Flask) -> None:
    """A checkpoint every 3 entries: the one statement refuses when one is due at its new head,
    and the usual path signs it with the entries; verify holds the chain to the cadence."""
    url = postgresql_app.extensions["hocvu.db"].url
    db = Database(url)
    app = create_app(Settings.of(database_url=url, secret_key="test-secret", instance_dir=tmp_path,
                                 checkpoint_every=3, audit_verify_grace_entries=0), db=db)
    try:
        x = _client(app)
        ids = []
        for _ in range(10):
            res = x.post("statements", json_body=statement())
            assert res.status_code == 200
            ids.extend(res.get_json())
        tid = _tenant_of(app, ids)[0]
        with db.session() as s:
            positions = s.scalars(select(AuditCheckpoint.position).where(AuditCheckpoint.tenant_id == tid)
                                  .order_by(AuditCheckpoint.position)).all()
            assert list(positions) == [3, 6, 9]
            signer = policy_of(s).signer
            assert signer is not None
            report = audit_verify.verify_tenant(s, tid, [signer.certificate_pem])
            assert report.ok, report
    finally:
        db.dispose()


def test_a_connection_lost_under_the_one_statement_runs_it_again(postgresql_app: Flask) -> None:
    """The statement is the commit, yet lost under it the store runs again: every id was fixed
    before the first attempt (the LRS's own too), so a second run stores what the first did not.
    The statement is held on the tenant's chain head (locked by another transaction) and its
    backend ended meanwhile (SQLSTATE 57P01)."""
    db: Database = postgresql_app.extensions["hocvu.db"]
    x = _client(postgresql_app)
    first = statement(id=str(uuid.uuid4()))
    assert x.post("statements", json_body=first).status_code == 200
    tid = _tenant_of(postgresql_app, [first["id"]])[0]
    url = db.url.replace("postgresql+psycopg://", "postgresql://")
    held = psycopg.connect(url)
    held.execute("SELECT 1 FROM audit_heads WHERE tenant_id = %s FOR UPDATE", (tid,))
    answer: dict[str, Any] = {}
    poster = threading.Thread(target=lambda: answer.update(res=x.post("statements", json_body=statement())))
    poster.start()
    try:
        with psycopg.connect(url, autocommit=True) as admin:
            pid = None
            for _ in range(200):
                found = admin.execute("SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                                      (held.info.backend_pid,)).fetchone()
                if found:
                    pid = found[0]
                    break
                time.sleep(0.05)
            assert pid is not None, "the one statement never waited on the head"
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            time.sleep(0.3)
    finally:
        held.rollback()
        held.close()
    poster.join(30)
    res = answer["res"]
    assert res.status_code == 200, res.get_json()
    assert _tenant_of(postgresql_app, [first["id"]])[1:] == (2, 2)
    assert x.get("statements", statementId=res.get_json()[0]).status_code == 200


def test_a_reply_lost_after_the_one_statement_committed_is_answered_as_a_resend_xapi_part3_s2_1_2(
        postgresql_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worst case of a lost connection: the statement committed and its answer never came
    back (simulated: the real statement runs, then the socket's failure is raised). The store runs
    again with the same ids, finds them kept, and answers as for a re-send: each statement once,
    one chain entry each, and the ids the LRS assigned are the ones answered."""
    real = pg_one_trip.store
    calls: list[int] = []

    def committed_then_lost(*args: Any, **kwargs: Any) -> bool:
        calls.append(1)
        kept = real(*args, **kwargs)
        if len(calls) == 1:
            assert kept
            raise psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")
        return kept

    x = _client(postgresql_app)
    # Its credential known to the process (a look-up would begin the session's transaction first).
    assert x.post("statements", json_body=statement()).status_code == 200
    monkeypatch.setattr(pg_one_trip, "store", committed_then_lost)
    given = statement(id=str(uuid.uuid4()))
    res = x.post("statements", json_body=[given, statement()])  # the second's id is the LRS's
    assert res.status_code == 200, res.get_json()
    ids = res.get_json()
    assert ids[0] == given["id"] and len(calls) == 2
    assert _tenant_of(postgresql_app, ids)[1:] == (3, 3)
    for sid in ids:
        assert x.get("statements", statementId=sid).status_code == 200
