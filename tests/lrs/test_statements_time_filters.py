"""GET /statements with since/until (xAPI 1.0.3 Part Three §2.1.3 / IEEE 9274.1.1 §4.1.6.1), issue 13
case 7: SQLite sorted the tenant's whole statements, JSON and all, to answer one page (0.35-0.75 s at
86,600 statements). Now its page is chosen from the (tenant_id, stored, voided) index alone, as the
plan below shows; bench/statements.py measures it ("GET since" / "GET until")."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import text

from lrs.query_params import Query
from lrs.statement_query import _common_conditions, _filter_conditions, _page_query
from lrs.storage import Database, Statement
from tests.conftest import Xapi, new_credential, statement


def _stamp() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _ids(x: Xapi, **params: Any) -> list[str]:
    out: list[str] = []
    page = x.get("statements", **params).get_json()
    while True:
        out += [s["id"] for s in page["statements"]]
        if not page["more"]:
            return out
        page = x.client.get(page["more"], headers=x.headers()).get_json()


def test_since_and_until_select_by_stored_time_in_stored_order(xapi: Xapi) -> None:
    """Part Three §2.1.3: since is exclusive, until inclusive, results newest first (oldest first with
    ascending=true), every page through `more`; voided statements are left out. Both databases."""
    first = [xapi.post("statements", json_body=statement()).get_json()[0] for _ in range(3)]
    time.sleep(0.01)
    middle = _stamp()
    time.sleep(0.01)
    later = [xapi.post("statements", json_body=statement()).get_json()[0] for _ in range(4)]
    voiding = statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
                        object={"objectType": "StatementRef", "id": later[0]})
    [void_id] = xapi.post("statements", json_body=voiding).get_json()
    assert _ids(xapi, since=middle, limit=2) == [void_id, *reversed(later[1:])]
    assert _ids(xapi, since=middle, limit=2, ascending="true") == [*later[1:], void_id]
    assert _ids(xapi, until=middle, limit=2) == list(reversed(first))
    assert _ids(xapi, since=middle, until=middle) == []


def _plan(database: Database, q: Query, tenant_id: int) -> list[str]:
    s = Statement

    class Principal:  # the two attributes the conditions read
        reads_only_own_statements = False
        credential_id = 0

    conds = [*_filter_conditions(s, tenant_id, q), *_common_conditions(s, Principal(), q)]  # type: ignore[arg-type]
    with database.session() as session:
        stmt = _page_query(session, (s.seq, s.full, s.stored), conds, s.seq.desc(), 501, time_only=True)
        sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        return [row[3] for row in session.execute(text("EXPLAIN QUERY PLAN " + sql))]


def test_sqlite_serves_since_and_until_from_the_index(sqlite_only_app: Flask) -> None:
    """EXPLAIN QUERY PLAN: the page's seq numbers come from a covering scan of
    ix_statements_tenant_stored_voided, the rows by primary key; the statements themselves are
    never sorted (no temporary B-tree over the table's rows)."""
    slug, _, _ = new_credential(sqlite_only_app, ["all"])
    database: Database = sqlite_only_app.extensions["hocvu.db"]
    with database.session() as session:
        tenant_id = session.scalar(text("SELECT id FROM tenants WHERE slug = :s"), {"s": slug})
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    for q in (Query(since=moment), Query(until=moment), Query(since=moment, until=moment)):
        plan = _plan(database, q, tenant_id)
        assert any("COVERING INDEX ix_statements_tenant_stored_voided" in step for step in plan), plan
        assert any("INTEGER PRIMARY KEY" in step for step in plan), plan
        assert not any(step.startswith("SCAN statements") for step in plan), plan
