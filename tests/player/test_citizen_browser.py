"""A citizen with no LMS, in real headless Chromium at two phone sizes (360×740 and 390×844): signs in
with the demo VNeID, finishes a lesson and a quiz, sees their progress in "my learning"; then the
network is cut mid-quiz (CDP Network.emulateNetworkConditions, offline), the page is reloaded while
offline (the service worker serves it; the queue survives in IndexedDB), the quiz is submitted
offline, and the network comes back: every answer and statement arrives exactly once, in order, and
the page said "waiting" and then "synced"."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lrs import credentials
from player.citizen import CITIZEN_HOME
from player.storage import QuizAttempt, SyncedOp
from tests.browser_support import chromium, needs_chromium
from tests.player.citizen_support import SEEN_EXT, citizen_app, fresh_national_tenant, reader
from tests.player.offline_support import offline
from tests.player.player_support import ADL, SHIPPED

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = needs_chromium

COURSE = "ky-nang-so-vneid"
QUIZ = f"course/{COURSE}/module/vneid-dich-vu-cong/quiz/kiem-tra-cuoi-khoa"   # untimed: may be submitted offline
PHONES = {"360x740": {"width": 360, "height": 740, "pixelRatio": 2.0},
          "390x844": {"width": 390, "height": 844, "pixelRatio": 3.0}}


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    with citizen_app(tmp_path_factory.mktemp("citizen-browser"), browser=True) as found:
        yield found


@pytest.fixture(params=list(PHONES), scope="module")
def phone(request: pytest.FixtureRequest) -> Iterator[tuple[Any, dict[str, Any]]]:
    size = PHONES[request.param]
    with chromium(phone=size) as driver:
        yield driver, size


def fits(browser: Any, size: dict[str, Any]) -> None:
    """WCAG 2.2 SC 1.4.10 (reflow): nothing wider than the phone, never zoomed out."""
    width, scroll, scale = browser.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollWidth, visualViewport.scale]")
    assert (width, scale) == (size["width"], 1) and scroll <= width, browser.current_url


def state(browser: Any) -> str:
    return str(browser.find_element(By.ID, "sync-status").get_attribute("data-state") or "")


def click(browser: Any, element: Any) -> None:
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def sign_in(browser: Any, base: str, sub: str) -> None:
    browser.get(f"{base}/")
    click(browser, browser.find_element(By.ID, "sign-in"))
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "button[name=citizen]"))
    click(browser, browser.find_element(By.CSS_SELECTOR, f'button[name=citizen][value="{sub}"]'))
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "certificates"))   # "my learning"


def finish_a_lesson(browser: Any, size: dict[str, Any]) -> None:
    wait = WebDriverWait(browser, 20)
    click(browser, browser.find_element(By.ID, "begin"))
    wait.until(lambda d: d.find_elements(By.ID, "lesson"))
    fits(browser, size)
    for p in browser.find_elements(By.CSS_SELECTOR, ".transcript p[data-index]"):
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", p)
    wait.until(lambda d: d.find_element(By.ID, "lesson").get_attribute("data-sent") == "100")
    click(browser, browser.find_element(By.ID, "complete"))
    wait.until(lambda d: d.find_element(By.ID, "completed-offline").is_displayed())
    wait.until(lambda d: state(d) == "synced")


def answer(browser: Any, question: Any, choices: list[str]) -> None:
    for choice in choices:
        click(browser, browser.find_element(By.CSS_SELECTOR, f'input[name="q.{question}"][value="{choice}"]'))


def test_a_citizen_learns_offline_and_everything_arrives_once_in_order(served_app: tuple[Flask, str],
                                                                       phone: tuple[Any, dict[str, Any]]) -> None:
    app, base = served_app
    browser, size = phone
    slug = fresh_national_tenant(app)
    browser.delete_all_cookies()
    wait = WebDriverWait(browser, 25)
    sub = "demo-0001" if size["width"] == 360 else "demo-0002"
    sign_in(browser, base, sub)
    fits(browser, size)
    browser.get(f"{base}/")
    fits(browser, size)
    click(browser, browser.find_element(By.CSS_SELECTOR, f"#course-{COURSE} a.button"))
    wait.until(lambda d: d.find_elements(By.ID, "begin"))
    fits(browser, size)
    finish_a_lesson(browser, size)

    browser.get(f"{base}/player/view/{QUIZ}")
    click(browser, browser.find_element(By.ID, "start"))
    wait.until(lambda d: d.find_elements(By.ID, "quiz-form"))
    fits(browser, size)
    quiz = SHIPPED.resolve(QUIZ).quiz
    assert quiz is not None
    chosen = {q.id: sorted(q.correct) for q in quiz.questions}
    first, *rest = quiz.questions
    answer(browser, first.id, chosen[first.id])
    wait.until(lambda d: state(d) == "synced")

    seen: list[str] = app.extensions[SEEN_EXT]
    with offline(browser):               # the network is cut mid-quiz, the service worker's too
        cut = len(seen)
        for q in rest:
            answer(browser, q.id, chosen[q.id])
        wait.until(lambda d: state(d) == "waiting")
        assert "Đã lưu trên máy" in browser.find_element(By.ID, "sync-status").text
        browser.refresh()                # a reload while offline: the page from the service worker
        wait.until(lambda d: d.find_elements(By.ID, "quiz-form") and state(d) == "waiting")
        for q in rest:                   # the answers chosen offline are still there (IndexedDB)
            for c in chosen[q.id]:
                box = browser.find_element(By.CSS_SELECTOR, f'input[name="q.{q.id}"][value="{c}"]')
                assert box.is_selected(), (q.id, c)
        fits(browser, size)
        click(browser, browser.find_element(By.ID, "submit-quiz"))
        wait.until(lambda d: d.find_element(By.ID, "quiz-held").is_displayed())
        assert "tự động nộp khi có mạng" in browser.find_element(By.ID, "quiz-held").text
        assert state(browser) == "waiting"
        # Nothing of the page reached the server meanwhile: the reload came from the device. (The
        # browser's own update check of the worker script is no page's request and is not cut by
        # a target's emulation; it may run after register() and is left out.)
        assert [r for r in seen[cut:] if r != "GET /sw.js"] == []
    # ... and comes back
    wait.until(lambda d: d.find_elements(By.ID, "score"))
    assert browser.find_element(By.ID, "score").text.startswith(f"Điểm: {quiz.max_score}/{quiz.max_score}")
    wait.until(lambda d: state(d) == "synced")
    fits(browser, size)

    xapi = reader(app, slug)
    got = xapi.get("statements", ascending="true", limit=0).get_json()["statements"]
    assert len({s["id"] for s in got}) == len(got)   # nothing twice
    quiz_part = [s for s in got if s["object"]["id"].startswith("https://hocvu.vn/xapi/activities/" + QUIZ)]
    verbs = [s["verb"]["id"].removeprefix(ADL) for s in quiz_part]
    assert verbs == ["launched", "initialized"] + ["answered"] * len(quiz.questions) + \
        ["completed", "passed", "terminated"]
    assert [s["object"]["id"].rsplit("/", 1)[1] for s in quiz_part[2:-3]] == [q.id for q in quiz.questions]
    assert {s["actor"]["account"]["homePage"] for s in got} == {CITIZEN_HOME}
    with app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, slug).id
        ops = list(s.scalars(select(SyncedOp).where(SyncedOp.tenant_id == tenant_id).order_by(SyncedOp.id)))
        attempt = s.scalar(select(QuizAttempt).where(QuizAttempt.tenant_id == tenant_id))
    answered = [op for op in ops if op.kind == "answer"]
    assert [op.seq for op in ops] == sorted(op.seq for op in ops)           # synced in the device's order
    assert len({op.op_id for op in ops}) == len(ops)                         # each op once
    assert [op.kind for op in ops if op.kind in ("answer", "submit")] == ["answer"] * len(answered) + ["submit"]
    assert len(answered) == sum(len(c) for c in chosen.values())             # every click, once
    assert attempt is not None and attempt.answers == chosen and attempt.passed
    assert ops[-1].statement_ids == [s["id"] for s in quiz_part[2:]]

    browser.get(f"{base}/learning/")
    record = browser.find_element(By.ID, f"record-{COURSE}").text
    assert "Hoàn thành" in record and "Bài học đã xong: 1/" in record and "đạt" in record
    fits(browser, size)
    assert uuid.UUID(ops[0].device)
