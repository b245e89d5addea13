"""Issue 17 item 1: pooled PostgreSQL connections are checked at checkout without a round trip
(lrs.pool_liveness, in place of pool_pre_ping), and a connection whose backend was killed is
recovered: at checkout, and, when it dies after its checkout, by running the store again before
its commit (lrs.statement_retry). Real PostgreSQL, the real app."""

from __future__ import annotations

import tempfile
import uuid
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import event, select, text

from lrs import pool_liveness
from lrs.storage import Database, Statement
from tests.conftest import PG_ADMIN_URL, Xapi, new_credential, statement

pytestmark = pytest.mark.postgres


def _terminate(pid: int) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        # The timeout form waits until the backend is gone, so its FATAL message has been sent.
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone() == (True,)


def _backend_pids(db: Database) -> list[int]:
    """The pids of the pool's idle connections (each checked out once, in turn)."""
    pids, held = [], []
    for _ in range(db.engine.pool.checkedin()):
        conn = db.engine.connect()
        held.append(conn)
        pids.append(int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one()))
    for conn in held:
        conn.rollback()
        conn.close()
    return pids


def test_a_healthy_checkout_sends_nothing_to_the_server(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        assert not db.engine.pool._pre_ping
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            raw: Any = conn.connection.dbapi_connection
        with tempfile.TemporaryFile("w+") as trace:
            raw.pgconn.trace(trace.fileno())
            for _ in range(3):
                with db.engine.connect() as conn:
                    assert conn.connection.dbapi_connection is raw  # the same pooled connection
            raw.pgconn.untrace()
            trace.seek(0)
            assert trace.read() == ""  # not one protocol message: no ping
    finally:
        db.dispose()


def test_a_terminated_connection_is_seen_without_a_query(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        assert not pool_liveness.has_unread(conn)
        _terminate(conn.info.backend_pid)
        assert pool_liveness.has_unread(conn)


def test_requests_after_their_backends_were_killed_succeed(postgresql_app: Flask) -> None:
    """Every idle pooled connection's backend terminated (as a restart or an operator would): the
    next POST and GET check out, find the connection dead, and run on a fresh one."""
    _, key, secret = new_credential(postgresql_app, ["all"])
    x = Xapi(postgresql_app.test_client(), key, secret)
    assert x.post("statements", json_body=statement()).status_code == 200
    db: Database = postgresql_app.extensions["hocvu.db"]
    killed = _backend_pids(db)
    assert killed
    for pid in killed:
        _terminate(pid)
    sid = str(uuid.uuid4())
    assert x.post("statements", json_body=statement(id=sid)).status_code == 200
    res = x.get("statements", statementId=sid)
    assert res.status_code == 200 and res.get_json()["id"] == sid
    assert not set(_backend_pids(db)) & set(killed)


def test_a_connection_lost_before_the_commit_runs_the_store_again(postgresql_app: Flask) -> None:
    """The backend dies after the checkout, before the store's first statement: the store is run
    again on a new connection, and the statement is stored once."""
    _, key, secret = new_credential(postgresql_app, ["all"])
    x = Xapi(postgresql_app.test_client(), key, secret)
    assert x.post("statements", json_body=statement()).status_code == 200
    db: Database = postgresql_app.extensions["hocvu.db"]
    killed: list[int] = []

    def kill_once(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if not killed:  # after lrs.pool_liveness's check, which found the connection alive
            killed.append(dbapi_conn.info.backend_pid)
            _terminate(killed[0])

    event.listen(db.engine, "checkout", kill_once)
    try:
        sid = str(uuid.uuid4())
        res = x.post("statements", json_body=statement(id=sid))
    finally:
        event.remove(db.engine, "checkout", kill_once)
    assert killed and res.status_code == 200, res.get_json()
    with db.session() as s:
        assert len(s.scalars(select(Statement.seq).where(Statement.statement_id == sid)).all()) == 1
    assert x.get("statements", statementId=sid).status_code == 200


def test_a_new_database_object_has_no_pre_ping_but_may_ask_for_it(pg_url: str) -> None:
    explicit = Database(pg_url, pool_pre_ping=True)
    try:
        assert explicit.engine.pool._pre_ping
    finally:
        explicit.dispose()


def test_the_pool_recycles_connections(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        assert db.engine.pool._recycle == pool_liveness.RECYCLE_SECONDS
    finally:
        db.dispose()

