"""IMS Caliper Analytics 1.2 events → xAPI statements.

Input: JSON Lines, one Caliper Envelope per line, as an endpoint receives them (Caliper 1.2 §5.2
"Envelope": ``sensor``, ``sendTime``, ``dataVersion`` and ``data`` are required; ``data`` is an
ordered array of Events and/or Entity describes). ``dataVersion`` must be the 1.2 context IRI
(the 1.1 one is accepted too: the events mapped here have the same shape in both). Each event
of ``data`` is one record: line 3, event 2 is reported as such when rejected.

Mapping (Caliper 1.2 §2.1 "Event" and Appendix B, one table per event type):

| Caliper event / action              | xAPI verb                  | object                         |
|-------------------------------------|----------------------------|--------------------------------|
| NavigationEvent NavigatedTo         | ADL experienced            | the resource navigated to      |
| ViewEvent Viewed                    | registry viewed            | the resource viewed            |
| AssessmentEvent Started/Restarted   | ADL attempted              | the Assessment                 |
| AssessmentEvent Paused / Resumed    | ADL suspended / resumed    | the Assessment                 |
| AssessmentEvent Submitted           | ADL completed (completion) | the Assessment                 |
| AssessmentItemEvent Started         | ADL attempted              | the AssessmentItem             |
| AssessmentItemEvent Skipped         | registry skipped           | the AssessmentItem             |
| AssessmentItemEvent Completed       | ADL answered (response)    | the AssessmentItem             |
| GradeEvent Graded                   | ADL scored (score)         | the Attempt's ``assignable``   |
| SessionEvent LoggedIn / LoggedOut   | ADL logged-in / logged-out | the SoftwareApplication        |
| SessionEvent TimedOut               | cmi5 abandoned (§9.3.6)    | the ``edApp`` (else the Session) |

Any other event type, and AssessmentEvent Reset (nothing a learner did), is rejected with the
reason. Choices:
- ``actor``: a Person (object or IRI) → an Agent with an account (xAPI 1.0.3 Part Two §2.4.2.4):
  ``homePage`` = the origin of the Person's id, ``name`` = the rest of the id (``users/554433``
  for ``https://lms.example.vn/users/554433``); an id with no web origin (``urn:uuid:...``) keeps
  the whole id as the name under the sensor's origin. A roster lists that name as learner_id.
  An event whose actor is not a Person is rejected, except: a GradeEvent's learner is the
  Attempt's ``assignee`` (its actor, usually a SoftwareApplication, becomes the instructor only
  when it is a Person), and a TimedOut session's learner is the Session's ``user``.
- ``object`` → an Activity with the entity's id, ``name`` (in ``--language``, default vi: Caliper
  names carry no language) and an ADL activity type for the entity type (ENTITY_TYPES).
- ``timestamp`` = ``eventTime`` (required, ISO 8601 with an offset; stored in UTC).
- ``id`` = uuid5 of the Caliper event id (required; ``parts.derived_id``): re-importing the same
  events, or receiving an envelope twice, stores nothing twice.
- ``context.registration`` = uuid5 of the learner's account and the event's ``group`` (the course
  section), or of the ``edApp``/sensor when there is no group: one registration per learner per
  course section, the same for every event of it. ``group`` → ``contextActivities.grouping``
  (a course), ``object.isPartOf`` → ``parent``, the Attempt → ``grouping`` (type attempt, as the
  xAPI SCORM Profile §5 groups an attempt's statements), ``edApp`` → ``platform``.
- ``result``: Submitted → completion (and the Attempt's ISO 8601 duration); Completed item →
  ``response`` and ``duration`` from the generated Response (``value``, or ``values`` joined
  with ``[,]``, the xAPI response-pattern delimiter, Part Two §2.4.4.1 "Interaction
  Activities"); Graded → score from
  the generated Score: raw = scoreGiven, min = 0, max = maxScore, scaled = raw / max (Part Two
  §2.4.5.1: -1 ≤ scaled ≤ 1 and min ≤ raw ≤ max, so 0 ≤ scoreGiven ≤ maxScore is required).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

import schemas
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
from connectors.vocabulary import verb
from lrs.statements import format_time

DATA_VERSIONS: Final = ("http://purl.imsglobal.org/ctx/caliper/v1p2", "http://purl.imsglobal.org/ctx/caliper/v1p1")
ACTIONS: Final[dict[str, dict[str, str]]] = {  # event type → action → verb (table above)
    "NavigationEvent": {"NavigatedTo": "experienced"},
    "ViewEvent": {"Viewed": "viewed"},
    "AssessmentEvent": {"Started": "attempted", "Restarted": "attempted", "Paused": "suspended",
                        "Resumed": "resumed", "Submitted": "completed"},
    "AssessmentItemEvent": {"Started": "attempted", "Skipped": "skipped", "Completed": "answered"},
    "GradeEvent": {"Graded": "scored"},
    "SessionEvent": {"LoggedIn": "logged-in", "LoggedOut": "logged-out", "TimedOut": "abandoned"},
}
# Caliper entity type → ADL activity type (connectors.vocabulary); others get no type.
ENTITY_TYPES: Final = {
    "Assessment": "assessment", "AssessmentItem": "question", "Attempt": "attempt",
    "CourseOffering": "course", "CourseSection": "course", "AssignableDigitalResource": "module",
    "DigitalResourceCollection": "module", "WebPage": "link", "LtiLink": "link", "Document": "file",
    "VideoObject": "media", "AudioObject": "media", "ImageObject": "media", "MediaObject": "media",
    "SoftwareApplication": "application",
}
FORMAT: Final = "caliper-1.2"


def import_file(session: Session, tenant_id: int, path: Path, *, language: str = "vi", dry_run: bool = False,
                progress: bool | None = None, batch_size: int = 500) -> Report:
    report = Report("caliper", record="event", dry_run=dry_run)
    with source_lines(path, progress=progress, desc="caliper") as lines:
        items = (item for number, text in lines for item in map_line(number, text, language))
        return run(session, StatementSink(importer_principal(tenant_id)), items, report, batch_size=batch_size)


def map_line(number: int, text: str, language: str = "vi") -> list[Record | Rejection]:
    """The records of one envelope line (a blank line has none)."""
    if not text.strip():
        return []
    try:
        envelope = _envelope(text)
    except Rejected as err:
        return [Rejection(number, err.reason)]
    out: list[Record | Rejection] = []
    for index, event in enumerate(envelope["data"], start=1):
        try:
            statement = map_event(event, envelope["sensor"], language)
        except Rejected as err:
            out.append(Rejection(number, err.reason, index))
        else:
            out.append(Record(number, [statement], (statement["id"],), index))
    return out


def _envelope(text: str) -> dict[str, Any]:
    envelope = json_object(text, "a Caliper Envelope (a JSON object with sensor, sendTime, dataVersion, data)")
    missing = [k for k in ("sensor", "sendTime", "dataVersion", "data") if k not in envelope]
    if missing:  # Caliper 1.2 §5.2: all four are required
        raise Rejected(f"not a Caliper Envelope: {', '.join(missing)} missing (Caliper 1.2 §5.2)")
    if envelope["dataVersion"] not in DATA_VERSIONS:
        raise Rejected(f"dataVersion {envelope['dataVersion']!r} is not Caliper 1.2 ({DATA_VERSIONS[0]})")
    if not isinstance(envelope["sensor"], str) or not envelope["sensor"]:
        raise Rejected("the envelope's sensor must be an identifier string (Caliper 1.2 §5.2)")
    if not isinstance(envelope["data"], list) or not envelope["data"]:
        raise Rejected("the envelope's data must be a non-empty array (Caliper 1.2 §5.2)")
    return envelope


def _entity(value: Any, what: str) -> dict[str, Any]:
    """An Entity given as an object or as its IRI (Caliper 1.2 §2.2: either form is allowed)."""
    if isinstance(value, str) and value:
        return {"id": value}
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return value
    raise Rejected(f"{what} must be an entity object with an id, or an IRI")


def _optional(value: Any, what: str) -> dict[str, Any] | None:
    return None if value is None else _entity(value, what)


def learner(person: dict[str, Any], sensor: str) -> dict[str, Any]:
    """A Person → an Agent with an account (see the module docstring)."""
    kind = person.get("type", "Person")
    if kind != "Person":
        raise Rejected(f"the actor is a {kind}, not a Person: only learners' events become statements")
    pid = person["id"]
    home = parts.web_origin(pid)
    if home is not None:
        return parts.account_agent(home, pid[len(home):].lstrip("/") or pid)
    home = parts.web_origin(sensor)
    if home is None:
        raise Rejected(f"the actor id {pid!r} has no web origin and the sensor {sensor!r} is not an http(s) IRI")
    return parts.account_agent(home, pid)


def _activity(entity: dict[str, Any], language: str) -> dict[str, Any]:
    name = entity.get("name")
    return parts.activity(entity["id"], ENTITY_TYPES.get(str(entity.get("type"))),
                          name if isinstance(name, str) else None, language)


def map_event(event: Any, sensor: str, language: str = "vi") -> dict[str, Any]:
    """One Caliper Event → one xAPI statement (raises Rejected with the reason)."""
    if not isinstance(event, dict):
        raise Rejected("an item of data is not a JSON object")
    kind, action = event.get("type"), event.get("action")
    if kind not in ACTIONS:
        raise Rejected(f"unknown event type {kind!r}: imported are {', '.join(ACTIONS)}")
    if action not in ACTIONS[kind]:
        raise Rejected(f"action {action!r} of {kind} has no xAPI mapping (mapped: {', '.join(ACTIONS[kind])})")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise Rejected("the event has no id (Caliper 1.2 §2.1: id is required)")
    moment = parts.instant(event.get("eventTime"), "eventTime")
    obj = _entity(event.get("object"), "object")
    generated = _optional(event.get("generated"), "generated")
    edapp = _optional(event.get("edApp"), "edApp")
    group = _optional(event.get("group"), "group")
    result: dict[str, Any] = {}
    attempt: dict[str, Any] | None = None
    instructor: dict[str, Any] | None = None

    if kind == "GradeEvent":
        attempt = obj
        actor = learner(_entity(obj.get("assignee"), "the graded Attempt's assignee (the learner)"), sensor)
        target = _entity(obj.get("assignable"), "the graded Attempt's assignable")
        result["score"] = _score(generated)
        grader = _entity(event.get("actor"), "actor")
        if grader.get("type") == "Person":
            instructor = learner(grader, sensor)
    elif kind == "SessionEvent" and action == "TimedOut":
        actor = learner(_entity(obj.get("user"), "the timed-out Session's user"), sensor)
        target = edapp or obj
    else:
        actor = learner(_entity(event.get("actor"), "actor"), sensor)
        target = obj
    if kind == "AssessmentEvent":
        attempt = generated
        if action == "Submitted":
            result["completion"] = True
            duration = (generated or {}).get("duration")
            if duration is not None:
                if not schemas.is_duration(duration):
                    raise Rejected(f"the Attempt's duration {duration!r} is not an ISO 8601 duration")
                result["duration"] = duration
    if kind == "AssessmentItemEvent" and action == "Completed" and generated is not None:
        response = _response(generated)
        if response is not None:
            result["response"] = response
        if schemas.is_duration(generated.get("duration")):
            result["duration"] = generated["duration"]

    context: dict[str, Any] = {
        "registration": parts.derived_id("caliper-registration", actor["account"]["homePage"],
                                         actor["account"]["name"], (group or edapp or {"id": sensor})["id"]),
        "extensions": parts.source(FORMAT, event_id),
    }
    activities: dict[str, list[dict[str, Any]]] = {}
    parent = target.get("isPartOf")
    if parent is not None:
        activities["parent"] = [_activity(_entity(parent, "object.isPartOf"), language)]
    grouping = [_activity({**group, "type": group.get("type", "CourseSection")}, language)] if group else []
    if attempt is not None:
        grouping.append(parts.activity(attempt["id"], "attempt"))
    if grouping:
        activities["grouping"] = grouping
    if activities:
        context["contextActivities"] = activities
    if instructor is not None:
        context["instructor"] = instructor
    if edapp is not None:
        context["platform"] = str(edapp.get("name") or edapp["id"])
    statement: dict[str, Any] = {
        "id": parts.derived_id("caliper", event_id),
        "actor": actor,
        "verb": verb(ACTIONS[kind][action]),
        "object": _activity(target, language),
        "timestamp": format_time(moment),
        "context": context,
    }
    if result:
        statement["result"] = result
    return statement


def _score(score: dict[str, Any] | None) -> dict[str, Any]:
    if score is None:
        raise Rejected("the GradeEvent has no generated Score, so there is no score to record")
    given = parts.number(score.get("scoreGiven"), "scoreGiven")
    most = parts.number(score.get("maxScore"), "maxScore")
    if given is None:
        raise Rejected("the generated Score has no scoreGiven")
    if most is None:
        if given < 0:
            raise Rejected(f"scoreGiven {given} is negative")
        return {"raw": given, "min": 0}
    if most <= 0:
        raise Rejected(f"maxScore {most} must be greater than 0 (xAPI 1.0.3 Part Two §2.4.5.1: max > min)")
    if not 0 <= given <= most:
        # xAPI 1.0.3 Part Two §2.4.5.1: raw lies between min and max.
        raise Rejected(f"scoreGiven {given} is outside 0..maxScore {most}")
    return {"scaled": round(given / most, 4), "raw": given, "min": 0, "max": most}


def _response(response: dict[str, Any]) -> str | None:
    """The learner's answer in xAPI response-pattern form (Caliper 1.2 Response subtypes carry
    ``value`` or ``values``)."""
    if "values" in response and isinstance(response["values"], list):
        return "[,]".join(str(v) for v in response["values"])
    value = response.get("value")
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)
