"""Every page a person meets — the front door, "my learning", the player, the identity gate, the VNeID
sign-in (the demo provider's page), the identity page, the LMS admin page, the analysts' dashboard,
the auditors' pages — on a 360×740 phone in real headless Chromium:

- a mobile viewport, and nothing wider than the screen (WCAG 2.2 SC 1.4.10 Reflow, at 360 CSS px);
- axe-core (npm, injected from player/web/node_modules: no CDN) finds no serious or critical
  violation (WCAG 2.2 A and AA rules, among them SC 1.4.3 contrast, SC 2.5.3 label in name, SC 4.1.2
  name, role, value).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from credentials.revocation import revoke
from credentials.storage import IssuedCredential
from lrs import credentials
from tests.browser_support import chromium, needs_chromium, tap
from tests.connectors.test_dashboard_browser import seed
from tests.credentials.support import cfg, completed, path_of
from tests.identity.auditor.auditor_support import MATCH, NO_MATCH, new_tenant, write_attempt
from tests.player.citizen_support import citizen_app, fresh_national_tenant

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

AXE = Path(__file__).resolve().parents[1] / "player" / "web" / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = [needs_chromium, pytest.mark.skipif(not AXE.is_file(), reason="axe-core is not installed "
                                                 "(npm ci --prefix player/web, or make test)")]
PHONE = {"width": 360, "height": 740, "pixelRatio": 2.0}
COURSE = "course/tro-ly-ai-hanh-chinh"
LESSON = f"{COURSE}/module/lam-quen/lesson/tro-ly-ai-la-gi"
ASSURED = f"{COURSE}/module/tra-cuu-va-phuc-vu-nguoi-dan/quiz/kiem-tra"
QUIZ = "course/ky-nang-so-vneid/module/vneid-dich-vu-cong/quiz/kiem-tra-cuoi-khoa"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    with citizen_app(tmp_path_factory.mktemp("a11y"), browser=True) as found:
        fresh_national_tenant(found[0])
        yield found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(phone=PHONE) as driver:
        yield driver


def serious(browser: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    browser.set_script_timeout(60)
    found = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done(String(e)));")
    assert isinstance(found, list), found
    return [f"{v['impact']} {v['id']}: {v['help']} — " + "; ".join(n["target"][0] for n in v["nodes"][:3])
            for v in found if v["impact"] in ("serious", "critical")]


# The elements that reach past the screen's right edge, outside any scrolling box: what to fix.
WIDEST = """
const width = arguments[0], out = [];
for (const el of document.body.querySelectorAll('*')) {
  let p = el.parentElement, boxed = false;
  for (; p; p = p.parentElement) { if (getComputedStyle(p).overflowX !== 'visible') { boxed = true; break; } }
  const r = el.getBoundingClientRect();
  const classes = el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '';
  if (!boxed && r.right > width + 1) {
    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes + ' ' + Math.round(r.right));
  }
}
return out.slice(0, 5).join(', ');
"""


def check(browser: Any, url: str, problems: dict[str, list[str]]) -> None:
    browser.get(url)
    inspect(browser, url.split("/", 3)[-1] or "/", problems)


def inspect(browser: Any, label: str, problems: dict[str, list[str]]) -> None:
    """The page the browser shows now (also one reached by a form POST), under ``label``."""
    WebDriverWait(browser, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")
    found = list(serious(browser))
    viewport = browser.execute_script("var m = document.querySelector('meta[name=viewport]'); return m && m.content")
    if not viewport or "width=device-width" not in viewport:
        found.append("no mobile viewport (meta name=viewport width=device-width)")
    width, scroll = browser.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollWidth]")
    if scroll > width:
        widest = browser.execute_script(WIDEST, width)
        found.append(f"{scroll} px wide on a {width} px screen (WCAG 2.2 SC 1.4.10): {widest}")
    if found:
        problems[label] = found


def basic(browser: Any, key: str | None = None, secret: str | None = None) -> None:
    headers = {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()} if key else {}
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})


def test_every_page_fits_a_phone_and_axe_finds_nothing_serious(site: tuple[Flask, str], browser: Any) -> None:
    app, base = site
    problems: dict[str, list[str]] = {}
    browser.delete_all_cookies()
    check(browser, f"{base}/", problems)                       # the front door, signed out
    check(browser, f"{base}/offline", problems)
    browser.get(f"{base}/learning/")                           # sign in: the demo VNeID's own page
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "button[name=citizen]"))
    check(browser, browser.current_url, problems)
    browser.find_element(By.CSS_SELECTOR, 'button[name=citizen][value="demo-0001"]').click()
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "certificates"))
    for path in ("/", "/learning/", "/learning/erase", "/identity/"):
        check(browser, f"{base}{path}", problems)
    browser.get(f"{base}/courses/tro-ly-ai-hanh-chinh")
    for target in (COURSE, LESSON, ASSURED):
        check(browser, f"{base}/player/view/{target}", problems)
    check(browser, f"{base}/player/identity/gate?target={ASSURED}", problems)   # the identity gate
    browser.get(f"{base}/courses/ky-nang-so-vneid")
    browser.get(f"{base}/player/view/{QUIZ}")
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "quiz-form"))
    check(browser, browser.current_url, problems)               # an attempt
    browser.find_element(By.ID, "submit-quiz").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "result"))
    check(browser, browser.current_url.split("#")[0], problems)   # a result
    browser.delete_all_cookies()
    check(browser, f"{base}/player/", problems)                 # no session: the message page

    _, key, secret = seed(app)   # a tenant with enough learners for every chart
    course = f"https://hocvu.vn/activities/course/a11y-{uuid.uuid4().hex[:8]}"
    write_attempt(app, new_tenant(app), course=course, checks=[MATCH, NO_MATCH])   # an attempt for the auditors
    with app.extensions["hocvu.db"].session() as s:
        auditor, auditor_secret = credentials.create_national_credential(s, "auditor", "a11y auditor")
        analyst, analyst_secret = credentials.create_national_credential(s, "analyst", "a11y analyst")
        s.commit()
        auditor_key, analyst_key = auditor.key, analyst.key
    try:
        basic(browser, key, secret)
        check(browser, f"{base}/lti/admin/", problems)         # an LMS administrator
        basic(browser, analyst_key, analyst_secret)
        check(browser, f"{base}/reports/", problems)           # the analysts' dashboard
        basic(browser, auditor_key, auditor_secret)
        check(browser, f"{base}/audit/?course={course}", problems)   # the auditors' attempts
        detail = browser.find_elements(By.CSS_SELECTOR, "a.detail")
        assert detail, "the seeded attempts are listed"
        check(browser, str(detail[0].get_attribute("href")), problems)   # one attempt, its checks and proofs
    finally:
        basic(browser)
    assert problems == {}, "\n".join(f"{page}:\n  " + "\n  ".join(found) for page, found in problems.items())


def test_the_credential_pages_fit_a_phone_and_axe_finds_nothing_serious(site: tuple[Flask, str],
                                                                        browser: Any) -> None:
    """Issue 15's pages at 360×740 (WCAG 2.2 SC 1.4.10 Reflow; axe-core serious/critical, WCAG 2.2 A and
    AA): the credential's own page that "my learning" links to (Vietnamese and English), its printable
    page with the QR code, the employer's verification form, the result of a pasted credential
    (valid), of something that is not a credential (malformed), and a revoked credential's page."""
    app, base = site
    who, credential = completed(app, name="Nguyễn Thị Thu Hương")
    [item] = [c for c in who.mine() if c["status"] == "live"]
    page = base + path_of(credential["id"])
    problems: dict[str, list[str]] = {}
    browser.delete_all_cookies()
    check(browser, page + "?lang=vi", problems)
    check(browser, page + "?lang=en", problems)
    check(browser, base + path_of(item["links"]["print"]) + "?lang=vi", problems)
    for pasted, outcome in ((json.dumps(credential, ensure_ascii=False), "valid"), ("{\"type\": 1", "malformed")):
        check(browser, f"{base}/credentials/verify?lang=vi", problems)   # the employer's form
        browser.execute_script("document.getElementById('credential').value = arguments[0];", pasted)
        tap(browser, (By.CSS_SELECTOR, "form button[type=submit]"))
        verdict = WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "verdict"))[0]
        assert verdict.get_attribute("data-outcome") == outcome
        inspect(browser, f"credentials/verify (POST: {outcome})", problems)
    with app.extensions["hocvu.db"].session() as s:   # Bitstring Status List v1.0 §3.2: the bit set
        revoke(s, cfg(app), s.scalars(select(IssuedCredential).where(
            IssuedCredential.public_id == item["id"].rsplit("/", 1)[1])).all(), "fraud", datetime.now(UTC))
        s.commit()
    check(browser, base + path_of(item["id"]) + "?lang=vi", problems)
    assert browser.find_element(By.ID, "verdict").get_attribute("data-outcome") == "revoked"
    assert problems == {}, "\n".join(f"{page}:\n  " + "\n  ".join(found) for page, found in problems.items())
