"""Deadlocks between concurrent statement writers on PostgreSQL (DESIGN.md: no request crashes
into a 500; nothing partial is written on a rejected request).

Two batches carrying the same statement ids (or defining the same Activities) in opposite orders
used to take their row and unique-key locks in request order, so each could wait for the other.
``lrs.statements`` now takes every lock in one canonical order, and as a safety net
``lrs.statement_retry`` re-runs a deadlock victim's whole store in a fresh transaction, answering
503 + Retry-After only when the retries run out. Real threads, real HTTP (Flask test client),
real PostgreSQL; the forced deadlocks below are made by a second real connection that takes locks
in the wrong order."""

# Fixtures come from test_audit_chain (imported by name, which pytest needs), hence F811 below.
# ruff: noqa: F811

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.exc import OperationalError

from lrs import statement_retry
from lrs.audit.verify import verify_all
from lrs.storage import Activity, AuditEntry, AuditHead, Statement
from tests.conftest import Xapi, new_credential, statement
from tests.lrs.audit.test_audit_chain import VOIDED, chain_app, db_of, hub_keys, new_tenant, post  # noqa: F401

ROUNDS = 8
BATCH = 60


def _postgresql_only(app: Flask) -> None:
    if db_of(app).dialect != "postgresql":
        pytest.skip("SQLite has one write lock per database: writers queue behind it and never wait "
                    "on each other's row locks, so there is no deadlock to provoke")


def _together(work: list[Any]) -> list[Any]:
    """Run each callable in its own thread, released at the same instant; their results."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def go(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work[i]()
        except BaseException as exc:  # reported by the caller: an assert in a thread would vanish
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _chain_ok(app: Flask, slug: str, cert_pem: bytes) -> None:
    with db_of(app).session() as s:
        [report] = verify_all(s, [cert_pem], slug)
    assert report.ok, report.as_dict()


def test_opposite_order_batches_with_the_same_ids_both_succeed(chain_app: Flask, hub_keys: Any,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """Two LMS retrying the same batch at once, one in reverse: both answer 200 (Part Three
    §2.1.2: a re-sent statement is stored once), every statement is stored exactly once with one
    'stored' entry, and the chain verifies. Before ids were locked in sorted order, about one round
    in five deadlocked and one of the two got a 500."""
    _postgresql_only(chain_app)
    caplog.set_level(logging.WARNING, logger="lrs.statement_retry")
    slug, key, secret = new_credential(chain_app, ["all"])
    codes: list[Any] = []
    all_ids: list[str] = []
    for _ in range(ROUNDS):
        batch = [statement(id=str(uuid.uuid4()), result={"score": {"raw": i}}) for i in range(BATCH)]
        all_ids += [s["id"] for s in batch]

        def send(body: list[dict[str, Any]]) -> Any:
            x = Xapi(chain_app.test_client(), key, secret, "2.0.0")
            return lambda: x.post("statements", json_body=body)

        results = _together([send(batch), send(batch[::-1])])
        codes += [r if isinstance(r, BaseException) else (r.status_code, r.get_json()) for r in results]
    assert [c for c in codes if isinstance(c, BaseException) or c[0] != 200] == [], (
        f"{sum(1 for c in codes if isinstance(c, BaseException) or c[0] != 200)} of {len(codes)} requests failed")
    with db_of(chain_app).session() as s:
        rows = s.scalar(select(func.count()).select_from(Statement).where(Statement.statement_id.in_(all_ids)))
        entries = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.statement_id.in_(all_ids), AuditEntry.kind == "stored"))
    assert rows == entries == len(all_ids) == ROUNDS * BATCH
    _chain_ok(chain_app, slug, hub_keys[0].cert_pem)
    # The canonical lock order prevented every deadlock: the retry safety net was never needed.
    assert [r.getMessage() for r in caplog.records if r.name == "lrs.statement_retry"] == []


def test_opposite_order_batches_defining_the_same_activities_both_succeed(chain_app: Flask, hub_keys: Any) -> None:
    """Distinct statements whose objects define the same new Activities, in opposite orders:
    both 200, and each Activity keeps what both said (Part Three §2.5)."""
    _postgresql_only(chain_app)
    slug, key, secret = new_credential(chain_app, ["all"])
    failed: list[Any] = []
    for _ in range(ROUNDS):
        acts = [f"https://hocvu.vn/courses/race/{uuid.uuid4()}" for _ in range(BATCH)]

        def send(lang: str, order: list[str]) -> Any:
            x = Xapi(chain_app.test_client(), key, secret, "2.0.0")
            body = [statement(object={"id": a, "definition": {"name": {lang: a[-6:]}}}) for a in order]
            return lambda: x.post("statements", json_body=body)

        results = _together([send("vi", acts), send("en-US", acts[::-1])])
        failed += [r if isinstance(r, BaseException) else r.get_json() for r in results
                   if isinstance(r, BaseException) or r.status_code != 200]
        with db_of(chain_app).session() as s:
            names = [d["name"] for d in s.scalars(select(Activity.definition).where(Activity.activity_id.in_(acts)))]
        assert len(names) == BATCH and all(set(n) == {"vi", "en-US"} for n in names)
    assert failed == []
    _chain_ok(chain_app, slug, hub_keys[0].cert_pem)


def test_opposite_order_batches_voiding_the_same_statements_both_succeed(chain_app: Flask, hub_keys: Any) -> None:
    """Two batches voiding the same statements in opposite orders: both 200; each target is voided
    once, with one 'voided' entry (Part Two §2.3.2), and the chain verifies."""
    _postgresql_only(chain_app)
    slug, tid, x = new_tenant(chain_app)
    failed: list[Any] = []
    targets: list[str] = []
    for _ in range(ROUNDS):
        round_targets = post(x, [statement() for _ in range(BATCH // 2)])
        targets += round_targets

        def send(order: list[str]) -> Any:
            c = Xapi(chain_app.test_client(), x.key, x.secret, "2.0.0")
            body = [statement(verb=VOIDED, object={"objectType": "StatementRef", "id": t}) for t in order]
            return lambda: c.post("statements", json_body=body)

        results = _together([send(round_targets), send(round_targets[::-1])])
        failed += [r if isinstance(r, BaseException) else r.get_json() for r in results
                   if isinstance(r, BaseException) or r.status_code != 200]
    assert failed == []
    with db_of(chain_app).session() as s:
        voided = list(s.scalars(select(AuditEntry.statement_id).where(
            AuditEntry.tenant_id == tid, AuditEntry.kind == "voided")))
    assert sorted(voided) == sorted(targets)
    _chain_ok(chain_app, slug, hub_keys[0].cert_pem)


# --- the safety net: a real deadlock the lock order cannot prevent ----------------------------------


def _wait_until_blocked_by(app: Flask, pid: int) -> None:
    """Until some backend waits for a lock that backend ``pid`` holds (a fresh transaction per
    look: pg_stat_activity is a snapshot within one). By the blocker, not by the waiting query's
    text: the one statement of a small request (lrs.pg_one_trip) is longer than the text
    pg_stat_activity keeps."""
    deadline = time.monotonic() + 15
    with db_of(app).engine.connect().execution_options(isolation_level="AUTOCOMMIT") as look:
        while time.monotonic() < deadline:
            if look.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
                           {"pid": pid}):
                return
            time.sleep(0.02)
    raise AssertionError(f"no backend came to wait on backend {pid}")


def _insert_copy(conn: Connection, tenant_id: int, template_id: str, new_id: str) -> None:
    """A statement row under ``new_id``, copied from ``template_id``, written with plain SQL. On
    PostgreSQL the id is claimed in statement_ids first, as the store does (lrs.partitions): that
    claim is where a second writer of the same id waits."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("INSERT INTO statement_ids (tenant_id, statement_id, seq) VALUES (:t, :s, 0)"),
                     {"t": tenant_id, "s": new_id})
    cols = [c for c in Statement.__table__.columns if c.name != "seq"]
    source = select(*[text(":new_id").bindparams(new_id=new_id) if c.name == "statement_id" else c for c in cols]) \
        .where(Statement.tenant_id == tenant_id, Statement.statement_id == template_id)
    conn.execute(insert(Statement.__table__).from_select([c.name for c in cols], source))


class _Intruder:
    """A second connection that takes the tenant's audit head first and then a statement id the
    request is inserting: the reverse of the store's lock order, hence a real deadlock. It waits
    a minute before looking for deadlocks, so PostgreSQL always ends the store's transaction."""

    def __init__(self, app: Flask, tenant_id: int, template_id: str) -> None:
        self.app, self.tenant_id, self.template_id = app, tenant_id, template_id

    def __enter__(self) -> _Intruder:
        self.conn = db_of(self.app).engine.connect()
        self.tx = self.conn.begin()
        self.conn.exec_driver_sql("SET LOCAL deadlock_timeout = '60s'")  # reverts when the transaction ends
        self.conn.execute(select(AuditHead.position).where(AuditHead.tenant_id == self.tenant_id).with_for_update())
        self.pid = int(self.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        return self

    def deadlock(self, statement_id: str) -> None:
        """Once the store waits for the head: insert its statement id (waiting for the store, which
        waits for us), then undo that insert; PostgreSQL has ended the store's transaction by then."""
        # The store's append locks the head in the function of migration 0170 (lrs.audit.pg_append),
        # called by the one statement of lrs.pg_one_trip or by the usual path's chain statement.
        _wait_until_blocked_by(self.app, self.pid)
        savepoint = self.conn.begin_nested()
        _insert_copy(self.conn, self.tenant_id, self.template_id, statement_id)
        savepoint.rollback()

    def __exit__(self, *_exc: Any) -> None:
        self.tx.rollback()
        self.conn.close()


def _post_in_background(x: Xapi, body: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.update(res=x.post("statements", json_body=body)))
    thread.start()
    return thread, out


def test_a_deadlock_victim_is_stored_by_a_fresh_attempt(chain_app: Flask, hub_keys: Any,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL ends the store's transaction as a deadlock victim (40P01): the request's whole
    store runs again in a new transaction and answers 200, with one copy of each statement, one
    'stored' entry each (none left by the failed attempt) and a chain that verifies."""
    _postgresql_only(chain_app)
    caplog.set_level(logging.WARNING, logger="lrs.statement_retry")
    slug, tid, x = new_tenant(chain_app)
    [template] = post(x, statement())  # also makes the tenant's audit head
    sid = str(uuid.uuid4())
    batch = [statement(id=sid), statement()]  # the second has no id: the LRS draws one, once for all attempts
    with _Intruder(chain_app, tid, template) as intruder:
        thread, out = _post_in_background(x, batch)
        intruder.deadlock(sid)
    thread.join(30)
    res = out["res"]
    assert res.status_code == 200, res.get_json()
    ids = res.get_json()
    assert ids[0] == sid
    with db_of(chain_app).session() as s:
        rows = list(s.scalars(select(Statement.statement_id).where(Statement.tenant_id == tid)))
        stored = list(s.scalars(select(AuditEntry.statement_id).where(AuditEntry.tenant_id == tid)
                                .order_by(AuditEntry.position)))
    assert sorted(rows) == sorted([template, *ids]) and stored == [template, *ids]
    retries = [r.getMessage() for r in caplog.records if r.name == "lrs.statement_retry"]
    assert len(retries) == 1 and "40P01" in retries[0] and "attempt 1 of 3" in retries[0]
    _chain_ok(chain_app, slug, hub_keys[0].cert_pem)


def test_a_store_that_keeps_losing_answers_503_and_writes_nothing(chain_app: Flask, hub_keys: Any) -> None:
    """Every attempt a deadlock victim: 503 with Retry-After (RFC 9110 §15.6.4, §10.2.3) in the
    one JSON error shape, never a 500; nothing of the batch is stored and the chain is unchanged."""
    _postgresql_only(chain_app)
    slug, tid, x = new_tenant(chain_app)
    [template] = post(x, statement())
    sid = str(uuid.uuid4())
    with _Intruder(chain_app, tid, template) as intruder:
        thread, out = _post_in_background(x, [statement(id=sid), statement()])
        for _ in range(statement_retry.STORE_ATTEMPTS):
            intruder.deadlock(sid)
        thread.join(30)
    res = out["res"]
    assert res.status_code == 503
    assert res.headers["Retry-After"] == "1" and res.headers["X-Experience-API-Version"] == "2.0.0"
    body = res.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == "service_unavailable" and body["error"]["message"]
    with db_of(chain_app).session() as s:
        assert list(s.scalars(select(Statement.statement_id).where(Statement.tenant_id == tid))) == [template]
        assert s.scalar(select(AuditHead.position).where(AuditHead.tenant_id == tid)) == 1
    assert x.get("statements", statementId=sid).status_code == 404
    _chain_ok(chain_app, slug, hub_keys[0].cert_pem)
    # The client sends the same request again and it is stored (nothing half-written was in the way).
    assert post(x, [statement(id=sid)]) == [sid]


def test_only_deadlocks_and_serialisation_failures_are_retried(chain_app: Flask) -> None:
    """40001 (a real REPEATABLE READ write conflict) counts as transient like 40P01; a unique
    violation (23505) or an error of ours does not, and keeps its own answer."""
    _postgresql_only(chain_app)
    from lrs.errors import Conflict
    from lrs.storage import Tenant

    _slug, tid, x = new_tenant(chain_app)
    [template] = post(x, statement())
    engine = db_of(chain_app).engine
    with engine.connect() as a, engine.connect() as b:
        a = a.execution_options(isolation_level="REPEATABLE READ")
        tx = a.begin()
        a.execute(select(Tenant.name).where(Tenant.id == tid))  # a's snapshot starts here
        with b.begin():
            b.execute(Tenant.__table__.update().where(Tenant.id == tid).values(name=Tenant.name))
        with pytest.raises(OperationalError) as conflict:
            a.execute(Tenant.__table__.update().where(Tenant.id == tid).values(name=Tenant.name))
        tx.rollback()
        with b.begin(), pytest.raises(Exception) as duplicate:
            _insert_copy(b, tid, template, template)
    assert conflict.value.orig.sqlstate == "40001" and statement_retry.is_transient(conflict.value)  # type: ignore[union-attr]
    assert duplicate.value.orig.sqlstate == "23505" and not statement_retry.is_transient(duplicate.value)  # type: ignore[attr-defined]
    assert not statement_retry.is_transient(Conflict("statement already exists"))
