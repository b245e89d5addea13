"""Issue 5 item 4: the report's numbers on a small hand-built dataset (exact rates), k-anonymity with
complementary suppression, and the page: charts as inline SVG, nothing loaded from elsewhere."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from flask import Flask

from connectors.export import ExportQuery
from connectors.export_schema import NAMES
from connectors.frames import rows_frame
from connectors.report_page import render
from connectors.reports import (
    COMPLETED,
    FAILED,
    PASSED,
    TERMINATED,
    UNKNOWN_PROVINCE,
    Breakdown,
    Group,
    build_report,
    enrolments,
    load_report,
)
from connectors.storage import LearnerRecord
from hocvu.settings import SettingError, Settings
from identity.stamp import stamp_statement
from lrs.identifiers import actor_key
from lrs.storage import Tenant
from tests.conftest import Xapi, statement
from tests.connectors.export_support import (
    ADL,
    COURSE_TYPE,
    MATCH,
    NO_MATCH,
    database,
    learner,
    stamp,
    tenant_slug,
    verb,
)
from tests.identity.auditor.auditor_support import signed_body

W10 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)   # ISO week 2026-W10
W11 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # ISO week 2026-W11
LAUNCHED = ADL + "launched"
_seq = iter(range(1, 10_000))


def row(tenant: str, actor: str, course: str, verb_id: str, when: datetime, *, duration: float | None = None,
        completion: bool | None = None, verified: bool | None = None) -> tuple[Any, ...]:
    values: dict[str, Any] = dict.fromkeys(NAMES)
    values.update(seq=next(_seq), statement_id=str(uuid.uuid4()), tenant=tenant, stored=when,
                  date=when.date().isoformat(), timestamp=when, actor_key=actor, verb_id=verb_id,
                  object_type="Activity", object_id=course + "/lesson", course_id=course,
                  duration_seconds=duration, completion=completion,
                  verification_outcome=None if verified is None else ("verified" if verified else "unverified"))
    return tuple(values[n] for n in NAMES)


def dataset() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tenant A: course C1 (a1-a4), C2 (a1, a5); tenant B: C1 (b1-b3), C3 (b4-b6). Provinces: a1-a4
    Hà Nội, a5 Huế, the b learners have no learner record."""
    A, B = "bo-a", "bo-b"
    C1, C2, C3 = "https://c/1", "https://c/2", "https://c/3"
    t = W10
    rows = [
        row(A, "a1", C1, COMPLETED, t), row(A, "a1", C1, PASSED, t, verified=True),
        row(A, "a1", C1, TERMINATED, t, duration=600),
        row(A, "a2", C1, COMPLETED, t, duration=300), row(A, "a2", C1, FAILED, t, verified=False),
        row(A, "a2", C1, PASSED, t + timedelta(hours=1), verified=True),
        row(A, "a3", C1, LAUNCHED, t),
        row(A, "a4", C1, FAILED, t, verified=True), row(A, "a4", C1, COMPLETED + "-not", t, duration=420),
        row(A, "a4", C1, TERMINATED, t, duration=1200),
        row(A, "a1", C2, COMPLETED, t), row(A, "a1", C2, PASSED, t, verified=False),
        row(A, "a1", C2, TERMINATED, t, duration=1800),
        row(A, "a5", C2, LAUNCHED, t),
        row(B, "b1", C1, COMPLETED, W11), row(B, "b1", C1, PASSED, W11, verified=True),
        row(B, "b1", C1, TERMINATED, W11, duration=900),
        row(B, "b2", C1, ADL + "experienced", W11, completion=True),
        row(B, "b3", C1, FAILED, W11, verified=True),
        *(row(B, f"b{i}", C3, LAUNCHED, W11) for i in (4, 5, 6)),
    ]
    provinces = pd.DataFrame([(A, f"a{i}", "Hà Nội") for i in range(1, 5)] + [(A, "a5", "Huế")],
                             columns=["tenant", "actor_key", "province"])
    return rows_frame(rows), provinces


def figures(g: Group) -> tuple[Any, ...]:
    return (g.learners, g.enrolments, g.completion_rate, g.pass_rate, g.verified_rate, g.hours,
            g.minutes_per_enrolment, g.suppressed)


def by_key(b: Breakdown) -> dict[str, Group]:
    return {g.key: g for g in b.groups}


def test_exact_rates_by_tenant_and_total() -> None:
    frame, provinces = dataset()
    report = build_report(frame, min_group=3, provinces=provinces, tenant_names={"bo-a": "Bộ A"})
    tenants = by_key(report.breakdowns["tenant"])
    # A: 6 enrolments, 5 learners; completions a1C1 a2C1 a1C2; graded a1C1 a2C1 a4C1 a1C2, passed 3 of
    # them; attempts 5, verified 3; time: 600 + 300 (no terminated: its reported duration) + 1200 + 1800.
    assert figures(tenants["bo-a"]) == (5, 6, 3 / 6, 3 / 4, 3 / 5, 3900 / 3600, 3900 / 4 / 60, None)
    assert tenants["bo-a"].label == "Bộ A" and tenants["bo-b"].label == "bo-b"
    # B: 6 learners, completion b1 and b2 (result.completion), but only 2 learners with a graded
    # attempt: under k, so the pass and verified rates are hidden in an otherwise published row.
    assert figures(tenants["bo-b"]) == (6, 6, 2 / 6, None, None, 900 / 3600, 900 / 1 / 60, None)
    total = report.breakdowns["tenant"].total
    assert figures(total) == (11, 12, 5 / 12, 4 / 6, 5 / 7, 4800 / 3600, 4800 / 5 / 60, None)
    weeks = by_key(report.breakdowns["week"])
    assert (weeks["2026-W10"].enrolments, weeks["2026-W11"].enrolments) == (6, 6)


def test_small_groups_are_suppressed_with_complementary_cells() -> None:
    """k-anonymity: C2 has 2 learners (< k = 3). Hiding only C2 would let total − C1 − C3 give it back,
    so the smallest other course (C3, 3 learners) is hidden too; C1 stays."""
    frame, provinces = dataset()
    report = build_report(frame, min_group=3, provinces=provinces)
    courses = by_key(report.breakdowns["course"])
    assert courses["https://c/2"].suppressed == "small" and courses["https://c/3"].suppressed == "complementary"
    assert figures(courses["https://c/2"])[:7] == (None,) * 7
    assert courses["https://c/1"].suppressed is None and courses["https://c/1"].learners == 7
    provinces_table = by_key(report.breakdowns["province"])
    assert provinces_table["Huế"].suppressed == "small"
    assert provinces_table["Hà Nội"].suppressed == "complementary"  # 4 learners < unknown's 6
    assert provinces_table[UNKNOWN_PROVINCE].learners == 6


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 11, 12])
def test_no_hidden_cell_can_be_recomputed_from_the_total(k: int) -> None:
    """Property of every table at every k: the hidden groups together hold at least k learners
    (or the total is hidden), and every shown group has at least k."""
    frame, provinces = dataset()
    enr = enrolments(frame, provinces)
    report = build_report(frame, min_group=k, provinces=provinces)
    columns = {"tenant": "tenant", "course": "course_id", "province": "province", "week": "week"}
    for name, b in report.breakdowns.items():
        hidden = [g.key for g in b.groups if g.suppressed]
        shown = [g for g in b.groups if not g.suppressed]
        assert all(g.learners is not None and g.learners >= k for g in shown)
        if b.total.suppressed:
            assert not shown and enr["actor_key"].nunique() < k
        elif hidden:
            union = enr.loc[enr[columns[name]].astype(str).isin(hidden), "actor_key"].nunique()
            assert union >= k, name


def test_everything_is_hidden_when_the_total_is_under_k() -> None:
    frame, provinces = dataset()
    report = build_report(frame, min_group=12, provinces=provinces)  # 11 learners in all
    for b in report.breakdowns.values():
        assert b.total.suppressed == "small" and all(g.suppressed for g in b.groups)
    assert report.to_json()["breakdowns"]["tenant"]["total"]["learners"] is None


def test_min_group_setting() -> None:
    assert Settings.from_env({}).reports.report_min_group == 5
    assert Settings.from_env({"HOCVU_REPORT_MIN_GROUP": "10"}).reports.report_min_group == 10
    with pytest.raises(SettingError, match="HOCVU_REPORT_MIN_GROUP='0'"):
        Settings.from_env({"HOCVU_REPORT_MIN_GROUP": "0"})


def test_the_page_has_inline_svg_charts_and_loads_nothing() -> None:
    frame, provinces = dataset()
    html = render(build_report(frame, min_group=3, provinces=provinces,
                               course_names={"https://c/1": "<script>alert(1)</script> Kỹ năng số"}))
    assert len(re.findall(r"<svg\b", html)) == 5
    for needle in ("<script", "<link", "<img", "<iframe", "@import", "src=", "url(http", "<!DOCTYPE svg"):
        assert needle not in html
    # Every href is a fragment inside an SVG (xlink:href="#..."): nothing is fetched from anywhere.
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Kỹ năng số" in html
    assert "ẩn: dưới 3 người học" in html


def test_report_from_the_store_with_provinces_and_course_names(app: Flask, xapi: Xapi) -> None:
    """Statements through the xAPI API; provinces from learner records; the course's name from the
    Activity definition the store keeps; the verified-attempt rate from the identity stamps."""
    course = f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}"
    ctx = {"contextActivities": {"grouping": [{"id": course, "definition": {
        "type": COURSE_TYPE, "name": {"vi": "Kỹ năng số cơ bản"}}}]}}
    sent = []
    for i in range(6):
        who = learner(f"r-{i}")
        sent.append(statement(id=str(uuid.uuid4()), actor=who, verb=verb("completed"), context=ctx))
        st = statement(id=str(uuid.uuid4()), actor=who, verb=verb("passed" if i < 4 else "failed"), context=ctx,
                       result={"success": i < 4, "duration": "PT10M"})
        sent.append(stamp_statement(st, stamp(2, MATCH if i < 3 else NO_MATCH)))
    content_type, body = signed_body(app, sent)  # a stamp is stored only hub-signed (identity.stamp_guard)
    assert xapi.post("statements", data=body, headers={"Content-Type": content_type}).status_code == 200
    slug = tenant_slug(app, xapi)
    now = datetime.now(UTC)
    with database(app).session() as s:
        tenant = s.query(Tenant).filter_by(slug=slug).one()
        for i in range(6):
            s.add(LearnerRecord(tenant_id=tenant.id, learner_key=actor_key(learner(f"r-{i}")), agent=learner(f"r-{i}"),
                                province="Đà Nẵng" if i < 5 else "Huế", attributes={}, created=now, updated=now))
        s.commit()
        report = load_report(s, ExportQuery(tenants=[slug], settle=timedelta(0)), min_group=5)
    total = report.breakdowns["tenant"].total
    assert figures(total) == (6, 6, 1.0, 4 / 6, 3 / 6, 3600 / 3600, 10.0, None)
    assert by_key(report.breakdowns["course"])[course].label == "Kỹ năng số cơ bản"
    provinces = by_key(report.breakdowns["province"])
    # Huế has one learner; Đà Nẵng (5) is hidden with it, else total − Đà Nẵng would give Huế away.
    assert (provinces["Huế"].suppressed, provinces["Đà Nẵng"].suppressed) == ("small", "complementary")
    assert report.tenants == [slug]


def test_charts_are_written_from_the_figures_and_name_their_table() -> None:
    """The charts are SVG written from the figures (no drawing library): the same figures give the
    same SVG, other figures other SVG, never a stale one; each is an image with a text alternative
    (WCAG 2.2 SC 1.1.1) that points to the table holding every figure, sized by a viewBox so it
    shrinks to a phone."""
    from connectors.charts import report_charts

    frame, provinces = dataset()
    one = build_report(frame, min_group=3, provinces=provinces).breakdowns
    other = build_report(frame, min_group=1, provinces=provinces).breakdowns
    first = report_charts(one)
    assert report_charts(one) == first and report_charts(other) != first
    ids = []
    for chart_id, svg in first:
        assert re.match(r'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 \d+"', svg), chart_id
        assert 'role="img"' in svg and "<title id=" in svg and "every figure is in the table below" in svg
        ids += re.findall(r' id="([^"]+)"', svg)
    assert len(ids) == len(set(ids))  # five charts on one page: no id twice
