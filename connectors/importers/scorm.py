"""SCORM 1.2 and SCORM 2004 run-time data → xAPI statements, following the ADL xAPI SCORM Profile.

Input: JSON Lines, one line per SCO session (an attempt suspended and resumed has a line per
session), the run-time data as the LMS keeps it (element name → value, as Moodle's
``scorm_scoes_track`` or an LMS's SCORM export holds it)::

    {"learner_id": "27", "course_id": "ky-nang-so", "course_title": "Kỹ năng số cơ bản",
     "sco_id": "bai-1", "sco_title": "Bài 1", "attempt": 1, "version": "1.2",
     "started_at": "2026-11-22T09:00:00+07:00", "ended_at": "2026-11-22T09:25:30+07:00",
     "cmi": {"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "85",
             "cmi.core.session_time": "0000:25:30.00", "cmi.interactions.0.id": "q1", ...}}

Required: ``sco_id``, ``attempt`` (≥ 1), ``version`` ("1.2" or "2004"), ``ended_at`` (ISO 8601
with an offset: when the session ended), and a learner id (``learner_id``, else
``cmi.core.student_id`` / ``cmi.learner_id``). ``learner_name`` may be present but is not put in
statements (see ``parts``). Other cmi elements (suspend_data, location, ...) are ignored.

Values are checked line by line against the data model, and a line with any bad value is
rejected whole, naming every problem (so a fixed file re-imports cleanly):
- SCORM 1.2 RTE §3.4 (cmi.core): lesson_status ∈ {passed, completed, failed, incomplete,
  browsed, not attempted}; entry ∈ {ab-initio, resume, ""}; exit ∈ {time-out, suspend, logout, ""};
  score.raw/min/max CMIDecimal in 0..100; session_time CMITimespan ``HHHH:MM:SS.SS``.
- SCORM 2004 4th Ed. RTE §4.2 (one subsection per element): cmi.completion_status ∈
  {completed, incomplete, not attempted, unknown}; cmi.success_status ∈ {passed, failed,
  unknown}; cmi.exit adds ``normal``; cmi.score.scaled in -1..1; cmi.session_time an ISO 8601
  timeinterval (PT1H5M30.5S).
- Both: min < max and min ≤ raw ≤ max when given (xAPI 1.0.3 Part Two §2.4.5.1).

Statements per line (xAPI SCORM Profile §5 "Supporting the SCORM Temporal Model" and §6):
1. ``initialized`` at ``started_at`` (``resumed`` when entry = resume), when started_at is given.
2. one ``responded`` per interaction (§6 "Interactions": the profile requires responded, not
   answered), object ``<SCO IRI>/interactions/<id>`` of type cmi.interaction with its
   interactionType and correctResponsesPattern; result.response, success (correct → true,
   wrong/incorrect → false), duration (latency); at the interaction's timestamp (2004) or ended_at.
3. ``completed`` if completion_status (1.2: lesson_status) is completed; ``passed``/``failed``
   from success_status (1.2: lesson_status passed/failed), with the score (§6 "Success Status").
4. ``scored`` when a score is known (§6 "Score"): scaled = 1.2 raw / 100, or 2004 scaled; raw,
   min and max as given.
5. ``terminated`` (``suspended`` when exit = suspend) at ended_at, with the overall result —
   completion, success, score and duration = session_time (§5 "Terminating an attempt", §6
   "Session Time"); 1.2's HHHH:MM:SS.SS becomes ISO 8601 (PT25M30S).
Every statement: actor = account (homePage = ``--lms-url``, name = learner id); context
grouping = the course (when course_id is given) and the attempt activity
``<SCO IRI>?attemptId=<uuid5>``, category = the profile activity ``https://w3id.org/xapi/scorm``
(§3.2 "Context Activities"); registration = uuid5(learner, course) (§3.2 "Context
Registration": one per learner per course); SCO IRI = ``<lms>/scorm/<course_id>/<sco_id>``
(§3.2 "Activity IRI": ``<courseIRI>/<sco path>``) unless sco_id is already an absolute IRI.
Statement ids: uuid5 of (LMS, learner, SCO, attempt, ended_at, which statement): re-imports are
no-ops, and each session of a resumed attempt has statements of its own.

Response formats: 2004 already uses xAPI's delimiters ([,] [.] [:], Part Two §2.4.4.1), so its
responses and patterns are kept as they are; 1.2's are converted: true-false t/f/1/0 →
true/false, choice and sequencing ``a,b`` → ``a[,]b``, matching ``1.a,2.b`` → ``1[.]a[,]2[.]b``,
other types kept as they are.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy.orm import Session

from connectors.importers import (
    Record,
    Rejected,
    Rejection,
    Report,
    StatementSink,
    importer_principal,
    json_object,
    parts,
    run,
    source_lines,
)
from connectors.importers.scorm_model import MODELS, Model, interactions
from connectors.vocabulary import verb
from lrs.statements import format_time
from schemas import scorm_xapi

FORMAT: Final = "scorm"


def import_file(session: Session, tenant_id: int, path: Path, *, lms_url: str | None, language: str = "vi",
                dry_run: bool = False, progress: bool | None = None, batch_size: int = 500) -> Report:
    home = parts.lms_url(lms_url)
    report = Report("scorm", dry_run=dry_run)
    with source_lines(path, progress=progress, desc="scorm") as lines:
        items = (item for number, text in lines if (item := map_line(number, text, home, language)) is not None)
        return run(session, StatementSink(importer_principal(tenant_id)), items, report, batch_size=batch_size)


def map_line(number: int, text: str, home: str, language: str = "vi") -> Record | Rejection | None:
    if not text.strip():
        return None
    try:
        statements = map_attempt(json_object(text), home, language)
    except Rejected as err:
        return Rejection(number, err.reason)
    return Record(number, statements, tuple(s["id"] for s in statements))


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (dict, list, bool)):
        raise Rejected(f"{key} must be text")
    return str(value).strip()


def map_attempt(data: dict[str, Any], home: str, language: str = "vi") -> list[dict[str, Any]]:
    """One SCO session → its statements (see the module docstring); raises Rejected."""
    version = str(data.get("version", "")).strip()
    if version not in MODELS:
        raise Rejected(f"version must be \"1.2\" or \"2004\", not {data.get('version')!r}")
    model: Model = MODELS[version]
    cmi = data.get("cmi")
    if not isinstance(cmi, dict):
        raise Rejected("cmi must be an object of data model elements (\"cmi.core.lesson_status\": ...)")
    sco_id = _text(data, "sco_id")
    learner_id = _text(data, "learner_id") or (str(cmi.get(model.learner_id) or "").strip() or None)
    attempt = data.get("attempt")
    problems: list[str] = []
    if sco_id is None:
        problems.append("sco_id is missing")
    if learner_id is None:
        problems.append(f"learner_id is missing (and no {model.learner_id})")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        problems.append(f"attempt must be a whole number ≥ 1, not {attempt!r}")
    ended: datetime | None
    started: datetime | None
    try:
        ended = parts.instant(data.get("ended_at"), "ended_at")
        started = parts.instant(data["started_at"], "started_at") if data.get("started_at") else None
    except Rejected as err:
        problems.append(err.reason)
        ended = started = None
    values = model.check(cmi, problems)
    found = interactions(cmi, model, problems, language)
    if problems:
        raise Rejected("; ".join(problems))
    assert sco_id and learner_id and ended is not None  # for the type checker: problems said otherwise

    course_id, course_title = _text(data, "course_id"), _text(data, "course_title")
    course_iri = _iri(course_id, f"{home}/scorm") if course_id else None
    sco_iri = _iri(sco_id, course_iri or f"{home}/scorm")
    key = (home, learner_id, sco_iri, str(attempt))
    actor = parts.account_agent(home, learner_id)
    sco = parts.activity(sco_iri, "lesson", _text(data, "sco_title"), language)
    grouping = [parts.activity(course_iri, "course", course_title, language)] if course_iri else []
    grouping.append(parts.activity(f"{sco_iri}?attemptId={parts.derived_id('scorm-attempt', *key)}", "attempt"))
    context = {
        "registration": parts.derived_id("scorm-registration", home, learner_id, course_iri or sco_iri),
        "contextActivities": {"grouping": grouping, "category": [parts.SCORM_PROFILE_ACTIVITY]},
        "extensions": parts.source(f"{FORMAT}-{version}"),
    }
    # The mapping itself is the hub's one (schemas.scorm_xapi), shared with the SCORM player.
    facts = scorm_xapi.SessionFacts(actor, sco, context, ended, started)
    return scorm_xapi.session_statements(
        values, found, facts, verb=verb, language=language,
        statement_id=lambda kind: parts.derived_id("scorm", *key, format_time(ended), kind))


_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _iri(ident: str, base: str) -> str:
    """An id that is already an absolute IRI is used as it is; otherwise it is a path under base."""
    return ident if _ABSOLUTE.match(ident) else f"{base}/{quote(ident, safe='/-._~')}"
