"""Issue 17 item 3, the refresh made cheaper for 10M statements: the fast path (PostgreSQL extracting
the six fields the sums read, keyed lookups of only the rows a batch changes, set-based writes) and
``refresh(jobs=2)`` (tenants in parallel processes) hold exactly what the reference refresh holds
(the statement read whole, lookups by learner, per-row writes, one process), through voiding (xAPI
1.0.3 Part Two §2.3.2), durations, identity stamps, week and province changes."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import select, text

from connectors import rollups
from connectors.rollups import delta, fields
from connectors.storage import LearnerRecord
from lrs.identifiers import actor_key
from lrs.storage import Tenant
from tests.conftest import Xapi, new_credential
from tests.connectors.export_support import database, learner, post_statements
from tests.connectors.test_rollups import W10, first_wave, made, refresh, void
from tests.connectors.test_rollups_set_based import ODD, tables

pytestmark = pytest.mark.postgres


def reference(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """``on``: the refresh as it was before the fast path (whole statement, per-row, by learner)."""
    monkeypatch.setattr(fields, "SLIM", not on)
    monkeypatch.setattr(delta, "SET_BASED", not on)


def tenants(app: Flask, n: int) -> list[tuple[str, Xapi]]:
    out = []
    for _ in range(n):
        slug, key, secret = new_credential(app, ["all"])
        out.append((slug, Xapi(app.test_client(), key, secret)))
    return out


def varied(courses: list[str]) -> list[dict[str, Any]]:
    """The first wave (durations, stamps, several weeks) and statements the export reads oddly."""
    c = courses[0]
    return [*first_wave(courses),
            made("l2", "experienced", c, W10 - timedelta(days=20),
                 result={"duration": "PT1H2M3.5S", "completion": True}),
            made("l3", "attempted", c, W10 + timedelta(days=2), result={"duration": "P1DT2H", "completion": False}),
            made("l4", "experienced", courses[1], W10 + timedelta(days=50)),  # a late week
            {**made("l5", "experienced", c, W10), "context": {"contextActivities": {"parent": [{"id": c}]}}}]


def province_change(app: Flask, slug: str) -> None:
    now = datetime.now(UTC)
    with database(app).session() as s:
        tenant = s.scalars(select(Tenant).where(Tenant.slug == slug)).one()
        s.add(LearnerRecord(tenant_id=tenant.id, learner_key=actor_key(learner("l1")), agent=learner("l1"),
                            province="Huế", attributes={}, created=now, updated=now))
        tenant.province = "Cần Thơ"
        s.flush()
        assert rollups.restate_provinces(s, tenant.id) > 0
        s.commit()


def test_the_fast_refresh_gives_the_tables_of_the_reference_refresh(postgresql_app: Flask,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    app = postgresql_app
    (ref, x_ref), (fast, x_fast) = tenants(app, 2)
    courses = [f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(2)]
    wave = varied(courses)
    for x in (x_ref, x_fast):  # the same statements, each tenant its own ids
        assert post_statements(x, [{**st, "id": str(uuid.uuid4())} for st in wave]).status_code == 200
    for on, slug in ((True, ref), (False, fast)):
        reference(monkeypatch, on)
        refresh(app, slug, batch=5)
    assert tables(app, ref) == tables(app, fast) and tables(app, fast)["report_enrolments"]

    later = [made("l9", "completed", courses[0], W10 - timedelta(days=30)),
             made("l1", "launched", courses[0], W10 - timedelta(days=60)),  # l1's enrolment moves week
             made("l4", "passed", courses[1], W10, result={"success": True, "duration": "PT3M"})]
    for on, slug, x in ((True, ref, x_ref), (False, fast, x_fast)):
        mine = [{**st, "id": str(uuid.uuid4())} for st in later]
        assert post_statements(x, mine).status_code == 200
        void(x, mine[0])  # l9's only enrolment leaves every group: deletions
        reference(monkeypatch, on)
        refresh(app, slug, batch=3)
        province_change(app, slug)
    assert tables(app, ref) == tables(app, fast)
    assert not any("l9" in str(row) for row in tables(app, fast)["report_group_learners"])


def test_two_jobs_give_the_tables_of_one(postgresql_app: Flask) -> None:
    """``hocvu rollups refresh --jobs 2``: tenants refreshed in two processes hold what one process
    gives the same statements."""
    app = postgresql_app
    made_tenants = tenants(app, 3)
    courses = [f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(2)]
    wave = varied(courses)
    for _, x in made_tenants:
        mine = [{**st, "id": str(uuid.uuid4())} for st in wave]
        assert post_statements(x, mine).status_code == 200
        void(x, mine[3])
    (one, _), (a, _), (b, _) = made_tenants
    refresh(app, one, batch=4)
    done = rollups.refresh(database(app), tenants=[a, b], settle=timedelta(0), batch=4, jobs=2)
    assert (done.tenants, done.statements) == (2, 2 * (len(wave) + 1)) and set(done.behind) == {a, b}
    assert tables(app, one) == tables(app, a) == tables(app, b)


def test_the_server_extracts_each_field_as_the_statement_gives_it(postgresql_app: Flask) -> None:
    """The six values PostgreSQL extracts (``fields.SLIM_SQL``) give ``course_row`` what the whole
    statement gives it, on well-formed and odd documents (wrong JSON types, integers past 64 bits,
    an object without ``objectType``)."""
    stored = datetime(2026, 3, 4, tzinfo=UTC)
    docs: list[Any] = [*first_wave(["https://c/1", "https://c/2"]), *varied(["https://c/3", "https://c/4"]),
                       {"object": {"id": "https://c/5"}, "result": {"duration": 10**30, "score": {"raw": 10**30}}},
                       {"object": {"id": "https://c/6"}, "result": {"completion": True}, "context": [1, 2]},
                       {"object": {"objectType": "StatementRef", "id": "x"}, "result": "done"}, [1, 2], 7, None]
    docs += [d for d in ODD if "\\ud800" not in json.dumps(d) and "Infinity" not in json.dumps(d)]  # jsonb refuses
    with database(postgresql_app).session() as s:
        for i, doc in enumerate(docs):
            slim, whole = s.execute(text(f'WITH statements("full") AS (SELECT CAST(:doc AS jsonb)) '
                                         f'SELECT {fields.SLIM_SQL}, CAST("full" AS text) FROM statements'),
                                    {"doc": json.dumps(doc)}).one()
            row = SimpleNamespace(stored=stored, verb_id="v", full=whole)
            assert fields.course_row(SimpleNamespace(stored=stored, verb_id="v", fields=slim), "t") == \
                fields.course_row(row, "t"), (i, doc)


def test_hidden_groups_count_their_learners_as_the_statements_do(postgresql_app: Flask) -> None:
    """k-anonymity's union of hidden groups, counted as the largest group's learners plus the
    others' learners not in it (issue 17 item 3: a small course hid a 1.6M-row neighbour at 10M),
    equals the statements report's count for every k, before a refresh (the tail) and after."""
    from connectors.rollups.report import figures_json
    from tests.connectors.test_rollups import both, rounded

    app = postgresql_app
    ((slug, x),) = tenants(app, 1)
    courses = [f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(3)]
    wave = [*varied(courses[:2]), made("l1", "completed", courses[2], W10), made("l7", "passed", courses[2], W10)]
    assert post_statements(x, wave).status_code == 200
    for step in range(2):
        for k in (2, 3, 4, 6, 8, 10):
            old, new = both(app, slug, k)
            assert rounded(figures_json(new)) == rounded(figures_json(old)), (step, k)
        refresh(app, slug, batch=6)


def _pool_children() -> list[int]:
    """This process's spawned pool workers (their command line runs multiprocessing's spawn_main;
    the resource tracker's does not)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def test_a_worker_killed_mid_refresh_leaves_its_tenants_to_this_process(postgresql_app: Flask) -> None:
    """``--jobs 2`` with one worker killed (SIGKILL, as the kernel's OOM killer would) while both wait
    for the rollup tables' lock: the refresh still ends, its tenants done here, tables as one gives."""
    app = postgresql_app
    made_tenants = tenants(app, 3)
    wave = varied([f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(2)])
    for _, x in made_tenants:
        assert post_statements(x, [{**st, "id": str(uuid.uuid4())} for st in wave]).status_code == 200
    (one, _), (a, _), (b, _) = made_tenants
    refresh(app, one, batch=4)
    db = database(app)
    result: list[Any] = []
    with psycopg.connect(db.url.replace("postgresql+psycopg://", "postgresql://")) as blocker:
        blocker.execute("LOCK TABLE report_rollup_state IN EXCLUSIVE MODE")  # every claim waits here
        worker = threading.Thread(target=lambda: result.append(rollups.refresh(
            db, tenants=[a, b], settle=timedelta(0), batch=4, jobs=2)))
        worker.start()
        deadline = time.monotonic() + 60
        while len(_pool_children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_pool_children()) == 2, "the pool's workers did not start"
        time.sleep(1)  # whatever they do meanwhile, none can finish a tenant: its claim waits for the lock
        os.kill(_pool_children()[0], signal.SIGKILL)
        blocker.rollback()
    worker.join(120)
    assert not worker.is_alive() and result, "the refresh did not end"
    assert (result[0].tenants, result[0].statements) == (2, 2 * len(wave))
    assert tables(app, one) == tables(app, a) == tables(app, b)


def test_the_sums_a_state_adds_are_the_enrolment_tables_columns() -> None:
    """One list of sums (connectors.rollups.state.SUMS) for the State, the live enrolments and an
    archived month's part of them (connectors.storage.EnrolmentSums)."""
    from connectors.rollups.state import SUMS
    from connectors.storage import EnrolmentSums, RollupArchived, RollupEnrolment

    assert tuple(EnrolmentSums.__annotations__) == SUMS
    for table in (RollupEnrolment.__table__, RollupArchived.__table__):
        assert set(SUMS) <= set(table.columns.keys())
