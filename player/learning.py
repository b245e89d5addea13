"""A citizen's "my learning", without Flask: their courses, progress, scores and verified attempts in
the national tenant, their own records to download (xAPI JSON, CSV), and erasure on request.

Everything is read where the player keeps it: lesson progress in the learner's xAPI State documents,
quiz attempts in ``player_quiz_attempts``, identity assurance in the gate's rows, statements in the
tenant's LRS. Certificates are not the player's: a package that issues them (``credentials/``)
registers a ``CertificateSource`` at start-up and "my learning" lists what it returns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from identity.gate import domain as gate
from identity.storage import AttemptAssurance
from lrs.audit.erasure import Erasure, erase_agent
from lrs.identifiers import agent_key
from lrs.storage import Statement, StatementAgent
from player.catalogue import Catalogue, Course, Quiz, localized
from player.domain import lesson_state, registration_for
from player.session import Learner, PlayerSession
from player.statements import actor
from player.storage import OPEN, QuizAttempt, SyncedOp


@dataclass(frozen=True)
class Certificate:
    """One certificate to show in "my learning" (Open Badges 3.0 credentials, say)."""

    title: dict[str, str]          # per language, as course titles are
    issued: datetime
    url: str                       # where the learner views, downloads or shares it
    course_target: str | None = None


class CertificateSource(Protocol):
    def __call__(self, db: Session, tenant_id: int, learner: Learner) -> list[Certificate]: ...


@dataclass(frozen=True)
class QuizRecord:
    quiz: Quiz
    attempts: int
    best_raw: int | None
    passed: bool
    verified: int           # attempts with identity assurance whose stamp says "verified"
    in_progress: bool


@dataclass(frozen=True)
class CourseRecord:
    course: Course
    lessons_done: int
    lessons_total: int
    lessons_started: int
    quizzes: list[QuizRecord] = field(default_factory=list)

    @property
    def started(self) -> bool:
        return self.lessons_started > 0 or any(q.attempts for q in self.quizzes)

    @property
    def percent(self) -> int:
        """Lessons completed and quizzes passed, of all of them."""
        total = self.lessons_total + len(self.quizzes)
        done = self.lessons_done + sum(1 for q in self.quizzes if q.passed)
        return round(100 * done / total) if total else 0


SessionFor = Callable[[Course], PlayerSession]


def _quiz_records(db: Session, session: PlayerSession, course: Course) -> list[QuizRecord]:
    rows = list(db.scalars(select(QuizAttempt).where(
        QuizAttempt.tenant_id == session.tenant_id, QuizAttempt.registration == registration_for(session))))
    ids = [r.id for r in rows]
    assured = list(db.scalars(select(AttemptAssurance).where(
        AttemptAssurance.tenant_id == session.tenant_id, AttemptAssurance.attempt_id.in_(ids)))) if ids else []
    verified = {a.attempt_id for a in assured if gate.stamp_for(a).get("outcome") == "verified"}
    out = []
    for quiz in course.quizzes():
        mine = [r for r in rows if r.quiz_target == quiz.target]
        ended = [r for r in mine if r.status != OPEN]
        best = max((r.score_raw for r in ended if r.score_raw is not None), default=None)
        out.append(QuizRecord(quiz, len(ended), best, any(r.passed for r in ended),
                              sum(1 for r in ended if r.id in verified), any(r.status == OPEN for r in mine)))
    return out


def course_records(db: Session, catalogue: Catalogue, session_for: SessionFor) -> list[CourseRecord]:
    """Every course of the catalogue with the learner's progress in it (started ones first)."""
    records = []
    for course in catalogue.courses.values():
        session = session_for(course)
        lessons = [lesson for m in course.modules for lesson in m.lessons]
        states = [lesson_state(db, session, lesson.target) for lesson in lessons]
        records.append(CourseRecord(course, sum(1 for s in states if s.completed), len(lessons),
                                    sum(1 for s in states if s.progress or s.completed),
                                    _quiz_records(db, session, course)))
    return sorted(records, key=lambda r: not r.started)


# --- the learner's own records -------------------------------------------------------------------

def statements_of(db: Session, tenant_id: int, learner: Learner) -> Iterator[dict[str, Any]]:
    """Every statement of the tenant the learner appears in (the ones erasure would remove), in
    stored order, as the LRS returns them (xAPI 2.0 Part 2 §2.4: with ``stored`` and ``authority``)."""
    key = agent_key(actor(PlayerSession(tenant_id, learner, "", "")))
    related = select(StatementAgent.seq).where(StatementAgent.tenant_id == tenant_id, StatementAgent.agent_key == key)
    query = select(Statement.full).where(Statement.tenant_id == tenant_id, Statement.seq.in_(related)) \
        .order_by(Statement.seq)
    yield from db.scalars(query.execution_options(yield_per=500))


CSV_COLUMNS = ("stored", "timestamp", "verb", "activity", "activity_name", "score_raw", "score_max", "scaled",
               "success", "completion", "duration", "registration", "verification", "statement_id")


def _csv_row(st: dict[str, Any], locale: str) -> list[Any]:
    result, obj = st.get("result") or {}, st.get("object") or {}
    score = result.get("score") or {}
    names = (obj.get("definition") or {}).get("name") or {}
    verb = st["verb"].get("display") or {}
    stamp = ((st.get("context") or {}).get("extensions") or {}).get("https://hocvu.vn/xapi/extensions/identity-verification")
    return [st.get("stored", ""), st.get("timestamp", ""), verb.get(locale) or st["verb"]["id"], obj.get("id", ""),
            localized(names, locale) if "vi" in names else next(iter(names.values()), ""),
            score.get("raw", ""), score.get("max", ""), score.get("scaled", ""), result.get("success", ""),
            result.get("completion", ""), result.get("duration", ""),
            (st.get("context") or {}).get("registration", ""),
            stamp.get("outcome", "") if isinstance(stamp, dict) else "", st.get("id", "")]


def records_csv(statements: Iterator[dict[str, Any]], locale: str) -> Iterator[str]:
    """The learner's statements as CSV (RFC 4180), one row each, starting with a header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for st in statements:
        writer.writerow(_csv_row(st, locale))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def erase_learner(db: Session, tenant_id: int, learner: Learner, registrations: list[str]) -> Erasure:
    """The learner asked for erasure: their statements and documents go through the LRS's chain-
    preserving erasure (``lrs.audit.erasure``: the chain keeps each statement's hash and records the
    erasure), and the player's own rows about them (quiz attempts with their answers, identity
    assurance of those attempts, synced ops) are deleted. The caller commits."""
    session = PlayerSession(tenant_id, learner, "", "")
    # The registrations of the courses they may have opened, and of any attempt of theirs (a course
    # since withdrawn from the catalogue included).
    registrations = sorted({*registrations, *db.scalars(select(QuizAttempt.registration).where(
        QuizAttempt.tenant_id == tenant_id, QuizAttempt.issuer == learner.home_page,
        QuizAttempt.sub == learner.account))})
    erased = erase_agent(db, tenant_id, actor(session), actor="learner (self-service, my learning)",
                         reason="the learner asked for erasure")
    attempts = select(QuizAttempt.id).where(QuizAttempt.tenant_id == tenant_id,
                                            QuizAttempt.registration.in_(registrations))
    db.execute(delete(AttemptAssurance).where(AttemptAssurance.tenant_id == tenant_id,
                                              (AttemptAssurance.attempt_id.in_(attempts)) |
                                              (AttemptAssurance.registration.in_(registrations))))
    db.execute(delete(QuizAttempt).where(QuizAttempt.tenant_id == tenant_id,
                                         QuizAttempt.registration.in_(registrations)))
    db.execute(delete(SyncedOp).where(SyncedOp.tenant_id == tenant_id,
                                      SyncedOp.learner_key == (agent_key(actor(session)) or "")))
    return erased
