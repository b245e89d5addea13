"""One enrolment's sums (``State``): what a statement adds to it and what it contributes to each
group of each breakdown. The definitions are ``connectors.reports``'."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from lrs.storage import as_utc

ADL: Final = "http://adlnet.gov/expapi/verbs/"
COMPLETED, PASSED, FAILED, TERMINATED, VOIDED = (ADL + v for v in ("completed", "passed", "failed", "terminated",
                                                                      "voided"))
UNKNOWN_PROVINCE: Final = "Chưa rõ / Unknown"
# The sums a State adds up (each a column of the enrolment tables, connectors.storage.EnrolmentSums).
SUMS: Final = ("completed", "judged", "passed", "verified", "session_seconds", "session_n", "any_seconds", "any_n")
FIGURES: Final = ("enrolments", "completed", "judged", "passed", "attempts", "verified", "seconds", "timed")
# The fields of a statement a State reads, in the order ``delta.course_row`` gives them.
INDEX = {name: i for i, name in enumerate(("timestamp", "verb_id", "course_id", "completion", "duration_seconds",
                                           "verification_outcome"))}


def iso_week(moment: datetime) -> str:
    year, week, _ = as_utc(moment).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class State:
    """One enrolment's sums (the definitions are connectors.reports')."""

    first: datetime
    province: str = UNKNOWN_PROVINCE
    completed: int = 0
    judged: int = 0
    passed: int = 0
    verified: int = 0
    session_seconds: float = 0.0
    session_n: int = 0
    any_seconds: float = 0.0
    any_n: int = 0

    @property
    def seconds(self) -> float | None:
        # cmi5 §9.5.4.1: the session durations of `terminated`; with none, every duration reported.
        if self.session_n:
            return self.session_seconds
        return self.any_seconds if self.any_n else None

    def add(self, row: Sequence[Any]) -> None:
        verb = row[INDEX["verb_id"]]
        self.first = min(self.first, as_utc(row[INDEX["timestamp"]]))
        self.completed += verb == COMPLETED or row[INDEX["completion"]] is True
        judged = verb in (PASSED, FAILED)
        self.judged += judged
        self.passed += verb == PASSED
        self.verified += judged and row[INDEX["verification_outcome"]] == "verified"
        duration = row[INDEX["duration_seconds"]]
        if duration is not None:
            self.any_seconds += duration
            self.any_n += 1
            if verb == TERMINATED:
                self.session_seconds += duration
                self.session_n += 1

    def merged(self, other: State) -> State:
        return replace(self, first=min(self.first, other.first),
                       **{n: getattr(self, n) + getattr(other, n) for n in SUMS})

    def figures(self) -> dict[str, float]:
        seconds = self.seconds
        return {"enrolments": 1, "completed": int(self.completed > 0), "judged": int(self.judged > 0),
                "passed": int(self.passed > 0), "attempts": self.judged, "verified": self.verified,
                "seconds": seconds or 0.0, "timed": int(seconds is not None)}

    def groups(self, slug: str, course: str) -> list[tuple[str, str]]:
        return [("tenant", slug), ("course", course), ("province", self.province), ("week", iso_week(self.first))]
