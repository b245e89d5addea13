"""Moodle standard log export importer on tests/data/moodle_log*.csv (connectors.importers.moodle_log):
the event → verb table, times in the exporter's zone, privacy (no IP, no names), idempotency."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.importers import SourceError, moodle_log, parts
from tests.connectors.import_support import DATA, LMS, SOURCE, TYPES, Target, rejections, verb

FILE = DATA / "moodle_log.csv"
MAPPED = ("Course viewed, Course module viewed, Quiz attempt started, Quiz attempt submitted, Course completed, "
          "User enrolled in course, User has logged in, User logged out")
EXPECTED_REJECTIONS = [
    (9, None, f"event 'Dashboard viewed' is not mapped to xAPI (mapped: {MAPPED})"),
    (13, None, "time '11/23/2026 8:00 PM' is not in the format '%d/%m/%y, %H:%M' (e.g. '22/11/26, 09:15')"),
    (14, None, f"event 'User graded' is not mapped to xAPI (mapped: {MAPPED})"),
    (16, None, "the description does not have the shape of a 'Course viewed' event: "
               "\"The user with id '' viewed the course with id '12'.\""),
    (17, None, "has 8 columns, not the 9 of a Moodle log export"),
]
CONTEXT = {"platform": "Moodle", "extensions": {SOURCE: {"format": "moodle-log"}}}


def row_id(time: str, event: str, description: str, occurrence: int = 1) -> str:
    return parts.derived_id("moodle", "\x1f".join((LMS, time, event, description)), str(occurrence))


def agent(user: str) -> dict[str, object]:
    return {"objectType": "Agent", "account": {"homePage": LMS, "name": user}}


def test_log_rows_map_to_statements(import_tenant: Target) -> None:
    report = import_tenant.run(moodle_log.import_file, FILE, lms_url=LMS)
    assert (report.read, report.stored, report.already_present) == (16, 11, 0)
    assert rejections(report) == EXPECTED_REJECTIONS
    stored = import_tenant.statements()
    submitted = ("The user with id '27' has submitted the attempt with id '3051' for the quiz with course module "
                 "id '418'.")
    sid = row_id("24/11/26, 09:58", "Quiz attempt submitted", submitted)
    # "24/11/26, 09:58" in Asia/Ho_Chi_Minh (UTC+7) is 02:58 UTC.
    assert stored[sid] == {
        "id": sid, "actor": agent("27"), "verb": verb("completed", "đã hoàn thành"),
        "object": {"objectType": "Activity", "id": f"{LMS}/mod/quiz/view.php?id=418",
                   "definition": {"type": TYPES + "assessment", "name": {"vi": "Kiểm tra chương 1"}}},
        "timestamp": "2026-11-24T02:58:00.000000Z", "context": CONTEXT}
    enrolled = ("The user with id '2' enrolled the user with id '31' using the enrolment method 'manual' in the "
                "course with id '12'.")
    sid = row_id("23/11/26, 16:05", "User enrolled in course", enrolled)
    # The learner is the enrolled user (31), not the teacher who enrolled them (2).
    assert stored[sid] == {
        "id": sid, "actor": agent("31"), "verb": verb("registered", "đã ghi danh"),
        "object": {"objectType": "Activity", "id": f"{LMS}/course/view.php?id=12",
                   "definition": {"type": TYPES + "course", "name": {"vi": "Kỹ năng số cơ bản"}}},
        "timestamp": "2026-11-23T09:05:00.000000Z", "context": CONTEXT}
    login = row_id("24/11/26, 09:18", "User has logged in", "The user with id '27' has logged in.")
    assert stored[login]["object"] == {"objectType": "Activity", "id": LMS,
                                       "definition": {"type": "http://activitystrea.ms/schema/1.0/application"}}
    assert stored[login]["verb"] == verb("logged-in", "đã đăng nhập", base="https://w3id.org/xapi/adl/verbs/",
                                         en="logged in")
    # Two identical rows (two views in one minute) are two statements, told apart by occurrence.
    viewed = "The user with id '27' viewed the 'page' activity with course module id '415'."
    first = row_id("24/11/26, 09:20", "Course module viewed", viewed, 1)
    second = row_id("24/11/26, 09:20", "Course module viewed", viewed, 2)
    assert stored[first]["object"] == stored[second]["object"] == {
        "objectType": "Activity", "id": f"{LMS}/mod/page/view.php?id=415",
        "definition": {"type": TYPES + "lesson", "name": {"vi": "Bài 1 - Cài đặt ứng dụng VNeID"}}}
    resource = [s for s in stored.values() if s["object"]["id"] == f"{LMS}/mod/resource/view.php?id=421"]
    assert resource[0]["object"]["definition"]["type"] == TYPES + "file"


def test_ip_addresses_and_names_are_not_stored(import_tenant: Target) -> None:
    import_tenant.run(moodle_log.import_file, FILE, lms_url=LMS)
    everything = json.dumps(import_tenant.stored_full(), ensure_ascii=False)
    for personal in ("113.160.12.45", "14.232.8.9", "Nguyễn Thị Lan", "Trần Văn Hùng", "Phạm Minh Quân"):
        assert personal not in everything


def test_second_import_stores_nothing(import_tenant: Target) -> None:
    import_tenant.run(moodle_log.import_file, FILE, lms_url=LMS)
    again = import_tenant.run(moodle_log.import_file, FILE, lms_url=LMS)
    assert (again.read, again.stored, again.already_present) == (16, 0, 11)
    assert rejections(again) == EXPECTED_REJECTIONS


def test_vietnamese_interface_export_is_read_by_position(import_tenant: Target) -> None:
    # Headers and event names in Vietnamese; descriptions stay English, so the mapping holds.
    report = import_tenant.run(moodle_log.import_file, DATA / "moodle_log_vi.csv", lms_url=LMS)
    assert (report.read, report.stored) == (3, 2)
    assert rejections(report) == [(4, None, "event 'Đã xem bảng điều khiển' is not mapped to xAPI "
                                            f"(mapped: {MAPPED})")]
    assert sorted(s["verb"]["id"].rsplit("/", 1)[1] for s in import_tenant.statements().values()) == [
        "logged-in", "viewed"]


def test_timezone_and_time_format_options(import_tenant: Target, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text(",".join(moodle_log.COLUMNS) + "\n"
                   "2026-11-25 08:31,Lê Thị Mai,-,System,System,User logged out,"
                   "The user with id '45' has logged out.,web,171.244.3.7\n", encoding="utf-8")
    import_tenant.run(moodle_log.import_file, log, lms_url=LMS, timezone="UTC", time_format="%Y-%m-%d %H:%M")
    (statement,) = import_tenant.statements().values()
    assert statement["timestamp"] == "2026-11-25T08:31:00.000000Z"
    with pytest.raises(SourceError, match="unknown time zone 'Asia/Hanoi'"):
        import_tenant.run(moodle_log.import_file, log, lms_url=LMS, timezone="Asia/Hanoi")


def test_a_file_that_is_not_a_moodle_log_is_refused(import_tenant: Target, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(SourceError, match="not a Moodle log export"):
        import_tenant.run(moodle_log.import_file, other, lms_url=LMS)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match="the file is empty"):
        import_tenant.run(moodle_log.import_file, empty, lms_url=LMS)


def test_rows_that_are_not_utf8_are_rejected(import_tenant: Target, tmp_path: Path) -> None:
    log = tmp_path / "latin.csv"
    header = ",".join(moodle_log.COLUMNS).encode()
    good = "\"25/11/26, 08:30\",Mai,-,System,System,User has logged in,The user with id '45' has logged in.,web,\n"
    bad = "\"25/11/26, 08:31\",L\u00ea Mai,-,System,System,User logged out,The user with id '45' has logged out.,web,\n"
    # Windows' Vietnamese code page, as Excel may save it: "ê" is one byte, not UTF-8.
    log.write_bytes(header + b"\n" + good.encode() + bad.encode("cp1258"))
    report = import_tenant.run(moodle_log.import_file, log, lms_url=LMS)
    assert report.stored == 1
    assert rejections(report) == [(3, None, "the line is not valid UTF-8 (export the file as UTF-8)")]
