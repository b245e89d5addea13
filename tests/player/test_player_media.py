"""Lesson video on weak networks (player.media): a low-bitrate rendition with captions, after the
transcript, never preloaded, kept on the device only when the learner asks, and then playable offline.
The fixture video is made here (OpenCV, VP8 in WebM, 160×120, 2 s), never downloaded."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import credentials
from lrs.storage import Database
from player.catalogue import load_catalogue
from player.pages import CATALOGUE_EXT
from player.session import KEY, Learner, PlayerSession
from tests.browser_support import CHROMEDRIVER, CHROMIUM, chromium, served
from tests.conftest import new_credential, run_instance
from tests.player.offline_support import offline

ROOT = Path(__file__).resolve().parents[2]
COURSE = "course/ky-nang-so-vneid"
LESSON = f"{COURSE}/module/nen-tang/lesson/dien-thoai-an-toan"
CAPTIONS = "WEBVTT\n\n00:00.000 --> 00:02.000\nKhoá màn hình điện thoại bằng mã ít nhất 6 số.\n"


def fixture_video(path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), 10, (160, 120))
    if not writer.isOpened():
        pytest.skip("OpenCV cannot write VP8 here")
    for i in range(20):
        frame = np.full((120, 160, 3), (i * 12) % 255, np.uint8)
        cv2.putText(frame, str(i), (60, 70), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        writer.write(frame)
    writer.release()


@pytest.fixture(scope="module")
def media_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    tmp = tmp_path_factory.mktemp("media")
    courses = tmp / "courses"
    courses.mkdir()
    shutil.copy(ROOT / "courses" / "ky-nang-so-vneid.yaml", courses)
    folder = courses / "media" / "ky-nang-so-vneid" / "dien-thoai-an-toan"
    folder.mkdir(parents=True)
    fixture_video(folder / "low.webm")
    (folder / "captions.vi.vtt").write_text(CAPTIONS, encoding="utf-8")
    url = f"sqlite:///{tmp / 'hocvu.db'}"
    database = Database(url)
    dbops.upgrade(database)
    app = create_app(Settings.of(instance_dir=run_instance(), database_url=url, secret_key="test-secret"), db=database)
    app.extensions[CATALOGUE_EXT] = load_catalogue(courses)
    return app


def session_cookie(app: Flask) -> str:
    slug, _, _ = new_credential(app, ["all"])
    with app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, slug).id
    launch = PlayerSession(tenant_id, Learner("https://lms.example.gov.vn", f"m-{uuid.uuid4().hex[:8]}"), "rl-m",
                           COURSE)
    return str(app.session_interface.get_signing_serializer(app).dumps({KEY: launch.to_session()}))  # type: ignore[attr-defined]


def test_the_light_video_and_captions_come_after_the_transcript(media_app: Flask) -> None:
    client = media_app.test_client()
    client.set_cookie(media_app.config["SESSION_COOKIE_NAME"], session_cookie(media_app))
    html = client.get(f"/player/view/{LESSON}").get_data(as_text=True)
    assert html.index('id="transcript-h"') < html.index('id="video-box"')   # the transcript first
    assert 'preload="none"' in html and "Xem video bản nhẹ (" in html
    assert "Video của bài này đang được sản xuất" not in html   # the light rendition exists
    source = html.split('<source src="', 1)[1].split('"', 1)[0]
    track = html.split('<track kind="captions" srclang="vi" label="Tiếng Việt" src="', 1)[1].split('"', 1)[0]
    assert source.startswith("/player/media/ky-nang-so-vneid/dien-thoai-an-toan/low.webm?v=")
    part = client.get(source, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.get_data()) == 100   # RFC 9110 §14: a video seeks
    assert part.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get(track).get_data(as_text=True) == CAPTIONS
    for bad in ("secret.txt", "..%2F..%2Fky-nang-so-vneid.yaml", "poster.jpg"):
        assert client.get(f"/player/media/ky-nang-so-vneid/dien-thoai-an-toan/{bad}").status_code == 404


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver")
def test_a_video_kept_on_the_device_plays_offline(media_app: Flask) -> None:
    pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with served(media_app) as base, chromium(phone={"width": 360, "height": 740, "pixelRatio": 2.0}) as browser:
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setCookie", {"name": media_app.config["SESSION_COOKIE_NAME"],
                                                      "value": session_cookie(media_app), "url": base + "/"})
        wait = WebDriverWait(browser, 20)
        browser.get(f"{base}/player/view/{LESSON}")
        controlled = "return !!(navigator.serviceWorker && navigator.serviceWorker.controller)"
        wait.until(lambda d: d.execute_script(controlled) or d.refresh() or False)   # the worker took the page
        browser.find_element(By.CSS_SELECTOR, "#video-box summary").click()
        save = browser.find_element(By.ID, "save-video")
        wait.until(lambda d: save.is_displayed())
        save.click()
        wait.until(lambda d: "đã được lưu" in save.text)
        with offline(browser):
            browser.refresh()
            wait.until(lambda d: d.find_elements(By.ID, "video"))
            played: Any = browser.execute_async_script(
                "const done = arguments[arguments.length - 1], v = document.getElementById('video');"
                "v.muted = true; v.play().then(() => setTimeout(() => done([v.currentTime, v.readyState]), 800),"
                " e => done(String(e)));")
        assert isinstance(played, list) and played[0] > 0 and played[1] >= 2, played
