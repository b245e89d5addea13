"""Caliper 1.2 importer on tests/data/caliper_events.jsonl: exact statements, rejections with their
reasons, idempotency, dry runs, and a batch the store refuses (connectors.importers.caliper)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from connectors.importers import Rejected, caliper, importer_principal, parts
from lrs import statements as lrs_statements
from tests.connectors.import_support import DATA, SOURCE, TYPES, Target, rejections, verb

FILE = DATA / "caliper_events.jsonl"
LMS = "https://hoc.example.edu.vn"
EDAPP_NAME = "Cổng học tập số Hà Nội"
# Caliper 1.2 §2.1 actor (Person) → account: homePage = the id's origin, name = the rest of the id.
LAN = {"objectType": "Agent", "account": {"homePage": LMS, "name": "users/554433"}}
SECTION = {"objectType": "Activity", "id": f"{LMS}/courses/ky-nang-so/sections/ha-noi-2026",
           "definition": {"type": TYPES + "course", "name": {"vi": "Kỹ năng số cơ bản — lớp Hà Nội 2026"}}}
MODULE = {"objectType": "Activity", "id": f"{LMS}/courses/ky-nang-so/module-1",
          "definition": {"type": TYPES + "module", "name": {"vi": "Chương 1: Làm quen với điện thoại thông minh"}}}
QUIZ = {"objectType": "Activity", "id": f"{LMS}/courses/ky-nang-so/module-1/kiem-tra",
        "definition": {"type": TYPES + "assessment", "name": {"vi": "Kiểm tra chương 1"}}}
ATTEMPT = {"objectType": "Activity", "id": f"{LMS}/courses/ky-nang-so/module-1/kiem-tra/attempts/88121",
           "definition": {"type": TYPES + "attempt"}}
# One registration per learner per course section (the event's group).
REGISTRATION = "46874b2b-a93a-59d4-9f3a-54b659dfad4f"


def source(event_id: str) -> dict[str, Any]:
    return {SOURCE: {"format": "caliper-1.2", "id": f"urn:uuid:{event_id}"}}


EXPECTED_REJECTIONS = [
    (3, None, "not valid JSON (Expecting ',' delimiter at column 252)"),
    (7, None, "not a Caliper Envelope: dataVersion missing (Caliper 1.2 §5.2)"),
    (8, 1, "unknown event type 'MediaEvent': imported are NavigationEvent, ViewEvent, AssessmentEvent, "
           "AssessmentItemEvent, GradeEvent, SessionEvent"),
    (8, 3, "eventTime '22/11/2026 10:02' is not an ISO 8601 date and time"),
    (8, 4, "scoreGiven 12 is outside 0..maxScore 10"),
    (8, 5, "actor must be an entity object with an id, or an IRI"),
    (10, 1, "action 'Reset' of AssessmentEvent has no xAPI mapping "
            "(mapped: Started, Restarted, Paused, Resumed, Submitted)"),
]


def test_statement_ids_are_uuid5_of_the_caliper_event_id() -> None:
    # Idempotency rests on this: the same Caliper event always gives the same statement id.
    expected = str(uuid.uuid5(parts.NAMESPACE, "caliper\x1furn:uuid:9d9f83d1-2fcf-459b-adf4-4bbee083698a"))
    assert expected == "60d7978f-ca7a-540f-b636-a858803f49e8"
    assert parts.derived_id("caliper", "urn:uuid:9d9f83d1-2fcf-459b-adf4-4bbee083698a") == expected


def test_import_maps_each_event_and_reports_rejected_ones(import_tenant: Target) -> None:
    report = import_tenant.run(caliper.import_file, FILE)
    # 18 events on 11 lines; line 9 repeats line 2 (a sensor retry), so its statement is already there.
    assert (report.read, report.stored, report.already_present) == (18, 10, 1)
    assert rejections(report) == EXPECTED_REJECTIONS
    stored = import_tenant.statements()
    assert len(stored) == 10

    # AssessmentItemEvent Completed → answered, response and duration from the generated Response.
    assert stored["60d7978f-ca7a-540f-b636-a858803f49e8"] == {
        "id": "60d7978f-ca7a-540f-b636-a858803f49e8",
        "actor": LAN,
        "verb": verb("answered", "đã trả lời"),
        "object": {"objectType": "Activity", "id": f"{LMS}/courses/ky-nang-so/module-1/kiem-tra/cau-3",
                   "definition": {"type": TYPES + "question",
                                  "name": {"vi": "Câu 3: Ứng dụng nào dùng để nhận thông báo từ cơ quan nhà nước?"}}},
        "timestamp": "2026-11-22T02:23:30.000000Z",
        "context": {"registration": REGISTRATION, "extensions": source("9d9f83d1-2fcf-459b-adf4-4bbee083698a"),
                    "contextActivities": {"parent": [QUIZ], "grouping": [SECTION]}, "platform": EDAPP_NAME},
        "result": {"response": "vneid", "duration": "PT1M25S"},
    }
    # GradeEvent Graded: the learner is the Attempt's assignee, the object its assignable, score scaled.
    assert stored["b8f25f1e-1a44-569c-b033-32c6b2949338"] == {
        "id": "b8f25f1e-1a44-569c-b033-32c6b2949338",
        "actor": LAN,
        "verb": verb("scored", "đã ghi điểm"),
        "object": QUIZ,
        "timestamp": "2026-11-22T02:34:08.000000Z",
        "context": {"registration": REGISTRATION, "extensions": source("af98b816-a25a-4657-9414-f201a8bd217d"),
                    "contextActivities": {"parent": [MODULE], "grouping": [SECTION, ATTEMPT]},
                    "platform": EDAPP_NAME},
        "result": {"score": {"scaled": 0.8, "raw": 8, "min": 0, "max": 10}},
    }
    # AssessmentEvent Submitted → completed, with the Attempt's duration.
    submitted = stored[parts.derived_id("caliper", "urn:uuid:0d52af0d-12c8-49ea-be6f-795ac98897d6")]
    assert submitted == {
        "id": parts.derived_id("caliper", "urn:uuid:0d52af0d-12c8-49ea-be6f-795ac98897d6"),
        "actor": LAN,
        "verb": verb("completed", "đã hoàn thành"),
        "object": QUIZ,
        "timestamp": "2026-11-22T02:34:05.000000Z",
        "context": {"registration": REGISTRATION, "extensions": source("0d52af0d-12c8-49ea-be6f-795ac98897d6"),
                    "contextActivities": {"parent": [MODULE], "grouping": [SECTION, ATTEMPT]},
                    "platform": EDAPP_NAME},
        "result": {"completion": True, "duration": "PT14M5S"},
    }
    # SessionEvent LoggedIn: no group, so the registration is per learner per application.
    login_id = parts.derived_id("caliper", "urn:uuid:4adeb315-36f4-4e91-8044-1e00f413a608")
    assert stored[login_id] == {
        "id": login_id,
        "actor": LAN,
        "verb": verb("logged-in", "đã đăng nhập", base="https://w3id.org/xapi/adl/verbs/", en="logged in"),
        "object": {"objectType": "Activity", "id": f"{LMS}/",
                   "definition": {"type": "http://activitystrea.ms/schema/1.0/application",
                                  "name": {"vi": EDAPP_NAME}}},
        "timestamp": "2026-11-22T02:15:00.000000Z",
        "context": {"registration": parts.derived_id("caliper-registration", LMS, "users/554433", f"{LMS}/"),
                    "extensions": source("4adeb315-36f4-4e91-8044-1e00f413a608"), "platform": EDAPP_NAME},
    }
    verbs = sorted(s["verb"]["id"].rsplit("/", 1)[1] for s in stored.values())
    assert verbs == ["answered", "attempted", "completed", "experienced", "logged-in", "logged-in", "logged-out",
                     "scored", "skipped", "viewed"]


def test_second_import_stores_nothing(import_tenant: Target) -> None:
    import_tenant.run(caliper.import_file, FILE)
    before = import_tenant.statements()
    again = import_tenant.run(caliper.import_file, FILE)
    assert (again.read, again.stored, again.already_present) == (18, 0, 11)
    assert rejections(again) == EXPECTED_REJECTIONS
    assert import_tenant.statements() == before


def test_dry_run_counts_exactly_and_writes_nothing(import_tenant: Target) -> None:
    dry = import_tenant.run(caliper.import_file, FILE, dry_run=True)
    assert (dry.dry_run, dry.read, dry.stored, dry.already_present) == (True, 18, 10, 1)
    assert rejections(dry) == EXPECTED_REJECTIONS
    assert import_tenant.statements() == {}


def test_refused_batch_falls_back_to_one_by_one(import_tenant: Target) -> None:
    # xAPI 1.0.3 Part Three §2.1.2: an id already stored with other content is a conflict. The
    # batch holding it is refused; the importer stores its lines one at a time and rejects only it.
    taken = parts.derived_id("caliper", "urn:uuid:55619734-d7e0-4807-b0f3-01a546b2adcd")
    with import_tenant.session() as session:
        lrs_statements.store(session, importer_principal(import_tenant.id), "2.0.0", {
            "id": taken, "actor": LAN, "verb": verb("viewed", "đã xem"),
            "object": {"objectType": "Activity", "id": f"{LMS}/something-else"}}, [])
        session.commit()
    report = import_tenant.run(caliper.import_file, FILE, batch_size=500)
    assert (report.stored, report.already_present) == (9, 1)
    assert (1, 3, f"statement {taken} already exists with different content") in rejections(report)
    assert len(import_tenant.statements()) == 10  # the 9 new ones and the one that was there


def test_small_batches_give_the_same_result(import_tenant: Target) -> None:
    report = import_tenant.run(caliper.import_file, FILE, batch_size=1)
    assert (report.read, report.stored, report.already_present) == (18, 10, 1)
    assert rejections(report) == EXPECTED_REJECTIONS


def test_events_map_without_a_database() -> None:
    # Caliper 1.2 §2.2: an actor given as a bare IRI; a urn actor takes the sensor's origin.
    event = {"id": "urn:uuid:1b7b7d6a-3a55-4d2b-9a3b-0e4c1f2a3b4c", "type": "ViewEvent", "action": "Viewed",
             "actor": "urn:uuid:0f3e4d5c-6b7a-4988-9a0b-1c2d3e4f5a6b", "object": f"{LMS}/tai-lieu/1",
             "eventTime": "2026-11-22T09:15:00+07:00"}
    statement = caliper.map_event(event, f"{LMS}/caliper/sensor")
    assert statement["actor"] == {"objectType": "Agent", "account": {
        "homePage": LMS, "name": "urn:uuid:0f3e4d5c-6b7a-4988-9a0b-1c2d3e4f5a6b"}}
    assert statement["timestamp"] == "2026-11-22T02:15:00.000000Z"  # stored in UTC
    assert statement["object"] == {"objectType": "Activity", "id": f"{LMS}/tai-lieu/1"}
    for broken, reason in [
        ({**event, "actor": {"id": f"{LMS}/apps/1", "type": "SoftwareApplication"}},
         "the actor is a SoftwareApplication, not a Person: only learners' events become statements"),
        ({**event, "eventTime": "2026-11-22T09:15:00"},
         "eventTime '2026-11-22T09:15:00' has no UTC offset (e.g. 2026-11-22T09:15:00+07:00 or ...Z)"),
        ({k: v for k, v in event.items() if k != "id"}, "the event has no id (Caliper 1.2 §2.1: id is required)"),
        ({**event, "action": "Bookmarked"}, "action 'Bookmarked' of ViewEvent has no xAPI mapping (mapped: Viewed)"),
    ]:
        with pytest.raises(Rejected) as caught:
            caliper.map_event(broken, f"{LMS}/caliper/sensor")
        assert caught.value.reason == reason
