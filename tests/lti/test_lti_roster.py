"""The instructor's roster (NRPS 2.0): members from the test platform's membership service, progress
from the statements the player wrote for them, all through real launches and the real player."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from lti_tool.ags_links import LINEITEM_READ_SCOPE
from lti_tool.roster import roster_progress
from lti_tool.storage import LtiScoreOutbox
from player.catalogue import Catalogue
from tests.lti.conftest import Browser, Env, Lms
from tests.lti.lti_platform import INSTRUCTOR, LEARNER

COURSE = "course/ky-nang-so-vneid"      # 5 lessons, 1 graded quiz (7 questions, 70% to pass)
LESSON = f"{COURSE}/module/nen-tang/lesson/dien-thoai-an-toan"
QUIZ = f"{COURSE}/module/vneid-dich-vu-cong/quiz/kiem-tra-cuoi-khoa"
TA = ["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"]
EVIL = '<script>alert("x")</script> Lê & Co'


def _context(env: Env, members: list[dict[str, Any]]) -> str:
    context_id = f"ctx-{uuid.uuid4().hex[:8]}"
    env.platform.members[context_id] = members
    return context_id


def _launch(env: Env, lms: Lms, user: str, roles: list[str], context_id: str, **kw: Any) -> Browser:
    """``user``'s browser after a real launch of the course link of ``context_id`` (one resource
    link per context on the test platform, so every member opens the same link)."""
    browser = Browser(env.app.test_client(), env.platform, lms)
    hint = env.platform.resource_link(lms.client, user=user, roles=roles, target=COURSE, context_id=context_id,
                                      **kw)
    res = browser.launch(hint, user)
    assert res.status_code == 303, res.get_data(as_text=True)
    return browser


def _get(browser: Browser, path: str) -> tuple[int, str]:
    res = browser.client.get(path, base_url=browser.base)
    return res.status_code, res.get_data(as_text=True)


def _post(browser: Browser, path: str, data: dict[str, Any]) -> None:
    csrf = browser.session()["csrf"]
    res = browser.client.post(path, data={"csrf": csrf, **data}, base_url=browser.base)
    assert res.status_code == 303, res.get_data(as_text=True)


def _catalogue(env: Env) -> Catalogue:
    cat: Catalogue = env.app.extensions["player.catalogue"]
    return cat


def _answers(env: Env, wrong: int) -> dict[str, list[str]]:
    """The quiz form with the first ``wrong`` questions answered wrongly."""
    quiz = _catalogue(env).resolve(QUIZ).quiz
    assert quiz is not None
    out: dict[str, list[str]] = {}
    for i, q in enumerate(quiz.questions):
        out[f"q.{q.id}"] = sorted(q.correct) if i >= wrong else [next(c for c in q.choice_ids if c not in q.correct)]
    return out


def _study(env: Env, browser: Browser) -> None:
    """Through the player: one lesson completed, the quiz failed once, then passed."""
    assert _get(browser, f"/player/view/{LESSON}")[0] == 200
    _post(browser, f"/player/complete/{LESSON}", {})
    for wrong in (3, 0):   # 4/7 (57%, not passed), then 7/7
        _post(browser, f"/player/start/{QUIZ}", {})
        _post(browser, f"/player/submit/{QUIZ}", _answers(env, wrong))


def _card(page: str, user_id: str) -> str:
    """The member card of ``user_id`` (cards are <li class="member ..." data-user-id="...">)."""
    for chunk in page.split('<li class="member')[1:]:
        if f'data-user-id="{user_id}"' in chunk:
            return chunk
    raise AssertionError(f"no card for {user_id}")


def _members(prefix: str) -> list[dict[str, Any]]:
    return [
        {"user_id": f"{prefix}-teacher", "roles": INSTRUCTOR, "name": "Cô Nguyễn Thị Lan", "email": "lan@truong.vn"},
        {"user_id": f"{prefix}-busy", "roles": LEARNER, "given_name": "Bình", "family_name": "Trần Văn"},
        {"user_id": f"{prefix}-idle", "roles": LEARNER, "name": EVIL, "status": "Inactive"},
        {"user_id": f"{prefix}-ta", "roles": TA, "name": "Trợ giảng Minh"},
    ]


def test_the_instructor_sees_every_member_and_their_progress(lti_env: Env, lms: Lms) -> None:
    p = uuid.uuid4().hex[:6]
    context_id = _context(lti_env, _members(p))
    _study(lti_env, _launch(lti_env, lms, f"{p}-busy", LEARNER, context_id))
    teacher = _launch(lti_env, lms, f"{p}-teacher", INSTRUCTOR, context_id)

    status, outline = _get(teacher, f"/player/view/{COURSE}")
    assert status == 200 and 'id="roster-link"' in outline and "Xem tiến độ của cả lớp" in outline
    status, page = _get(teacher, "/player/roster")
    assert status == 200, page
    assert "Tiến độ của lớp" in page and "2 học viên, 1 đã bắt đầu" in page   # Vietnamese by default

    busy = _card(page, f"{p}-busy")
    assert "Trần Văn Bình" in busy                                    # family + given name (NRPS 2.0 §2.2)
    assert "Bài học đã hoàn thành: 1/5" in busy
    assert '<span class="badge done">Đạt</span>' in busy and "Điểm cao nhất: 100%" in busy and "Số lần làm: 2" in busy
    assert "Hoạt động gần nhất" in busy and "Chưa bắt đầu" not in busy

    idle = _card(page, f"{p}-idle")
    assert "Chưa bắt đầu" in idle and "Bài học đã hoàn thành: 0/5" in idle and "Chưa làm" in idle
    assert "Không còn hoạt động trong lớp" in idle                    # NRPS 2.0 §2.2 status Inactive
    # The LMS's names are text, never markup.
    assert "<script>" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Lê &amp; Co" in idle

    # Staff are listed apart, after the learners, and marked; the viewer is marked too.
    learners, staff = page.split('id="staff"')
    assert f'data-user-id="{p}-busy"' in learners and f'data-user-id="{p}-teacher"' not in learners
    assert f'data-user-id="{p}-teacher"' in staff and f'data-user-id="{p}-ta"' in staff
    assert "Giảng viên" in _card(page, f"{p}-ta") and "Bạn" in _card(page, f"{p}-teacher")
    assert "lan@truong.vn" in page


def test_progress_is_per_resource_link_and_per_tenant(lti_env: Env, lms: Lms) -> None:
    """The same learner on another link (another context here) has not started this one; and a
    learner of another tenant with the same platform user id is not this tenant's."""
    p = uuid.uuid4().hex[:6]
    here = _context(lti_env, _members(p))
    elsewhere = _context(lti_env, _members(p))
    _study(lti_env, _launch(lti_env, lms, f"{p}-busy", LEARNER, elsewhere))
    from tests.lti.conftest import register_lms
    other_tenant = register_lms(lti_env)
    _study(lti_env, _launch(lti_env, other_tenant, f"{p}-busy", LEARNER, here))
    _, page = _get(_launch(lti_env, lms, f"{p}-teacher", INSTRUCTOR, here), "/player/roster")
    assert "Chưa bắt đầu" in _card(page, f"{p}-busy") and "0 đã bắt đầu" in page


def test_english_with_the_players_locale(lti_env: Env, lms: Lms) -> None:
    p = uuid.uuid4().hex[:6]
    context_id = _context(lti_env, _members(p))
    status, page = _get(_launch(lti_env, lms, f"{p}-teacher", INSTRUCTOR, context_id, locale="en"), "/player/roster")
    assert status == 200
    assert "Class progress" in page and "2 learners, 0 started" in page and "Instructors and assistants" in page
    assert "Not started" in _card(page, f"{p}-busy") and "Lessons completed: 0/5" in page
    assert "Chưa bắt đầu" not in page


def test_one_or_two_store_queries_for_the_whole_roster(lti_env: Env, lms: Lms) -> None:
    """No N+1: the statements table is read twice however many members there are."""
    p = uuid.uuid4().hex[:6]
    members = _members(p) + [{"user_id": f"{p}-l{i}", "roles": LEARNER, "name": f"Học viên {i}"} for i in range(9)]
    context_id = _context(lti_env, members)
    _study(lti_env, _launch(lti_env, lms, f"{p}-busy", LEARNER, context_id))
    teacher = _launch(lti_env, lms, f"{p}-teacher", INSTRUCTOR, context_id)
    launch = teacher.lti_launch()
    with _statement_queries(lti_env) as queries, lti_env.db.session() as db:
        rows = roster_progress(db, launch, _catalogue(lti_env), tool=lti_env.tool)
    assert len(rows) == 13 and len(queries) == 2
    busy = next(r for r in rows if r.member.user_id == f"{p}-busy")
    assert (busy.lessons_completed, busy.lessons_total, busy.attempts) == (1, 5, 2)
    (quiz,) = busy.quizzes
    assert quiz.passed and quiz.best_scaled == 1.0 and quiz.attempts == 2
    assert [r.staff for r in rows] == [False] * 11 + [True, True]


@contextmanager
def _statement_queries(env: Env) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if "FROM statements" in sql:
            seen.append(sql)

    event.listen(env.db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(env.db.engine, "before_cursor_execute", count)


def test_a_learner_gets_403(lti_env: Env, lms: Lms) -> None:
    p = uuid.uuid4().hex[:6]
    learner = _launch(lti_env, lms, f"{p}-busy", LEARNER, _context(lti_env, _members(p)))
    status, page = _get(learner, "/player/roster")
    assert status == 403 and "Chỉ giảng viên của lớp mới xem được tiến độ của cả lớp." in page
    assert EVIL not in page and "Trần Văn" not in page
    assert 'id="roster-link"' not in _get(learner, f"/player/view/{COURSE}")[1]


def test_no_launch_says_to_open_from_the_lms(lti_env: Env) -> None:
    res = lti_env.app.test_client().get("/player/roster")
    assert res.status_code == 403
    assert "Hãy mở khoá học từ hệ thống học tập (LMS) của bạn" in res.get_data(as_text=True)


def test_a_launch_without_nrps_says_so(lti_env: Env, lms: Lms) -> None:
    p = uuid.uuid4().hex[:6]
    teacher = _launch(lti_env, lms, f"{p}-teacher", INSTRUCTOR, _context(lti_env, _members(p)), nrps=False)
    status, page = _get(teacher, "/player/roster")
    assert status == 200
    assert "không chia sẻ danh sách lớp cho liên kết này" in page and "Names and Role Provisioning Services" in page


def test_the_platform_down_is_a_clear_error(lti_env: Env, lms: Lms) -> None:
    p = uuid.uuid4().hex[:6]
    teacher = _launch(lti_env, lms, f"{p}-teacher", INSTRUCTOR, _context(lti_env, _members(p)), locale="en")
    lti_env.platform.down = True
    try:
        status, page = _get(teacher, "/player/roster")
    finally:
        lti_env.platform.down = False
    assert status == 502
    assert "The class list could not be fetched" in page and "did not answer the request for the class list" in page
    assert _get(teacher, "/player/roster")[0] == 200   # back up: the page works again


def test_each_grade_shows_how_it_reached_the_lms(lti_env: Env, lms: Lms) -> None:
    """The roster says what became of each learner's grade on its way to the gradebook (LTI AGS 2.0
    §3.4: the score the tool posts): delivered here, as the platform accepted it; a learner with no
    graded attempt shows none."""
    p = uuid.uuid4().hex[:6]
    context_id = _context(lti_env, _members(p))
    lineitem = lti_env.platform.add_line_item(context_id, "Kiểm tra cuối khoá", 7)
    _study(lti_env, _launch(lti_env, lms, f"{p}-busy", LEARNER, context_id, lineitem=lineitem))
    _, page = _get(_launch(lti_env, lms, f"{p}-teacher", INSTRUCTOR, context_id, lineitem=lineitem),
                   "/player/roster")
    busy = _card(page, f"{p}-busy")
    assert 'data-delivery="delivered"' in busy and "Điểm đã được gửi về LMS" in busy and "(7.0/7.0)" in busy
    assert 'id="grades-not-granted"' not in page   # the score scope was granted
    assert "data-delivery" not in _card(page, f"{p}-idle")


def test_a_link_granted_no_score_scope_sends_no_grade_and_says_why(lti_env: Env, lms: Lms,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """LTI AGS 2.0 §3.1: the platform made the link a gradebook column but granted only
    ``lineitem.readonly`` (no score scope, §3.4). The learner's finished quiz sends no score and asks
    for no token; the grade is not queued, so no card shows a delivery state: the roster says the LMS
    grants no score scope for the link instead, and a log line says why (issue 11: anything that
    cannot be delivered is visible)."""
    p = uuid.uuid4().hex[:6]
    context_id = _context(lti_env, _members(p))
    lineitem = lti_env.platform.add_line_item(context_id, "Kiểm tra cuối khoá", 7)
    item_id = lineitem.rsplit("/", 1)[1]
    learner = _launch(lti_env, lms, f"{p}-busy", LEARNER, context_id, lineitem=lineitem,
                      ags_scopes={LINEITEM_READ_SCOPE})
    mark = len(lti_env.platform.requests)
    with caplog.at_level(logging.INFO, logger="lti_tool.grades"):
        _study(lti_env, learner)
    sent = [r for r in lti_env.platform.requests[mark:] if r != "GET /jwks"]
    assert sent == [] and item_id not in lti_env.platform.scores
    with lti_env.db.session() as session:
        assert session.query(LtiScoreOutbox).filter_by(user_id=f"{p}-busy").count() == 0
    reasons = [r.getMessage() for r in caplog.records if r.name == "lti_tool.grades"]
    assert reasons and all("score scope" in r and f"{p}-busy" in r for r in reasons), reasons
    _, page = _get(_launch(lti_env, lms, f"{p}-teacher", INSTRUCTOR, context_id, lineitem=lineitem,
                           ags_scopes={LINEITEM_READ_SCOPE}), "/player/roster")
    assert "data-delivery" not in _card(page, f"{p}-busy")
    assert 'id="grades-not-granted"' in page and "không cấp cho công cụ quyền gửi điểm" in page
