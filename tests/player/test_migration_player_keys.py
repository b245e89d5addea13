"""Migration 0212: the player's tables are keyed by tenant first, rows and all (issue 17 item 5b;
Citus: distributed tables' unique and foreign keys include the distribution column).

A store as it was at 0085 (two tenants, each with an ended attempt and its assurance, an open
attempt, a pending gate, a synced op and a SCORM attempt) is migrated: its keys lead with tenant_id
(PostgreSQL: primary keys too, and the assurance's foreign key to its attempt is the tenant's), its
rows are as they were, and the product code goes on writing new rows with new ids. On PostgreSQL an
assurance of one tenant cannot name another tenant's attempt."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from flask import Flask
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from identity.gate import domain as gate
from identity.storage import AttemptAssurance
from lrs import credentials
from lrs.storage import Database
from player.packages.scorm_storage import ScormAttempt
from player.storage import QuizAttempt, SyncedOp
from tests.conftest import run_instance
from tests.player.player_support import CSRF, answers, form, open_player
from tests.test_tenant_keys import KEYS

TABLES = ("player_quiz_attempts", "player_assurances", "player_synced_ops", "player_scorm_attempts")
QUIZ = "course/an-toan-khong-gian-mang/module/phong-tranh-va-xu-ly/quiz/kiem-tra"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _insert(conn: Connection, table: str, **row: Any) -> int:
    conn.execute(text(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(':' + c for c in row)})"), row)
    return int(conn.execute(text(f"SELECT max(id) FROM {table}")).scalar_one())


def _seed_tenant(conn: Connection, slug: str) -> None:
    """One tenant's rows as revision 0085 has them (raw SQL: the models are today's)."""
    tenant = _insert(conn, "tenants", slug=slug, name=slug, created=NOW)
    attempt = {"tenant_id": tenant, "issuer": "https://lms.example.vn", "sub": "hv-1", "resource_link_id": "rl",
               "quiz_target": QUIZ, "session_started": NOW, "started": NOW, "answers": "{}", "score_max": 8}
    ended = _insert(conn, "player_quiz_attempts", **attempt, registration=f"{slug}-r1", number=1, open_key=None,
                    status="submitted", session_id=str(uuid.uuid4()), ended=NOW, score_raw=6, passed=True)
    _insert(conn, "player_quiz_attempts", **attempt, registration=f"{slug}-r2", number=1,
            open_key=f"{tenant}:{slug}-r2", status="open", session_id=str(uuid.uuid4()))
    assurance = {"tenant_id": tenant, "target": QUIZ, "account_id": 1, "subject": "s", "level": 2,
                 "signed_in_at": NOW, "min_level": 2, "checks": 1, "created": NOW}
    _insert(conn, "player_assurances", **assurance, registration=f"{slug}-r1", session_id=str(uuid.uuid4()),
            pending_key=None, attempt_id=ended)
    _insert(conn, "player_assurances", **assurance, registration=f"{slug}-r3", session_id=str(uuid.uuid4()),
            pending_key=gate.GateKey(tenant, f"{slug}-r3", QUIZ).pending_key, attempt_id=None)
    _insert(conn, "player_synced_ops", tenant_id=tenant, op_id=str(uuid.uuid4()), learner_key="k", device="d",
            seq=1, kind="progress", target=QUIZ, digest="0" * 64, statement_ids="[]", synced=NOW)
    _insert(conn, "player_scorm_attempts", tenant_id=tenant, registration=f"{slug}-r4", course_id="c", sco="s",
            number=1, cmi="{}", suspended=False, sessions=0, total_seconds=0.0, started=NOW, updated=NOW)


def _rows(database: Database) -> dict[str, list[Any]]:
    with database.engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))] for t in TABLES}


def _keys(database: Database) -> dict[str, list[str]]:
    """Each player table's primary, unique and foreign keys as 'name: columns -> target'."""
    if database.dialect == "postgresql":
        with database.engine.connect() as conn:
            return {t: sorted(f"{k.conname}: {','.join(k.cols)} -> {k.target if k.contype == 'f' else ''}"
                              for k in conn.execute(KEYS) if k.tbl == t) for t in TABLES}
    insp = inspect(database.engine)
    return {t: sorted([f"pk: {','.join(insp.get_pk_constraint(t)['constrained_columns'])} -> "]
                      + [f"{u['name']}: {','.join(u['column_names'])} -> " for u in insp.get_unique_constraints(t)]
                      + [f"fk: {','.join(f['constrained_columns'])} -> {f['referred_table']}"
                         for f in insp.get_foreign_keys(t)]) for t in TABLES}


EXPECTED = {
    "postgresql": {
        "player_quiz_attempts": ["player_quiz_attempts_pkey: tenant_id,id -> ",
                                 "player_quiz_attempts_tenant_id_fkey: tenant_id -> tenants",
                                 "uq_player_quiz_attempts_open_key: tenant_id,open_key -> "],
        "player_assurances": ["fk_player_assurances_attempt: tenant_id,attempt_id -> player_quiz_attempts",
                              "player_assurances_pkey: tenant_id,id -> ",
                              "player_assurances_tenant_id_fkey: tenant_id -> tenants",
                              "uq_player_assurances_attempt_id: tenant_id,attempt_id -> ",
                              "uq_player_assurances_pending_key: tenant_id,pending_key -> ",
                              "uq_player_assurances_session_id: tenant_id,session_id -> "],
        "player_synced_ops": ["player_synced_ops_pkey: tenant_id,id -> ",
                              "player_synced_ops_tenant_id_fkey: tenant_id -> tenants",
                              "uq_player_synced_ops_op: tenant_id,op_id -> "],
        "player_scorm_attempts": ["player_scorm_attempts_pkey: tenant_id,id -> ",
                                  "player_scorm_attempts_tenant_id_fkey: tenant_id -> tenants",
                                  "uq_player_scorm_attempts_number: tenant_id,registration,course_id,sco,number -> "]},
    # SQLite: INTEGER PRIMARY KEY alone (its autoincrement), the single-column foreign key to the attempt.
    "sqlite": {
        "player_quiz_attempts": ["fk: tenant_id -> tenants", "pk: id -> ",
                                 "uq_player_quiz_attempts_open_key: tenant_id,open_key -> "],
        "player_assurances": ["fk: attempt_id -> player_quiz_attempts", "fk: tenant_id -> tenants", "pk: id -> ",
                              "uq_player_assurances_attempt_id: tenant_id,attempt_id -> ",
                              "uq_player_assurances_pending_key: tenant_id,pending_key -> ",
                              "uq_player_assurances_session_id: tenant_id,session_id -> "],
        "player_synced_ops": ["fk: tenant_id -> tenants", "pk: id -> ", "uq_player_synced_ops_op: tenant_id,op_id -> "],
        "player_scorm_attempts": ["fk: tenant_id -> tenants", "pk: id -> ",
                                  "uq_player_scorm_attempts_number: tenant_id,registration,course_id,sco,number -> "]},
}


def test_player_keys_lead_with_tenant_id_after_0212_and_rows_are_kept(fresh_url: str) -> None:
    database = Database(fresh_url)
    dbops.upgrade(database, "0085")
    with database.engine.begin() as conn:
        _seed_tenant(conn, "bo-a")
        _seed_tenant(conn, "bo-b")
    before, old_keys = _rows(database), _keys(database)
    dbops.upgrade(database, "0212")
    assert _keys(database) == EXPECTED[database.dialect]
    assert _rows(database) == before
    _downgrade(database, "0085")  # gives the old keys back
    assert (_keys(database), _rows(database)) == (old_keys, before)
    dbops.upgrade(database, "0212")
    if database.dialect == "sqlite":
        with database.engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # the rebuild turned them back on
    dbops.upgrade(database)
    app = create_app(Settings.of(instance_dir=run_instance(), database_url=fresh_url, secret_key="t"), db=database)
    _product_code_writes(app, database, {t: max(r[0] for r in rows) for t, rows in before.items()})
    database.dispose()


def _downgrade(database: Database, revision: str) -> None:
    cfg = dbops.alembic_config(database)
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _product_code_writes(app: Flask, database: Database, last_ids: dict[str, int]) -> None:
    """Tenant bo-a's learner takes a quiz through the player, a gate is opened and attached through
    identity.gate, a synced op and a SCORM attempt are added through their models: each gets a new id."""
    _, client, _ = open_player(app, "course/an-toan-khong-gian-mang", issuer="https://lms.example.vn",
                                    tenant_slug="bo-a")
    assert client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF}).status_code == 303
    assert client.post(f"/player/submit/{QUIZ}", data=form(answers(QUIZ))).status_code == 303
    with database.session() as s:
        tenant = credentials.get_tenant(s, "bo-a").id
        attempt = s.scalars(select(QuizAttempt).where(QuizAttempt.tenant_id == tenant)
                            .order_by(QuizAttempt.id.desc())).first()
        assert attempt is not None and attempt.id > last_ids["player_quiz_attempts"]
        assert (attempt.status, attempt.passed, attempt.open_key) == ("submitted", True, None)
        seeded = gate.pending_gate(s, gate.GateKey(tenant, "bo-a-r3", QUIZ))  # found by (tenant_id, pending_key)
        assert seeded is not None and seeded.attempt_id is None
        learner = gate.Learner(1, "s", 2, NOW, None, True)
        row = gate.start_gate(s, gate.GateKey(tenant, "bo-a-r9", QUIZ), learner, 2, NOW)
        gate.consume(s, row, NOW, attempt_id=attempt.id)
        s.add(SyncedOp(tenant_id=tenant, op_id=str(uuid.uuid4()), learner_key="k", device="d", seq=2, kind="progress",
                       target=QUIZ, digest="1" * 64, statement_ids=[], synced=NOW))
        s.add(ScormAttempt(tenant_id=tenant, registration="bo-a-r4", course_id="c", sco="s", number=2, cmi={},
                           started=NOW, updated=NOW))
        s.commit()
        assert row.id > last_ids["player_assurances"]
        for model, table in ((SyncedOp, "player_synced_ops"), (ScormAttempt, "player_scorm_attempts")):
            assert s.scalar(select(func.max(model.id))) > last_ids[table]


@pytest.mark.postgres
def test_an_assurance_cannot_name_another_tenants_attempt(postgresql_app: Flask) -> None:
    """The composite foreign key (tenant_id, attempt_id) -> player_quiz_attempts (tenant_id, id) of
    migration 0212 refuses it (SQLite keeps the single-column key, so this is PostgreSQL's)."""
    database: Database = postgresql_app.extensions["hocvu.db"]
    with database.session() as s:
        a = credentials.create_tenant(s, f"a-{uuid.uuid4().hex[:8]}", "A")
        b = credentials.create_tenant(s, f"b-{uuid.uuid4().hex[:8]}", "B")
        attempt = QuizAttempt(tenant_id=a.id, registration="r", issuer="i", sub="s", resource_link_id="l",
                              quiz_target=QUIZ, number=1, open_key=None, status="submitted",
                              session_id=str(uuid.uuid4()), session_started=NOW, started=NOW, answers={},
                              score_max=8)
        s.add(attempt)
        s.commit()
        attempt_id, a_id, b_id = attempt.id, a.id, b.id

    def assurance(tenant_id: int) -> AttemptAssurance:
        return AttemptAssurance(tenant_id=tenant_id, registration="r", target=QUIZ, session_id=str(uuid.uuid4()),
                                pending_key=None, attempt_id=attempt_id, account_id=1, subject="s", level=2,
                                signed_in_at=NOW, min_level=2, checks=0, created=NOW)

    with database.session() as s:
        s.add(assurance(b_id))
        with pytest.raises(IntegrityError, match="fk_player_assurances_attempt"):
            s.commit()
    with database.session() as s:
        s.add(assurance(a_id))  # the attempt's own tenant
        s.commit()
