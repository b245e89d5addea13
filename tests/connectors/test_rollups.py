"""Issue 17 item 3: the report from incremental SQL rollups equals the report computed from every
statement (the pandas reference, ``connectors.reports.load_report``) on the same data, on SQLite and
PostgreSQL, after incremental refreshes with new statements, voiding statements (xAPI 1.0.3 Part Two
§2.3.2: a voided statement no longer counts) and province changes in between; a refresh is
idempotent and two refreshers at once count each statement once."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from connectors import rollups
from connectors.export import ExportQuery
from connectors.reports import Report, load_report
from connectors.rollups.report import figures_json, rollup_report
from connectors.storage import LearnerRecord, RollupState
from identity.stamp import stamp_statement
from lrs.identifiers import actor_key
from lrs.storage import Tenant
from tests.conftest import Xapi, statement
from tests.connectors.export_support import (
    COURSE_TYPE,
    MATCH,
    NO_MATCH,
    database,
    learner,
    post_statements,
    stamp,
    tenant_slug,
    verb,
)

W10 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def course_ctx(course: str) -> dict[str, Any]:
    return {"contextActivities": {"grouping": [{"id": course, "definition": {
        "type": COURSE_TYPE, "name": {"vi": "Khoá " + course[-4:]}}}]}}


def made(who: str, what: str, course: str, when: datetime, **extra: Any) -> dict[str, Any]:
    return statement(id=str(uuid.uuid4()), actor=learner(who), verb=verb(what), context=course_ctx(course),
                     timestamp=when.isoformat(), **extra)


def first_wave(courses: list[str]) -> list[dict[str, Any]]:
    out = []
    for i in range(9):
        c = courses[i % 2]
        when = W10 + timedelta(days=i * 3)  # several ISO weeks
        out.append(made(f"l{i}", "launched", c, when))
        if i % 3 != 2:
            out.append(made(f"l{i}", "completed", c, when + timedelta(minutes=5), result={"duration": "PT4M"}))
        graded = made(f"l{i}", "passed" if i % 2 else "failed", c, when + timedelta(minutes=9),
                      result={"success": bool(i % 2), "duration": f"PT{i + 1}M"})
        out.append(stamp_statement(graded, stamp(2, MATCH if i % 4 else NO_MATCH)))
        if i % 2:
            out.append(made(f"l{i}", "terminated", c, when + timedelta(minutes=20), result={"duration": "PT15M"}))
    out.append(made("l0", "completed", courses[1], W10 + timedelta(days=40)))  # a second course for l0
    return out


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return tuple(rounded(v) for v in value)
    return value


def both(app: Flask, slug: str, k: int, *, fresh: bool = True) -> tuple[Report, Report]:
    db = database(app)
    with db.session() as s:
        old = load_report(s, ExportQuery(tenants=[slug], settle=timedelta(0)), min_group=k)
        tid = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
        assert tid is not None
        new = rollup_report(s, [(tid, slug)], min_group=k, fresh=fresh)
    return old, new


def assert_same(app: Flask, slug: str) -> None:
    for k in (1, 2, 3, 5):
        old, new = both(app, slug, k)
        assert rounded(figures_json(new)) == rounded(figures_json(old)), f"k={k}"
        assert new.source == "rollups" and new.as_of is not None


def void(xapi: Xapi, target: dict[str, Any]) -> None:
    body = statement(id=str(uuid.uuid4()), verb=verb("voided"), object={"objectType": "StatementRef",
                                                                         "id": target["id"]})
    assert xapi.post("statements", json_body=body).status_code == 200


def refresh(app: Flask, slug: str, **kw: Any) -> rollups.Counted:
    return rollups.refresh(database(app), tenants=[slug], settle=timedelta(0), **kw)


def test_rollups_equal_the_statements_report_through_incremental_refreshes(app: Flask, xapi: Xapi) -> None:
    slug = tenant_slug(app, xapi)
    courses = [f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(2)]
    wave = first_wave(courses)
    assert post_statements(xapi, wave).status_code == 200
    counted = refresh(app, slug, batch=7)  # several batches, one transaction each
    assert counted.statements == len(wave) and counted.batches >= len(wave) // 7
    assert_same(app, slug)
    old, _ = both(app, slug, 1)
    assert old.breakdowns["tenant"].total.learners == 9

    # New statements, a voiding of an already rolled-up pass, and a statement voided in the same batch.
    graded = [s for s in wave if s["verb"]["id"].endswith("/passed")]
    more = [made("l9", "completed", courses[0], W10 - timedelta(days=30)),  # an earlier week for a new learner
            made("l1", "launched", courses[0], W10 - timedelta(days=60))]   # l1's enrolment moves week
    assert post_statements(xapi, more).status_code == 200
    void(xapi, graded[0])
    late = made("l3", "terminated", courses[1], W10 + timedelta(days=50), result={"duration": "PT1H"})
    assert post_statements(xapi, [late]).status_code == 200
    void(xapi, late)
    assert_same(app, slug)  # before any refresh: the tail of fresh statements, added in memory
    stale = both(app, slug, 1, fresh=False)[1]
    assert stale.breakdowns["tenant"].total.learners == 9  # the tables alone are as of their watermark
    refresh(app, slug, batch=3)
    assert_same(app, slug)

    # Every statement of one enrolment voided: the enrolment leaves every group.
    for s in wave:
        if s["actor"] == learner("l0") and s["context"] == course_ctx(courses[1]):
            void(xapi, s)
    refresh(app, slug)
    assert_same(app, slug)

    # Idempotent: nothing new, nothing changes.
    before = figures_json(both(app, slug, 1)[1])
    assert refresh(app, slug).statements == 0
    assert figures_json(both(app, slug, 1)[1]) == before


def test_province_from_roster_then_tenant(app: Flask, xapi: Xapi) -> None:
    slug = tenant_slug(app, xapi)
    courses = [f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(2)]
    assert post_statements(xapi, first_wave(courses)).status_code == 200
    refresh(app, slug)
    now = datetime.now(UTC)
    with database(app).session() as s:
        tenant = s.scalars(select(Tenant).where(Tenant.slug == slug)).one()
        for i in range(4):
            s.add(LearnerRecord(tenant_id=tenant.id, learner_key=actor_key(learner(f"l{i}")), agent=learner(f"l{i}"),
                                province="Huế", attributes={}, created=now, updated=now))
        tenant.province = "Cần Thơ"
        s.flush()
        assert rollups.restate_provinces(s, tenant.id) == 10  # every enrolment moved out of "unknown"
        s.commit()
    assert_same(app, slug)
    new = both(app, slug, 1)[1]
    provinces = {g.key: g.learners for g in new.breakdowns["province"].groups}
    assert provinces == {"Huế": 4, "Cần Thơ": 5}


@pytest.mark.postgres
def test_two_refreshers_at_once_count_each_statement_once(postgresql_app: Flask) -> None:
    """Two workers refresh the same tenant concurrently in small batches: the watermark row is a lock,
    so every statement is read once and the figures equal the reference."""
    from tests.conftest import new_credential

    app = postgresql_app
    _, key, secret = new_credential(app, ["all"])
    xapi = Xapi(app.test_client(), key, secret)
    slug = tenant_slug(app, xapi)
    courses = [f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(2)]
    wave = first_wave(courses)
    assert post_statements(xapi, wave).status_code == 200
    results: list[rollups.Counted] = []
    threads = [threading.Thread(target=lambda: results.append(refresh(app, slug, batch=4))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.statements for r in results) == len(wave)
    with database(app).session() as s:
        tid = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
        state = s.get(RollupState, tid)
        assert state is not None and state.statements == len(wave)
    assert_same(app, slug)


def test_erasure_and_rebuild(app: Flask, xapi: Xapi) -> None:
    """GDPR-style erasure (lrs.audit.erasure) takes the learner out of the rollups in its own
    transaction (the hook the app registers); a rebuild from zero gives the same figures."""
    from lrs.audit.erasure import erase_agent

    slug = tenant_slug(app, xapi)
    courses = [f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(2)]
    assert post_statements(xapi, first_wave(courses)).status_code == 200
    refresh(app, slug)
    with database(app).session() as s:
        tid = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
        assert tid is not None
        erase_agent(s, tid, learner("l0"), actor="test")
        s.commit()
    assert_same(app, slug)
    assert both(app, slug, 1)[1].breakdowns["tenant"].total.learners == 8
    before = rounded(figures_json(both(app, slug, 1, fresh=False)[1]))
    rollups.rebuild(database(app), [slug])
    assert both(app, slug, 1, fresh=False)[1].breakdowns["tenant"].total.learners is None  # forgotten
    refresh(app, slug)
    assert rounded(figures_json(both(app, slug, 1, fresh=False)[1])) == before


def test_rollup_and_replica_settings() -> None:
    from hocvu.settings import SettingError, Settings

    assert Settings.from_env({}).reports.rollup_seconds == 60.0
    assert Settings.from_env({"HOCVU_ROLLUP_SECONDS": "0"}).reports.rollup_seconds == 0.0
    with pytest.raises(SettingError, match="HOCVU_ROLLUP_SECONDS='-1'"):
        Settings.from_env({"HOCVU_ROLLUP_SECONDS": "-1"})
    assert Settings.from_env({}).hub.database_replica_url is None
    url = "postgresql://reader@replica:5432/hocvu"
    assert Settings.from_env({"HOCVU_DATABASE_REPLICA_URL": url}).hub.database_replica_url == url
    assert Settings.of().reports.rollup_seconds == 0.0  # embedding: the loop stays off unless asked


def test_a_tail_over_the_budget_shows_the_watermark(app: Flask, xapi: Xapi, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page adds at most TAIL_MAX fresh statements: past that it shows the rollups as of their
    watermark and says so (asOf), so its cost stays bounded whatever the ingest rate."""
    import connectors.rollups.report as report_module

    slug = tenant_slug(app, xapi)
    courses = [f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(2)]
    assert post_statements(xapi, first_wave(courses)).status_code == 200
    refresh(app, slug)
    with database(app).session() as s:
        mark = s.scalar(select(RollupState.stored).join(Tenant, Tenant.id == RollupState.tenant_id)
                        .where(Tenant.slug == slug))
    more = [made(f"n{i}", "completed", courses[0], W10) for i in range(4)]
    assert post_statements(xapi, more).status_code == 200
    monkeypatch.setattr(report_module, "TAIL_MAX", 3)
    behind = both(app, slug, 1)[1]
    assert behind.breakdowns["tenant"].total.learners == 9 and behind.as_of is not None and mark is not None
    assert behind.as_of.replace(tzinfo=None) == mark.replace(tzinfo=None)
    monkeypatch.setattr(report_module, "TAIL_MAX", 4)
    assert both(app, slug, 1)[1].breakdowns["tenant"].total.learners == 13
