"""Issue 17 item 3, faster refresh on PostgreSQL: the rollups written set-based (``INSERT … SELECT
FROM unnest(arrays) ON CONFLICT DO UPDATE``, ``DELETE … USING unnest``) hold exactly what the
per-row path writes, on the same statements: two tenants get the same statements, one refreshed
each way, through new statements, voidings (xAPI 1.0.3 Part Two §2.3.2) and an erasure."""

from __future__ import annotations

import importlib
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from connectors.rollups import delta
from connectors.storage import RollupEnrolment, RollupGroup, RollupLearner
from lrs.storage import Tenant
from tests.conftest import Xapi, new_credential
from tests.connectors.export_support import database, post_statements
from tests.connectors.test_rollups import W10, first_wave, made, refresh, rounded, void

pytestmark = pytest.mark.postgres


def tables(app: Flask, slug: str) -> dict[str, set[tuple[Any, ...]]]:
    """The tenant's rollup rows, without its id and with its slug as "T" (the tenant group's key)."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    with database(app).session() as s:
        tid = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
        for model in (RollupEnrolment, RollupGroup, RollupLearner):
            table: Any = model.__table__
            cols = [c for c in table.c if c.name != "tenant_id"]
            out[table.name] = {tuple("T" if v == slug else rounded(v) for v in row)
                               for row in s.execute(select(*cols).where(table.c.tenant_id == tid))}
    return out


def refresh_each_way(app: Flask, per_row: str, set_based: str, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> None:
    monkeypatch.setattr(delta, "SET_BASED", False)
    refresh(app, per_row, **kw)
    monkeypatch.setattr(delta, "SET_BASED", True)
    refresh(app, set_based, **kw)
    assert tables(app, per_row) == tables(app, set_based)


def test_set_based_refresh_writes_what_the_per_row_refresh_writes(postgresql_app: Flask,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    app = postgresql_app
    clients = []
    for _ in range(2):
        slug, key, secret = new_credential(app, ["all"])
        clients.append((slug, Xapi(app.test_client(), key, secret)))
    (a, xa), (b, xb) = clients
    courses = [f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(2)]
    wave = first_wave(courses)
    for x in (xa, xb):  # the same statements, each tenant its own ids
        assert post_statements(x, [{**st, "id": str(uuid.uuid4())} for st in wave]).status_code == 200
    refresh_each_way(app, a, b, monkeypatch, batch=7)
    assert tables(app, a)["report_enrolments"]

    for x in (xa, xb):
        mine = [made("l9", "completed", courses[0], W10 - timedelta(days=30)),
                made("l1", "launched", courses[0], W10 - timedelta(days=60))]  # l1's enrolment moves week
        assert post_statements(x, mine).status_code == 200
        void(x, mine[0])  # l9's only enrolment leaves every group: deletions
    refresh_each_way(app, a, b, monkeypatch, batch=3)
    assert not any("l9" in str(row) for row in tables(app, a)["report_group_learners"])


ODD: list[Any] = [
    {"context": "not an object", "result": [], "timestamp": 5},
    {"object": {"id": "https://c/$a_$"}, "result": {"duration": "PT1H2M3.5S", "completion": "yes"}},
    {"object": {"id": "https://c/1"}, "context": {"contextActivities": {"grouping": {"id": "https://c/g"}}},
     "result": {"duration": "P", "score": {"raw": float("inf")}}},  # strict flatten fails: its lenient pass
    {"object": {"id": "https://c/\ud800"}, "timestamp": "2026-03-02T15:10:00"},  # a lone surrogate
    {"object": {"objectType": "Agent", "mbox": "mailto:a@b"},
     "context": {"contextActivities": {"parent": [{"id": "https://c/p", "definition": {"type": "x"}}, 7]},
                 "extensions": {"https://hocvu.vn/xapi/extensions/identity-verification": {"outcome": 3}}}},
    {"object": {"id": 12}, "context": {"contextActivities": {"grouping": [{"definition": {
        "type": "https://w3id.org/xapi/cmi5/activitytype/course"}}]}}},  # a course without an id: KeyError
    "a statement that is not an object",
]


def test_the_rollups_read_each_field_as_the_export_flattens_it() -> None:
    """``delta.course_row`` computes 6 of ``flatten``'s 25 columns: on well-formed and legacy rows
    (non-finite numbers, lone surrogates, wrong JSON types), each equals flatten's, its JSON given
    as a document or as text."""
    import json
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from connectors.export import flatten
    from connectors.export_schema import NAMES
    from connectors.rollups.state import INDEX
    from tests.connectors.export_support import representative

    stored = datetime(2026, 3, 4, tzinfo=UTC)
    for i, full in enumerate([*representative(), *ODD]):
        row = SimpleNamespace(seq=i, statement_id=str(i), stored=stored, actor_key="a", verb_id="v",
                              object_type=(full.get("object", {}).get("objectType", "Activity")
                                           if isinstance(full, dict) and isinstance(full.get("object"), dict)
                                           else None), object_activity_id=None, object_agent_key=None,
                              object_statement_id=None, registration=None, full=full)
        flat = flatten(row, "t")
        expected = tuple(flat[NAMES.index(name)] for name in INDEX)
        for doc in (full, json.dumps(full, allow_nan=True)):
            course, fields = delta.course_row(SimpleNamespace(**{**vars(row), "full": doc}), "t")
            if not isinstance(full, dict):
                expected = (stored, "v", None, None, None, None)
            assert (course, fields) == (expected[INDEX["course_id"]], expected), (i, doc)


def test_a_long_refresh_analyzes_its_tables(postgresql_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refresh that grows the tables from nothing gives PostgreSQL their statistics as it goes
    (after ANALYZE_AFTER statements, then twice as many): stale ones made every lookup scan the
    whole tenant (docs/scale.md, "Rollup refresh")."""
    from sqlalchemy import text

    refresh_module = importlib.import_module("connectors.rollups.refresh")  # the package's name is the function

    app = postgresql_app
    slug, key, secret = new_credential(app, ["all"])
    wave = first_wave([f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(2)])
    assert post_statements(Xapi(app.test_client(), key, secret), wave).status_code == 200
    analyzed = []
    monkeypatch.setattr(refresh_module, "ANALYZE_AFTER", 4)
    real = refresh_module._analyze
    monkeypatch.setattr(refresh_module, "_analyze", lambda db: analyzed.append(1) or real(db))
    refresh(app, slug, batch=4)
    assert len(analyzed) == 3  # after 4, 8 and 16 of the 29 statements
    with database(app).session() as s:
        assert s.scalar(text("SELECT count(*) FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL "
                             "AND relname IN ('report_enrolments', 'report_group_learners', 'report_groups')")) == 3
