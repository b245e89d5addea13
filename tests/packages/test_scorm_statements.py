"""One SCORM → xAPI mapping (schemas.scorm_xapi): the player's statements for a session are the ones
``hocvu import scorm`` makes from the same run-time data, apart from who and where (actor, IRIs,
registration, ids), which each side names its own way (xAPI SCORM Profile §3.2, §5, §6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.importers.scorm import map_attempt
from player.packages.scorm_statements import session_statements
from player.packages.scorm_storage import ScormAttempt
from player.session import Learner, PlayerSession
from schemas.scorm_xapi import duration_seconds

ENDED = datetime(2026, 11, 22, 2, 25, 30, tzinfo=UTC)
CMI = {"cmi.core.lesson_status": "failed", "cmi.core.score.raw": "40", "cmi.core.score.min": "0",
       "cmi.core.score.max": "100", "cmi.core.session_time": "0000:25:30.00", "cmi.core.exit": "suspend",
       "cmi.interactions.0.id": "q1", "cmi.interactions.0.type": "true-false",
       "cmi.interactions.0.student_response": "t", "cmi.interactions.0.result": "wrong",
       "cmi.interactions.0.correct_responses.0.pattern": "f"}


def _shape(statements: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """What the mapping decides: verbs, results, and the object when it is an interaction."""
    return [(s["verb"]["id"], json.dumps(s.get("result"), sort_keys=True),
             s["object"]["id"].rsplit("/interactions/", 1)[-1] if "/interactions/" in s["object"]["id"] else "sco")
            for s in statements]


def test_the_player_and_the_importer_map_a_session_alike() -> None:
    imported = map_attempt({"learner_id": "27", "sco_id": "bai-1", "attempt": 1, "version": "1.2",
                            "started_at": (ENDED - timedelta(minutes=26)).isoformat(),
                            "ended_at": ENDED.isoformat(), "cmi": CMI}, "https://lms.example.vn")
    launch = PlayerSession(tenant_id=1, learner=Learner("https://lms.example.vn", "27"), link="rl-1",
                           target="scorm/khoa-1")
    attempt = ScormAttempt(id=7, tenant_id=1, registration="r", course_id="khoa-1", sco="bai-1", number=1, cmi={},
                           sessions=0)
    played = session_statements(launch, attempt, "1.2", {**CMI, "cmi.core.entry": "ab-initio"},
                                course_title="Khoá 1", sco_title="Bài 1", started=ENDED - timedelta(minutes=26),
                                ended=ENDED, language="vi")
    assert _shape(played) == _shape(imported)
    assert [s["verb"]["id"].rsplit("/", 1)[1] for s in played] == ["initialized", "responded", "failed", "scored",
                                                                  "suspended"]
    # SCORM 1.2 true-false "t" is xAPI "true" (xAPI 1.0.3 Part Two §2.4.4.1), in both
    assert played[1]["result"]["response"] == "true" and played[1]["object"]["definition"]["interactionType"] == \
        "true-false"


def test_session_time_in_seconds() -> None:
    # SCORM 2004 RTE §4.1.4.1 timeinterval (second,10,2) as ISO 8601
    assert duration_seconds("PT1H5M30.5S") == 3930.5 and duration_seconds("P1DT1S") == 86401
    assert duration_seconds("not a duration") == 0.0
