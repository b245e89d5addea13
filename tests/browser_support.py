"""Real-browser test plumbing shared by every browser test: headless Chromium (Debian's chromium and
chromium-driver) driven by Selenium, against an app served on a loopback port. Tests that use it
skip, saying why, when Selenium, chromium or chromedriver is missing."""

from __future__ import annotations

import base64
import json
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (make browser, or apt-get install -y chromium chromium-driver)")
# Headless, and nothing of Chrome's own talking to the network (tests also assert the page does not).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` on a free loopback port, threaded; yields its base URL."""
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        thread.join(timeout=10)


@contextmanager
def chromium(*, flags: Iterable[str] = (), phone: dict[str, Any] | None = None,
             network_log: bool = False) -> Iterator[Any]:
    """A headless Chromium session. ``phone``: mobile emulation device metrics; ``network_log``:
    keep Chrome's performance log, so a test can list every request the page made."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in (*FLAGS, *flags):
        options.add_argument(flag)
    if phone:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": phone})
    if network_log:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def basic_sign_in(browser: Any, key: str, secret: str) -> None:
    """HTTP Basic as a browser sends it once the person typed the key and secret in its prompt."""
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})


def requested_urls(browser: Any) -> list[str]:
    """Every URL the page requested, from Chrome's own network log (needs ``network_log=True``)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


# Is the element where a person would tap it: shown, enabled, scrolled into view, its box settled
# (the same as a frame ago: no transition, no late layout), and the topmost thing at its centre (no
# sticky bar, banner or half-drawn neighbour over it)?
_READY_TO_TAP = """
const el = arguments[0];
if (!el.isConnected || el.disabled) return false;
const box = el.getBoundingClientRect();
if (box.width === 0 || box.height === 0) return false;
const x = box.left + box.width / 2, y = box.top + box.height / 2;
if (y < 0 || y > window.innerHeight || x < 0 || x > window.innerWidth) {
  el.scrollIntoView({block: "center", inline: "center"});
  return false;
}
const key = [box.left, box.top, box.width, box.height].join();
const settled = el.dataset.testBox === key;
el.dataset.testBox = key;
if (!settled) return false;
const top = document.elementFromPoint(x, y);
return top === el || el.contains(top) || (el.labels && [...el.labels].some(l => l.contains(top)));
"""


def tap(browser: Any, target: Any, timeout: float = 20) -> None:
    """Click ``target`` (an element, or a (By, value) locator found afresh each time, so a page that
    is still being replaced is waited for) once a person could: visible, enabled, its layout settled
    and nothing over it, waiting for that condition, never for a fixed time. A click the browser
    still reports as intercepted (a repaint between the check and the click) is tried again."""
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        ElementNotInteractableException,
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    def clicked(driver: Any) -> bool:
        try:
            element = driver.find_element(*target) if isinstance(target, tuple) else target
            if not driver.execute_script(_READY_TO_TAP, element):
                return False
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        try:
            element.click()
        except (ElementClickInterceptedException, ElementNotInteractableException):
            return False
        return True

    WebDriverWait(browser, timeout, poll_frequency=0.1).until(clicked, "the element never became clickable")


def leads_to_a_new_page(browser: Any, act: Any, timeout: float = 20) -> None:
    """Do ``act()`` (a tap that submits or follows a link) and wait, as a person does, until the
    next page is there and loaded: the old document gone (a marker set on it is no longer found) and
    the new one complete. Polling an element of the old page instead races the navigation itself
    (chromedriver can answer "node does not belong to the document" mid-way)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__hocvuOldPage = true")
    act()
    WebDriverWait(browser, timeout, poll_frequency=0.1, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return window.__hocvuOldPage === undefined && document.readyState === 'complete'"),
        "the next page never loaded")

