"""Plans of GET /statements with since/until and with registration (issue 17 item 2) on a real
PostgreSQL whose statistics are missing (a bulk load, autovacuum off) and then fresh: each page is
walked on an index in the page's order, never a Seq Scan or a Sort of the matches, and the rows
touched are bounded by the page, not the store. The bound is asserted on EXPLAIN ANALYZE's row
counts, not on timing; bench/statements.py measures the time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from bench.data import Generator
from lrs import query_params as qp
from lrs import statement_query as sq
from lrs.credentials import Principal
from lrs.maintenance import analyze
from lrs.statements import store
from lrs.storage import Database, Statement
from tests.lrs.store_support import migrated_store
from tests.lrs.test_query_plans import _plans, _text, _touched

pytestmark = pytest.mark.postgres
BATCHES = 12
BATCH = 500
LIMIT = 25


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[Database, Principal, list[datetime]]]:
    """A fresh database, migrated, with BATCHES × BATCH statements stored by the hub's own store
    (one `stored` per batch, as the hub stamps them); never analysed. Yields the batches' times."""
    with migrated_store("plans_time", "plans") as (db, principal):
        gen = Generator(seed=5, learners=500)
        with db.session() as s:
            for _batch in range(BATCHES):
                store(s, principal, "2.0.0", [gen.statement() for _ in range(BATCH)], [])
            s.commit()
            times = list(s.scalars(select(Statement.stored).distinct().order_by(Statement.stored)))
        yield db, principal, times


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _queries(db: Database, times: list[datetime]) -> dict[str, dict[str, str]]:
    middle = times[len(times) // 2].isoformat()
    with db.session() as s:
        registration = s.scalar(select(Statement.registration).order_by(Statement.seq.desc()).limit(1))
    return {
        "until": {"until": middle},
        "until, ascending": {"until": middle, "ascending": "true"},
        "since": {"since": middle},
        "since, ascending": {"since": middle, "ascending": "true"},
        "since and until": {"since": times[2].isoformat(), "until": middle},
        "registration": {"registration": str(registration)},
    }


def _check_plans(db: Database, principal: Principal, times: list[datetime], *, no_sort: bool) -> None:
    """``no_sort``: no Seq Scan, Sort or Bitmap scan for registration either (with statistics, the
    planner may sort a registration's few rows, which it then knows are few, or scan an empty
    partition); since/until pages never sort (lrs.statement_query._unsorted)."""
    for name, args in _queries(db, times).items():
        _ids, plans = _plans(db, principal, args)
        # registration: the page, and the StatementRef side query (tests/lrs/test_query_plans.py)
        assert len(plans) == (2 if name == "registration" else 1), name
        plan = plans[0]
        kinds = {node["Node Type"] for node in _nodes(plan)}
        if no_sort or name != "registration":
            assert not kinds & {"Seq Scan", "Sort", "Incremental Sort", "Bitmap Heap Scan"}, (name, _text(plan))
        indexes = {node.get("Index Name", "") for node in _nodes(plan)}
        wanted = "registration_seq" if name == "registration" else "stored_seq"
        assert any(wanted in index for index in indexes), (name, _text(plan))
        # A page, give or take the ends of the walk: the old `until` walked the primary key from the
        # newest statement and skipped the 3,000 stored after the bound (as index entries).
        assert _touched(plan) <= 4 * (LIMIT + 1), (name, _touched(plan), _text(plan))


def test_time_and_registration_pages_walk_an_index_without_statistics(loaded: Any) -> None:
    """xAPI 1.0.3 Part Three §2.1.3 (since, until, registration): bounded work with no statistics."""
    db, principal, times = loaded
    with db.session() as s:
        assert s.scalar(text("SELECT reltuples < 0 FROM pg_class WHERE relname = 'statements'"))
    _check_plans(db, principal, times, no_sort=True)


def test_time_pages_are_in_stored_order_through_more(loaded: Any) -> None:
    """xAPI 1.0.3 Part Three §2.1.3: since/until pages in stored order (newest first, or oldest with
    ascending=true), every statement once through `more`, the same as the plain query."""
    db, principal, times = loaded
    for name, args in _queries(db, times).items():
        if name == "registration":
            continue
        params = {**args, "limit": "7"}
        q = qp.parse_filters(params, "2.0.0")
        t = Statement
        order = (t.stored.asc(), t.seq.asc()) if q.ascending else (t.stored.desc(), t.seq.desc())
        with db.session() as s:
            conds = [*sq._filter_conditions(t, principal.tenant_id, q), *sq._common_conditions(t, principal, q)]
            plain = [row.full["id"] for row in s.execute(select(t.full).where(*conds).order_by(*order))]
            got: list[str] = []
            while True:
                page = sq.run_query(s, principal, q, page_cap=100, cursor_secret=b"k", raw_params=params)
                got += [st["id"] for st in page.statements]
                if page.more is None:
                    break
                params, after = sq.decode_cursor(b"k", principal.tenant_id, page.more)
                q = qp.Query(**{**qp.parse_filters(params, "2.0.0").__dict__, "after_seq": after})
        assert plain and got == plain, name


def test_time_and_registration_pages_walk_an_index_with_statistics(loaded: Any) -> None:
    """The same plans once `hocvu db analyze` (lrs.maintenance.analyze) has run."""
    db, principal, times = loaded
    analyze(db.engine)
    _check_plans(db, principal, times, no_sort=False)
