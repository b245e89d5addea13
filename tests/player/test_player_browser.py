"""The player in a real browser at a phone's size: headless Chromium (Debian's chromium and
chromium-driver) driven by Selenium against the app served on a loopback port. A learner reads a
lesson through its transcript (the placeholder video never loads: no network is needed), marks it
done, then takes the timed quiz; the statements are read back from the tenant's LRS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from lrs import credentials
from player.catalogue import load_catalogue
from player.domain import registration_for
from player.session import KEY, Learner, PlayerSession
from player.storage import QuizAttempt
from tests.browser_support import chromium, needs_chromium, served, tap
from tests.conftest import Xapi, new_credential

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = needs_chromium

COURSE = "course/an-toan-khong-gian-mang"
QUIZ = f"{COURSE}/module/phong-tranh-va-xu-ly/quiz/kiem-tra"
PHONE = {"width": 390, "height": 844, "pixelRatio": 3.0}
ADL = "http://adlnet.gov/expapi/verbs/"


@pytest.fixture(scope="module")
def server(sqlite_app: Flask) -> Iterator[str]:
    with served(sqlite_app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(phone=PHONE) as driver:
        yield driver


def learner(app: Flask, target: str) -> tuple[PlayerSession, str, str]:
    slug, key, secret = new_credential(app, ["all"])
    with app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, slug).id
    return PlayerSession(tenant_id=tenant_id, learner=Learner("https://lms.example.gov.vn",
                                                              f"hv-{uuid.uuid4().hex[:10]}", "Lê Thị Mai"),
                         link=f"rl-{uuid.uuid4().hex[:8]}", target=target), key, secret


def sign_in(app: Flask, browser: Any, server: str, launch: PlayerSession) -> None:
    """What a source (an LTI launch) does, done the test's way: the player session in the signed cookie."""
    cookie = app.session_interface.get_signing_serializer(app).dumps({KEY: launch.to_session()})  # type: ignore[attr-defined]
    browser.get(f"{server}/player/")  # on the origin first, so the cookie can be set for it
    browser.delete_all_cookies()
    browser.add_cookie({"name": app.config["SESSION_COOKIE_NAME"], "value": cookie, "path": "/"})


def fits_the_phone(browser: Any) -> None:
    """Nothing wider than the screen, so the browser never zooms the page out."""
    width, scroll, scale = browser.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollWidth, visualViewport.scale]")
    assert (width, scale) == (PHONE["width"], 1) and scroll <= width


def test_a_learner_reads_a_lesson_and_takes_the_quiz_on_a_phone(sqlite_app: Flask, server: str, browser: Any,
                                                                 tmp_path: Path) -> None:
    launch, key, secret = learner(sqlite_app, COURSE)
    wait = WebDriverWait(browser, 15)

    browser.get(f"{server}/player/")
    body = browser.find_element(By.TAG_NAME, "main").text  # no launch: said in both languages
    assert "Hãy mở khoá học từ hệ thống học tập" in body and "Please open the course from your learning" in body
    sign_in(sqlite_app, browser, server, launch)
    browser.get(f"{server}/player/")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("An toàn trên không gian mạng")
    fits_the_phone(browser)

    tap(browser, (By.ID, "begin"))
    wait.until(lambda d: d.find_elements(By.ID, "lesson"))
    fits_the_phone(browser)
    assert "Video của bài này đang được sản xuất" in browser.page_source
    # Read the transcript paragraph by paragraph: player.js reports how far the learner got.
    paragraphs = browser.find_elements(By.CSS_SELECTOR, ".transcript p[data-index]")
    assert len(paragraphs) >= 3
    for p in paragraphs:
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", p)
    wait.until(lambda d: d.find_element(By.ID, "lesson").get_attribute("data-sent") == "100")
    complete = browser.find_element(By.ID, "complete")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", complete)
    tap(browser, complete)  # queued on the device, then synced (player.offline): the page says so
    wait.until(lambda d: d.find_element(By.ID, "completed-offline").is_displayed())
    wait.until(lambda d: d.find_element(By.ID, "sync-status").get_attribute("data-state") == "synced")

    browser.get(f"{server}/player/view/{QUIZ}")
    tap(browser, (By.ID, "start"))
    wait.until(lambda d: d.find_elements(By.ID, "quiz-form"))
    fits_the_phone(browser)  # the fraud quiz quotes long web addresses: they must wrap
    assert browser.find_element(By.ID, "timer").text.startswith(("10:00", "9:5"))
    quiz = load_catalogue(Path(__file__).resolve().parents[2] / "courses").resolve(QUIZ).quiz
    assert quiz is not None
    for i, q in enumerate(quiz.questions):
        chosen = sorted(q.correct) if i else [next(c for c in q.choice_ids if c not in q.correct)]  # one wrong
        for choice in chosen:
            box = browser.find_element(By.CSS_SELECTOR, f'input[name="q.{q.id}"][value="{choice}"]')
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
            tap(browser, box)
    submit = browser.find_element(By.ID, "submit-quiz")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", submit)
    browser.save_screenshot(str(tmp_path / "quiz.png"))
    tap(browser, submit)
    wait.until(lambda d: d.find_elements(By.ID, "score"))
    assert browser.find_element(By.ID, "score").text == "Điểm: 7/8 (88%)"
    assert "Chúc mừng, bạn đã đạt!" in browser.find_element(By.ID, "verdict").text
    browser.save_screenshot(str(tmp_path / "result.png"))

    xapi = Xapi(sqlite_app.test_client(), key, secret, version="2.0.0")
    got = xapi.get("statements", registration=registration_for(launch), ascending="true").get_json()["statements"]
    seen = [s["verb"]["id"].removeprefix(ADL) for s in got]
    lesson, quiz_part = seen[:seen.index("terminated") + 1], seen[seen.index("terminated") + 1:]
    assert lesson[:2] == ["launched", "initialized"] and lesson[-2:] == ["completed", "terminated"]
    assert "progressed" in lesson
    assert quiz_part == ["launched", "initialized"] + ["answered"] * 8 + ["completed", "passed", "terminated"]
    passed = got[-2]
    assert passed["result"]["score"] == {"scaled": 0.875, "raw": 7, "min": 0, "max": 8}


def test_the_countdown_submits_at_zero_with_the_saved_answers(sqlite_app: Flask, server: str, browser: Any) -> None:
    launch, _, _ = learner(sqlite_app, QUIZ)
    sign_in(sqlite_app, browser, server, launch)
    browser.get(f"{server}/player/view/{QUIZ}")
    tap(browser, (By.ID, "start"))
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "quiz-form"))
    quiz = load_catalogue(Path(__file__).resolve().parents[2] / "courses").resolve(QUIZ).quiz
    assert quiz is not None
    for q in quiz.questions[:6]:  # six answered (all right), two left blank
        for choice in sorted(q.correct):
            box = browser.find_element(By.CSS_SELECTOR, f'input[name="q.{q.id}"][value="{choice}"]')
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
            tap(browser, box)
    db = sqlite_app.extensions["hocvu.db"]

    def saved() -> int:
        with db.session() as s:
            return len(s.scalar(select(QuizAttempt.answers).where(
                QuizAttempt.registration == registration_for(launch))) or {})
    WebDriverWait(browser, 15).until(lambda d: saved() == 6)  # autosaved as the learner went
    with db.session() as s:  # nine minutes and fifty-seven seconds pass
        s.execute(update(QuizAttempt).where(QuizAttempt.registration == registration_for(launch))
                  .values(deadline=datetime.now(UTC) + timedelta(seconds=3)))
        s.commit()
    browser.refresh()  # the page picks up the server's deadline; the learner just waits
    assert browser.find_element(By.ID, "timer").text in ("0:03", "0:02")
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "score"))
    assert browser.find_element(By.ID, "score").text == "Điểm: 6/8 (75%)"
    with db.session() as s:
        status = s.scalar(select(QuizAttempt.status).where(QuizAttempt.registration == registration_for(launch)))
    assert status == "submitted"  # on time: the countdown sent it at zero
