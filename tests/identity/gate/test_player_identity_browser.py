"""The identity gate with JavaScript in a real browser: headless Chromium whose camera is a file
(Chromium's fake capture device showing a photo of person A from ../shared/faces), driven by
Selenium. identity.js asks for the camera (getUserMedia), captures a 640×480 JPEG frame and
posts it, for the enrolment with consent, the check before the quiz and a recheck during it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from sqlalchemy import select, update

from identity import storage as identity_storage
from identity.storage import AttemptAssurance
from player.session import KEY
from tests.browser_support import chromium, needs_chromium, tap
from tests.identity.gate.gate_support import FACES, QUIZ, IdentityEnv, account_key
from tests.player.player_support import CSRF

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = needs_chromium
CITIZEN = "demo-0005"


def camera_file(folder: Path) -> Path:
    """An MJPEG "video" (JPEG frames end to end) of person A, 640×480, for the fake camera."""
    image = cv2.imread(str(FACES / "A_img2.jpg"))
    canvas = np.full((480, 640, 3), 200, np.uint8)
    scale = min(640 / image.shape[1], 480 / image.shape[0])
    small = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))
    y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    ok, frame = cv2.imencode(".jpg", canvas)
    assert ok
    path = folder / "camera.mjpeg"
    path.write_bytes(frame.tobytes() * 3)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    camera = camera_file(tmp_path_factory.mktemp("camera"))
    with chromium(flags=("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                         f"--use-file-for-fake-video-capture={camera}")) as driver:
        yield driver


def take_photo(browser: Any, form_id: str) -> None:
    form = browser.find_element(By.ID, form_id)
    start = form.find_element(By.CSS_SELECTOR, "[data-camera-start]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", start)
    tap(browser, start)
    WebDriverWait(browser, 15).until(lambda d: d.execute_script(
        "var v = document.querySelector('#' + arguments[0] + ' video'); return v && v.videoWidth > 0", form_id))
    tap(browser, form.find_element(By.CSS_SELECTOR, "[data-capture]"))


def test_camera_enrolment_check_and_recheck(identity_env: IdentityEnv, browser: Any) -> None:
    env = identity_env
    learner = env.learner()
    learner.sign_in(CITIZEN)  # VNeID sign-in itself is covered by the form tests; here, its result
    with env.db.session() as s:
        account = s.scalar(select(identity_storage.IdentityAccount).where(
            identity_storage.IdentityAccount.subject_hmac == account_key(env, CITIZEN)))
        assert account is not None
        account_id = account.id
    cookie = env.app.session_interface.get_signing_serializer(env.app).dumps({  # type: ignore[attr-defined]
        KEY: learner.launch.to_session(), "csrf": CSRF,
        "identity.account": account_id, "identity.signed_in_at": int(time.time())})
    wait = WebDriverWait(browser, 20)
    try:
        browser.get(f"{env.base}/player/")
        browser.delete_all_cookies()
        browser.add_cookie({"name": env.app.config["SESSION_COOKIE_NAME"], "value": cookie, "path": "/"})
        browser.get(f"{env.base}/player/identity/gate?target={QUIZ}")
        tap(browser, (By.ID, "identity-bind"))
        wait.until(lambda d: d.find_elements(By.ID, "identity-enrol"))
        tap(browser, (By.CSS_SELECTOR, "#identity-enrol input[name=consent]"))
        take_photo(browser, "identity-enrol")
        wait.until(lambda d: d.find_elements(By.ID, "identity-check"))  # enrolled: on to the check
        take_photo(browser, "identity-check")
        wait.until(lambda d: d.find_elements(By.ID, "identity-passed"))  # matched: back on the quiz page
        tap(browser, (By.ID, "start"))
        wait.until(lambda d: d.find_elements(By.ID, "quiz-form"))
        assert not browser.find_element(By.ID, "identity-recheck").is_displayed()  # not due yet

        [row] = learner.assurance()
        with env.db.session() as s:
            s.execute(update(AttemptAssurance).where(AttemptAssurance.id == row.id)
                      .values(recheck_due=datetime.now(UTC) - timedelta(seconds=1)))
            s.commit()
        browser.refresh()
        wait.until(lambda d: d.find_element(By.ID, "identity-recheck").is_displayed())
        take_photo(browser, "identity-recheck-form")
        wait.until(lambda d: not d.find_element(By.ID, "identity-recheck").is_displayed())
        [row] = learner.assurance()
        assert row.checks == 2 and row.failed_at is None and row.check_outcome == "match"
        assert row.recheck_due is not None and row.recheck_due.replace(tzinfo=UTC) > datetime.now(UTC)
    finally:  # the citizen stays unenrolled for the other tests
        with env.db.session() as s:
            identity_storage.delete_face_enrolment(s, account_id)
            s.commit()
