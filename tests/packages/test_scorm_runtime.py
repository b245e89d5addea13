"""The SCORM run-time over HTTP (player.packages.scorm_http): launch data and resume, commits checked
on the hub (types, SCORM's size limits, read-only elements, another learner), the session's statements
in the LRS with the shared mapping, and the course's grade handed to the session's reporter."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from player.packages.scorm_storage import ScormAttempt
from player.session import PlayerSession
from tests.packages.scorm_support import flat, grades_of, imported, recording_reporter
from tests.player.player_support import CSRF, open_player, read, verbs

LMS = "https://lms.bo-gddt.gov.vn"


def page_config(client: FlaskClient, course_id: str, item: str) -> dict[str, Any]:
    res = client.get(f"/player/scorm/{course_id}/sco/{item}")
    assert res.status_code == 200, res.get_data(as_text=True)
    found = re.search(r'<script type="application/json" id="scorm-config">(.*?)</script>', res.get_data(as_text=True),
                      re.DOTALL)
    assert found
    return json.loads(found[1])  # type: ignore[no-any-return]


def post(client: FlaskClient, course_id: str, item: str, body: Any, *, terminate: bool = False,
         csrf: str | None = CSRF, content_type: str = "application/json") -> Any:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    return client.post(f"/player/scorm/{course_id}/sco/{item}/commit" + ("?terminate=true" if terminate else ""),
                       data=json.dumps(body), content_type=content_type, headers=headers)


def attempt_rows(app: Flask, course_id: str) -> list[ScormAttempt]:
    with app.extensions["hocvu.db"].session() as db:
        return list(db.scalars(select(ScormAttempt).where(ScormAttempt.course_id == course_id)
                               .order_by(ScormAttempt.id)))


def _open(app: Flask, name: str) -> tuple[str, PlayerSession, FlaskClient, Any]:
    course = imported(app, name)
    launch, client, xapi = open_player(app, course.target, issuer=LMS, reporter=recording_reporter(app))
    return course.course_id, launch, client, xapi


ANSWER_12 = flat(cmi__core__lesson_location="1", cmi__suspend_data='{"q1":"b"}',
                 cmi__core__lesson_status="incomplete", **{"cmi.interactions.0.id": "q1",
                 "cmi.interactions.0.type": "choice", "cmi.interactions.0.student_response": "b",
                 "cmi.interactions.0.correct_responses.0.pattern": "b", "cmi.interactions.0.result": "correct"})


def test_scorm12_launch_suspend_resume_complete_statements_and_grade(app: Flask) -> None:
    # SCORM 1.2 RTE §3.4.2 cmi.core.entry ab-initio/resume, cmi.core.exit suspend; xAPI SCORM Profile §5, §6
    cid, launch, client, xapi = _open(app, "scorm12")
    config = page_config(client, cid, "kiem-tra")
    assert config["version"] == "1.2" and config["cmi"]["cmi.core.entry"] == "ab-initio"
    assert config["cmi"]["cmi.core.student_id"] == launch.learner.account
    assert config["cmi"]["cmi.student_data.mastery_score"] == "50"
    assert post(client, cid, "kiem-tra", ANSWER_12).get_json() == {"result": True, "errorCode": 0, "statements": 0}
    res = post(client, cid, "kiem-tra", {**ANSWER_12, "cmi.core.exit": "suspend",
                                         "cmi.core.session_time": "0000:01:30.00"}, terminate=True)
    assert res.status_code == 200 and res.get_json()["statements"] == 3
    assert verbs(read(xapi, launch)) == ["initialized", "responded", "suspended"]

    again = page_config(client, cid, "kiem-tra")   # the reload: the saved data comes back
    assert again["cmi"]["cmi.core.entry"] == "resume"
    assert again["cmi"]["cmi.suspend_data"] == '{"q1":"b"}' and again["cmi"]["cmi.core.lesson_location"] == "1"
    assert "cmi.core.exit" not in again["cmi"] and again["cmi"]["cmi.core.total_time"] == "0000:01:30.00"
    done = {**ANSWER_12, "cmi.core.lesson_status": "passed", "cmi.core.score.raw": "100", "cmi.core.score.min": "0",
            "cmi.core.score.max": "100", "cmi.core.exit": "", "cmi.core.session_time": "0000:00:45.00",
            "cmi.interactions.1.id": "q2", "cmi.interactions.1.type": "choice",
            "cmi.interactions.1.student_response": "a", "cmi.interactions.1.result": "correct"}
    assert post(client, cid, "kiem-tra", done, terminate=True).status_code == 200
    statements = read(xapi, launch)
    assert verbs(statements)[3:] == ["resumed", "responded", "responded", "passed", "scored", "terminated"]
    final = statements[-1]
    # the importer's mapping: 1.2's "passed" is success (completion only from "completed")
    assert final["result"] == {"success": True, "duration": "PT45S",
                               "score": {"scaled": 1.0, "raw": 100, "min": 0, "max": 100}}
    assert final["object"]["id"] == f"https://hocvu.vn/xapi/activities/scorm/{cid}/sco/kiem-tra"
    assert {a["id"] for a in final["context"]["contextActivities"]["category"]} == {"https://w3id.org/xapi/scorm"}
    assert final["actor"]["account"] == {"homePage": LMS, "name": launch.learner.account}
    [(target, grade)] = grades_of(launch.learner.account)[-1:]
    assert (target, grade.score_given, grade.score_max, grade.activity_progress) == (f"scorm/{cid}", 100.0, 100.0,
                                                                                     "Completed")
    [row] = attempt_rows(app, cid)
    assert row.ended is not None and row.sessions == 2 and row.total_seconds == 135.0

    fresh = page_config(client, cid, "kiem-tra")   # an ended attempt: the next launch is a new one
    assert fresh["cmi"]["cmi.core.entry"] == "ab-initio" and "cmi.suspend_data" not in fresh["cmi"]
    assert [r.number for r in attempt_rows(app, cid)] == [1, 2]


def test_terminating_commit_sent_twice_writes_the_session_once(app: Flask) -> None:
    # xAPI 2.0 Part 2 §2.2.2: derived statement ids; a beacon and a retry store one set
    cid, launch, client, xapi = _open(app, "scorm12")
    page_config(client, cid, "kiem-tra")
    body = {**ANSWER_12, "cmi.core.exit": "suspend"}
    assert post(client, cid, "kiem-tra", body, terminate=True).get_json()["statements"] == 3
    assert post(client, cid, "kiem-tra", body, terminate=True).get_json()["statements"] == 0
    assert len(read(xapi, launch)) == 3


def test_scorm2004_statuses_scaled_score_and_navigation_config(app: Flask) -> None:
    # SCORM 2004 RTE §4.2.4 completion_status, §4.2.22 success_status, §4.2.20 score.scaled; SN §4.2 flow, §4.3 choice
    cid, launch, client, xapi = _open(app, "scorm2004")
    config = page_config(client, cid, "gioi-thieu")
    assert config["cmi"]["cmi.entry"] == "ab-initio" and config["cmi"]["cmi.learner_id"] == launch.learner.account
    assert config["next"] == f"/player/scorm/{cid}/sco/kiem-tra" and config["previous"] is None
    assert set(config["choices"]) == {"gioi-thieu", "kiem-tra"}
    quiz = page_config(client, cid, "kiem-tra")
    assert quiz["cmi"]["cmi.completion_threshold"] == "0.8"
    assert quiz["previous"] == f"/player/scorm/{cid}/sco/gioi-thieu"
    body = {"cmi.completion_status": "completed", "cmi.success_status": "failed", "cmi.score.scaled": "0.5",
            "cmi.score.raw": "50", "cmi.score.min": "0", "cmi.score.max": "100", "cmi.exit": "normal",
            "cmi.session_time": "PT2M", "cmi.interactions.0.id": "q1", "cmi.interactions.0.type": "choice",
            "cmi.interactions.0.learner_response": "a", "cmi.interactions.0.result": "incorrect",
            "cmi.interactions.0.correct_responses.0.pattern": "b", "adl.nav.request": "continue"}
    assert post(client, cid, "kiem-tra", body, terminate=True).status_code == 200
    statements = read(xapi, launch)
    assert verbs(statements) == ["initialized", "responded", "completed", "failed", "scored", "terminated"]
    assert statements[1]["result"] == {"response": "a", "success": False}
    assert statements[-1]["result"]["score"] == {"scaled": 0.5, "raw": 50, "min": 0, "max": 100}
    [(_, grade)] = grades_of(launch.learner.account)[-1:]
    # the intro SCO is not completed yet: the grade is partial (AGS 2.0 §3.4.6-§3.4.7)
    assert (grade.score_given, grade.score_max, grade.grading_progress) == (50.0, 100.0, "Pending")


@pytest.mark.parametrize(("body", "message"), [
    ({"cmi.suspend_data": "x" * 4097}, "cmi.suspend_data is 4097 characters; SCORM 1.2 allows 4096"),
    ({"cmi.core.lesson_location": "x" * 256}, "cmi.core.lesson_location is 256 characters; SCORM 1.2 allows 255"),
    ({"cmi.core.student_id": "someone-else"}, "cmi.core.student_id is read-only and is this session's learner"),
    ({"cmi.core.lesson_status": "done"}, "cmi.core.lesson_status 'done' is not one of"),
    ({"cmi.core.score.raw": "lots"}, "cmi.core.score.raw 'lots' is not a number"),
    ({"cmi.core.session_time": "90 minutes"}, "is not a SCORM 1.2 CMITimespan"),
    ({"cmi.total_time": "PT1H"}, "cmi.total_time is not a SCORM 1.2 data model element a SCO may set"),
    ({"cmi.interactions.250.id": "q"}, "at most 250 interactions are kept"),
    ({"cmi.suspend_data": {"nested": True}}, "cmi.suspend_data must be text or a number, not dict"),
    (["not", "an", "object"], "a commit is a JSON object of data model elements"),
])
def test_bad_commits_are_refused_and_change_nothing(app: Flask, body: Any, message: str) -> None:
    # SCORM 1.2 RTE §3.4.2 (CMIString4096, CMIString255, read-only elements, vocabularies, CMITimespan)
    cid, launch, client, xapi = _open(app, "scorm12")
    page_config(client, cid, "kiem-tra")
    assert post(client, cid, "kiem-tra", ANSWER_12).status_code == 200
    before = attempt_rows(app, cid)[0].cmi
    res = post(client, cid, "kiem-tra", body, terminate=True)
    assert res.status_code == 400, res.get_data(as_text=True)
    assert res.get_json()["error"]["code"] == "scorm_cmi_invalid" and message in res.get_json()["error"]["message"]
    assert res.get_json()["result"] is False
    [row] = attempt_rows(app, cid)
    assert row.cmi == before and row.sessions == 0 and row.session_started is not None
    assert read(xapi, launch) == []


def test_scorm2004_suspend_data_limit_is_64000(app: Flask) -> None:
    # SCORM 2004 RTE §4.2.24: cmi.suspend_data SPM 64000 characters
    cid, _, client, _ = _open(app, "scorm2004")
    page_config(client, cid, "kiem-tra")
    assert post(client, cid, "kiem-tra", {"cmi.suspend_data": "é" * 64000}).status_code == 200
    res = post(client, cid, "kiem-tra", {"cmi.suspend_data": "é" * 64001})
    assert res.status_code == 400 and "SCORM 2004 allows 64000" in res.get_json()["error"]["message"]
    assert attempt_rows(app, cid)[0].cmi["cmi.suspend_data"] == "é" * 64000


def test_a_learner_cannot_write_another_learners_attempt(app: Flask) -> None:
    # the attempt comes from the session: a second learner's commit never reaches the first's attempt
    course = imported(app, "scorm12")
    first, a, _ = open_player(app, course.target, issuer=LMS)
    _, b, _ = open_player(app, course.target, issuer=LMS)
    page_config(a, course.course_id, "kiem-tra")
    res = post(b, course.course_id, "kiem-tra", ANSWER_12)   # b never opened the SCO: no attempt of b's
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "scorm_no_open_attempt"
    hostile = {**ANSWER_12, "cmi.core.student_id": first.learner.account}
    page_config(b, course.course_id, "kiem-tra")
    assert post(b, course.course_id, "kiem-tra", hostile).status_code == 400
    rows = attempt_rows(app, course.course_id)
    assert len(rows) == 2 and all(r.cmi == {} for r in rows)


def test_commits_need_the_form_token_json_and_the_courses_session(app: Flask) -> None:
    # CSRF: the session cookie is SameSite=None inside an LMS iframe, so the page's token is required
    cid, _, client, _ = _open(app, "scorm12")
    page_config(client, cid, "kiem-tra")
    assert post(client, cid, "kiem-tra", ANSWER_12, csrf=None).status_code == 403
    assert post(client, cid, "kiem-tra", ANSWER_12, csrf="wrong").status_code == 403
    assert post(client, cid, "kiem-tra", ANSWER_12, content_type="text/plain").status_code == 415
    forged = client.post(f"/player/scorm/{cid}/sco/kiem-tra/commit", data=json.dumps(ANSWER_12),
                         content_type="application/json",
                         headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403 and forged.get_json()["error"]["code"] == "csrf"
    beacon = client.post(f"/player/scorm/{cid}/sco/kiem-tra/commit", data=json.dumps(ANSWER_12),
                         content_type="application/json",
                         headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert beacon.status_code == 200   # the page's own unload commit: same origin, said by the browser
    other = imported(app, "scorm12")
    res = post(client, other.course_id, "kiem-tra", ANSWER_12)
    assert res.status_code == 403 and res.get_json()["error"]["code"] == "scorm_outside_launch"
    assert client.get(f"/player/scorm/{other.course_id}/sco/kiem-tra").status_code == 403
    assert attempt_rows(app, other.course_id) == []


def test_package_files_are_served_to_the_courses_learners_only(app: Flask) -> None:
    cid, _, client, _ = _open(app, "scorm12")
    res = client.get(f"/player/scorm/{cid}/content/quiz.html")
    assert res.status_code == 200 and b"sco.js" in res.data
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'self'" in res.headers["Content-Security-Policy"]
    assert client.get(f"/player/scorm/{cid}/content/../../etc/passwd").status_code in (400, 404)
    assert app.test_client().get(f"/player/scorm/{cid}/content/quiz.html").status_code == 403


def test_player_open_sends_a_scorm_link_to_its_player(app: Flask) -> None:
    cid, _, client, _ = _open(app, "scorm2004")
    res = client.get("/player/")
    assert res.status_code == 303 and res.headers["Location"].endswith(f"/player/scorm/{cid}/")
    res = client.get(f"/player/scorm/{cid}/")
    assert res.status_code == 303 and res.headers["Location"].endswith(f"/player/scorm/{cid}/sco/gioi-thieu")


def test_a_session_closed_without_finish_is_suspended_at_its_last_commit(app: Flask) -> None:
    # SCORM 1.2 RTE §3.3.2 LMSFinish never called (the tab was closed): the hub ends the session at its
    # last commit as a suspended one, writes its statements, and the next launch resumes the data
    cid, launch, client, xapi = _open(app, "scorm12")
    page_config(client, cid, "kiem-tra")
    assert post(client, cid, "kiem-tra", ANSWER_12).status_code == 200
    again = page_config(client, cid, "kiem-tra")
    assert again["cmi"]["cmi.core.entry"] == "resume" and again["cmi"]["cmi.suspend_data"] == '{"q1":"b"}'
    assert verbs(read(xapi, launch)) == ["initialized", "responded", "suspended"]
    [row] = attempt_rows(app, cid)
    assert row.sessions == 1 and row.suspended and row.session_started is not None
    page_config(client, cid, "kiem-tra")   # a reload with nothing committed ends nothing
    assert len(read(xapi, launch)) == 3


def test_a_link_to_one_sco_opens_that_sco_only(app: Flask) -> None:
    # a Deep Linking item can name one SCO (scorm/<course>/sco/<item>): no choice or flow beyond it
    course = imported(app, "scorm2004")
    _, client, _ = open_player(app, f"{course.target}/sco/kiem-tra", issuer=LMS)
    res = client.get(f"/player/scorm/{course.course_id}/")
    assert res.status_code == 303 and res.headers["Location"].endswith("/sco/kiem-tra")
    config = page_config(client, course.course_id, "kiem-tra")
    assert (config["next"], config["previous"], config["choices"]) == (None, None, {})
    assert client.get(f"/player/scorm/{course.course_id}/sco/gioi-thieu").status_code == 403


@pytest.mark.parametrize(("body", "message"), [
    ({"cmi.interactions.0.id": "q" * 4001}, "cmi.interactions.0.id is 4001 characters; SCORM 2004 allows 4000"),
    ({"cmi.location": "x" * 1001}, "cmi.location is 1001 characters; SCORM 2004 allows 1000"),
    ({"cmi.learner_id": "someone-else"}, "cmi.learner_id is read-only and is this session's learner"),
    ({"cmi.core.lesson_status": "passed"}, "cmi.core.lesson_status is not a SCORM 2004 data model element"),
    ({"cmi.score.scaled": "2"}, "cmi.score.scaled 2 is outside -1..1"),
    ({"cmi.session_time": "00:10:00"}, "is not an ISO 8601 timeinterval"),
])
def test_bad_scorm2004_commits_are_refused(app: Flask, body: Any, message: str) -> None:
    # SCORM 2004 RTE §4.2 (SPMs, read-only cmi.learner_id, the 2004 data model only, score.scaled, timeinterval)
    cid, _, client, _ = _open(app, "scorm2004")
    page_config(client, cid, "kiem-tra")
    res = post(client, cid, "kiem-tra", body)
    assert res.status_code == 400 and message in res.get_json()["error"]["message"]
    assert attempt_rows(app, cid)[0].cmi == {}


def test_no_commit_after_the_attempt_ended(app: Flask) -> None:
    # SCORM 2004 RTE §3.1.3.2: after Terminate the run-time takes no more data for that session
    cid, _, client, _ = _open(app, "scorm2004")
    page_config(client, cid, "kiem-tra")
    assert post(client, cid, "kiem-tra", {"cmi.exit": "normal"}, terminate=True).status_code == 200
    res = post(client, cid, "kiem-tra", {"cmi.location": "late"})
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "scorm_no_open_attempt"
    assert "cmi.location" not in attempt_rows(app, cid)[0].cmi
