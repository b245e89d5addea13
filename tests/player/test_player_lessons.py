"""Lessons: the cmi5-style statements a lesson writes to the tenant's LRS (read back through the
xAPI API with that tenant's credential), the resume point, and the AU session's end."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from lti_tool.launch_context import LaunchContext
from player.domain import registration_for
from player.session import KEY
from schemas.cmi5 import CMI5_CATEGORY, EXT_PROGRESS, EXT_SESSION, MOVEON_CATEGORY
from tests.conftest import Xapi, new_credential
from tests.player.player_support import BASE, CSRF, categories, open_player, read, verbs

COURSE = "course/ky-nang-so-vneid"
MODULE = f"{COURSE}/module/nen-tang"
LESSON = f"{MODULE}/lesson/dien-thoai-an-toan"
LESSON2 = f"{MODULE}/lesson/trang-web-chinh-thong"
ISSUER = "https://lms.moet.example.vn"


def setup(app: Flask, target: str = COURSE, **kw: Any) -> tuple[LaunchContext, FlaskClient, Xapi]:
    return open_player(app, target, issuer=ISSUER, name="Trần Văn Bình", **kw)


def test_a_lesson_records_launched_initialized_progressed_completed(app: Flask) -> None:
    launch, client, xapi = setup(app)
    assert client.get(f"/player/view/{LESSON}").status_code == 200
    res = client.post(f"/player/progress/{LESSON}", json={"csrf": CSRF, "position": 0, "paragraph": 2,
                                                          "progress": 50})
    assert res.get_json() == {"progress": 50, "completed": False}
    assert client.post(f"/player/complete/{LESSON}", data={"csrf": CSRF}).status_code == 303
    got = read(xapi, launch)
    assert verbs(got) == ["launched", "initialized", "progressed", "completed"]
    session_id = got[0]["context"]["extensions"][EXT_SESSION]
    for st in got:
        # The learner as the platform knows them; one registration; the AU, its module and course.
        assert st["actor"] == {"objectType": "Agent", "account": {"homePage": ISSUER, "name": launch.learner.account}}
        assert st["object"]["id"] == BASE + LESSON
        assert st["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/lesson"
        ctx = st["context"]
        assert ctx["registration"] == registration_for(launch)
        assert ctx["contextActivities"]["parent"][0]["id"] == BASE + MODULE
        assert ctx["contextActivities"]["grouping"][0]["id"] == BASE + COURSE
        assert ctx["extensions"][EXT_SESSION] == session_id  # cmi5 §9.6.3.1
    launched, initialized, progressed, completed = got
    assert categories(launched) == categories(initialized) == {CMI5_CATEGORY}
    assert categories(progressed) == set()  # "cmi5 allowed"
    assert progressed["result"]["extensions"][EXT_PROGRESS] == 50
    assert categories(completed) == {CMI5_CATEGORY, MOVEON_CATEGORY}  # cmi5 §9.6.2.2
    assert completed["result"]["completion"] is True
    assert re.fullmatch(r"PT(\d+M)?[\d.]+S", completed["result"]["duration"])
    assert [s["timestamp"] for s in got] == sorted(s["timestamp"] for s in got)
    assert launched["object"]["definition"]["name"] == {"vi": "Sử dụng điện thoại thông minh an toàn",
                                                       "en": "Using your smartphone safely"}


def test_progress_only_at_milestones_and_completed_once(app: Flask) -> None:
    launch, client, xapi = setup(app)
    client.get(f"/player/view/{LESSON}")
    for reached in (10, 20, 30, 35, 80):  # crosses 25 (at 30), then 50 and 75 together (at 80)
        client.post(f"/player/progress/{LESSON}", json={"csrf": CSRF, "position": 0, "paragraph": 1,
                                                        "progress": reached})
    client.post(f"/player/complete/{LESSON}", data={"csrf": CSRF})
    client.post(f"/player/complete/{LESSON}", data={"csrf": CSRF})  # cmi5 §9.3.3: zero or one per registration
    client.post(f"/player/progress/{LESSON}", json={"csrf": CSRF, "position": 0, "paragraph": 4, "progress": 100})
    got = read(xapi, launch)
    assert verbs(got) == ["launched", "initialized", "progressed", "progressed", "completed"]
    assert [s["result"]["extensions"][EXT_PROGRESS] for s in got[2:4]] == [30, 80]
    page = client.get(f"/player/view/{LESSON}").get_data(as_text=True)
    assert "Bạn đã hoàn thành bài học này." in page


def test_a_stale_state_write_loses_and_writes_no_statement(app: Flask) -> None:
    """Two "I have finished" taps at once: the state document's ETag lets only one record it."""
    from datetime import UTC, datetime

    from player import domain as player_domain
    launch, client, xapi = setup(app)
    client.get(f"/player/view/{LESSON}")
    database = app.extensions["hocvu.db"]
    with database.session() as slow:
        state, etag = player_domain._load_state(slow, launch, LESSON)  # read before the other tap lands
        assert client.post(f"/player/complete/{LESSON}", data={"csrf": CSRF}).status_code == 303
        state.completed = True
        assert player_domain._save_state(slow, launch, LESSON, state, etag) is False
        slow.rollback()
    with database.session() as db:  # and the domain call itself says it was already recorded
        au = player_domain.AuSession(LESSON, registration_for(launch), "s", datetime.now(UTC))
        resolved = app.extensions["player.catalogue"].resolve(LESSON)
        assert player_domain.complete_lesson(db, launch, resolved, au, datetime.now(UTC)) is False
    assert verbs(read(xapi, launch)).count("completed") == 1


def test_the_resume_point_is_kept_per_learner(app: Flask) -> None:
    launch, client, xapi = setup(app)
    client.get(f"/player/view/{LESSON}")
    client.post(f"/player/progress/{LESSON}", json={"csrf": CSRF, "position": 95.5, "paragraph": 3,
                                                    "progress": 75})
    page = client.get(f"/player/view/{LESSON}").get_data(as_text=True)
    assert 'data-position="95.5"' in page and 'data-paragraph="3"' in page
    assert 'href="#p3"' in page  # "continue from paragraph 3"
    # It is the learner's xAPI State document, readable by any xAPI client of the tenant.
    state = xapi.get("activities/state", activityId=BASE + LESSON, registration=registration_for(launch),
                     stateId="https://hocvu.vn/xapi/state/player/lesson",
                     agent=json.dumps({"objectType": "Agent",
                                       "account": {"homePage": ISSUER, "name": launch.learner.account}}))
    assert state.status_code == 200 and state.get_json()["position"] == 95.5
    # Another learner on the same link starts from the beginning.
    other, client2, _ = setup(app)
    with client2.session_transaction() as sess:
        sess[KEY] = {**other.to_session(), "tenant_id": launch.tenant_id, "link": launch.link}
    page2 = client2.get(f"/player/view/{LESSON}").get_data(as_text=True)
    assert 'data-position="0.0"' in page2


def test_moving_on_and_exiting_terminate_the_session(app: Flask) -> None:
    launch, client, xapi = setup(app)
    client.get(f"/player/view/{LESSON}")
    client.get(f"/player/view/{LESSON}")  # a reload is the same session: nothing new
    client.get(f"/player/view/{LESSON2}")  # the next lesson: the first session ends
    res = client.post("/player/exit", data={"csrf": CSRF})
    assert res.status_code == 303 and res.headers["Location"].endswith(f"/player/view/{COURSE}")
    got = read(xapi, launch)
    assert verbs(got) == ["launched", "initialized", "terminated", "launched", "initialized", "terminated"]
    first, second = got[0]["context"]["extensions"][EXT_SESSION], got[3]["context"]["extensions"][EXT_SESSION]
    assert first != second
    assert [s["object"]["id"] for s in got] == [BASE + LESSON] * 3 + [BASE + LESSON2] * 3
    terminated = got[2]
    assert terminated["context"]["extensions"][EXT_SESSION] == first
    assert categories(terminated) == {CMI5_CATEGORY}
    assert re.fullmatch(r"PT[\d.]+S", terminated["result"]["duration"])  # cmi5 §9.5.4.1


def test_a_single_lesson_link_ends_on_a_closing_page(app: Flask) -> None:
    launch, client, xapi = setup(app, target=LESSON)
    page = client.get(f"/player/view/{LESSON}").get_data(as_text=True)
    assert 'id="next"' not in page  # nothing after it inside this link
    res = client.post("/player/exit", data={"csrf": CSRF})
    assert res.status_code == 200 and "Bạn có thể đóng trang này" in res.get_data(as_text=True)
    assert verbs(read(xapi, launch)) == ["launched", "initialized", "terminated"]


def test_learners_of_one_tenant_are_not_in_another(app: Flask) -> None:
    launch, client, _ = setup(app)
    client.get(f"/player/view/{LESSON}")
    _, key, secret = new_credential(app, ["all"])
    stranger = Xapi(app.test_client(), key, secret, version="2.0.0")
    assert read(stranger, launch) == []
