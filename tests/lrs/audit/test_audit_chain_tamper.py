"""Tamper tests (issue 5, "What it must show"): edit a stored statement's JSON in the database,
delete a row, delete or reorder entries, forge a checkpoint — `hocvu audit verify` detects each,
exits 1 and names the first entry that fails (tenant, position, statement id, reason)."""

# Fixtures come from test_audit_chain (imported by name, which pytest needs), hence F811 below.
# ruff: noqa: F811

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import insert, select

from identity.signing import SigningMaterial
from lrs.audit import chain as audit_chain
from lrs.storage import AuditCheckpoint, AuditEntry, Statement
from tests.conftest import statement
from tests.lrs.audit.test_audit_chain import (  # noqa: F401
    CHECKPOINT_EVERY,
    assert_fails,
    chain_app,
    cli,
    db_of,
    entries,
    forger_keys,
    hub_keys,
    new_tenant,
    post,
    sql,
    verify,
)


def _chain(app: Flask, n: int = 7) -> tuple[str, int, list[str]]:
    """A tenant with ``n`` statements stored one by one (so a checkpoint lands at CHECKPOINT_EVERY)."""
    slug, tid, x = new_tenant(app)
    ids = [post(x, statement(result={"score": {"scaled": i / 10}}))[0] for i in range(n)]
    return slug, tid, ids


def _edit_json(app: Flask, tid: int, sid: str) -> None:
    if db_of(app).dialect == "postgresql":
        sql(app, """UPDATE statements SET "full" = jsonb_set("full", '{result,score,scaled}', '1')
                    WHERE tenant_id = :t AND statement_id = :s""", t=tid, s=sid)
    else:
        sql(app, """UPDATE statements SET "full" = json_set("full", '$.result.score.scaled', 1)
                    WHERE tenant_id = :t AND statement_id = :s""", t=tid, s=sid)


def test_intact_chain_verifies(chain_app: Flask, hub_keys: Any) -> None:
    slug, _tid, _ids = _chain(chain_app)
    code, report = verify(chain_app, slug, hub_keys[2])
    assert code == 0 and report["entries"] == 7 and report["checkpoints"] == 1


def test_edited_statement_json_is_detected(chain_app: Flask, hub_keys: Any) -> None:
    """A score raised with SQL: the row's canonical hash no longer matches its entry."""
    slug, tid, ids = _chain(chain_app)
    _edit_json(chain_app, tid, ids[2])
    assert_fails(chain_app, slug, hub_keys[2], position=3, statement_id=ids[2], reason="content altered")


def test_edited_statement_with_the_whole_chain_rewritten_is_caught_by_the_checkpoint(
        chain_app: Flask, hub_keys: Any) -> None:
    """The intruder also recomputes the content hash and every entry hash after it (and the head):
    the chain is self-consistent again, but the signed checkpoint holds the old hash."""
    slug, tid, ids = _chain(chain_app)
    _edit_json(chain_app, tid, ids[2])
    with db_of(chain_app).session() as s:
        full = s.scalar(select(Statement.full).where(Statement.tenant_id == tid, Statement.statement_id == ids[2]))
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.tenant_id == tid).order_by(AuditEntry.position)))
        prev = audit_chain.GENESIS
        for e in rows:
            if e.statement_id == ids[2]:
                e.content_hash = audit_chain.content_hash(full)  # type: ignore[arg-type]
            e.prev_hash = prev
            e.entry_hash = prev = audit_chain.entry_hash(prev, tid, e.position, e.kind, e.statement_id, e.content_hash,
                                                         e.detail, e.recorded)
        s.commit()
    sql(chain_app, "UPDATE audit_heads SET entry_hash = :h WHERE tenant_id = :t", h=prev, t=tid)
    assert_fails(chain_app, slug, hub_keys[2], position=CHECKPOINT_EVERY, statement_id=ids[CHECKPOINT_EVERY - 1],
                 reason=f"checkpoint at position {CHECKPOINT_EVERY} records hash")


def test_deleted_statement_row_is_detected(chain_app: Flask, hub_keys: Any) -> None:
    slug, tid, ids = _chain(chain_app)
    for table in ("statement_agents", "statement_activities"):
        sql(chain_app, f"DELETE FROM {table} WHERE seq IN (SELECT seq FROM statements WHERE statement_id = :s)",
            s=ids[4])
    sql(chain_app, "DELETE FROM statements WHERE tenant_id = :t AND statement_id = :s", t=tid, s=ids[4])
    assert_fails(chain_app, slug, hub_keys[2], position=5, statement_id=ids[4], reason="row deleted")


def test_statement_inserted_outside_the_store_is_detected(chain_app: Flask, hub_keys: Any) -> None:
    """A row with no chain entry (written straight into the table) is named by its statement id."""
    slug, tid, ids = _chain(chain_app, 3)
    with db_of(chain_app).session() as s:
        row = s.scalar(select(Statement).where(Statement.tenant_id == tid, Statement.statement_id == ids[0]))
        assert row is not None
        forged_id = "00000000-0000-4000-8000-00000000f0f0"
        values = {c.key: getattr(row, c.key) for c in Statement.__table__.columns if c.key != "seq"}
        s.execute(insert(Statement.__table__), [{**values, "statement_id": forged_id,
                                                  "full": {**row.full, "id": forged_id}}])
        s.commit()
    assert_fails(chain_app, slug, hub_keys[2], position=None, statement_id=forged_id, reason="has no chain entry")


def test_deleted_entry_is_detected(chain_app: Flask, hub_keys: Any) -> None:
    slug, tid, ids = _chain(chain_app)
    sql(chain_app, "DELETE FROM audit_entries WHERE tenant_id = :t AND position = 3", t=tid)
    assert_fails(chain_app, slug, hub_keys[2], position=4, statement_id=ids[3], reason="expected position 3")


def test_deleted_last_entry_is_detected(chain_app: Flask, hub_keys: Any) -> None:
    slug, tid, _ids = _chain(chain_app)
    sql(chain_app, "DELETE FROM audit_entries WHERE tenant_id = :t AND position = 7", t=tid)
    assert_fails(chain_app, slug, hub_keys[2], position=6, statement_id=None, reason="the chain head says position 7")


def test_reordered_entries_are_detected(chain_app: Flask, hub_keys: Any) -> None:
    """Two entries swap positions (each keeps its own hashes)."""
    slug, tid, ids = _chain(chain_app)
    for a, b in ((2, -1), (3, 2), (-1, 3)):
        sql(chain_app, "UPDATE audit_entries SET position = :b WHERE tenant_id = :t AND position = :a", a=a, b=b, t=tid)
    assert_fails(chain_app, slug, hub_keys[2], position=2, statement_id=ids[2], reason="prev_hash")


def test_swapped_entry_hashes_are_detected(chain_app: Flask, hub_keys: Any) -> None:
    slug, tid, ids = _chain(chain_app)
    rows = {e.position: e for e in entries(chain_app, tid)}
    for pos, other in ((2, 3), (3, 2)):
        sql(chain_app, "UPDATE audit_entries SET entry_hash = :h WHERE tenant_id = :t AND position = :p",
            h=rows[other].entry_hash, t=tid, p=pos)
    assert_fails(chain_app, slug, hub_keys[2], position=2, statement_id=ids[1], reason="entry was altered")


def test_checkpoint_signed_with_another_key_is_detected(chain_app: Flask, hub_keys: Any,
                                                        forger_keys: SigningMaterial) -> None:
    """RFC 7515 §5.2: the signature must verify with the hub's certificate; a checkpoint re-signed
    by another key (even with the right payload, and its own certificate in x5c) is a forgery."""
    assert forger_keys.cert_pem != hub_keys[0].cert_pem
    slug, tid, ids = _chain(chain_app)
    with db_of(chain_app).session() as s:
        cp = s.get(AuditCheckpoint, (tid, CHECKPOINT_EVERY))
        assert cp is not None
        cp.jws = audit_chain.JwsSigner(forger_keys.key, forger_keys.cert).sign(
            audit_chain.checkpoint_payload(tid, slug, cp.position, cp.entry_hash, cp.created))
        s.commit()
    assert_fails(chain_app, slug, hub_keys[2], position=CHECKPOINT_EVERY, statement_id=ids[CHECKPOINT_EVERY - 1],
                 reason="signature does not verify")


def test_checkpoint_with_a_changed_hash_is_detected(chain_app: Flask, hub_keys: Any) -> None:
    slug, tid, ids = _chain(chain_app)
    sql(chain_app, "UPDATE audit_checkpoints SET entry_hash = :h WHERE tenant_id = :t", h="ab" * 32, t=tid)
    assert_fails(chain_app, slug, hub_keys[2], position=CHECKPOINT_EVERY, statement_id=ids[CHECKPOINT_EVERY - 1],
                 reason="records hash abababab")


def test_checkpoint_moved_to_another_position_is_detected(chain_app: Flask, hub_keys: Any) -> None:
    """The signed payload names its position: moving the row (and its hash) does not carry it."""
    slug, tid, ids = _chain(chain_app)
    rows = {e.position: e for e in entries(chain_app, tid)}
    sql(chain_app, "UPDATE audit_checkpoints SET position = 6, entry_hash = :h WHERE tenant_id = :t",
        h=rows[6].entry_hash, t=tid)
    assert_fails(chain_app, slug, hub_keys[2], position=6, statement_id=ids[5],
                 reason="disagrees on entry_hash, position")


def test_verify_reports_every_tenant_and_exits_1(chain_app: Flask, hub_keys: Any) -> None:
    """Without --tenant every tenant is checked; the text report names the failing one."""
    slug, tid, ids = _chain(chain_app, 2)
    _edit_json(chain_app, tid, ids[1])
    code, out = cli(chain_app, "audit", "verify", "--cert", str(hub_keys[2]))
    assert code == 1
    assert f"tenant {slug}: FAILED at position 2, statement {ids[1]}:" in out and "audit chain BROKEN" in out
