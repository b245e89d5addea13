"""Moodle's standard log export (Site administration › Reports › Logs › Download, CSV) → xAPI.

Input: the CSV Moodle 4.x writes — UTF-8 with a byte-order mark, one header line, the columns
``Time, User full name, Affected user, Event context, Component, Event name, Description,
Origin, IP address``. Header names are matched in English; an export made in another interface
language (Vietnamese headers) is read by position, as Moodle always writes these nine columns in
this order. ``Time`` is in the exporting user's time zone and Moodle's short date-time format,
``22/11/26, 09:15`` (day/month/two-digit year, 24-hour); ``--time-format`` (strptime) and
``--timezone`` (default Asia/Ho_Chi_Minh) say otherwise. Timestamps are stored in UTC.

Events are recognised by their Description, which Moodle writes in English whatever the
interface language (``get_description()`` is not translated, unlike the Event name), so a
Vietnamese export maps the same way. The mapped events (English event name — core Moodle 4.x
description → xAPI verb, object):

- Course viewed — "The user with id 'U' viewed the course with id 'C'." → viewed (registry), course C
- Course module viewed — "The user with id 'U' viewed the 'MOD' activity with course module id
  'M'." → viewed (registry), module M
- Quiz attempt started — "The user with id 'U' has started the attempt with id 'A' for the quiz
  with course module id 'M'." → ADL attempted, quiz M
- Quiz attempt submitted — "The user with id 'U' has submitted the attempt with id 'A' for the
  quiz with course module id 'M'." → ADL completed, quiz M
- Course completed — "The user with id 'U' completed the course with id 'C'." → ADL completed,
  course C
- User enrolled in course — "The user with id 'X' enrolled the user with id 'U' using the
  enrolment method 'E' in the course with id 'C'." → ADL registered, course C (the learner is U)
- User has logged in — "The user with id 'U' has logged in." → ADL logged-in, the LMS
- User logged out — "The user with id 'U' has logged out." → ADL logged-out, the LMS

Every other event is rejected with the reason "not mapped" (e.g. "User graded": the log has no
score; "Course module completion updated": the log does not say whether the state became
complete or incomplete), so the report shows what was left out.

Choices:
- actor: the learner ``U`` as an account (homePage = ``--lms-url``, name = Moodle's user id); a
  roster for these learners uses the Moodle user id as learner_id. "User full name" is not
  stored in statements (the roster holds names).
- The IP address column is never read into anything stored: it is personal data (it can
  identify a person's home or office) and nothing in the hub needs it.
- objects: course ``<lms>/course/view.php?id=C``, module ``<lms>/mod/MOD/view.php?id=M`` — the
  addresses Moodle itself uses — named from Event context (``Quiz: Kiểm tra chương 1``), typed by
  module (MODULE_TYPES); log-in/out's object is the LMS (Activity Streams application).
- no registration: the log does not say which course a module belongs to.
- id: uuid5 of (LMS, Time, Event name, Description, and the row's occurrence number among
  identical rows of the file). Moodle's times are to the minute, so two identical views in one
  minute are two rows with the same content; counting occurrences keeps both, and re-importing
  the same export (or an overlapping one) gives the same ids, so nothing is stored twice.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from connectors.importers import (
    Record,
    Rejected,
    Rejection,
    Report,
    SourceError,
    StatementSink,
    csv_rows,
    importer_principal,
    parts,
    run,
    source_lines,
)
from connectors.vocabulary import verb
from lrs.statements import format_time

COLUMNS: Final = ("Time", "User full name", "Affected user", "Event context", "Component", "Event name",
                  "Description", "Origin", "IP address")
TIME_FORMAT: Final = "%d/%m/%y, %H:%M"
TIMEZONE: Final = "Asia/Ho_Chi_Minh"
FORMAT: Final = "moodle-log"
# Moodle module name → activity type (connectors.vocabulary); others are "module".
MODULE_TYPES: Final = {"quiz": "assessment", "assign": "assessment", "page": "lesson", "book": "lesson",
                       "lesson": "lesson", "scorm": "lesson", "h5pactivity": "lesson", "resource": "file",
                       "url": "link", "bigbluebuttonbn": "meeting"}
_USER = r"The user with id '(?P<user>\d+)'"


@dataclass(frozen=True)
class Mapping:
    name: str  # the English event name, for the reasons
    pattern: re.Pattern[str]
    verb: str
    target: str  # course | module | quiz | site


def _m(name: str, pattern: str, verb_name: str, target: str) -> Mapping:
    return Mapping(name, re.compile(pattern), verb_name, target)


EVENTS: Final = (
    _m("Course viewed", rf"{_USER} viewed the course with id '(?P<course>\d+)'\.", "viewed", "course"),
    _m("Course module viewed", rf"{_USER} viewed the '(?P<mod>\w+)' activity with course module id '(?P<cmid>\d+)'\.",
       "viewed", "module"),
    _m("Quiz attempt started", rf"{_USER} has started the attempt with id '\d+' for the quiz with course module id "
       r"'(?P<cmid>\d+)'\.", "attempted", "quiz"),
    _m("Quiz attempt submitted", rf"{_USER} has submitted the attempt with id '\d+' for the quiz with course module "
       r"id '(?P<cmid>\d+)'\.", "completed", "quiz"),
    _m("Course completed", rf"{_USER} completed the course with id '(?P<course>\d+)'\.", "completed", "course"),
    _m("User enrolled in course", r"The user with id '\d+' enrolled the user with id '(?P<user>\d+)' using the "
       r"enrolment method '[^']*' in the course with id '(?P<course>\d+)'\.", "registered", "course"),
    _m("User has logged in", rf"{_USER} has logged in\.", "logged-in", "site"),
    _m("User logged out", rf"{_USER} has logged out\.", "logged-out", "site"),
)


def import_file(session: Session, tenant_id: int, path: Path, *, lms_url: str | None, timezone: str = TIMEZONE,
                time_format: str = TIME_FORMAT, language: str = "vi", dry_run: bool = False,
                progress: bool | None = None, batch_size: int = 500) -> Report:
    home = parts.lms_url(lms_url)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SourceError(f"unknown time zone {timezone!r} (e.g. Asia/Ho_Chi_Minh)") from None
    report = Report("moodle-log", record="row", dry_run=dry_run)
    with source_lines(path, progress=progress, desc="moodle-log") as lines:
        header, rows = csv_rows(lines)
        mapper = Mapper(home, zone, time_format, language, columns(header))
        items = (mapper.row(number, cells) for number, cells in rows)
        return run(session, StatementSink(importer_principal(tenant_id)), items, report, batch_size=batch_size)


def columns(header: list[str]) -> dict[str, int]:
    """Column name → position: by English name, else by Moodle's fixed order (any UI language)."""
    lowered = [h.casefold() for h in header]
    if all(c.casefold() in lowered for c in COLUMNS):
        return {c: lowered.index(c.casefold()) for c in COLUMNS}
    if len(header) == len(COLUMNS):
        return {c: i for i, c in enumerate(COLUMNS)}
    raise SourceError(f"not a Moodle log export: expected the columns {', '.join(COLUMNS)}; found {', '.join(header)}")


class Mapper:
    def __init__(self, home: str, zone: ZoneInfo, time_format: str, language: str, where: dict[str, int]) -> None:
        self.home, self.zone, self.time_format, self.language, self.where = home, zone, time_format, language, where
        self.seen: Counter[str] = Counter()

    def row(self, number: int, cells: list[str] | Rejected) -> Record | Rejection:
        try:
            statement = self.statement(cells)
        except Rejected as err:
            return Rejection(number, err.reason)
        return Record(number, [statement], (statement["id"],))

    def statement(self, cells: list[str] | Rejected) -> dict[str, Any]:
        if isinstance(cells, Rejected):
            raise cells
        if len(cells) != len(COLUMNS):
            raise Rejected(f"has {len(cells)} columns, not the {len(COLUMNS)} of a Moodle log export")
        cell = {name: cells[i].strip() for name, i in self.where.items()}
        description, event_name = cell["Description"], cell["Event name"]
        mapping, found = _match(description)
        if mapping is None or found is None:
            shape = next((m for m in EVENTS if m.name.casefold() == event_name.casefold()), None)
            if shape is not None:
                raise Rejected(f"the description does not have the shape of a {shape.name!r} event: {description!r}")
            raise Rejected(f"event {event_name!r} is not mapped to xAPI (mapped: {', '.join(m.name for m in EVENTS)})")
        try:
            moment = datetime.strptime(cell["Time"], self.time_format).replace(tzinfo=self.zone)
        except ValueError:
            example = datetime(2026, 11, 22, 9, 15).strftime(self.time_format)
            raise Rejected(f"time {cell['Time']!r} is not in the format {self.time_format!r} (e.g. {example!r})") \
                from None
        base = "\x1f".join((self.home, cell["Time"], event_name, description))
        self.seen[base] += 1
        return {
            "id": parts.derived_id("moodle", base, str(self.seen[base])),
            "actor": parts.account_agent(self.home, found["user"]),
            "verb": verb(mapping.verb),
            "object": self._object(mapping, found, cell["Event context"]),
            "timestamp": format_time(moment),
            "context": {"platform": "Moodle", "extensions": parts.source(FORMAT)},
        }

    def _object(self, mapping: Mapping, found: dict[str, str], event_context: str) -> dict[str, Any]:
        # Event context reads "Quiz: Kiểm tra chương 1" (the context level, then its name).
        name = event_context.split(": ", 1)[1] if ": " in event_context else None
        if mapping.target == "course":
            return parts.activity(f"{self.home}/course/view.php?id={found['course']}", "course", name, self.language)
        if mapping.target == "site":
            return parts.activity(self.home, "application")
        module = "quiz" if mapping.target == "quiz" else found["mod"]
        return parts.activity(f"{self.home}/mod/{module}/view.php?id={found['cmid']}",
                              MODULE_TYPES.get(module, "module"), name, self.language)


def _match(description: str) -> tuple[Mapping | None, dict[str, str] | None]:
    for mapping in EVENTS:
        found = mapping.pattern.fullmatch(description)
        if found:
            return mapping, found.groupdict()
    return None, None
