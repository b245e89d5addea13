"""A SCORM session as xAPI statements, with the hub's one mapping (``schemas.scorm_xapi``, the xAPI
SCORM Profile, shared with ``hocvu import scorm``), written through the player's statement path
(``player.statements.write``: the tenant's LRS in-process, sealed when the attempt is assured).

What the player adds to the mapping is who and what: the actor is the session's learner (the
account its source knows: xAPI SCORM Profile §3.2 "Actor"), the SCO's IRI is the catalogue's
(``https://hocvu.vn/xapi/activities/scorm/<course>/sco/<item>``: §3.2 "Activity IRI", the course
IRI then the SCO), the registration is the player's (one per learner and link: §3.2 "Context
Registration"), grouping holds the course and the attempt (``<SCO IRI>?attemptId=<uuid>``: §3.2
"Context Activities"). Statement ids are derived from the attempt, the session and the statement's
role, so a terminating commit sent twice (a beacon and a retry) stores one set.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.gate.domain import GATE_TTL
from identity.storage import AttemptAssurance
from lrs.storage import as_utc
from player.catalogue import activity_id
from player.domain import registration_for
from player.packages.scorm_storage import ScormAttempt
from player.session import PlayerSession
from player.statements import actor, write
from schemas import scorm_xapi
from schemas.cmi5 import EXT_SESSION

NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://hocvu.vn/xapi/scorm-player")
SOURCE_EXT: Final = "https://hocvu.vn/xapi/extensions/scorm-package"
# The SCORM Profile's verbs (ADL IRIs, xAPI SCORM Profile §3.2 "Verb"), with the player's words.
VERBS: Final[dict[str, tuple[str, str]]] = {
    "initialized": ("đã bắt đầu", "initialized"), "resumed": ("đã tiếp tục", "resumed"),
    "responded": ("đã phản hồi", "responded"), "completed": ("đã hoàn thành", "completed"),
    "passed": ("đã đạt", "passed"), "failed": ("chưa đạt", "failed"), "scored": ("đã ghi điểm", "scored"),
    "suspended": ("đã tạm dừng", "suspended"), "terminated": ("đã kết thúc", "terminated"),
}


def verb(name: str) -> dict[str, Any]:
    vi, en = VERBS[name]
    return {"id": f"http://adlnet.gov/expapi/verbs/{name}", "display": {"vi": vi, "en-US": en}}


def course_target(course_id: str) -> str:
    return f"scorm/{course_id}"


def sco_target(course_id: str, sco: str) -> str:
    return f"scorm/{course_id}/sco/{sco}"


def attempt_activity_id(attempt: ScormAttempt) -> str:
    ident = uuid.uuid5(NAMESPACE, f"{attempt.tenant_id}\x1f{attempt.registration}\x1f{attempt.course_id}"
                                  f"\x1f{attempt.sco}\x1f{attempt.number}")
    return f"{activity_id(sco_target(attempt.course_id, attempt.sco))}?attemptId={ident}"


def session_statements(launch: PlayerSession, attempt: ScormAttempt, version: str, cmi: dict[str, str], *,
                       course_title: str, sco_title: str, started: datetime | None, ended: datetime,
                       language: str) -> list[dict[str, Any]]:
    """The statements of the session of ``attempt`` that ended at ``ended`` (its run-time data ``cmi``,
    already checked by ``scorm_cmi``, so the mapping finds no problem)."""
    problems: list[str] = []
    values, found = scorm_xapi.read(version, cmi, problems, language)
    sco = scorm_xapi.activity(activity_id(sco_target(attempt.course_id, attempt.sco)), "lesson", sco_title, language)
    course = scorm_xapi.activity(activity_id(course_target(attempt.course_id)), "course", course_title, language)
    context = {
        "registration": registration_for(launch),
        "contextActivities": {"grouping": [course, scorm_xapi.activity(attempt_activity_id(attempt), "attempt")],
                              "category": [scorm_xapi.PROFILE_ACTIVITY]},
        "extensions": {SOURCE_EXT: {"version": version, "attempt": attempt.number, "session": attempt.sessions + 1}},
    }
    key = f"{attempt.tenant_id}\x1f{attempt.id}\x1f{attempt.sessions + 1}"
    facts = scorm_xapi.SessionFacts(actor(launch), sco, context, ended, started)
    return scorm_xapi.session_statements(values, found, facts, verb=verb, language=language,
                                         statement_id=lambda role: str(uuid.uuid5(NAMESPACE, f"{key}\x1f{role}")))


def assured_session(db: Session, attempt: ScormAttempt) -> str | None:
    """The session id of the identity gate passed for the session of ``attempt`` now ending (an
    assessed SCO: ``player.packages.gate``): consumed, with its check made at most ``GATE_TTL``
    before the session started. None: the session was not gated."""
    if attempt.session_started is None:
        return None
    since = as_utc(attempt.session_started) - GATE_TTL
    return db.scalar(select(AttemptAssurance.session_id).where(
        AttemptAssurance.tenant_id == attempt.tenant_id, AttemptAssurance.registration == attempt.registration,
        AttemptAssurance.target == sco_target(attempt.course_id, attempt.sco), AttemptAssurance.pending_key.is_(None),
        AttemptAssurance.checked_at >= since).order_by(AttemptAssurance.id.desc()).limit(1))


def write_session(db: Session, launch: PlayerSession, statements: list[dict[str, Any]],
                  attempt: ScormAttempt | None = None) -> list[str]:
    """Write the session's statements; those of a gated session carry its cmi5 session id (cmi5
    §9.6.3.1 extension, as the quiz's do), so the sealer stamps and signs them (xAPI 1.0.3 Part Two §2.6)."""
    session_id = assured_session(db, attempt) if attempt is not None else None
    if session_id is not None:
        for st in statements:
            st.setdefault("context", {}).setdefault("extensions", {})[EXT_SESSION] = session_id
    return write(db, launch.tenant_id, statements)
