"""The reports dashboard in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium against the app on a loopback port. It checks the charts rendered (inline SVG
elements with a real size and drawn bars) and that the page asked for nothing outside its origin
(Chrome's own network log, not the page's word for it)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from identity.stamp import stamp_statement
from lrs import credentials
from tests.browser_support import (
    basic_sign_in,
    chromium,
    leads_to_a_new_page,
    needs_chromium,
    requested_urls,
    served,
    tap,
)
from tests.conftest import new_credential, statement
from tests.connectors.export_support import MATCH, NO_MATCH, course_context, learner, stamp, verb
from tests.identity.auditor.auditor_support import signed_body

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

pytestmark = needs_chromium
CHARTS = ("enrolments-by-week", "rates-by-tenant", "rates-by-course", "rates-by-province", "time-by-course")


@pytest.fixture(scope="module")
def server(sqlite_app: Flask) -> Iterator[str]:
    with served(sqlite_app) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium(flags=("--window-size=1280,1600",), network_log=True) as driver:
        yield driver


def seed(app: Flask) -> tuple[str, str, str]:
    """A tenant with 8 learners in one course: enough (k = 5) for every chart to have bars."""
    slug, key, secret = new_credential(app, ["all"])
    client = app.test_client()
    course = f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}"
    sent = []
    for i in range(8):
        ctx = course_context(str(uuid.uuid4()), course=course)
        who = learner(f"b-{i}")
        sent.append(statement(id=str(uuid.uuid4()), actor=who, verb=verb("completed"), context=ctx,
                              result={"completion": True, "duration": f"PT{10 + i}M"}))
        judged = statement(id=str(uuid.uuid4()), actor=who, verb=verb("passed" if i % 3 else "failed"),
                           context=ctx, result={"success": bool(i % 3), "score": {"scaled": 0.8}})
        sent.append(stamp_statement(judged, stamp(2, MATCH if i % 2 else NO_MATCH)))
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    content_type, body = signed_body(app, sent)  # a stamp is stored only hub-signed (identity.stamp_guard)
    r = client.post("/xapi/statements", data=body, headers={
        "Authorization": f"Basic {token}", "Content-Type": content_type, "X-Experience-API-Version": "1.0.3"})
    assert r.status_code == 200, r.get_data(as_text=True)
    return slug, key, secret


def submit_filters(browser: Any) -> None:
    leads_to_a_new_page(browser, lambda: tap(browser, (By.CSS_SELECTOR, "form.filters button")))


def charts_rendered(browser: Any) -> None:
    for chart_id in CHARTS:
        svg = browser.find_element(By.CSS_SELECTOR, f"figure#{chart_id} > svg")
        width, height, shapes = browser.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return [r.width, r.height, arguments[0].querySelectorAll('rect, line, text').length];", svg)
        assert width > 100 and height > 100 and shapes > 10, chart_id


def test_the_dashboard_renders_its_charts_offline(sqlite_app: Flask, server: str, browser: Any,
                                                  tmp_path: Path) -> None:
    _, key, secret = seed(sqlite_app)
    basic_sign_in(browser, key, secret)
    browser.get(f"{server}/reports/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Báo cáo học tập / Learning report"
    charts_rendered(browser)
    # Eight learners: the tenant's row is published, with its figures.
    row = browser.find_element(By.CSS_SELECTOR, "#table-tenant tbody tr")
    assert row.get_attribute("data-suppressed") == "" and row.find_elements(By.TAG_NAME, "td")[1].text == "8"
    browser.save_screenshot(str(tmp_path / "dashboard.png"))
    urls = requested_urls(browser)
    assert urls and all(u.startswith(server + "/") or u.startswith(("data:", "about:")) for u in urls), urls

    # The filter form: a date range in which nothing was stored leaves empty charts, not errors.
    browser.find_element(By.NAME, "since").send_keys("01/01/2020")
    browser.find_element(By.NAME, "until").send_keys("01/02/2020")
    submit_filters(browser)
    assert "since=2020-01-01" in browser.current_url
    assert browser.find_element(By.CSS_SELECTOR, "#table-tenant tr.total").get_attribute("data-suppressed") == "small"
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.chart > svg")) == len(CHARTS)


def test_a_national_analyst_chooses_a_tenant_and_sees_pseudonymised_figures(sqlite_app: Flask, server: str,
                                                                           browser: Any) -> None:
    slug, _, _ = seed(sqlite_app)
    with sqlite_app.extensions["hocvu.db"].session() as s:
        cred, secret = credentials.create_national_credential(s, "analyst", "browser test")
        s.commit()
        key = cred.key
    basic_sign_in(browser, key, secret)
    browser.get(f"{server}/reports/")
    Select(browser.find_element(By.CSS_SELECTOR, 'select[name="tenant"]')).select_by_value(slug)
    submit_filters(browser)
    assert f"tenant={slug}" in browser.current_url
    assert browser.find_element(By.ID, "pseudonymised").is_displayed()
    charts_rendered(browser)
    cells = browser.find_elements(By.CSS_SELECTOR, "#table-tenant tr.total td")
    assert cells[1].text == "8"
    urls = requested_urls(browser)
    assert all(u.startswith(server + "/") or u.startswith(("data:", "about:")) for u in urls), urls
