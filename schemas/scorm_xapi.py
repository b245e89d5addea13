"""The xAPI SCORM Profile mapping, one for the whole hub: SCORM 1.2 / 2004 run-time data → statements.

Used by the SCORM importer (``connectors.importers.scorm``: run-time data an LMS exported) and by
the SCORM player (``player.packages.scorm_statements``: the attempts learners play in the hub), so a
SCORM attempt reads the same in the LRS wherever it was played. The rules, clause by clause, are in
``connectors.importers.scorm``'s docstring (and README "Importing").

The run-time data models: SCORM 1.2 RTE §3.4 "Data Model" (cmi.core.*, cmi.interactions.*) and
SCORM 2004 4th Ed. RTE §4.2 (cmi.*). Each check appends a problem in words and carries on, so one
rejection names every bad value. Blank values are SCORM's "not set" (1.2 CMIBlank, 2004's empty
characterstring). Only ``schemas`` is imported: the LRS side and the player may both use this.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Final
from urllib.parse import quote

from schemas.xapi_formats import is_duration, iso_duration


class Invalid(ValueError):
    """One value is not what the data model allows; ``reason`` says so in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def number(value: Any, what: str) -> float | None:
    """A decimal from JSON (number or numeric text); None for absent/blank (SCORM's CMIBlank)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise Invalid(f"{what} must be a number, not {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise Invalid(f"{what} {value!r} is not a number") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise Invalid(f"{what} {value!r} is not a number")
    return int(result) if result.is_integer() else result


# SCORM 1.2 RTE §3.4 CMITimespan: HHHH:MM:SS.SS, hours 2–4 digits, seconds with up to 2 decimals.
_TIMESPAN = re.compile(r"(\d{2,4}):([0-5]\d):([0-5]\d)(\.\d{1,2})?")
_INTERACTION = re.compile(r"cmi\.interactions\.(\d+)\.(.+)")
_PATTERN = re.compile(r"correct_responses\.(\d+)\.pattern")
_LANG = re.compile(r"\{lang=([A-Za-z0-9-]+)\}(.*)", re.DOTALL)


@dataclass(frozen=True)
class Model:
    version: str
    learner_id: str
    score: str  # prefix of raw/min/max (and scaled in 2004)
    session_time: str
    exit: str
    entry: str
    exits: frozenset[str]
    interaction_types: frozenset[str]
    results: dict[str, bool | None]  # interaction result → xAPI result.success
    response: str  # the interaction's learner response element
    status: str | None = None  # 1.2 lesson_status
    completion: str | None = None  # 2004 completion_status
    success: str | None = None  # 2004 success_status

    def check(self, cmi: dict[str, Any], problems: list[str]) -> dict[str, Any]:
        """The values the statements need: completion, success, score, duration, exit, entry."""
        out: dict[str, Any] = {}
        if self.status:  # SCORM 1.2: one status for completion and success
            status = _vocab(cmi, self.status, STATUS_12, problems)
            out["completion"] = {"completed": True, "incomplete": False, "not attempted": False}.get(status or "")
            out["success"] = {"passed": True, "failed": False}.get(status or "")
        else:
            completion = _vocab(cmi, self.completion or "", COMPLETION_2004, problems)
            success = _vocab(cmi, self.success or "", SUCCESS_2004, problems)
            out["completion"] = {"completed": True, "incomplete": False, "not attempted": False}.get(completion or "")
            out["success"] = {"passed": True, "failed": False}.get(success or "")
        out["score"] = self._score(cmi, problems)
        out["duration"] = self.duration(cmi.get(self.session_time), self.session_time, problems)
        out["exit"] = _vocab(cmi, self.exit, self.exits, problems)
        out["entry"] = _vocab(cmi, self.entry, ENTRIES, problems)
        return out

    def _score(self, cmi: dict[str, Any], problems: list[str]) -> dict[str, Any] | None:
        found: dict[str, float] = {}
        for part in ("raw", "min", "max", *(("scaled",) if self.version == "2004" else ())):
            name = f"{self.score}.{part}"
            try:
                value = number(cmi.get(name), name)
            except Invalid as err:
                problems.append(err.reason)
                continue
            if value is None:
                continue
            if self.version == "1.2" and not 0 <= value <= 100:
                problems.append(f"{name} {value} is outside 0..100 (SCORM 1.2 RTE §3.4: a normalised score)")
            elif part == "scaled" and not -1 <= value <= 1:
                problems.append(f"{name} {value} is outside -1..1 (SCORM 2004 RTE §4.2 Score)")
            else:
                found[part] = value
        low, high, raw = found.get("min"), found.get("max"), found.get("raw")
        if low is not None and high is not None and low >= high:
            # xAPI 1.0.3 Part Two §2.4.5.1: max is greater than min.
            problems.append(f"{self.score}.min {low} is not below {self.score}.max {high}")
        elif raw is not None and ((low is not None and raw < low) or (high is not None and raw > high)):
            problems.append(f"{self.score}.raw {raw} is outside {self.score}.min..max "
                            f"({'' if low is None else low}..{'' if high is None else high})")
        if not found:
            return None
        if self.version == "1.2" and raw is not None:
            # xAPI SCORM Profile §6 "Score": 1.2's raw / 100 is reported as scaled.
            found["scaled"] = round(raw / 100, 4)
        return {k: found[k] for k in ("scaled", "raw", "min", "max") if k in found}

    def duration(self, value: Any, name: str, problems: list[str]) -> str | None:
        """A SCORM time span as an ISO 8601 duration (xAPI result.duration)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = str(value).strip()
        if self.version == "1.2":
            match = _TIMESPAN.fullmatch(text)
            if match is None:
                problems.append(f"{name} {text!r} is not a SCORM 1.2 CMITimespan (HHHH:MM:SS.SS)")
                return None
            hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3]) + float(match[4] or 0)
            return iso_duration(hours * 3600 + minutes * 60 + seconds)
        if not is_duration(text):
            problems.append(f"{name} {text!r} is not an ISO 8601 timeinterval (e.g. PT1H5M30.5S)")
            return None
        return text


STATUS_12: Final = frozenset({"passed", "completed", "failed", "incomplete", "browsed", "not attempted"})
COMPLETION_2004: Final = frozenset({"completed", "incomplete", "not attempted", "unknown"})
SUCCESS_2004: Final = frozenset({"passed", "failed", "unknown"})
ENTRIES: Final = frozenset({"ab-initio", "resume", ""})
_TYPES_12 = frozenset({"true-false", "choice", "fill-in", "matching", "performance", "sequencing", "likert",
                       "numeric"})
MODELS: Final[dict[str, Model]] = {
    "1.2": Model("1.2", "cmi.core.student_id", "cmi.core.score", "cmi.core.session_time", "cmi.core.exit",
                 "cmi.core.entry", frozenset({"time-out", "suspend", "logout", ""}), _TYPES_12,
                 {"correct": True, "wrong": False, "unanticipated": None, "neutral": None},
                 "student_response", status="cmi.core.lesson_status"),
    "2004": Model("2004", "cmi.learner_id", "cmi.score", "cmi.session_time", "cmi.exit", "cmi.entry",
                  frozenset({"time-out", "suspend", "logout", "normal", ""}),
                  _TYPES_12 | {"long-fill-in", "other"},
                  {"correct": True, "incorrect": False, "unanticipated": None, "neutral": None},
                  "learner_response", completion="cmi.completion_status", success="cmi.success_status"),
}


def _vocab(cmi: dict[str, Any], name: str, allowed: frozenset[str], problems: list[str]) -> str | None:
    value = cmi.get(name)
    if value is None:
        return None
    text = str(value).strip()
    if text not in allowed:
        shown = ", ".join(sorted(repr(a) for a in allowed))
        problems.append(f"{name} {text!r} is not one of {shown}")
        return None
    return text or None


@dataclass
class Interaction:
    index: int
    id: str
    type: str | None
    response: str | None
    outcome: str | None
    latency: str | None
    patterns: list[str] | None
    description: dict[str, str] | None
    when: datetime | None
    results: dict[str, bool | None]

    def timestamp(self, default_tz: tzinfo | None) -> datetime | None:
        if self.when is None or self.when.tzinfo is not None:
            return self.when
        return self.when.replace(tzinfo=default_tz)

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.response is not None:
            out["response"] = self.response
        if self.outcome in self.results and self.results[self.outcome] is not None:
            out["success"] = self.results[self.outcome]
        elif self.outcome is not None and self.outcome not in self.results:
            out["score"] = {"raw": number(self.outcome, "result")}  # a numeric result
        if self.latency:
            out["duration"] = self.latency
        return out


def interactions(cmi: dict[str, Any], model: Model, problems: list[str], language: str = "vi") -> list[Interaction]:
    """cmi.interactions.n.* grouped by n, checked, in n order."""
    grouped: dict[int, dict[str, Any]] = {}
    for key, value in cmi.items():
        match = _INTERACTION.fullmatch(key)
        if match and value is not None:
            grouped.setdefault(int(match[1]), {})[match[2]] = value
    out: list[Interaction] = []
    for n in sorted(grouped):
        item, where = grouped[n], f"cmi.interactions.{n}"
        ident = str(item.get("id", "")).strip()
        if not ident:
            problems.append(f"{where}.id is missing")
            continue
        kind = str(item["type"]).strip() if item.get("type") not in (None, "") else None
        if kind is not None and kind not in model.interaction_types:
            problems.append(f"{where}.type {kind!r} is not a SCORM {model.version} interaction type")
            kind = None
        outcome = str(item["result"]).strip() if item.get("result") not in (None, "") else None
        if outcome is not None and outcome not in model.results:
            try:
                number(outcome, f"{where}.result")
            except Invalid:
                problems.append(f"{where}.result {outcome!r} is not one of {', '.join(model.results)} or a number")
                outcome = None
        response = item.get(model.response)
        response = None if response is None else _pattern(str(response), kind, model, f"{where}.{model.response}",
                                                          problems)
        patterns = [_pattern(str(item[k]), kind, model, f"{where}.{k}", problems)
                    for k in sorted((k for k in item if _PATTERN.fullmatch(k)), key=lambda k: int(k.split(".")[1]))]
        when = None
        if model.version == "2004" and item.get("timestamp"):
            try:
                when = datetime.fromisoformat(str(item["timestamp"]).strip())
            except ValueError:
                problems.append(f"{where}.timestamp {item['timestamp']!r} is not an ISO 8601 date and time")
        out.append(Interaction(
            n, ident, kind, response, outcome, model.duration(item.get("latency"), f"{where}.latency", problems),
            [p for p in patterns if p is not None] if kind and patterns else None,
            _description(item.get("description"), language), when, model.results))
    return out


def _description(value: Any, language: str) -> dict[str, str] | None:
    """SCORM 2004 localized_string_type: an optional ``{lang=xx}`` prefix names the language."""
    if not isinstance(value, str) or not value.strip():
        return None
    match = _LANG.fullmatch(value.strip())
    return {match[1]: match[2].strip()} if match else {language: value.strip()}


def _pattern(value: str, kind: str | None, model: Model, name: str, problems: list[str]) -> str | None:
    """A response or correct-response pattern in xAPI form (see the scorm module docstring)."""
    if model.version == "2004" or kind is None:
        return value
    text = value.strip()
    if kind == "true-false":
        mapped = {"t": "true", "true": "true", "1": "true", "f": "false", "false": "false", "0": "false"}
        if text.lower() not in mapped:
            problems.append(f"{name} {value!r} is not a true-false response (t, f, 1 or 0)")
            return None
        return mapped[text.lower()]
    if kind in ("choice", "sequencing"):
        return "[,]".join(p.strip() for p in text.strip("{}").split(","))
    if kind == "matching":
        return "[,]".join("[.]".join(x.strip() for x in pair.split(".", 1)) for pair in text.strip("{}").split(","))
    return text


# --- statements (xAPI SCORM Profile §5 "Supporting the SCORM Temporal Model" and §6) ---------------

# ADL activity types the mapping writes (xAPI SCORM Profile §3.2 "Activity Types").
ACTIVITY_TYPES: Final[dict[str, str]] = {
    "course": "http://adlnet.gov/expapi/activities/course",
    "lesson": "http://adlnet.gov/expapi/activities/lesson",
    "cmi.interaction": "http://adlnet.gov/expapi/activities/cmi.interaction",
    "attempt": "http://adlnet.gov/expapi/activities/attempt",
    "profile": "http://adlnet.gov/expapi/activities/profile",
}
# xAPI SCORM Profile §3.2 "Context Activities", category: every statement of the profile.
PROFILE_ACTIVITY: Final = {"id": "https://w3id.org/xapi/scorm", "definition": {"type": ACTIVITY_TYPES["profile"]}}
# The verb of a statement by short name ("initialized", "responded", ...) as an xAPI Verb object:
# the importer and the player each pass their vocabulary's (same ADL IRIs, their display names).
VerbOf = Callable[[str], dict[str, Any]]


def activity(iri: str, kind: str | None = None, name: str | None = None, language: str = "vi",
             **definition: Any) -> dict[str, Any]:
    """An Activity; a definition only with what the source said (type, name, interaction data)."""
    out: dict[str, Any] = {"objectType": "Activity", "id": iri}
    body: dict[str, Any] = {}
    if kind:
        body["type"] = ACTIVITY_TYPES[kind]
    if name and name.strip():
        body["name"] = {language: name.strip()}
    body.update({k: v for k, v in definition.items() if v not in (None, [], {})})
    if body:
        out["definition"] = body
    return out


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds, as the LRS writes its own times."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def read(version: str, cmi: dict[str, Any], problems: list[str], language: str = "vi"
         ) -> tuple[dict[str, Any], list[Interaction]]:
    """The values the statements need and the interactions, from one session's run-time data."""
    model = MODELS[version]
    return model.check(cmi, problems), interactions(cmi, model, problems, language)


@dataclass(frozen=True)
class SessionFacts:
    """Who, what and when of one SCO session, as the caller identifies them."""

    actor: dict[str, Any]
    sco: dict[str, Any]            # the SCO's Activity
    context: dict[str, Any]        # registration, contextActivities (grouping with the attempt, category)
    ended: datetime
    started: datetime | None = None


def session_statements(values: dict[str, Any], found: list[Interaction], facts: SessionFacts, *,
                       statement_id: Callable[[str], str], verb: VerbOf, language: str = "vi"
                       ) -> list[dict[str, Any]]:
    """One SCO session's statements, in order (see ``connectors.importers.scorm``'s docstring)."""
    sco, ended, context = facts.sco, facts.ended, facts.context

    def statement(kind: str, verb_name: str, when: datetime, obj: dict[str, Any] = sco,
                  result: dict[str, Any] | None = None, parent: bool = False) -> dict[str, Any]:
        ctx = context
        if parent:  # §5 "Reporting learner activity": something within the SCO has the SCO as parent
            ctx = {**context, "contextActivities": {**context["contextActivities"], "parent": [sco]}}
        out = {"id": statement_id(kind), "actor": facts.actor, "verb": verb(verb_name),
               "object": obj, "timestamp": format_time(when), "context": ctx}
        if result:
            out["result"] = result
        return out

    out: list[dict[str, Any]] = []
    if facts.started is not None:
        resumed = values.get("entry") == "resume"
        out.append(statement("start", "resumed" if resumed else "initialized", facts.started))
    for item in found:
        when = item.timestamp(ended.tzinfo) or ended
        obj = activity(f"{sco['id']}/interactions/{quote(item.id, safe='')}", "cmi.interaction", None, language,
                       description=item.description, interactionType=item.type,
                       correctResponsesPattern=item.patterns)
        out.append(statement(f"interaction:{item.index}", "responded", when, obj, item.result(), parent=True))
    score = values.get("score")
    if values.get("completion") is True:
        out.append(statement("completed", "completed", ended, result={"completion": True}))
    if values.get("success") is not None:
        success = values["success"]
        out.append(statement("success", "passed" if success else "failed", ended,
                             result={"success": success, **({"score": score} if score else {})}))
    if score:
        out.append(statement("scored", "scored", ended, result={"score": score}))
    overall = {k: v for k, v in (("completion", values.get("completion")), ("success", values.get("success")),
                                 ("score", score), ("duration", values.get("duration"))) if v is not None}
    suspended = values.get("exit") == "suspend"
    out.append(statement("end", "suspended" if suspended else "terminated", ended, result=overall or None))
    return out


_ISO_SPAN = re.compile(r"P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?"
                       r"(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?")
_SPAN_SECONDS = (365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1)  # years, months: as SCORM 2004 RTE §4.1.4.1


def duration_seconds(value: str) -> float:
    """An ISO 8601 duration (what ``Model.duration`` gives) in seconds; 0 for one it cannot read."""
    match = _ISO_SPAN.fullmatch(value.strip())
    if match is None:
        return 0.0
    return sum(float(part) * unit for part, unit in zip(match.groups(), _SPAN_SECONDS, strict=True) if part)
