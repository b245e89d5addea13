"""Migration 0213: the connectors' keys lead with tenant_id (issue 17 item 5b; Citus: distributed
tables' unique and foreign keys include the distribution column). On a store of two tenants made at
the schema before it, every row stays, forward_items takes its target's tenant, the new keys hold, the
product goes on inserting (ids drawn from the same sequences), and the downgrade gives the old keys back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import column, func, insert, inspect, select, table, text, update
from sqlalchemy.exc import IntegrityError

from connectors.forwarding import targets as fw
from connectors.forwarding.horizon import advance_horizon
from connectors.storage import ForwardGap, ForwardHorizon, ForwardItem, ForwardTarget, LearnerRecord
from hocvu import db as dbops
from lrs import credentials
from lrs.statements import prepare
from lrs.storage import Database, Statement, Tenant
from tests.conftest import new_credential, statement
from tests.connectors.forwarding.forwarding_support import fast_config

REVISION, BEFORE = "0213", "0200"
TABLES = ("learner_records", "forward_targets", "forward_items")
ORDER = {"learner_records": "id", "forward_targets": "id", "forward_items": "target_id, seq"}
ITEM_COLUMNS = ("target_id", "seq", "state", "attempts", "reason", "next_attempt", "updated")


def _before_revision(database: Database) -> None:
    """Every migration but 0213 (and what may follow it): the schema of the release before it."""
    script = ScriptDirectory.from_config(dbops.alembic_config(database))
    for head in sorted(script.get_heads()):
        if REVISION not in {r.revision for r in script.walk_revisions("base", head)}:
            dbops.upgrade(database, head)
    dbops.upgrade(database, BEFORE)


def _keys(database: Database) -> dict[str, Any]:
    """The three tables' primary keys and foreign keys, as the database reports them."""
    with database.engine.connect() as conn:
        found = inspect(conn)
        return {t: (found.get_pk_constraint(t)["constrained_columns"],
                    sorted((fk["constrained_columns"], fk["referred_table"], fk["referred_columns"],
                            fk["options"].get("ondelete")) for fk in found.get_foreign_keys(t))) for t in TABLES}


def _rows(database: Database) -> dict[str, list[dict[str, Any]]]:
    with database.engine.connect() as conn:
        return {t: [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY {ORDER[t]}"))]
                for t in TABLES}


def _statement(database: Database, ids: dict[str, Any], seq: int | None = None) -> int:
    """A statement of the tenant's, inserted as ingest's row (at ``seq`` if given); returns its seq."""
    with database.session() as s:
        row = prepare(statement(), credentials.authenticate(s, ids["key"], ids["secret"]), "1.0.3",
                      datetime.now(UTC)).row
        stored = s.execute(insert(Statement.__table__).values(**row, **({} if seq is None else {"seq": seq}))
                           .returning(Statement.seq)).scalar_one()
        s.commit()
        return int(stored)


def _tenant(database: Database, slug: str) -> dict[str, Any]:
    """A tenant (at the schema before 0213) with two statements, a target holding a queued and a
    dead item for them, and a learner record; returns the ids."""
    with database.session() as s:
        tenant = credentials.create_tenant(s, slug, slug)
        cred, secret = credentials.create_credential(s, tenant, "t", ["all"])
        ids: dict[str, Any] = {"tenant": tenant.id, "key": cred.key, "secret": secret}
        target = fw.add_target(s, fast_config(), tenant, fw.TargetSpec(
            name="national", endpoint="http://127.0.0.1:9/xapi/", key="k", secret="s", enabled=False))
        ids["target"] = target.id
        s.add(_learner(tenant.id, slug))
        s.commit()
    seqs = [_statement(database, ids) for _ in range(2)]
    now = datetime.now(UTC)
    with database.session() as s:
        # forward_items as it was before 0213 (the model has tenant_id now).
        s.execute(insert(table("forward_items", *(column(c) for c in ITEM_COLUMNS))), [
            {"target_id": target.id, "seq": seq, "state": state, "attempts": 3, "reason": "refused",
             "next_attempt": now, "updated": now} for seq, state in zip(seqs, ("queued", "dead"), strict=True)])
        s.commit()
    return ids


def _learner(tenant_id: int, name: str) -> LearnerRecord:
    now = datetime.now(UTC)
    return LearnerRecord(tenant_id=tenant_id, learner_key=f"agent|mbox:mailto:{name}@example.vn",
                         agent={"mbox": f"mailto:{name}@example.vn"}, province="Huế", attributes={},
                         created=now, updated=now)


def _without(rows: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != name} for r in rows]


def _late_commit_is_queued(database: Database, ids: dict[str, Any]) -> None:
    """The forwarder's set-based insert (a statement committed into a gap the horizon had passed,
    connectors.forwarding.horizon) writes the item with its target's tenant, on the new key."""
    now = datetime.now(UTC)
    with database.session() as s:
        advance_horizon(s, fast_config(), now)
        seq = (s.scalar(select(func.max(Statement.seq))) or 0) + 10
        s.add(ForwardGap(lo=seq, hi=seq, first_seen=now))
        s.execute(update(ForwardHorizon).values(scanned_seq=seq, safe_seq=seq))
        s.execute(update(ForwardTarget).where(ForwardTarget.tenant_id == ids["tenant"],
                                              ForwardTarget.id == ids["target"]).values(cursor_seq=seq))
        s.commit()
    _statement(database, ids, seq)
    with database.session() as s:
        advance_horizon(s, fast_config(), now + timedelta(seconds=1))
        items = s.execute(select(ForwardItem.tenant_id, ForwardItem.reason).where(
            ForwardItem.target_id == ids["target"], ForwardItem.seq == seq)).all()
    assert [tuple(i) for i in items] == [(ids["tenant"], "late commit")]


def _product_inserts(database: Database, ids: dict[str, Any], old: dict[str, list[dict[str, Any]]]) -> None:
    """After the upgrade: new targets and learner records draw ids past every migrated one."""
    with database.session() as s:
        tenant = s.get(Tenant, ids["tenant"])
        assert tenant is not None
        target = fw.add_target(s, fast_config(), tenant, fw.TargetSpec(
            name="regional", endpoint="http://127.0.0.1:9/xapi/", key="k", secret="s", enabled=False))
        learner = _learner(tenant.id, "new")
        s.add(learner)
        s.commit()
        assert target.id > max(r["id"] for r in old["forward_targets"])
        assert learner.id > max(r["id"] for r in old["learner_records"])
    _late_commit_is_queued(database, ids)


def test_connector_keys_lead_with_tenant_id_after_0213_with_rows_kept(fresh_url: str) -> None:
    database = Database(fresh_url)
    _before_revision(database)
    a, b = _tenant(database, "keys-a"), _tenant(database, "keys-b")
    old_keys, old = _keys(database), _rows(database)
    dbops.upgrade(database, REVISION)
    keys, rows = _keys(database), _rows(database)
    postgresql = database.dialect == "postgresql"
    assert keys["forward_items"][0] == ["tenant_id", "target_id", "seq"]
    assert (keys["learner_records"][0], keys["forward_targets"][0]) == (
        (["tenant_id", "id"], ["tenant_id", "id"]) if postgresql else (["id"], ["id"]))
    # PostgreSQL: the key to the target carries the tenant; the one to statements went with partitioning (0110).
    assert keys["forward_items"][1] == sorted([(["tenant_id"], "tenants", ["id"], None), *(
        [(["tenant_id", "target_id"], "forward_targets", ["tenant_id", "id"], "CASCADE")] if postgresql else
        [(["seq"], "statements", ["seq"], "CASCADE"), (["target_id"], "forward_targets", ["id"], "CASCADE")])])
    # Every row is there as it was; each item took its target's tenant.
    assert {t: rows[t] for t in TABLES[:2]} == {t: old[t] for t in TABLES[:2]}
    assert _without(rows["forward_items"], "tenant_id") == old["forward_items"]
    assert sorted((r["tenant_id"], r["target_id"], r["state"]) for r in rows["forward_items"]) == sorted(
        (t["tenant"], t["target"], state) for t in (a, b) for state in ("queued", "dead"))
    _product_inserts(database, a, old)
    command.downgrade(dbops.alembic_config(database), BEFORE)
    assert _keys(database) == old_keys
    assert len(_rows(database)["forward_items"]) == len(old["forward_items"]) + 1  # the late commit's
    database.dispose()


@pytest.mark.postgres
def test_an_item_cannot_name_another_tenants_target(postgresql_app: Flask) -> None:
    """PostgreSQL: forward_items' key to its target is (tenant_id, target_id), so a row of tenant B
    naming tenant A's target is refused (SQLite keys the target by id alone: no such check there)."""
    database: Database = postgresql_app.extensions["hocvu.db"]
    tenant_ids = []
    for _ in range(2):
        slug = new_credential(postgresql_app, ["all"])[0]
        with database.session() as s:
            tenant_ids.append(credentials.get_tenant(s, slug).id)
    with database.session() as s:
        tenant = s.get(Tenant, tenant_ids[0])
        assert tenant is not None
        target = fw.add_target(s, fast_config(), tenant, fw.TargetSpec(
            name="national", endpoint="http://127.0.0.1:9/xapi/", key="k", secret="s", enabled=False))
        s.commit()
        now = datetime.now(UTC)
        item = {"target_id": target.id, "seq": 1, "state": "queued", "attempts": 0, "next_attempt": now,
                "updated": now}
        try:
            s.add(ForwardItem(tenant_id=tenant_ids[1], **item))
            with pytest.raises(IntegrityError, match="forward_items_tenant_id_target_id_fkey"):
                s.flush()
            s.rollback()
            s.add(ForwardItem(tenant_id=tenant_ids[0], **item))  # its own tenant's: taken
            s.commit()
        finally:
            fw.remove_target(s, target)
            s.commit()
