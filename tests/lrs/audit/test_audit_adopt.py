"""`hocvu audit adopt`: statements stored before the audit chain existed (migration 0006) get one
'adopted' entry each — the hash of the statement as it is now, a distinct kind because it proves
nothing about the time before — then a signed checkpoint. Such a store is made here the way it
really arises: statements written with the chain switched off (the bench-only setting,
HOCVU_BENCH_NO_AUDIT_CHAIN), through real HTTP, on SQLite and PostgreSQL; tampering is plain SQL."""

# Fixtures come from test_audit_chain (imported by name, which pytest needs), hence F811 below.
# ruff: noqa: F811

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

import pytest
import rfc8785
from flask import Flask
from sqlalchemy import select

from hocvu.app import create_app
from hocvu.settings import Settings
from lrs.audit import adoption as audit_adoption
from lrs.storage import AuditCheckpoint, Database, Statement
from tests.conftest import Xapi, run_instance, statement
from tests.lrs.audit.test_audit_chain import (  # noqa: F401
    VOIDED,
    assert_fails,
    chain_app,
    cli,
    db_of,
    entries,
    hub_keys,
    new_tenant,
    post,
    sql,
    verify,
)

_unchained: dict[str, Flask] = {}


@pytest.fixture
def unchained_app(chain_app: Flask) -> Flask:
    """The same database with the chain switched off (AuditPolicy.append=False): what a store
    written before migration 0006 looks like to the chain — statements with no entries."""
    url = db_of(chain_app).url
    if url not in _unchained:
        _unchained[url] = create_app(Settings.of(database_url=url, secret_key="test-secret", bench_no_audit_chain=True,
                                                 instance_dir=run_instance()),
                                     db=Database(url))
    return _unchained[url]


def _old_store(chain_app: Flask, unchained_app: Flask) -> tuple[str, int, Xapi, list[str]]:
    """A tenant whose statements (a batch, a single, a voiding) were all stored with no chain."""
    slug, tid, x = new_tenant(chain_app)
    off = Xapi(unchained_app.test_client(), x.key, x.secret, "2.0.0")
    ids = post(off, [statement(result={"score": {"raw": i}}) for i in range(3)]) + post(off, statement())
    ids += post(off, statement(verb=VOIDED, object={"objectType": "StatementRef", "id": ids[1]}))
    assert entries(chain_app, tid) == []
    return slug, tid, x, ids


def _adopt(app: Flask, *args: str) -> dict[str, Any]:
    code, out = cli(app, "audit", "adopt", "--json", *args)
    assert code == 0, out
    return dict(json.loads(out))


def test_adopt_makes_a_pre_chain_store_verify(chain_app: Flask, unchained_app: Flask, hub_keys: Any) -> None:
    """Verify fails on statements with no entry and says how to fix it; adopt appends one
    'adopted' entry per statement in seq order, holding SHA-256(JCS(statement as stored now)),
    the voided flag recorded with its voiding statement (xAPI 1.0.3 Part Two §2.3.2), then a
    checkpoint signed by the hub; verify passes and counts the adopted entries."""
    slug, tid, x, ids = _old_store(chain_app, unchained_app)
    failure = assert_fails(chain_app, slug, hub_keys[2], position=None, statement_id=ids[0],
                           reason="has no chain entry")
    assert "hocvu audit adopt" in failure["reason"]

    assert _adopt(chain_app, "--tenant", slug, "--dry-run") == {
        "dry_run": True, "tenants": [{"tenant": slug, "adopted": 5, "checkpoint": None}]}
    assert entries(chain_app, tid) == []  # a dry run writes nothing
    assert _adopt(chain_app, "--tenant", slug) == {
        "dry_run": False, "tenants": [{"tenant": slug, "adopted": 5, "checkpoint": 5}]}

    rows = entries(chain_app, tid)
    with db_of(chain_app).session() as s:
        full = dict(s.execute(select(Statement.statement_id, Statement.full).where(Statement.tenant_id == tid)).all())
        seqs = dict(s.execute(select(Statement.statement_id, Statement.seq).where(Statement.tenant_id == tid)).all())
        cps = list(s.scalars(select(AuditCheckpoint.position).where(AuditCheckpoint.tenant_id == tid)))
    assert [(e.position, e.kind, e.statement_id) for e in rows] == [(i + 1, "adopted", sid) for i, sid in enumerate(
        sorted(ids, key=seqs.__getitem__))]
    for e in rows:
        assert e.content_hash == hashlib.sha256(rfc8785.dumps(full[e.statement_id])).hexdigest()
        assert e.detail == ({"voided_by": ids[4]} if e.statement_id == ids[1] else None)
    assert cps == [5]
    code, report = verify(chain_app, slug, hub_keys[2])
    assert code == 0, report
    assert (report["entries"], report["adopted"], report["checkpoints"], report["uncovered"]) == (5, 5, 1, 0)

    # The chain carries on from there: new statements get 'stored' entries as usual.
    [fresh] = post(x, statement())
    assert [(e.kind, e.statement_id) for e in entries(chain_app, tid)][-1] == ("stored", fresh)
    code, report = verify(chain_app, slug, hub_keys[2])
    assert code == 0 and (report["entries"], report["adopted"]) == (6, 5)
    code, out = cli(chain_app, "audit", "verify", "--tenant", slug, "--cert", str(hub_keys[2]))
    assert code == 0 and "6 entries, 5 adopted" in out, out


def test_a_second_adopt_adds_nothing(chain_app: Flask, unchained_app: Flask, hub_keys: Any) -> None:
    slug, tid, _x, _ids = _old_store(chain_app, unchained_app)
    _adopt(chain_app, "--tenant", slug)
    before = [(e.position, e.entry_hash) for e in entries(chain_app, tid)]
    assert _adopt(chain_app, "--tenant", slug) == {
        "dry_run": False, "tenants": [{"tenant": slug, "adopted": 0, "checkpoint": None}]}
    assert [(e.position, e.entry_hash) for e in entries(chain_app, tid)] == before
    with db_of(chain_app).session() as s:
        assert len(list(s.scalars(select(AuditCheckpoint.position).where(AuditCheckpoint.tenant_id == tid)))) == 1
    assert verify(chain_app, slug, hub_keys[2])[0] == 0


def test_adopt_on_a_chain_with_gaps(chain_app: Flask, unchained_app: Flask, hub_keys: Any) -> None:
    """A chained store with statements written while the chain was off, one of which voids a
    chained statement: the unchained ones are adopted, and so is the voided state of the chained
    one (no 'voided' entry recorded it), each kept apart by its kind."""
    slug, tid, x = new_tenant(chain_app)
    off = Xapi(unchained_app.test_client(), x.key, x.secret, "2.0.0")
    a, b = post(x, [statement(), statement()])
    [c] = post(off, statement())
    [v] = post(off, statement(verb=VOIDED, object={"objectType": "StatementRef", "id": a}))
    assert_fails(chain_app, slug, hub_keys[2], position=1, statement_id=a, reason="marked voided")
    assert _adopt(chain_app, "--tenant", slug)["tenants"][0]["adopted"] == 3
    assert [(e.kind, e.statement_id, e.detail) for e in entries(chain_app, tid)] == [
        ("stored", a, None), ("stored", b, None), ("adopted", c, None), ("adopted", v, None),
        ("adopted", a, {"voided_by": v})]
    code, report = verify(chain_app, slug, hub_keys[2])
    assert code == 0 and report["adopted"] == 3
    assert _adopt(chain_app, "--tenant", slug)["tenants"][0]["adopted"] == 0


def test_adopt_in_chunks_keeps_seq_order(chain_app: Flask, unchained_app: Flask, hub_keys: Any) -> None:
    """Adoption runs a chunk per transaction (ingest waits on the head only briefly); the chunks
    together still follow seq order and each statement is adopted once."""
    slug, tid, _x, ids = _old_store(chain_app, unchained_app)
    with db_of(chain_app).session() as s:
        steps = []
        while not steps or steps[-1] == 2:
            steps.append(audit_adoption.adopt(s, tid, limit=2).statements)
            s.commit()
        order = list(s.scalars(select(Statement.statement_id).where(Statement.tenant_id == tid)
                               .order_by(Statement.seq)))
    assert steps == [2, 2, 1] and sorted(order) == sorted(ids)
    assert [e.statement_id for e in entries(chain_app, tid)] == order
    assert _adopt(chain_app, "--tenant", slug)["tenants"][0]["adopted"] == 0
    assert verify(chain_app, slug, hub_keys[2])[0] == 0  # no checkpoint needed for the chain to hold


def test_concurrent_adopters_adopt_each_statement_once(chain_app: Flask, unchained_app: Flask,
                                                       hub_keys: Any) -> None:
    """Two operators (or a retried cron job) adopting at once: the head lock taken before looking
    makes the second wait and then find nothing left."""
    slug, tid, _x, ids = _old_store(chain_app, unchained_app)
    barrier = threading.Barrier(2)
    adopted: list[Any] = []

    def run() -> None:
        with db_of(chain_app).session() as s:
            barrier.wait()
            try:
                adopted.append(audit_adoption.adopt(s, tid).statements)
                s.commit()
            except BaseException as exc:  # reported below: an assert in a thread would vanish
                adopted.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(adopted) == [0, len(ids)]
    assert sorted(e.statement_id for e in entries(chain_app, tid)) == sorted(ids)
    assert verify(chain_app, slug, hub_keys[2])[0] == 0


def _edit_score(app: Flask, tid: int, sid: str) -> None:
    if db_of(app).dialect == "postgresql":
        sql(app, """UPDATE statements SET "full" = jsonb_set("full", '{result,score,raw}', '99')
                    WHERE tenant_id = :t AND statement_id = :s""", t=tid, s=sid)
    else:
        sql(app, """UPDATE statements SET "full" = json_set("full", '$.result.score.raw', 99)
                    WHERE tenant_id = :t AND statement_id = :s""", t=tid, s=sid)


def test_tampering_after_adoption_is_detected(chain_app: Flask, unchained_app: Flask, hub_keys: Any) -> None:
    """From its adoption on, an adopted statement is guarded like a stored one: an edited score,
    an un-voiding, a deleted row are each named by verify; and an 'adopted' entry cannot be passed
    off as 'stored' (the kind is inside the entry hash)."""
    slug, tid, _x, ids = _old_store(chain_app, unchained_app)
    _adopt(chain_app, "--tenant", slug)
    pos = {e.statement_id: e.position for e in entries(chain_app, tid)}

    _edit_score(chain_app, tid, ids[2])
    assert_fails(chain_app, slug, hub_keys[2], position=pos[ids[2]], statement_id=ids[2], reason="content altered")
    sql(chain_app, "UPDATE audit_entries SET kind = 'stored' WHERE tenant_id = :t AND position = :p",
        t=tid, p=pos[ids[0]])
    assert_fails(chain_app, slug, hub_keys[2], position=pos[ids[0]], statement_id=ids[0], reason="entry was altered")


def test_unvoiding_or_deleting_an_adopted_statement_is_detected(chain_app: Flask, unchained_app: Flask,
                                                                hub_keys: Any) -> None:
    slug, tid, _x, ids = _old_store(chain_app, unchained_app)
    _adopt(chain_app, "--tenant", slug)
    pos = {e.statement_id: e.position for e in entries(chain_app, tid)}
    sql(chain_app, "UPDATE statements SET voided = false WHERE tenant_id = :t AND statement_id = :s", t=tid, s=ids[1])
    assert_fails(chain_app, slug, hub_keys[2], position=pos[ids[1]], statement_id=ids[1], reason="not marked voided")
    sql(chain_app, "UPDATE statements SET voided = true WHERE tenant_id = :t AND statement_id = :s", t=tid, s=ids[1])
    assert verify(chain_app, slug, hub_keys[2])[0] == 0
    for table in ("statement_agents", "statement_activities"):
        sql(chain_app, f"DELETE FROM {table} WHERE seq IN (SELECT seq FROM statements WHERE statement_id = :s)",
            s=ids[3])
    sql(chain_app, "DELETE FROM statements WHERE statement_id = :s", s=ids[3])
    assert_fails(chain_app, slug, hub_keys[2], position=pos[ids[3]], statement_id=ids[3], reason="no 'erased' entry")


def test_adopt_unknown_tenant_is_a_clear_error(chain_app: Flask) -> None:
    code, out = cli(chain_app, "audit", "adopt", "--tenant", "no-such-tenant")
    assert code != 0 and "no-such-tenant" in out
