"""SCORM 1.2 and 2004 packages (our own SCOs, tests/data/scorm) played in headless Chromium at 360 px:
the SCO finds the hub's run-time API (scorm-again) in its parent window, answers, suspends, is
reloaded and resumes where it was left, completes; the statements are read back from the tenant's LRS
and the score reaches the session's grade reporter; axe-core finds nothing serious on the player page."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lrs import credentials
from player.domain import registration_for
from player.session import KEY, Learner, PlayerSession
from tests.browser_support import chromium, needs_chromium, served
from tests.conftest import Xapi, new_credential
from tests.packages.scorm_support import grades_of, imported, recording_reporter

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

AXE = Path(__file__).resolve().parents[2] / "player" / "web" / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = [needs_chromium, pytest.mark.skipif(not AXE.is_file(), reason="axe-core is not installed "
                                                 "(npm ci --prefix player/web, or make test)")]
PHONE = {"width": 360, "height": 740, "pixelRatio": 2.0}
ADL = "http://adlnet.gov/expapi/verbs/"


@pytest.fixture(scope="module")
def server(sqlite_app: Flask) -> Iterator[str]:
    with served(sqlite_app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(phone=PHONE) as driver:
        yield driver


def learner(app: Flask, target: str) -> tuple[PlayerSession, Xapi]:
    slug, key, secret = new_credential(app, ["all"])
    with app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, slug).id
    launch = PlayerSession(tenant_id=tenant_id, learner=Learner("https://lms.example.gov.vn",
                                                                f"hv-{uuid.uuid4().hex[:10]}", "Lê Thị Mai"),
                           link=f"rl-{uuid.uuid4().hex[:8]}", target=target, reporter=recording_reporter(app))
    return launch, Xapi(app.test_client(), key, secret, version="2.0.0")


def sign_in(app: Flask, browser: Any, server: str, launch: PlayerSession) -> None:
    """What a source (an LTI launch) does, done the test's way: the player session in the signed cookie."""
    cookie = app.session_interface.get_signing_serializer(app).dumps({KEY: launch.to_session()})  # type: ignore[attr-defined]
    browser.get(f"{server}/offline")
    browser.delete_all_cookies()
    browser.add_cookie({"name": app.config["SESSION_COOKIE_NAME"], "value": cookie, "path": "/"})


def in_sco(browser: Any, wait: WebDriverWait, expect: Callable[[str], bool]) -> str:
    """Into the SCO's frame; waits until its status line says what ``expect`` wants."""
    browser.switch_to.default_content()
    wait.until(lambda d: d.find_element(By.ID, "sco-frame"))
    browser.switch_to.frame(browser.find_element(By.ID, "sco-frame"))
    wait.until(lambda d: expect(d.find_element(By.ID, "status").text))
    return str(browser.find_element(By.ID, "status").text)


def click(browser: Any, css: str) -> None:
    el = browser.find_element(By.CSS_SELECTOR, css)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
    el.click()


def statements(xapi: Xapi, launch: PlayerSession, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        res = xapi.get("statements", registration=registration_for(launch), ascending="true")
        found: list[dict[str, Any]] = res.get_json()["statements"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def verbs(found: list[dict[str, Any]]) -> list[str]:
    return [s["verb"]["id"].removeprefix(ADL) for s in found]


def page_checks(browser: Any) -> None:
    """axe-core on the player page (serious or critical: none) and nothing wider than 360 px."""
    browser.switch_to.default_content()
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    browser.set_script_timeout(60)
    found = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done(String(e)));")
    assert isinstance(found, list), found
    assert [f"{v['id']}: {v['help']}" for v in found if v["impact"] in ("serious", "critical")] == []
    width, scroll = browser.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollWidth]")
    assert width == PHONE["width"] and scroll <= width


def test_scorm12_answer_suspend_reload_resume_complete(sqlite_app: Flask, server: str, browser: Any) -> None:
    # SCORM 1.2 RTE §3.3 API (LMSInitialize ... LMSFinish), §3.4.2 entry/exit/suspend_data/lesson_location
    course = imported(sqlite_app, "scorm12")
    launch, xapi = learner(sqlite_app, course.target)
    wait = WebDriverWait(browser, 20)
    sign_in(sqlite_app, browser, server, launch)
    browser.get(f"{server}/player/")
    assert in_sco(browser, wait, lambda s: "step:" in s) == "entry:ab-initio step:1 learner:yes"
    click(browser, "input[name=q1][value=b]")
    click(browser, "#next")
    in_sco(browser, wait, lambda s: "step:2" in s)
    click(browser, "#suspend")
    in_sco(browser, wait, lambda s: s == "suspended")
    assert verbs(statements(xapi, launch, 3)) == ["initialized", "responded", "suspended"]
    page_checks(browser)

    browser.refresh()   # the learner comes back: the SCO resumes at the second question
    assert in_sco(browser, wait, lambda s: "step:" in s) == "entry:resume step:2 learner:yes"
    click(browser, "input[name=q2][value=a]")
    click(browser, "#finish")
    in_sco(browser, wait, lambda s: s.startswith("finished"))
    found = statements(xapi, launch, 9)
    assert verbs(found) == ["initialized", "responded", "suspended", "resumed", "responded", "responded", "passed",
                            "scored", "terminated"]
    assert found[-1]["result"]["score"] == {"scaled": 1.0, "raw": 100, "min": 0, "max": 100}
    assert found[4]["object"]["id"].endswith("/interactions/q1") and found[4]["result"]["response"] == "b"
    [(target, grade)] = grades_of(launch.learner.account)
    assert (target, grade.score_given, grade.score_max, grade.activity_progress) == (course.target, 100.0, 100.0,
                                                                                     "Completed")


def test_scorm2004_flow_and_choice_between_scos(sqlite_app: Flask, server: str, browser: Any) -> None:
    # SCORM 2004 SN §4.2 flow ("continue" by adl.nav.request, RTE §4.4), §4.3 choice (the table of contents)
    course = imported(sqlite_app, "scorm2004")
    launch, xapi = learner(sqlite_app, course.target)
    wait = WebDriverWait(browser, 20)
    sign_in(sqlite_app, browser, server, launch)
    browser.get(f"{server}/player/")
    assert in_sco(browser, wait, lambda s: s.startswith("intro:")) == "intro:ab-initio"
    click(browser, "#continue")   # the SCO asks the LMS to continue, then terminates
    wait.until(lambda d: d.current_url.endswith("/sco/kiem-tra"))
    in_sco(browser, wait, lambda s: "step:1" in s)
    page_checks(browser)
    browser.switch_to.frame(browser.find_element(By.ID, "sco-frame"))
    click(browser, "input[name=q1][value=b]")
    click(browser, "#next")
    in_sco(browser, wait, lambda s: "step:2" in s)
    click(browser, "input[name=q2][value=b]")   # wrong: 50
    click(browser, "#finish")
    in_sco(browser, wait, lambda s: s.startswith("finished"))
    found = statements(xapi, launch, 9)
    assert verbs(found) == ["initialized", "completed", "terminated", "initialized", "responded", "responded",
                            "completed", "passed", "scored", "terminated"][:len(found)]
    assert found[-1]["result"]["score"]["scaled"] == 0.5
    [*_, (_, grade)] = grades_of(launch.learner.account)
    assert (grade.score_given, grade.score_max, grade.activity_progress) == (50.0, 100.0, "Completed")
    browser.switch_to.default_content()
    click(browser, ".scorm-toc a[href$='/sco/gioi-thieu']")   # choice: back to the introduction
    assert in_sco(browser, wait, lambda s: s.startswith("intro:")) == "intro:ab-initio"
