"""The page-weight budget for weak networks, measured on the wire: every byte the server sends (status
line, headers, body as compressed) to a real headless Chromium, counted by a WSGI wrapper around the
served app, so the service worker's own requests count too.

- First visit of a lesson, from a fresh browser: ≤ 60 KB, media and the pages kept ahead for offline
  use excepted (those are reported, not budgeted: the learner's own download of the course).
- Every later page of the course: ≤ 15 KB (static files come from the browser's caches: immutable,
  precached).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from flask import Flask

from lrs import credentials
from player.session import KEY, Learner, PlayerSession
from tests.browser_support import chromium, needs_chromium, served
from tests.conftest import new_credential

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = needs_chromium
COURSE = "course/ky-nang-so-vneid"
LESSON = f"{COURSE}/module/nen-tang/lesson/dien-thoai-an-toan"
LATER = (f"{COURSE}/module/nen-tang/lesson/trang-web-chinh-thong", COURSE,
         f"{COURSE}/module/vneid-dich-vu-cong/quiz/kiem-tra-cuoi-khoa")
FIRST_BUDGET, LATER_BUDGET = 60 * 1024, 15 * 1024


class Meter:
    """A WSGI wrapper counting what the server sends, per request."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app, self.sent, self.lock = app, [], threading.Lock()
        self.sent: list[tuple[str, bool, int]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        head = 0

        def counting_start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            nonlocal head
            head = len(f"HTTP/1.1 {status}\r\n") + sum(len(k) + len(v) + 4 for k, v in headers) + 2
            return start_response(status, headers, *exc)

        body = 0
        for chunk in self.app(environ, counting_start):
            body += len(chunk)
            yield chunk
        ahead = environ.get("HTTP_X_HOCVU_AHEAD") == "1"
        with self.lock:
            self.sent.append((environ["PATH_INFO"], ahead, head + body))

    def since(self, mark: int) -> list[tuple[str, bool, int]]:
        with self.lock:
            return list(self.sent[mark:])


@pytest.fixture(scope="module")
def metered(sqlite_app: Flask) -> Iterator[tuple[Meter, str]]:
    meter = Meter(sqlite_app.wsgi_app)
    with served(lambda environ, start: meter(environ, start)) as url:  # type: ignore[arg-type]
        yield meter, url


def settle(browser: Any, seconds: float = 4.0) -> None:
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
    time.sleep(seconds)   # the service worker installs and precaches after the load event


def test_a_lesson_weighs_under_60_kb_first_and_15_kb_after(sqlite_app: Flask, metered: tuple[Meter, str]) -> None:
    meter, base = metered
    slug, _, _ = new_credential(sqlite_app, ["all"])
    with sqlite_app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, slug).id
    launch = PlayerSession(tenant_id, Learner("https://lms.example.gov.vn", f"w-{uuid.uuid4().hex[:8]}"),
                           f"rl-{uuid.uuid4().hex[:6]}", COURSE)
    cookie = sqlite_app.session_interface.get_signing_serializer(sqlite_app).dumps(  # type: ignore[attr-defined]
        {KEY: launch.to_session()})
    with chromium(phone={"width": 360, "height": 740, "pixelRatio": 2.0}) as browser:
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setCookie", {"name": sqlite_app.config["SESSION_COOKIE_NAME"],
                                                      "value": cookie, "url": base + "/"})
        mark = len(meter.sent)
        browser.get(f"{base}/player/view/{LESSON}")
        settle(browser)
        first = meter.since(mark)
        budgeted = [(p, n) for p, ahead, n in first if not ahead and not p.startswith("/player/media/")]
        kept_ahead = sum(n for _, ahead, n in first if ahead)
        total = sum(n for _, n in budgeted)
        print(f"\nfirst visit of a lesson: {total} bytes in {len(budgeted)} responses "
              f"({', '.join(f'{p} {n}' for p, n in budgeted)}); pages kept ahead for offline: {kept_ahead} bytes")
        assert total <= FIRST_BUDGET, budgeted
        for target in LATER:
            mark = len(meter.sent)
            browser.get(f"{base}/player/view/{target}")
            settle(browser, 1.5)
            later = [(p, n) for p, ahead, n in meter.since(mark) if not ahead]
            weight = sum(n for _, n in later)
            print(f"later page {target}: {weight} bytes ({', '.join(f'{p} {n}' for p, n in later)})")
            assert weight <= LATER_BUDGET, later
