"""What the browser's SCORM run-time may store: the CMI data model elements a SCO may set, with
SCORM's own size limits, checked on the hub before anything is kept.

The run-time (npm scorm-again, ``player/web/src/scorm_runtime.js``) commits the whole data model
flattened (``{"cmi.core.lesson_status": "passed", ...}``). The hub never trusts it: an element that
is not in the version's data model is refused; the LMS-owned, read-only elements (entry, credit,
total_time, mode, launch data, ...: SCORM 1.2 RTE §3.4.2, SCORM 2004 RTE §4.2) are ignored because
the hub sets them itself, except the learner's id, which must be the session's learner (a runtime
that names another learner is refused: the attempt is always the session's); values must be text or
numbers within the smallest permitted maximum (SPM) the spec gives each element; vocabularies, scores
and time spans are checked by the shared mapping's data model (``schemas.scorm_xapi``). One refusal
names every problem, and nothing of a refused commit is kept.
"""

from __future__ import annotations

import re
from typing import Any, Final

from player.packages.errors import PackageError
from schemas.scorm_xapi import read

MAX_INTERACTIONS: Final = 250   # SCORM 2004 RTE §4.2.9: SPM of 250 interactions (1.2 names none: same cap)
MAX_OBJECTIVES: Final = 100     # SCORM 2004 RTE §4.2.17: SPM of 100 objectives
MAX_COMMENTS: Final = 250       # SCORM 2004 RTE §4.2.2: SPM of 250 comments

_N = r"(\d+)"
# (element pattern, SPM in characters, clause) of what a SCO may set.
WRITABLE: Final[dict[str, list[tuple[str, int, str]]]] = {
    "1.2": [
        (r"cmi\.core\.lesson_location", 255, "SCORM 1.2 RTE §3.4.2 cmi.core.lesson_location CMIString255"),
        (r"cmi\.core\.lesson_status", 255, "SCORM 1.2 RTE §3.4.2"),
        (r"cmi\.core\.exit", 255, "SCORM 1.2 RTE §3.4.2"),
        (r"cmi\.core\.session_time", 255, "SCORM 1.2 RTE §3.4.2"),
        (r"cmi\.core\.score\.(raw|min|max)", 255, "SCORM 1.2 RTE §3.4.2"),
        (r"cmi\.suspend_data", 4096, "SCORM 1.2 RTE §3.4.2 cmi.suspend_data CMIString4096"),
        (r"cmi\.comments", 4096, "SCORM 1.2 RTE §3.4.2 cmi.comments CMIString4096"),
        (r"cmi\.student_preference\.(audio|language|speed|text)", 255, "SCORM 1.2 RTE §3.4.2"),
        (rf"cmi\.objectives\.{_N}\.(id|status|score\.raw|score\.min|score\.max)", 255, "SCORM 1.2 RTE §3.4.2"),
        (rf"cmi\.interactions\.{_N}\.(id|time|type|weighting|student_response|result|latency)", 255,
         "SCORM 1.2 RTE §3.4.2 CMIIdentifier / CMIFeedback"),
        (rf"cmi\.interactions\.{_N}\.(objectives|correct_responses)\.{_N}\.(id|pattern)", 255, "SCORM 1.2 RTE §3.4.2"),
    ],
    "2004": [
        (r"cmi\.location", 1000, "SCORM 2004 RTE §4.2.14 cmi.location SPM 1000"),
        (r"cmi\.suspend_data", 64000, "SCORM 2004 RTE §4.2.24 cmi.suspend_data SPM 64000"),
        (r"cmi\.(completion_status|success_status|exit|session_time|progress_measure)", 250, "SCORM 2004 RTE §4.2"),
        (r"cmi\.score\.(scaled|raw|min|max)", 250, "SCORM 2004 RTE §4.2.20"),
        (r"cmi\.learner_preference\.(audio_level|language|delivery_speed|audio_captioning)", 250,
         "SCORM 2004 RTE §4.2.12"),
        (rf"cmi\.comments_from_learner\.{_N}\.comment", 4000, "SCORM 2004 RTE §4.2.2 SPM 4000"),
        (rf"cmi\.comments_from_learner\.{_N}\.(location|timestamp)", 250, "SCORM 2004 RTE §4.2.2"),
        (rf"cmi\.interactions\.{_N}\.(id|learner_response)", 4000, "SCORM 2004 RTE §4.2.9 SPM 4000"),
        (rf"cmi\.interactions\.{_N}\.(type|timestamp|weighting|result|latency)", 250, "SCORM 2004 RTE §4.2.9"),
        (rf"cmi\.interactions\.{_N}\.description", 250, "SCORM 2004 RTE §4.2.9 description SPM 250"),
        (rf"cmi\.interactions\.{_N}\.objectives\.{_N}\.id", 4000, "SCORM 2004 RTE §4.2.9"),
        (rf"cmi\.interactions\.{_N}\.correct_responses\.{_N}\.pattern", 4000, "SCORM 2004 RTE §4.2.9"),
        (rf"cmi\.objectives\.{_N}\.id", 4000, "SCORM 2004 RTE §4.2.17 SPM 4000"),
        (rf"cmi\.objectives\.{_N}\.(success_status|completion_status|progress_measure|score\.scaled|score\.raw|"
         r"score\.min|score\.max)", 250, "SCORM 2004 RTE §4.2.17"),
        (rf"cmi\.objectives\.{_N}\.description", 250, "SCORM 2004 RTE §4.2.17 description SPM 250"),
    ],
}
# LMS-owned elements (and the runtime's own bookkeeping) a full commit repeats: never taken from it.
READ_ONLY: Final[dict[str, str]] = {
    "1.2": r"cmi\.core\.(student_id|student_name|credit|entry|total_time|lesson_mode)|cmi\.launch_data|"
           r"cmi\.comments_from_lms|cmi\.student_data\..+|.*\._(children|count|version)",
    "2004": r"cmi\.(learner_id|learner_name|credit|entry|total_time|mode|launch_data|completion_threshold|"
            r"scaled_passing_score|max_time_allowed|time_limit_action)|cmi\.comments_from_lms\..+|adl\..+|"
            r".*\._(children|count|version)",
}
LEARNER_ID: Final = {"1.2": "cmi.core.student_id", "2004": "cmi.learner_id"}
_COMPILED = {v: [(re.compile(p), n, c) for p, n, c in rules] for v, rules in WRITABLE.items()}
_READ_ONLY = {v: re.compile(p) for v, p in READ_ONLY.items()}
_INDEX = re.compile(r"cmi\.(interactions|objectives|comments_from_learner)\.(\d+)\.")
_CAPS = {"interactions": MAX_INTERACTIONS, "objectives": MAX_OBJECTIVES, "comments_from_learner": MAX_COMMENTS}


class CmiRefused(PackageError):
    """A commit the hub will not keep; the message names every problem (nothing of it is stored)."""

    status, code = 400, "scorm_cmi_invalid"


def check_commit(version: str, body: Any, learner_id: str) -> dict[str, str]:
    """The elements of ``body`` the hub keeps (element → text), or CmiRefused."""
    if not isinstance(body, dict):
        raise CmiRefused("a commit is a JSON object of data model elements (\"cmi.core.lesson_status\": ...)")
    problems: list[str] = []
    kept: dict[str, str] = {}
    for name, value in body.items():
        text = _value(name, value, problems)
        if text is None:
            continue
        if _READ_ONLY[version].fullmatch(name):
            if name == LEARNER_ID[version] and text not in ("", learner_id):
                problems.append(f"{name} is read-only and is this session's learner; a commit cannot name "
                                f"another learner ({'SCORM 1.2 RTE §3.4.2' if version == '1.2' else 'RTE §4.2.13'})")
            continue
        rule = next(((n, c) for p, n, c in _COMPILED[version] if p.fullmatch(name)), None)
        if rule is None:
            problems.append(f"{name} is not a SCORM {version} data model element a SCO may set")
            continue
        limit, clause = rule
        index = _INDEX.match(name)
        if index and int(index[2]) >= _CAPS[index[1]]:
            problems.append(f"{name}: at most {_CAPS[index[1]]} {index[1]} are kept ({clause})")
        elif len(text) > limit:
            problems.append(f"{name} is {len(text)} characters; SCORM {version} allows {limit} ({clause})")
        else:
            kept[name] = text
    if not problems:
        read(version, kept, problems)  # vocabularies, scores, time spans: the shared data model's checks
    if problems:
        raise CmiRefused("; ".join(problems))
    return kept


def _value(name: Any, value: Any, problems: list[str]) -> str | None:
    if not isinstance(name, str) or len(name) > 255:
        problems.append(f"{str(name)[:80]!r} is not a data model element name")
        return None
    if value is None or value in ({}, []):
        return None   # an empty collection, as a flattened commit writes cmi.objectives before any is set
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.append(f"{name} must be text or a number, not {type(value).__name__}")
        return None
    return value if isinstance(value, str) else str(value)
