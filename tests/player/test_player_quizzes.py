"""Quizzes: scored on the server, one attempt at a time, the time limit enforced by the server,
cmi5-style statements read back through the tenant's xAPI API, and the grade handed to AGS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from lti_tool.launch_context import LaunchContext
from player import catalogue as cat_mod
from player import quiz as player_quiz
from player.domain import AttemptInProgress, registration_for
from player.grades import hand_off_grade, link_grade
from player.storage import QuizAttempt
from schemas.cmi5 import CMI5_CATEGORY, EXT_MASTERY, EXT_SESSION, MOVEON_CATEGORY
from tests.conftest import Xapi
from tests.player.player_support import BASE, CSRF, SHIPPED, answers, categories, form, open_player, read, verbs

COURSE = "course/an-toan-khong-gian-mang"
MODULE = f"{COURSE}/module/phong-tranh-va-xu-ly"
QUIZ = f"{MODULE}/quiz/kiem-tra"  # 8 questions, 75% to pass, 10 minutes
UNTIMED = "course/ky-nang-so-vneid/module/vneid-dich-vu-cong/quiz/kiem-tra-cuoi-khoa"
ISSUER = "https://lms.mof.example.vn"


def setup(app: Flask, target: str = COURSE, **kw: Any) -> tuple[LaunchContext, FlaskClient, Xapi]:
    return open_player(app, target, issuer=ISSUER, **kw)


def attempts_of(app: Flask, launch: LaunchContext) -> list[QuizAttempt]:
    with app.extensions["hocvu.db"].session() as s:
        return list(s.scalars(select(QuizAttempt).where(QuizAttempt.registration == registration_for(launch))
                              .order_by(QuizAttempt.id)))


def test_a_passing_attempt(app: Flask) -> None:
    launch, client, xapi = setup(app)
    assert client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF}).status_code == 303
    page = client.get(f"/player/view/{QUIZ}").get_data(as_text=True)
    assert 'id="quiz-form"' in page and 'data-seconds-left="' in page
    res = client.post(f"/player/submit/{QUIZ}", data=form(answers(QUIZ, wrong=2)))
    assert res.status_code == 303
    got = read(xapi, launch)
    assert verbs(got) == ["launched", "initialized"] + ["answered"] * 8 + ["completed", "passed", "terminated"]
    session_id = got[0]["context"]["extensions"][EXT_SESSION]
    assert {s["context"]["extensions"][EXT_SESSION] for s in got} == {session_id}
    assert got[0]["context"]["extensions"][EXT_MASTERY] == 0.75  # cmi5 §9.6.3.2 on launched
    answered = got[2:10]
    assert [a["result"]["success"] for a in answered] == [False, False] + [True] * 6
    first = answered[0]
    assert first["object"]["id"] == f"{BASE}{QUIZ}/question/tai-khoan-tam-giu"
    assert first["object"]["definition"]["interactionType"] == "choice"
    assert first["object"]["definition"]["correctResponsesPattern"] == ["b"]
    assert first["result"]["response"] == "a"
    assert first["context"]["contextActivities"]["parent"][0]["id"] == BASE + QUIZ
    assert {a["id"] for a in first["context"]["contextActivities"]["grouping"]} == {BASE + COURSE, BASE + MODULE}
    multiple = next(a for a in answered if a["object"]["id"].endswith("/dau-hieu"))
    assert multiple["result"]["response"] == "a[,]b[,]c"  # xAPI choice responses joined by [,]
    completed, passed, terminated = got[10:]
    assert completed["result"] == {"completion": True, "duration": completed["result"]["duration"]}
    assert passed["result"]["score"] == {"scaled": 0.75, "raw": 6, "min": 0, "max": 8}
    assert passed["result"]["success"] is True and passed["result"]["duration"].startswith("PT")
    assert categories(passed) == {CMI5_CATEGORY, MOVEON_CATEGORY}
    assert passed["context"]["extensions"][EXT_MASTERY] == 0.75
    assert passed["context"]["contextActivities"]["parent"][0]["id"] == BASE + MODULE
    assert passed["context"]["contextActivities"]["grouping"][0]["id"] == BASE + COURSE
    assert categories(terminated) == {CMI5_CATEGORY} and "duration" in terminated["result"]
    view = client.get(f"/player/view/{QUIZ}").get_data(as_text=True)
    assert "Điểm: 6/8 (75%)" in view and "Chúc mừng, bạn đã đạt!" in view
    [attempt] = attempts_of(app, launch)
    assert (attempt.status, attempt.score_raw, attempt.passed, attempt.open_key) == ("submitted", 6, True, None)


def test_a_failing_attempt_then_a_retake_and_after_passing(app: Flask) -> None:
    launch, client, xapi = setup(app, target=QUIZ)
    client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF})
    partial = dict(list(answers(QUIZ).items())[:3])  # three right answers, five unanswered
    client.post(f"/player/submit/{QUIZ}", data=form(partial))
    got = read(xapi, launch)
    assert verbs(got) == ["launched", "initialized"] + ["answered"] * 3 + ["completed", "failed", "terminated"]
    failed = got[-2]
    assert failed["result"]["score"] == {"scaled": 0.375, "raw": 3, "min": 0, "max": 8}
    assert failed["result"]["success"] is False
    page = client.get(f"/player/view/{QUIZ}").get_data(as_text=True)
    assert "Bạn chưa đạt" in page and "Làm lại" in page
    assert "Đáp án đúng" not in page  # answers are not revealed before a pass

    for _ in range(2):  # pass, then pass again
        client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF})
        client.post(f"/player/submit/{QUIZ}", data=form(answers(QUIZ)))
    got = read(xapi, launch)
    second, third = got[8:20], got[20:]
    assert verbs(second) == ["launched", "initialized"] + ["answered"] * 8 + ["passed", "terminated"]
    assert categories(second[-2]) == {CMI5_CATEGORY, MOVEON_CATEGORY}  # the one cmi5 "passed"
    # cmi5 §9.3: one "passed" per registration; later ones are "cmi5 allowed" (no categories).
    assert verbs(third)[-2:] == ["passed", "terminated"] and categories(third[-2]) == set()
    assert [a.number for a in attempts_of(app, launch)] == [1, 2, 3]


def test_one_attempt_at_a_time(app: Flask) -> None:
    launch, client, xapi = setup(app)
    client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF})
    client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF})  # a double tap, or a second tab
    assert len(attempts_of(app, launch)) == 1
    assert verbs(read(xapi, launch)) == ["launched", "initialized"]
    # The database itself refuses a second open attempt for the learner and link.
    [first] = attempts_of(app, launch)
    with app.extensions["hocvu.db"].session() as s:
        clone = {c.key: getattr(first, c.key) for c in QuizAttempt.__table__.columns if c.key != "id"}
        s.add(QuizAttempt(**{**clone, "number": 2}))
        with pytest.raises(IntegrityError):
            s.flush()
    client.post(f"/player/submit/{QUIZ}", data=form(answers(QUIZ)))
    assert client.post(f"/player/submit/{QUIZ}", data=form(answers(QUIZ))).status_code == 303  # already ended
    assert verbs(read(xapi, launch)).count("passed") == 1


def test_another_quiz_of_the_link_waits_for_the_open_attempt(app: Flask, tmp_path: Path) -> None:
    """Domain level, with a course of two quizzes: one attempt at a time per learner and link."""
    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "courses/an-toan-khong-gian-mang.yaml")
                          .read_text(encoding="utf-8"))
    data["modules"][0]["quizzes"] = [dict(data["modules"][1]["quizzes"][0], id="luyen-tap", graded=False)]
    (tmp_path / "an-toan-khong-gian-mang.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    two = cat_mod.load_catalogue(tmp_path)
    launch, _, _ = setup(app)
    now = datetime.now(UTC)
    with app.extensions["hocvu.db"].session() as db:
        player_quiz.start_attempt(db, launch, two.resolve(QUIZ), now, "https://hub.example/x")
        with pytest.raises(AttemptInProgress):
            player_quiz.start_attempt(db, launch, two.resolve(f"{COURSE}/module/nhan-dien/quiz/luyen-tap"),
                                      now, "https://hub.example/x")
        db.rollback()


def test_an_attempt_ends_once(app: Flask) -> None:
    """Two requests ending one attempt (a double tap on Submit): the second writes nothing."""
    launch, client, xapi = setup(app)
    client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF})
    resolved = SHIPPED.resolve(QUIZ)
    database = app.extensions["hocvu.db"]
    with database.session() as first, database.session() as second:
        a1, a2 = player_quiz.open_attempt(first, launch), player_quiz.open_attempt(second, launch)
        assert a1 is not None and a2 is not None
        player_quiz.submit(first, launch, resolved, a1, answers(QUIZ), datetime.now(UTC))
        first.commit()
        with pytest.raises(player_quiz.AttemptClosed):
            player_quiz.submit(second, launch, resolved, a2, answers(QUIZ, wrong=8), datetime.now(UTC))
        second.rollback()
    assert verbs(read(xapi, launch)).count("passed") == 1
    assert [a.score_raw for a in attempts_of(app, launch)] == [8]


def _move_deadline(app: Flask, launch: LaunchContext, seconds_ago: int) -> datetime:
    deadline = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    with app.extensions["hocvu.db"].session() as s:
        s.execute(update(QuizAttempt).where(QuizAttempt.registration == registration_for(launch))
                  .values(started=deadline - timedelta(minutes=10), deadline=deadline))
        s.commit()
    return deadline


def test_the_time_limit_is_enforced_by_the_server(app: Flask) -> None:
    launch, client, xapi = setup(app)
    client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF})
    right = answers(QUIZ)
    first_q = next(iter(right))
    saved = client.post(f"/player/answer/{QUIZ}", json={"csrf": CSRF, "question": first_q, "choices": right[first_q]})
    assert saved.get_json() == {"saved": True}
    deadline = _move_deadline(app, launch, seconds_ago=60)  # the clock ran out a minute ago
    late = client.post(f"/player/answer/{QUIZ}", json={"csrf": CSRF, "question": "ai-duoc-hoi-otp", "choices": ["d"]})
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "error.time_up"
    client.post(f"/player/submit/{QUIZ}", data=form(right))  # all right, but too late: ignored
    [attempt] = attempts_of(app, launch)
    assert (attempt.status, attempt.score_raw, attempt.passed) == ("expired", 1, False)
    got = read(xapi, launch)
    assert verbs(got) == ["launched", "initialized", "answered", "completed", "failed", "terminated"]
    assert got[-2]["result"]["score"]["raw"] == 1
    # Stamped when time ran out, not when the late answers came (cmi5 §9.7: when it occurred).
    stamped = datetime.fromisoformat(got[-1]["timestamp"].replace("Z", "+00:00"))
    assert abs((stamped - deadline).total_seconds()) < 1
    assert got[-2]["result"]["duration"] == "PT10M"
    page = client.get(f"/player/view/{QUIZ}").get_data(as_text=True)
    assert "Hết giờ" in page and "Điểm: 1/8" in page


def test_answers_within_the_grace_period_count(app: Flask) -> None:
    launch, client, _ = setup(app)
    client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF})
    _move_deadline(app, launch, seconds_ago=2)  # the countdown submitted at zero; the request was slow
    client.post(f"/player/submit/{QUIZ}", data=form(answers(QUIZ)))
    [attempt] = attempts_of(app, launch)
    assert (attempt.status, attempt.score_raw) == ("submitted", 8)


def test_an_abandoned_timed_attempt_is_closed_on_the_next_visit(app: Flask) -> None:
    launch, client, xapi = setup(app)
    client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF})
    _move_deadline(app, launch, seconds_ago=3600)
    page = client.get(f"/player/view/{QUIZ}").get_data(as_text=True)
    assert "Hết giờ" in page and "Điểm: 0/8 (0%)" in page
    assert verbs(read(xapi, launch)) == ["launched", "initialized", "completed", "failed", "terminated"]


def test_untimed_quizzes_have_no_countdown(app: Flask) -> None:
    _, client, _ = setup(app, target="course/ky-nang-so-vneid")
    client.post(f"/player/start/{UNTIMED}", data={"csrf": CSRF})
    page = client.get(f"/player/view/{UNTIMED}").get_data(as_text=True)
    assert 'id="quiz-form"' in page and "data-seconds-left" not in page


def test_scoring_is_all_or_nothing_per_question() -> None:
    quiz = SHIPPED.resolve(QUIZ).quiz
    assert quiz is not None
    right = answers(QUIZ)
    assert player_quiz.score(quiz, right).raw == 8
    assert player_quiz.score(quiz, {**right, "dau-hieu": ["a", "b"]}).raw == 7  # a missing choice
    assert player_quiz.score(quiz, {**right, "dau-hieu": ["a", "b", "c", "d"]}).raw == 7  # an extra one
    cleaned = player_quiz.clean_answers(quiz, {"ai-duoc-hoi-otp": ["d", "a", "zz"], "nope": ["a"]})
    assert cleaned == {"ai-duoc-hoi-otp": ["d"]}  # a single-answer question keeps one known choice
    assert player_quiz.score(quiz, {}).passed is False


def test_the_grade_of_a_course_link(app: Flask) -> None:
    launch, client, _ = setup(app)
    with app.extensions["hocvu.db"].session() as db:
        assert link_grade(db, SHIPPED, launch) is not None
        assert link_grade(db, SHIPPED, launch).grading_progress == "Pending"  # type: ignore[union-attr]
        assert hand_off_grade(db, SHIPPED, launch, {}) is False  # no reporter: no gradebook column
    for wrong in (4, 1):  # a retake never lowers the grade: the best attempt counts
        client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF})
        client.post(f"/player/submit/{QUIZ}", data=form(answers(QUIZ, wrong=wrong)))
    client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF})
    client.post(f"/player/submit/{QUIZ}", data=form(answers(QUIZ, wrong=6)))
    with app.extensions["hocvu.db"].session() as db:
        grade = link_grade(db, SHIPPED, launch)
    assert grade is not None
    assert (grade.score_given, grade.score_max, grade.activity_progress, grade.grading_progress) == \
        (7.0, 8.0, "Completed", "FullyGraded")
