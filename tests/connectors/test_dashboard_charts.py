"""Issue 17 item 3, "dashboard p95 ≤ 500 ms": a dashboard view draws nothing with a chart library.
The charts are SVG written from the rollups' figures for each view (connectors.charts), so a view
never waits on matplotlib, every worker and machine shows the same charts from the same database
with nothing to share, and a rollup refresh shows its figures at the next view (no stale chart)."""

from __future__ import annotations

import re
import sys
import uuid
from datetime import timedelta

import pytest
from flask import Flask

from connectors import charts
from hocvu.app import create_app
from tests.conftest import Xapi
from tests.connectors.export_support import database, post_statements, tenant_slug
from tests.connectors.test_reports_http import basic, get
from tests.connectors.test_rollups import W10, first_wave, made, refresh

FIGURE = re.compile(r'<figure class="chart" id="([^"]+)">(.*?)</figure>', re.S)


def page_charts(app: Flask, headers: dict[str, str]) -> dict[str, str]:
    r = get(app, "", headers)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return dict(FIGURE.findall(r.get_data(as_text=True)))


def seeded(app: Flask, xapi: Xapi) -> tuple[str, list[str], dict[str, str]]:
    slug = tenant_slug(app, xapi)
    courses = [f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(2)]
    assert post_statements(xapi, first_wave(courses)).status_code == 200
    refresh(app, slug)
    return slug, courses, basic(xapi.key, xapi.secret)


def test_a_dashboard_view_never_draws_with_matplotlib(app: Flask, xapi: Xapi, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page answers with its five charts while matplotlib cannot even be imported, and writes
    each chart set once per view (counted)."""
    _, _, headers = seeded(app, xapi)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # any import of it now raises ImportError
    written = []
    real = charts.report_charts
    monkeypatch.setattr(charts, "report_charts", lambda b: written.append(1) or real(b))
    import connectors.report_page as page

    monkeypatch.setattr(page, "report_charts", charts.report_charts)
    found = page_charts(app, headers)
    assert list(found) == ["enrolments-by-week", "rates-by-tenant", "rates-by-course", "rates-by-province",
                           "time-by-course"]
    assert all(svg.startswith("<svg") and "<rect" in svg for svg in found.values())
    assert written == [1]


def test_two_app_objects_on_one_database_show_the_same_charts(app: Flask, xapi: Xapi) -> None:
    """Two workers (app objects) on one database: nothing is drawn or kept in one process that the
    other lacks; both pages hold the same charts."""
    _, _, headers = seeded(app, xapi)
    db = database(app)
    other = create_app(app.extensions["hocvu.settings"], db=db)  # another worker: same settings and keys
    assert page_charts(app, headers) == page_charts(other, headers)


def test_a_refresh_shows_its_figures_at_the_next_view(app: Flask, xapi: Xapi) -> None:
    """New statements rolled up: the next view's charts show them (a new ISO week's bar), never a
    chart of the figures before."""
    slug, courses, headers = seeded(app, xapi)
    before = page_charts(app, headers)
    late = [made(f"n{i}", "completed", courses[0], W10 + timedelta(days=200)) for i in range(3)]
    assert post_statements(xapi, late).status_code == 200
    assert refresh(app, slug).statements == len(late)
    after = page_charts(app, headers)
    assert after["enrolments-by-week"] != before["enrolments-by-week"]
    assert "2026-W38" in after["enrolments-by-week"] and "2026-W38" not in before["enrolments-by-week"]
