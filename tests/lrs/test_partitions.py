"""Statements partitioned by `stored` on PostgreSQL (issue 17, item 2; lrs.partitions, migration 0110).

A store made before the migration is converted in place: every row, id, voiding flag and the audit
chain stay, ids stay unique across partitions (xAPI 1.0.3 Part Three §2.1.2: a re-sent id is a
no-op if the statement is the same, 409 Conflict if not), `more` pages walk every partition (Part
Three §2.1.3), and voided statements answer by voidedStatementId only (Part Two §2.3.2).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import partitions, pg_ingest
from lrs.audit import erasure as audit_erasure
from lrs.maintenance import StatsKeeper
from lrs.storage import Database
from tests.conftest import Xapi, new_credential, run_instance, scratch_pg, statement
from tests.conftest import sql_scalar as _scalar
from tests.lrs.audit.test_audit_chain import _hub, cli, hub_keys, verify  # noqa: F401 (hub_keys: a fixture)

pytestmark = pytest.mark.postgres

VOIDED = {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}}
OLD_MONTH = "2026-01-15T10:00:00+00:00"
# The ingest statement of the release before 0110 (no statement_ids): the store is filled as it was.
_COLUMNS = ", ".join(f'"{c}"' for c in pg_ingest.STATEMENT_COLUMNS)
BEFORE_0110 = (f"INSERT INTO statements ({_COLUMNS}) SELECT {_COLUMNS} FROM json_populate_recordset("
               "NULL::statements, %s::json) ON CONFLICT (tenant_id, statement_id) DO NOTHING "
               "RETURNING seq, statement_id")


@pytest.fixture(scope="module")
def fresh_url(pg_url: str) -> Iterator[str]:
    """A database of its own: it is migrated down and up again."""
    with scratch_pg("part") as url:
        yield url


def _alembic(database: Database, action: str, revision: str) -> None:
    cfg = dbops.alembic_config(database)
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def _partitioned(database: Database) -> bool:
    with database.engine.connect() as conn:
        return partitions.is_partitioned(conn)


def _post(x: Xapi, body: Any, status: int = 200) -> Any:
    res = x.post("statements", json_body=body)
    assert res.status_code == status, res.get_json()
    return res.get_json()


def _pages(x: Xapi) -> list[str]:
    """Every statement id by following `more` two at a time (Part Three §2.1.3)."""
    body = x.get("statements", limit="2").get_json()
    ids = [s["id"] for s in body["statements"]]
    while body["more"]:
        res = x.client.get(body["more"], headers=x.headers())
        assert res.status_code == 200
        body = res.get_json()
        ids += [s["id"] for s in body["statements"]]
    return ids


def _schema(database: Database) -> list[tuple[str, ...]]:
    """The statement tables' constraints and indexes, by definition."""
    with database.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid::regclass::text IN ('statements', 'statement_agents', 'statement_activities', "
            "'forward_items') UNION ALL SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename IN ('statements', 'statement_agents', "
            "'statement_activities', 'forward_items')")).all())


@pytest.fixture(scope="module")
def store(fresh_url: str) -> dict[str, Any]:
    """A store as it was before migration 0110 (statements, a voided one, one stored in an old
    month), then migrated: the state every test below starts from."""
    database = Database(fresh_url)
    # Every migration but 0110: the schema of the release before it.
    # (the heads after 0110 on its branch, 0135, 0140 and 0150, are left out with it.)
    script = ScriptDirectory.from_config(dbops.alembic_config(database))
    heads = {h for h in script.get_heads()
             if "0110" not in {r.revision for r in script.walk_revisions("base", h)}} | {"0021"}
    for head in sorted(heads):
        _alembic(database, "upgrade", head)
    assert not _partitioned(database)
    schema = _schema(database)
    # 0110 up and down again gives back the same keys and indexes (its downgrade).
    _alembic(database, "upgrade", "0110")
    assert _partitioned(database)
    _alembic(database, "downgrade", "0021")
    assert not _partitioned(database) and _schema(database) == schema
    _, key, cert = _hub()
    app = create_app(Settings.of(database_url=fresh_url, secret_key="test-secret", signing_key_file=key,
                                 signing_cert_file=cert, checkpoint_every=4, instance_dir=run_instance()),
                     db=database)
    slug, key_, secret = new_credential(app, ["all"])
    x = Xapi(app.test_client(), key_, secret)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pg_ingest, "INSERT_STATEMENTS", BEFORE_0110)
        ids = _post(x, [statement(id=str(uuid.uuid4()), result={"score": {"raw": n}}) for n in range(6)])
        voiding = _post(x, statement(verb=VOIDED, object={"objectType": "StatementRef", "id": ids[0]}))[0]
    old = ids[5]
    _scalar(database, "UPDATE statements SET stored = :t WHERE statement_id = :s", t=OLD_MONTH, s=old)
    before = {
        "rows": _scalar(database, "SELECT count(*) FROM statements"),
        "seq": _scalar(database, "SELECT max(seq) FROM statements"),
        "voided": _scalar(database, "SELECT array_agg(statement_id ORDER BY seq) FROM statements WHERE voided"),
        "agents": _scalar(database, "SELECT count(*) FROM statement_agents"),
    }
    dbops.upgrade(database)
    return {"app": app, "db": database, "x": x, "slug": slug, "ids": ids, "voiding": voiding, "old": old,
            "before": before}


def test_migration_keeps_rows_ids_voiding_and_chain(store: dict[str, Any], hub_keys: Any) -> None:  # noqa: F811
    """Migration 0110 on a store with statements: partitioned, nothing lost (Part Two §2.3.2, §2.1.3)."""
    database, x, ids, before = store["db"], store["x"], store["ids"], store["before"]
    assert _partitioned(database)
    with database.engine.connect() as conn:
        names = set(partitions.attached(conn))
    this_month = partitions.partition_name(partitions.month_start(datetime.now(UTC)))
    assert {"statements_default", "statements_p202601", this_month} <= names
    assert _scalar(database, "SELECT count(*) FROM statements") == before["rows"] == 7
    assert _scalar(database, "SELECT count(*) FROM statement_ids") == before["rows"]
    assert _scalar(database, "SELECT count(*) FROM statement_agents") == before["agents"]
    assert _scalar(database, "SELECT count(*) FROM statements_p202601") == 1
    assert _scalar(database, "SELECT array_agg(statement_id ORDER BY seq) FROM statements WHERE voided") \
        == before["voided"] == [ids[0]]
    assert x.get("statements", statementId=ids[0]).status_code == 404
    assert x.get("statements", voidedStatementId=ids[0]).get_json()["id"] == ids[0]
    for sid in [*ids[1:], store["voiding"]]:
        assert x.get("statements", statementId=sid).get_json()["id"] == sid
    assert sorted(_pages(x)) == sorted([*ids[1:], store["voiding"]])
    code, report = verify(store["app"], store["slug"], _hub()[2])
    assert code == 0, report
    # The sequence carries on: a new statement comes after every migrated one.
    new = _post(x, statement())[0]
    assert _scalar(database, "SELECT seq FROM statements WHERE statement_id = :s", s=new) > before["seq"]


def test_ids_unique_across_partitions(store: dict[str, Any]) -> None:
    """Part Three §2.1.2: an id stored in an older month's partition, sent again today, is a no-op if
    the statement is the same and 409 Conflict if not; nothing of a conflicting batch is stored."""
    database, x, old = store["db"], store["x"], store["old"]
    full = x.get("statements", statementId=old).get_json()
    sent = {k: full[k] for k in ("id", "actor", "verb", "object", "result")}
    rows = _scalar(database, "SELECT count(*) FROM statements")
    assert _post(x, [sent]) == [old]
    fresh = str(uuid.uuid4())
    _post(x, [statement(id=fresh), {**sent, "result": {"score": {"raw": 99}}}], status=409)
    assert _scalar(database, "SELECT count(*) FROM statements") == rows
    assert _scalar(database, "SELECT count(*) FROM statement_ids WHERE statement_id = :s", s=fresh) == 0
    assert x.get("statements", statementId=fresh).status_code == 404


def test_partitions_made_ahead_take_over_default_rows(store: dict[str, Any]) -> None:
    """`hocvu db partitions --ahead N` makes the months ahead; a month made for rows that had gone
    to the DEFAULT partition takes them over, and the statement still answers."""
    database, x, ids = store["db"], store["x"], store["ids"]
    code, out = cli(store["app"], "db", "partitions", "--ahead", "5")
    assert code == 0, out
    with database.engine.connect() as conn:
        names = set(partitions.attached(conn))
    ahead = partitions.partition_name(partitions.add_months(partitions.month_start(datetime.now(UTC)), 5))
    assert ahead in names
    _scalar(database, "UPDATE statements SET stored = '2031-03-02T00:00:00Z' WHERE statement_id = :s", s=ids[4])
    assert _scalar(database, "SELECT count(*) FROM statements_default") == 1
    with database.engine.begin() as conn:
        made = partitions.ensure(conn, ahead=0, now=datetime(2031, 3, 1, tzinfo=UTC))
    assert made == ["statements_p203103"]
    assert _scalar(database, "SELECT count(*) FROM statements_default") == 0
    assert _scalar(database, "SELECT count(*) FROM statements_p203103") == 1
    assert x.get("statements", statementId=ids[4]).get_json()["id"] == ids[4]


def test_detached_month_leaves_queries_and_keeps_its_ids(store: dict[str, Any]) -> None:
    """`hocvu db partitions --detach BEFORE`: the months before leave every query (their table
    stays for archiving), their side rows go, and their ids stay taken (409 on re-use)."""
    database, x, old = store["db"], store["x"], store["old"]
    code, out = cli(store["app"], "db", "partitions", "--detach", "2026-02-01")
    assert code == 0 and "statements_p202601" in out, out
    assert x.get("statements", statementId=old).status_code == 404
    assert old not in _pages(x)
    assert _scalar(database, "SELECT count(*) FROM statements_p202601") == 1  # detached, kept
    seq = _scalar(database, "SELECT seq FROM statements_p202601")
    assert _scalar(database, "SELECT count(*) FROM statement_agents WHERE seq = :s", s=seq) == 0
    _post(x, statement(id=old), status=409)
    with database.engine.begin() as conn:
        assert partitions.detach_before(conn, date(2026, 2, 1)) == []
    # Detached but not archived (`hocvu lake archive`, tests/connectors/test_lake_archive.py): the chain's
    # check sees the month's statements as deleted.
    code, report = verify(store["app"], store["slug"], _hub()[2])
    failure = report["failure"]
    assert code == 1 and failure["statement_id"] == old and "missing" in failure["reason"], failure


def test_web_processes_keep_partitions_ahead(store: dict[str, Any]) -> None:
    """The hub makes the months ahead itself: a web process's background upkeep (every
    HOCVU_ANALYZE_EVERY stored statements, lrs.maintenance) creates a missing month."""
    database = store["db"]
    ahead = partitions.partition_name(partitions.add_months(partitions.month_start(datetime.now(UTC)), 2))
    with database.engine.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE statements DETACH PARTITION {ahead}")
        conn.exec_driver_sql(f"DROP TABLE {ahead}")
    keeper = StatsKeeper(database.engine, every=1)
    keeper.stored(1)
    keeper.wait()
    with database.engine.connect() as conn:
        assert ahead in partitions.attached(conn)
    # Another process at it: this one skips rather than waits.
    with database.engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": partitions._LOCK})
        assert partitions.keep_ahead(database.engine) == []


def test_erased_ids_are_free_again(store: dict[str, Any]) -> None:
    """An erasure (privacy request) removes the learner's statements and frees their ids in the
    registry, as on SQLite where the unique key goes with the row: the id can be stored anew."""
    database, x = store["db"], store["x"]
    learner = {"objectType": "Agent", "mbox": f"mailto:{uuid.uuid4().hex[:8]}@example.vn"}
    sid = _post(x, statement(actor=learner))[0]
    with database.session() as s:
        tenant_id = s.scalar(text("SELECT id FROM tenants WHERE slug = :s"), {"s": store["slug"]})
        audit_erasure.erase_agent(s, tenant_id, learner, actor="test", reason="privacy request")
        s.commit()
    assert _scalar(database, "SELECT count(*) FROM statement_ids WHERE statement_id = :s", s=sid) == 0
    assert x.get("statements", statementId=sid).status_code == 404
    assert _post(x, statement(id=sid, actor=learner)) == [sid]
    assert x.get("statements", statementId=sid).get_json()["id"] == sid
