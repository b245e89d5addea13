"""The auditor's pages in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium against the app on a loopback port. The attempt table and its filters render,
a filter narrows the table, the detail page shows the face checks and statements, and the pages
ask for nothing outside their origin (Chrome's own network log)."""

from __future__ import annotations

import base64
import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.identity.auditor_support import MATCH, NO_MATCH, national, new_tenant, write_attempt

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (make browser, or apt-get install -y chromium chromium-driver)")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1600")


@pytest.fixture(scope="module")
def server(sqlite_app: Flask) -> Iterator[str]:
    srv = make_server("127.0.0.1", 0, sqlite_app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # every request the page makes
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(browser: Any, key: str, secret: str) -> None:
    """HTTP Basic as a browser sends it once the person typed the key and secret in its prompt."""
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})


def requested_urls(browser: Any) -> list[str]:
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def rows(browser: Any) -> list[Any]:
    return browser.find_elements(By.CSS_SELECTOR, "#attempts tbody tr[data-session]")


def test_the_auditor_pages_render_in_a_browser(sqlite_app: Flask, server: str, browser: Any,
                                               tmp_path: Path) -> None:
    course = f"https://hocvu.vn/activities/course/browser-{uuid.uuid4().hex[:8]}"
    clean = write_attempt(sqlite_app, new_tenant(sqlite_app), course=course, checks=[MATCH, MATCH])
    failed = write_attempt(sqlite_app, new_tenant(sqlite_app), course=course, checks=[MATCH, NO_MATCH])
    sign_in(browser, *national(sqlite_app, "auditor"))

    browser.get(f"{server}/audit/?course={course}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Kiểm toán lượt làm bài / Attempt audit"
    # The filters render: a tenant list naming both tenants, dates, the three problem boxes.
    options = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, 'select[name="tenant"] option')]
    assert clean.tenant in options and failed.tenant in options
    boxes = [b.get_attribute("value") for b in browser.find_elements(By.CSS_SELECTOR, 'input[name="problem"]')]
    assert boxes == ["unverified", "failed_checks", "signature_invalid"]
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
    old = browser.find_element(By.TAG_NAME, "h1")
    browser.find_element(By.CSS_SELECTOR, 'input[name="problem"][value="failed_checks"]').click()
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(old))
    assert "problem=failed_checks" in browser.current_url
    assert [r.get_attribute("data-session") for r in rows(browser)] == [failed.session_id]
    assert browser.find_element(By.CSS_SELECTOR, 'input[value="failed_checks"]').is_selected()

    # The attempt's page: its checks and its four signed, chained statements.
    browser.find_element(By.CSS_SELECTOR, "#attempts a.detail").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.ID, "checks")))
    assert browser.find_element(By.ID, "outcome").text == "unverified"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#checks tbody tr")) == 2
    statuses = [r.get_attribute("data-signature") for r in browser.find_elements(By.CSS_SELECTOR,
                                                                                     "#statements tbody tr")]
    assert statuses == ["valid"] * 4
    assert browser.find_element(By.ID, "bundle").get_attribute("href").startswith(f"{server}/audit/bundle?")
    browser.save_screenshot(str(tmp_path / "attempt.png"))

    urls = requested_urls(browser)
    assert urls and all(u.startswith(server + "/") or u.startswith(("data:", "about:")) for u in urls), urls
