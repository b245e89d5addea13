"""The identity gate's capture page in a real browser (issue 12): headless Chromium whose camera is a
file (``--use-fake-device-for-media-stream`` with ``--use-file-for-fake-video-capture=<y4m>``): a y4m
made in the test from a synthetic head-pose render (tests/face_check/synthetic.py) performing the
server's challenge. identity.js asks the server for the challenge, opens the camera, shows each step,
records the burst and posts it; the server judges it with the real models and opens the gate. axe-core
finds nothing serious on the page.

Spec clauses: ISO/IEC 30107-1 §5.2 (challenge-response at capture); WCAG 2.1 §4.1.3 (status messages:
each step is announced through a live region), checked with axe-core.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from sqlalchemy import select

from identity import storage as identity_storage
from player.session import KEY
from tests.browser_support import chromium, needs_chromium, tap
from tests.identity.gate.gate_support import CHALLENGE_SEED, QUIZ, IdentityEnv, account_key
from tests.player.player_support import CSRF

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

AXE = Path(__file__).resolve().parents[3] / "player" / "web" / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = [needs_chromium, pytest.mark.skipif(not AXE.is_file(), reason="axe-core is not installed "
                                                 "(npm ci --prefix player/web, or make test)")]
CITIZEN = "demo-0005"
PHOTO = "C_img8.jpg"   # its synthetic renders pass the fixed challenge (gate_support.CHALLENGE_SEED)
FPS = 10


def y4m(path: Path, frames: list[Any]) -> Path:
    """A YUV4MPEG2 file (4:2:0, 640×480, 10 frames a second) of the BGR ``frames``."""
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W640 H480 F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def camera_file(folder: Path, photos: dict[str, bytes], new_challenge: Any) -> Path:
    """The learner doing the fixed challenge's steps in their slots, then looking at the camera for a
    while (the fake device loops the file; it restarts with each capture)."""
    from tests.face_check.synthetic import Scene, burst, decode, perform

    challenge = new_challenge(random.Random(CHALLENGE_SEED))
    frames = [decode(data) for _, data in burst(Scene.from_photo(photos[PHOTO]), challenge, perform(challenge),
                                                 seed=3)]
    return y4m(folder / "camera.y4m", frames + [frames[0]] * 60)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, identity_env: IdentityEnv) -> Iterator[Any]:
    camera = camera_file(tmp_path_factory.mktemp("camera"), identity_env.photos, identity_env.new_challenge)
    with chromium(flags=("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                         f"--use-file-for-fake-video-capture={camera}")) as driver:
        yield driver


def serious(browser: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    browser.set_script_timeout(60)
    found = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done(String(e)));")
    assert isinstance(found, list), found
    return [f"{v['impact']} {v['id']}: {v['help']}" for v in found if v["impact"] in ("serious", "critical")]


# Every text the step region shows, in order (a MutationObserver installed before the capture starts).
WATCH = """
window.__prompts = [];
const el = document.querySelector('#identity-check [data-prompt]');
new MutationObserver(() => {
  const t = el.textContent;
  if (t && window.__prompts.at(-1) !== t) window.__prompts.push(t);
}).observe(el, {childList: true, characterData: true, subtree: true});
"""


def test_the_capture_page_runs_the_challenge_and_the_server_judges_the_burst(identity_env: IdentityEnv,
                                                                              browser: Any) -> None:
    env = identity_env
    learner = env.learner()
    learner.ready(CITIZEN)
    with env.db.session() as s:
        account = s.scalar(select(identity_storage.IdentityAccount).where(
            identity_storage.IdentityAccount.subject_hmac == account_key(env, CITIZEN)))
        assert account is not None
        account_id = account.id
    try:
        assert learner.enrol(PHOTO).status_code == 303   # enrolment's own burst: the HTTP tests cover it
        cookie = env.app.session_interface.get_signing_serializer(env.app).dumps({  # type: ignore[attr-defined]
            KEY: learner.launch.to_session(), "csrf": CSRF,
            "identity.account": account_id, "identity.signed_in_at": int(time.time())})
        browser.get(f"{env.base}/player/")
        browser.delete_all_cookies()
        browser.add_cookie({"name": env.app.config["SESSION_COOKIE_NAME"], "value": cookie, "path": "/"})
        browser.get(f"{env.base}/player/identity/gate?target={QUIZ}")
        form = browser.find_element(By.ID, "identity-check")
        assert not form.find_elements(By.CSS_SELECTOR, "input[type=file]")   # no upload path
        start = form.find_element(By.CSS_SELECTOR, "[data-camera-start]")
        assert start.is_displayed() and not form.find_element(By.CSS_SELECTOR, "[data-camera-needed]").is_displayed()
        assert serious(browser) == []
        browser.execute_script(WATCH)
        tap(browser, start)
        # Each step is shown (and announced) in its slot, in the challenge's order.
        prompts = WebDriverWait(browser, 30, poll_frequency=0.1).until(lambda d: (lambda p: p if p and any(
            t.startswith("Bước 3/3") for t in p) else None)(d.execute_script("return window.__prompts || null")))
        assert [t.split(":")[0] for t in prompts if t.startswith("Bước")] == ["Bước 1/3", "Bước 2/3", "Bước 3/3"]
        assert "TRÁI" in prompts[1] and "PHẢI" in prompts[2] and "CHỚP MẮT" in prompts[3], prompts
        WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "identity-passed"))  # back on the quiz
        [row] = learner.assurance()
        assert (row.check_outcome, row.check_liveness, row.check_liveness_result) == (
            "match", "active-challenge-v1", "passed")
        assert row.check_assurance == "face-liveness"
    finally:  # the citizen stays unenrolled for the other tests
        with env.db.session() as s:
            identity_storage.delete_face_enrolment(s, account_id)
            s.commit()
