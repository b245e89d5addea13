"""The player's pages: Vietnamese by default, English on the launch's locale or the toggle, a clear
page without a launch, and only what the LMS link opened."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from player.session import KEY, Learner, PlayerSession
from tests.conftest import new_credential

COURSE = "course/an-toan-khong-gian-mang"
LESSON = f"{COURSE}/module/nhan-dien/lesson/gia-danh-co-quan-chuc-nang"
QUIZ = f"{COURSE}/module/phong-tranh-va-xu-ly/quiz/kiem-tra"
CSRF = "test-form-token"


def launch_for(app: Flask, target: str, **kw: Any) -> PlayerSession:
    slug, _, _ = new_credential(app, ["all"])
    from lrs import credentials
    with app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, slug).id
    return PlayerSession(tenant_id=tenant_id, learner=Learner("https://lms.example.edu.vn",
                                                              f"learner-{uuid.uuid4().hex[:8]}", "Nguyễn Thị Hoa"),
                         link=f"link-{uuid.uuid4().hex[:8]}", target=target, **kw)


def client_for(app: Flask, launch: PlayerSession) -> FlaskClient:
    client = app.test_client()
    with client.session_transaction() as sess:
        sess[KEY] = launch.to_session()
        sess["csrf"] = CSRF
    return client


def text(res: Any) -> str:
    return res.get_data(as_text=True)  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", ["/player/", f"/player/view/{LESSON}"])
def test_no_launch_says_to_open_from_the_lms(sqlite_app: Flask, path: str) -> None:
    res = sqlite_app.test_client().get(path)
    assert res.status_code == 403
    page = text(res)
    assert "Hãy mở khoá học từ hệ thống học tập (LMS) của bạn" in page
    assert "Please open the course from your learning system (LMS)" in page  # no launch, no language: both


def test_no_launch_on_a_beacon_answers_json(sqlite_app: Flask) -> None:
    res = sqlite_app.test_client().post(f"/player/progress/{LESSON}", json={"csrf": "x", "progress": 10})
    assert res.status_code == 403
    assert res.get_json()["error"]["code"] == "error.no_launch"


def test_an_unreadable_launch_is_no_launch(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    with client.session_transaction() as sess:
        sess[KEY] = {"tenant_id": 1}
    assert client.get("/player/").status_code == 403


def test_open_goes_to_the_launched_item(sqlite_app: Flask) -> None:
    client = client_for(sqlite_app, launch_for(sqlite_app, COURSE))
    res = client.get("/player/")
    assert res.status_code == 303 and res.headers["Location"].endswith(f"/player/view/{COURSE}")


def test_outline_in_vietnamese_by_default(sqlite_app: Flask) -> None:
    client = client_for(sqlite_app, launch_for(sqlite_app, COURSE))
    page = text(client.get(f"/player/view/{COURSE}"))
    assert '<html lang="vi">' in page
    assert "An toàn trên không gian mạng" in page and "Cuộc gọi giả danh công an" in page
    assert f'href="/player/view/{LESSON}"' in page and f'href="/player/view/{QUIZ}"' in page


def test_lesson_page_vi_then_en_with_the_toggle(sqlite_app: Flask) -> None:
    client = client_for(sqlite_app, launch_for(sqlite_app, COURSE))
    page = text(client.get(f"/player/view/{LESSON}"))
    assert '<html lang="vi">' in page
    assert "Cuộc gọi giả danh công an, viện kiểm sát, toà án" in page
    assert "Một thủ đoạn rất phổ biến" in page  # the transcript
    assert "Video của bài này đang được sản xuất" in page  # the placeholder is said plainly
    assert 'preload="none"' in page  # the video never loads by itself
    res = client.post("/player/locale", data={"csrf": CSRF, "lang": "en", "next": f"/player/view/{LESSON}"})
    assert res.status_code == 303 and res.headers["Location"] == f"/player/view/{LESSON}"
    page = text(client.get(f"/player/view/{LESSON}"))
    assert '<html lang="en">' in page
    assert "Calls from fake police, prosecutors and courts" in page
    assert "A very common trick" in page and "I have finished this lesson" in page


def test_launch_locale_en(sqlite_app: Flask) -> None:
    client = client_for(sqlite_app, launch_for(sqlite_app, QUIZ, locale="en"))
    page = text(client.get(f"/player/view/{QUIZ}"))
    assert '<html lang="en">' in page
    assert "Quiz: recognising and avoiding online fraud" in page
    assert "8 questions" in page and "75% needed to pass" in page and "Time limit: 10 minutes" in page
    assert "Start the quiz" in page


def test_quiz_page_in_vietnamese(sqlite_app: Flask) -> None:
    client = client_for(sqlite_app, launch_for(sqlite_app, QUIZ))
    page = text(client.get(f"/player/view/{QUIZ}"))
    assert "8 câu hỏi" in page and "Cần đạt 75% để qua" in page and "Bắt đầu làm bài" in page


def test_only_what_the_link_opened(sqlite_app: Flask) -> None:
    client = client_for(sqlite_app, launch_for(sqlite_app, LESSON))
    res = client.get(f"/player/view/{QUIZ}")
    assert res.status_code == 403
    assert "không thuộc liên kết bạn đã mở" in text(res)
    other = client.get("/player/view/course/ky-nang-so-vneid")
    assert other.status_code == 403


def test_a_link_to_withdrawn_content(sqlite_app: Flask) -> None:
    client = client_for(sqlite_app, launch_for(sqlite_app, "course/da-go-bo"))
    res = client.get("/player/")
    assert res.status_code == 404
    assert "không còn trong danh mục khoá học" in text(res)


def test_forms_need_the_page_token(sqlite_app: Flask) -> None:
    client = client_for(sqlite_app, launch_for(sqlite_app, COURSE))
    assert client.post(f"/player/complete/{LESSON}", data={}).status_code == 400
    assert client.post(f"/player/start/{QUIZ}", data={"csrf": "wrong"}).status_code == 400
    assert client.post(f"/player/progress/{LESSON}", json={"progress": 30}).status_code == 400


def test_the_toggle_never_redirects_away(sqlite_app: Flask) -> None:
    client = client_for(sqlite_app, launch_for(sqlite_app, COURSE))
    for bad in ("https://evil.example/", "//evil.example/player/", "/xapi/statements"):
        res = client.post("/player/locale", data={"csrf": CSRF, "lang": "en", "next": bad})
        assert res.headers["Location"] == "/player/"


def test_pages_load_nothing_from_elsewhere(sqlite_app: Flask) -> None:
    """No CDN: stylesheets and scripts come from the player; pages are not cached (one learner's state)."""
    client = client_for(sqlite_app, launch_for(sqlite_app, COURSE))
    res = client.get(f"/player/view/{LESSON}")
    page = text(res)
    assert res.headers["Cache-Control"] == "no-store"
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    refs = re.findall(r'<(?:link|script)[^>]+(?:href|src)="([^"]+)"', page)
    # The player's files, and the web app's manifest at the site's root (its scope is the whole site).
    assert refs and all(r.startswith("/player/static/") or r == "/manifest.webmanifest" for r in refs)
    for ref in refs:
        assert client.get(ref).status_code == 200
