"""The auditor's pages in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium against the app on a loopback port. The attempt table and its filters render,
a filter narrows the table, the detail page shows the face checks and statements, and the pages
ask for nothing outside their origin (Chrome's own network log)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.browser_support import (
    basic_sign_in,
    chromium,
    leads_to_a_new_page,
    needs_chromium,
    requested_urls,
    served,
    tap,
)
from tests.identity.auditor.auditor_support import MATCH, NO_MATCH, national, new_tenant, write_attempt

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def server(sqlite_app: Flask) -> Iterator[str]:
    with served(sqlite_app) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium(flags=("--window-size=1400,1600",), network_log=True) as driver:
        yield driver


def rows(browser: Any) -> list[Any]:
    return browser.find_elements(By.CSS_SELECTOR, "#attempts tbody tr[data-session]")


def test_the_auditor_pages_render_in_a_browser(sqlite_app: Flask, server: str, browser: Any,
                                               tmp_path: Path) -> None:
    course = f"https://hocvu.vn/activities/course/browser-{uuid.uuid4().hex[:8]}"
    clean = write_attempt(sqlite_app, new_tenant(sqlite_app), course=course, checks=[MATCH, MATCH])
    failed = write_attempt(sqlite_app, new_tenant(sqlite_app), course=course, checks=[MATCH, NO_MATCH])
    basic_sign_in(browser, *national(sqlite_app, "auditor"))

    browser.get(f"{server}/audit/?course={course}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Kiểm toán lượt làm bài / Attempt audit"
    # The filters render: a tenant list naming both tenants, dates, the problem and signal boxes.
    options = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, 'select[name="tenant"] option')]
    assert clean.tenant in options and failed.tenant in options
    boxes = [b.get_attribute("value") for b in browser.find_elements(By.CSS_SELECTOR, 'input[name="problem"]')]
    assert boxes == ["unverified", "failed_checks", "signature_invalid", "supervised", "photo_only",
                     "several_lms_accounts", "repeated_failures", "matches_other_learner"]
    assert browser.find_element(By.NAME, "since").get_attribute("type") == "date"
    # The table: one row per attempt, laid out (a real size), with its face checks listed.
    assert {r.get_attribute("data-session") for r in rows(browser)} == {clean.session_id, failed.session_id}
    table = browser.find_element(By.ID, "attempts")
    assert table.size["width"] > 600 and table.size["height"] > 60
    row = next(r for r in rows(browser) if r.get_attribute("data-session") == failed.session_id)
    assert len(row.find_elements(By.CSS_SELECTOR, "ul.checks li")) == 2
    assert "no_match" in row.text and "unverified" in row.text
    browser.save_screenshot(str(tmp_path / "attempts.png"))

    # Tick "failed checks" and filter: only the attempt with a failed recheck remains.
    tap(browser, (By.CSS_SELECTOR, 'input[name="problem"][value="failed_checks"]'))
    leads_to_a_new_page(browser, lambda: tap(browser, (By.CSS_SELECTOR, "form.filters button")))
    assert "problem=failed_checks" in browser.current_url
    assert [r.get_attribute("data-session") for r in rows(browser)] == [failed.session_id]
    assert browser.find_element(By.CSS_SELECTOR, 'input[value="failed_checks"]').is_selected()

    # The attempt's page: its checks and its four signed, chained statements.
    leads_to_a_new_page(browser, lambda: tap(browser, (By.CSS_SELECTOR, "#attempts a.detail")))
    assert browser.find_element(By.ID, "outcome").text == "unverified"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#checks tbody tr")) == 2
    statuses = [r.get_attribute("data-signature") for r in browser.find_elements(By.CSS_SELECTOR,
                                                                                     "#statements tbody tr")]
    assert statuses == ["valid"] * 4
    assert browser.find_element(By.ID, "bundle").get_attribute("href").startswith(f"{server}/audit/bundle?")
    browser.save_screenshot(str(tmp_path / "attempt.png"))

    urls = requested_urls(browser)
    assert urls and all(u.startswith(server + "/") or u.startswith(("data:", "about:")) for u in urls), urls
