"""SCORM 1.2/2004 run-time data importer on tests/data/scorm_runtime.jsonl, following the ADL xAPI
SCORM Profile (connectors.importers.scorm): exact statements, value checks, idempotency."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.importers import Rejected, SourceError, parts, scorm
from tests.connectors.import_support import DATA, LMS, SOURCE, TYPES, Target, rejections, verb

FILE = DATA / "scorm_runtime.jsonl"
COURSE = {"objectType": "Activity", "id": f"{LMS}/scorm/ky-nang-so-co-ban",
          "definition": {"type": TYPES + "course", "name": {"vi": "Kỹ năng số cơ bản"}}}
BAI2 = {"objectType": "Activity", "id": f"{LMS}/scorm/ky-nang-so-co-ban/bai-2",
        "definition": {"type": TYPES + "lesson", "name": {"vi": "Bài 2: Dịch vụ công trực tuyến"}}}
PROFILE = {"id": "https://w3id.org/xapi/scorm", "definition": {"type": TYPES + "profile"}}  # SCORM Profile §3.2
EXPECTED_REJECTIONS = [
    (4, None, "not valid JSON (Unterminated string starting at at column 129)"),
    (6, None, "cmi.core.score.raw 105 is outside 0..100 (SCORM 1.2 RTE §3.4: a normalised score)"),
    (7, None, "cmi.core.lesson_status 'hoàn thành' is not one of 'browsed', 'completed', 'failed', 'incomplete', "
              "'not attempted', 'passed'; cmi.core.session_time '25 phút' is not a SCORM 1.2 CMITimespan "
              "(HHHH:MM:SS.SS)"),
    (8, None, "sco_id is missing; attempt must be a whole number ≥ 1, not 0"),
    (9, None, "cmi.score.scaled 1.5 is outside -1..1 (SCORM 2004 RTE §4.2 Score)"),
    (11, None, "ended_at is missing"),
    (12, None, "version must be \"1.2\" or \"2004\", not '1.3'"),
]


def context(learner: str, sco: dict[str, Any], version: str, parent: bool = False) -> dict[str, Any]:
    attempt = parts.derived_id("scorm-attempt", LMS, learner, sco["id"], "1")
    activities: dict[str, Any] = {
        "grouping": [COURSE, {"objectType": "Activity", "id": f"{sco['id']}?attemptId={attempt}",
                              "definition": {"type": TYPES + "attempt"}}],
        "category": [PROFILE]}
    if parent:
        activities["parent"] = [sco]
    return {"registration": parts.derived_id("scorm-registration", LMS, learner, COURSE["id"]),
            "contextActivities": activities, "extensions": {SOURCE: {"format": f"scorm-{version}"}}}


def sid(learner: str, sco: dict[str, Any], ended: str, kind: str) -> str:
    return parts.derived_id("scorm", LMS, learner, sco["id"], "1", ended, kind)


def test_scorm_2004_session_maps_to_the_profile_statements(import_tenant: Target) -> None:
    report = import_tenant.run(scorm.import_file, FILE, lms_url=LMS + "/")  # a trailing slash is dropped
    assert (report.read, report.stored, report.already_present) == (12, 22, 0)
    assert rejections(report) == EXPECTED_REJECTIONS
    stored = import_tenant.statements()
    actor = {"objectType": "Agent", "account": {"homePage": LMS, "name": "31"}}
    ended = "2026-11-22T07:20:52.000000Z"
    ctx = context("31", BAI2, "2004")
    score = {"scaled": 0.9, "raw": 9, "min": 0, "max": 10}
    question = {"objectType": "Activity", "id": f"{BAI2['id']}/interactions/urn%3Ahocvu%3Abai-2%3Acau-1",
                "definition": {"type": TYPES + "cmi.interaction",
                               "description": {"vi": "Chọn các giấy tờ nộp được trực tuyến"},
                               "interactionType": "choice",
                               "correctResponsesPattern": ["giay-khai-sinh[,]ho-chieu"]}}
    expected = [
        # §5 "Initializing an attempt": initialized at the start of the session.
        {"id": sid("31", BAI2, ended, "start"), "actor": actor, "verb": verb("initialized", "đã bắt đầu"),
         "object": BAI2, "timestamp": "2026-11-22T07:02:10.000000Z", "context": ctx},
        # §6 "Interactions": responded, the SCO as parent; a timestamp without offset takes ended_at's.
        {"id": sid("31", BAI2, ended, "interaction:0"), "actor": actor, "verb": verb("responded", "đã phản hồi"),
         "object": question, "timestamp": "2026-11-22T07:10:03.000000Z", "context": context("31", BAI2, "2004", True),
         "result": {"response": "giay-khai-sinh[,]ho-chieu", "success": True, "duration": "PT35S"}},
        # §6 "Completion Status", "Success Status", "Score".
        {"id": sid("31", BAI2, ended, "completed"), "actor": actor, "verb": verb("completed", "đã hoàn thành"),
         "object": BAI2, "timestamp": ended, "context": ctx, "result": {"completion": True}},
        {"id": sid("31", BAI2, ended, "success"), "actor": actor, "verb": verb("passed", "đã đạt"),
         "object": BAI2, "timestamp": ended, "context": ctx, "result": {"success": True, "score": score}},
        {"id": sid("31", BAI2, ended, "scored"), "actor": actor, "verb": verb("scored", "đã ghi điểm"),
         "object": BAI2, "timestamp": ended, "context": ctx, "result": {"score": score}},
        # §5 "Terminating an attempt": the overall result, session_time as duration (§6 "Session Time").
        {"id": sid("31", BAI2, ended, "end"), "actor": actor, "verb": verb("terminated", "đã kết thúc"),
         "object": BAI2, "timestamp": ended, "context": ctx,
         "result": {"completion": True, "success": True, "score": score, "duration": "PT18M42.5S"}},
    ]
    assert [stored[s["id"]] for s in expected] == expected


def test_scorm_1_2_values_are_converted(import_tenant: Target) -> None:
    import_tenant.run(scorm.import_file, FILE, lms_url=LMS)
    stored = import_tenant.statements()
    bai1 = {"objectType": "Activity", "id": f"{LMS}/scorm/ky-nang-so-co-ban/bai-1",
            "definition": {"type": TYPES + "lesson", "name": {"vi": "Bài 1: Cài đặt VNeID"}}}
    ended = "2026-11-22T02:25:30.000000Z"
    actor = {"objectType": "Agent", "account": {"homePage": LMS, "name": "27"}}
    # true-false "f"/"t" → false/true; latency CMITimespan → ISO 8601; 1.2 "wrong" → success false.
    assert stored[sid("27", bai1, ended, "interaction:1")] == {
        "id": sid("27", bai1, ended, "interaction:1"), "actor": actor, "verb": verb("responded", "đã phản hồi"),
        "object": {"objectType": "Activity", "id": f"{bai1['id']}/interactions/cau-2",
                   "definition": {"type": TYPES + "cmi.interaction", "interactionType": "true-false",
                                  "correctResponsesPattern": ["true"]}},
        "timestamp": ended, "context": context("27", bai1, "1.2", True),
        "result": {"response": "false", "success": False, "duration": "PT15.5S"}}
    # matching "1.a,2.c,3.b" → xAPI "1[.]a[,]2[.]c[,]3[.]b" (Part Two §2.4.4.1 response patterns).
    matching = stored[sid("27", bai1, ended, "interaction:2")]
    assert matching["result"] == {"response": "1[.]a[,]2[.]c[,]3[.]b", "success": True}
    assert matching["object"]["definition"]["correctResponsesPattern"] == ["1[.]a[,]2[.]c[,]3[.]b"]
    # SCORM Profile §6 "Score": 1.2 raw 85 → scaled 0.85; lesson_status passed → passed, no completed.
    assert stored[sid("27", bai1, ended, "end")] == {
        "id": sid("27", bai1, ended, "end"), "actor": actor, "verb": verb("terminated", "đã kết thúc"),
        "object": bai1, "timestamp": ended, "context": context("27", bai1, "1.2"),
        "result": {"success": True, "score": {"scaled": 0.85, "raw": 85, "min": 0, "max": 100},
                   "duration": "PT25M30S"}}
    assert sid("27", bai1, ended, "completed") not in stored
    # The learner's name (learner_name, cmi.core.student_name) is in no statement.
    everything = json.dumps(import_tenant.stored_full(), ensure_ascii=False)
    assert "Nguyễn Thị Lan" not in everything and "Nguyen, Lan" not in everything
    # Line 10: the learner id from cmi.core.student_id; exit = suspend → suspended, no start time.
    bai3 = {"objectType": "Activity", "id": f"{LMS}/scorm/ky-nang-so-co-ban/bai-3",
            "definition": {"type": TYPES + "lesson", "name": {"vi": "Bài 3: An toàn thông tin cá nhân"}}}
    suspended = sid("61", bai3, "2026-11-24T14:05:00.000000Z", "end")
    assert stored[suspended]["verb"] == verb("suspended", "đã tạm dừng")
    assert stored[suspended]["result"] == {"completion": False, "duration": "PT1H2M3.4S"}


def test_a_resumed_attempt_has_statements_per_session(import_tenant: Target) -> None:
    import_tenant.run(scorm.import_file, FILE, lms_url=LMS)
    stored = import_tenant.statements()
    first, second = "2026-11-23T13:11:00.000000Z", "2026-11-24T12:42:20.000000Z"
    # Session 1 (line 3) was suspended; session 2 (line 5) resumed it (§5 "Resuming an attempt").
    assert stored[sid("45", BAI2, first, "end")]["verb"] == verb("suspended", "đã tạm dừng")
    assert stored[sid("45", BAI2, second, "start")]["verb"] == verb("resumed", "đã tiếp tục")
    failed = stored[sid("45", BAI2, second, "success")]
    assert failed["verb"] == verb("failed", "chưa đạt")
    assert failed["result"] == {"success": False, "score": {"scaled": 0.45, "raw": 4.5, "min": 0, "max": 10}}
    # Both sessions belong to one attempt: the same attempt activity groups them.
    attempts = {s["context"]["contextActivities"]["grouping"][1]["id"] for s in stored.values()
                if s["actor"]["account"]["name"] == "45"}
    assert len(attempts) == 1


def test_second_import_stores_nothing(import_tenant: Target) -> None:
    import_tenant.run(scorm.import_file, FILE, lms_url=LMS)
    again = import_tenant.run(scorm.import_file, FILE, lms_url=LMS)
    assert (again.read, again.stored, again.already_present) == (12, 0, 22)
    assert rejections(again) == EXPECTED_REJECTIONS


def test_lms_url_is_required_and_checked(import_tenant: Target) -> None:
    with pytest.raises(SourceError, match="needs --lms-url"):
        import_tenant.run(scorm.import_file, FILE, lms_url=None)
    with pytest.raises(SourceError, match="must be an http"):
        import_tenant.run(scorm.import_file, FILE, lms_url="lms.example.gov.vn")


@pytest.mark.parametrize(("cmi", "version", "reason"), [
    ({"cmi.core.score.raw": "40", "cmi.core.score.min": "50", "cmi.core.score.max": "100"}, "1.2",
     "cmi.core.score.raw 40 is outside cmi.core.score.min..max (50..100)"),  # xAPI Part Two §2.4.5.1
    ({"cmi.score.min": "10", "cmi.score.max": "10"}, "2004", "cmi.score.min 10 is not below cmi.score.max 10"),
    ({"cmi.score.raw": "chín"}, "2004", "cmi.score.raw 'chín' is not a number"),
    ({"cmi.session_time": "00:18:42"}, "2004",
     "cmi.session_time '00:18:42' is not an ISO 8601 timeinterval (e.g. PT1H5M30.5S)"),
    ({"cmi.core.session_time": "0000:61:00"}, "1.2",
     "cmi.core.session_time '0000:61:00' is not a SCORM 1.2 CMITimespan (HHHH:MM:SS.SS)"),
    ({"cmi.exit": "quit"}, "2004",
     "cmi.exit 'quit' is not one of '', 'logout', 'normal', 'suspend', 'time-out'"),
    ({"cmi.interactions.0.id": "q1", "cmi.interactions.0.type": "essay"}, "1.2",
     "cmi.interactions.0.type 'essay' is not a SCORM 1.2 interaction type"),
    ({"cmi.interactions.0.id": "q1", "cmi.interactions.0.result": "incorrect"}, "1.2",
     "cmi.interactions.0.result 'incorrect' is not one of correct, wrong, unanticipated, neutral or a number"),
    ({"cmi.interactions.0.id": "q1", "cmi.interactions.0.type": "true-false",
      "cmi.interactions.0.student_response": "có"}, "1.2",
     "cmi.interactions.0.student_response 'có' is not a true-false response (t, f, 1 or 0)"),
    ({"cmi.interactions.0.type": "choice"}, "2004", "cmi.interactions.0.id is missing"),
])
def test_bad_values_reject_the_line(cmi: dict[str, Any], version: str, reason: str) -> None:
    line = {"learner_id": "70", "sco_id": "bai-9", "attempt": 1, "version": version,
            "ended_at": "2026-11-24T21:05:00+07:00", "cmi": cmi}
    with pytest.raises(Rejected) as caught:
        scorm.map_attempt(line, LMS)
    assert caught.value.reason == reason
