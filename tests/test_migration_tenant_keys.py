"""Migrations 0210, 0214, 0215 (issue 17 item 5b; Citus "Distributing by tenant ID": a distributed
table's unique keys include the distribution column): on PostgreSQL, the primary keys of the
statements' side tables, documents, identity bindings and cmi5 sessions lead with tenant_id. A store
with statements, documents and bindings in it is upgraded with nothing lost, answers the same
queries and takes new writes; a downgrade gives the old keys back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import insert, text

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from identity.storage import IdentityAccount, IdentityBinding
from lrs import credentials
from lrs.storage import Database
from tests.conftest import Xapi, run_instance, scratch_pg

pytestmark = pytest.mark.postgres

OURS = {"0210", "0214", "0215"}
PKEYS = {
    "statement_agents": ["tenant_id", "agent_key", "seq"],
    "statement_activities": ["tenant_id", "activity_id", "seq"],
    "documents": ["tenant_id", "id"],
    "identity_bindings": ["tenant_id", "id"],
    "lrs_cmi5_sessions": ["tenant_id", "id"],
    "lrs_cmi5_au_status": ["tenant_id", "id"],
}
PKEY = text("""SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_constraint c
  CROSS JOIN unnest(c.conkey) WITH ORDINALITY k(att, ord)
  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.att
  WHERE c.conrelid = CAST(:t AS regclass) AND c.contype = 'p'""")


@pytest.fixture
def database() -> Iterator[Database]:
    with scratch_pg("keys") as url:
        made = Database(url)
        yield made
        made.dispose()


def upgrade_to_before_ours(database: Database) -> None:
    """Every branch at its head, except ours at the revision before each."""
    cfg = dbops.alembic_config(database)
    script = ScriptDirectory.from_config(cfg)
    for head in script.get_heads():
        target = head
        while target in OURS:
            down = script.get_revision(target).down_revision
            assert isinstance(down, str)
            target = down
        dbops.upgrade(database, target)


def side_indexes(database: Database) -> set[str]:
    with database.engine.connect() as conn:
        names = conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'statement_agents'"))
        return set(names.scalars())


def primary_keys(database: Database) -> dict[str, list[str]]:
    with database.engine.connect() as conn:
        return {t: conn.execute(PKEY, {"t": t}).scalar_one() for t in PKEYS}


def statement(actor: str, activity: str, instructor: str) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "actor": {"mbox": f"mailto:{actor}@hocvu.vn"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": activity}, "context": {"instructor": {"mbox": f"mailto:{instructor}@hocvu.vn"}}}


def lrs_for(database: Database, slug: str) -> Xapi:
    with database.session() as s:
        tenant = credentials.create_tenant(s, slug, slug)
        cred, secret = credentials.create_credential(s, tenant, "t", ["all"])
        s.commit()
        key = cred.key
    app = create_app(Settings.of(instance_dir=run_instance(), database_url=database.url, secret_key="t"), db=database)
    return Xapi(app.test_client(), key, secret)


def seed(lrs: Xapi, activity: str) -> list[str]:
    sent = [statement(f"learner{i}", activity, "teacher") for i in range(3)]
    assert lrs.post("statements", json_body=sent).status_code == 200
    res = lrs.put("activities/state", json_body={"page": 3}, activityId=activity,
                  agent=json.dumps({"mbox": "mailto:learner0@hocvu.vn"}), stateId="s")
    assert res.status_code == 204
    return [str(s["id"]) for s in sent]


def found(lrs: Xapi, **query: str) -> set[str]:
    res = lrs.get("statements", **query)
    assert res.status_code == 200
    return {s["id"] for s in json.loads(res.get_data())["statements"]}


def test_keys_lead_with_tenant_and_the_store_is_kept(database: Database) -> None:
    upgrade_to_before_ours(database)
    assert primary_keys(database)["statement_agents"] == ["seq", "agent_key"]
    one, two = lrs_for(database, "bo-a"), lrs_for(database, "bo-b")
    activity = "https://hocvu.vn/courses/ky-nang-so"
    ids_one, ids_two = seed(one, activity), seed(two, activity)
    with database.session() as s:
        account = s.execute(insert(IdentityAccount.__table__).values(
            issuer="https://vneid.example", subject_hmac="a" * 64, created=datetime.now(UTC),
            last_login=datetime.now(UTC)).returning(IdentityAccount.__table__.c.id)).scalar_one()
        s.execute(insert(IdentityBinding.__table__).values(
            tenant_id=1, account_id=account, external_issuer="https://lms", external_subject="u1",
            created=datetime.now(UTC)))
        s.commit()

    dbops.upgrade(database)
    assert primary_keys(database) == PKEYS
    # The look-up's columns are the key now; a narrow (seq) index serves deletes by statement.
    assert side_indexes(database) == {"statement_agents_pkey", "ix_statement_agents_seq"}
    # Each tenant finds its own statements, by agent (related: the instructor) and by activity.
    teacher = json.dumps({"mbox": "mailto:teacher@hocvu.vn"})
    assert found(one, agent=teacher, related_agents="true") == set(ids_one)
    assert found(two, activity=activity) == set(ids_two)
    res = one.get("activities/state", activityId=activity,
                  agent=json.dumps({"mbox": "mailto:learner0@hocvu.vn"}), stateId="s")
    assert json.loads(res.get_data()) == {"page": 3}
    # New writes: statements, a second document (a new id from the same sequence), a binding.
    more = seed(one, activity + "/2")
    assert found(one, agent=teacher, related_agents="true") == set(ids_one) | set(more)
    with database.session() as s:
        s.execute(insert(IdentityBinding.__table__).values(
            tenant_id=2, account_id=account, external_issuer="https://lms", external_subject="u1",
            created=datetime.now(UTC)))
        s.commit()
        assert s.scalar(text("SELECT count(DISTINCT id) FROM documents")) == 3
        assert s.scalar(text("SELECT count(*) FROM identity_bindings")) == 2


def test_downgrade_gives_the_old_keys_back(database: Database) -> None:
    dbops.upgrade(database)
    cfg = dbops.alembic_config(database)
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        for revision in sorted(OURS):
            command.downgrade(cfg, f"{revision}-1")
    keys = primary_keys(database)
    assert keys["statement_agents"] == ["seq", "agent_key"] and keys["documents"] == ["id"]
    assert keys["lrs_cmi5_au_status"] == ["id"] and keys["identity_bindings"] == ["id"]
    assert side_indexes(database) == {"statement_agents_pkey", "ix_statement_agents_lookup"}
    dbops.upgrade(database)
    assert primary_keys(database) == PKEYS
