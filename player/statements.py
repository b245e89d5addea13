"""The player's xAPI statements, in the cmi5 style, written to the tenant's store in-process.

cmi5 (AICC/ADL, "cmi5_spec.md" §9 "xAPI Statement Data Model") is followed where it fits a hub that
is both the LMS and the AU: each lesson and each quiz is an AU; opening one starts an AU session
(``launched`` then ``initialized``) and leaving it ends the session (``terminated``). Pure builders
plus one writer (``write``) that goes through ``lrs.statements.store``, never over HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

import schemas
from lrs import statements as lrs_statements
from lrs.credentials import AUTHORITY_HOME, Principal
from lrs.multipart import AttachmentPart
from lrs.versions import XapiVersion
from player.catalogue import Question, Quiz, Resolved, activity_id
from player.session import PlayerSession
from schemas.cmi5 import (
    CMI5_CATEGORY,
    EXT_LAUNCH_MODE,
    EXT_LAUNCH_URL,
    EXT_MASTERY,
    EXT_MOVE_ON,
    EXT_PROGRESS,
    EXT_SESSION,
    MOVEON_CATEGORY,
)

XAPI_VERSION: XapiVersion = "2.0.0"

# cmi5 §9.3 verb ids (the ADL ones) plus two "cmi5 allowed" verbs from the ADL vocabulary.
VERBS: dict[str, tuple[str, str, str]] = {
    "launched": ("http://adlnet.gov/expapi/verbs/launched", "đã mở", "launched"),
    "initialized": ("http://adlnet.gov/expapi/verbs/initialized", "đã bắt đầu", "initialized"),
    "progressed": ("http://adlnet.gov/expapi/verbs/progressed", "đã học tiếp", "progressed"),
    "completed": ("http://adlnet.gov/expapi/verbs/completed", "đã hoàn thành", "completed"),
    "answered": ("http://adlnet.gov/expapi/verbs/answered", "đã trả lời", "answered"),
    "passed": ("http://adlnet.gov/expapi/verbs/passed", "đã đạt", "passed"),
    "failed": ("http://adlnet.gov/expapi/verbs/failed", "chưa đạt", "failed"),
    "terminated": ("http://adlnet.gov/expapi/verbs/terminated", "đã kết thúc", "terminated"),
}
ACTIVITY_TYPES = {  # ADL activity types
    "course": "http://adlnet.gov/expapi/activities/course",
    "module": "http://adlnet.gov/expapi/activities/module",
    "lesson": "http://adlnet.gov/expapi/activities/lesson",
    "quiz": "http://adlnet.gov/expapi/activities/assessment",
    "question": "http://adlnet.gov/expapi/activities/cmi.interaction",
}
# Who vouches for the player's statements (xAPI 2.0 §4.2.2.7 authority): the hub itself, under the
# same home page as credential authorities but a name no credential key can take ("hv_..." keys).
PLAYER_AUTHORITY = {"objectType": "Agent", "name": "hocvu — trình phát khoá học / course player",
                    "account": {"homePage": AUTHORITY_HOME, "name": "course-player"}}


def system_principal(tenant_id: int) -> Principal:
    """The player writes as the hub, not as any tenant credential: statements/write, and define
    because the catalogue is the authority on its own Activities' definitions (xAPI 1.0.3 Part
    Three §4.2). No credential row exists, so credential_id is None (the column allows it)."""
    return Principal(credential_id=None, tenant_id=tenant_id, key="course-player",
                     scopes=frozenset({"statements/write", "define"}), authority=PLAYER_AUTHORITY)


# A callable kept in the SQLAlchemy session's ``info`` under this key (and in app.extensions, where
# the composition root puts the identity gate's ``Sealer``): (db, tenant_id, statements) ->
# (statements, attachment parts); it stamps and signs the statements of assured attempts.
SEALER_KEY = "player.sealer"
Sealer = Callable[[Session, int, list[dict[str, Any]]], tuple[list[dict[str, Any]], list[AttachmentPart]]]


# The ids ``write`` stored in a database session, in order (``db.info``): what one synced op wrote.
WRITTEN_KEY = "player.written"


def write(db: Session, tenant_id: int, statements: list[dict[str, Any]], *, sealer: Sealer | None = None) -> list[str]:
    """Store statements in the tenant's LRS (same validation as the xAPI resource); no commit.
    With a sealer (``sealer``, else ``db.info[SEALER_KEY]``), statements of identity-assured attempts
    are stamped and signed first, the signature going in as an xAPI signature attachment."""
    if not statements:
        return []
    parts: list[AttachmentPart] = []
    sealer = sealer or db.info.get(SEALER_KEY)
    if sealer is not None:
        statements, parts = sealer(db, tenant_id, statements)
    ids = lrs_statements.store(db, system_principal(tenant_id), XAPI_VERSION, statements, parts)
    db.info.setdefault(WRITTEN_KEY, []).extend(ids)
    return ids


def written_ids(db: Session) -> list[str]:
    """Every statement id ``write`` stored in this database session so far."""
    found: list[str] = db.info.get(WRITTEN_KEY, [])
    return list(found)


def actor(launch: PlayerSession) -> dict[str, Any]:
    """The learner as their source knows them (cmi5 §9.2: an Agent with an account). No name: the
    source has it already and the LRS needs none (DESIGN.md: personal data only as needed)."""
    learner = launch.learner
    return {"objectType": "Agent", "account": {"homePage": learner.home_page, "name": learner.account}}


def _names(text: Mapping[str, str]) -> dict[str, str]:
    return {lang: value for lang, value in text.items() if value}


def activity(target: str, kind: str, title: Mapping[str, str], **definition: Any) -> dict[str, Any]:
    return {"objectType": "Activity", "id": activity_id(target),
            "definition": {"type": ACTIVITY_TYPES[kind], "name": _names(title), **definition}}


def question_activity(quiz: Quiz, question: Question) -> dict[str, Any]:
    # xAPI 1.0.3 Part Two §2.4.4.1 interaction activities: "choice", responses joined by "[,]".
    return activity(f"{quiz.target}/question/{question.id}", "question", question.text,
                    description=_names(question.text), interactionType="choice",
                    correctResponsesPattern=["[,]".join(sorted(question.correct))],
                    choices=[{"id": c.id, "description": _names(c.text)} for c in question.choices])


def au_activity(resolved: Resolved) -> dict[str, Any]:
    if resolved.lesson is not None:
        return activity(resolved.lesson.target, "lesson", resolved.lesson.title)
    if resolved.quiz is not None:
        return activity(resolved.quiz.target, "quiz", resolved.quiz.title)
    raise ValueError(f"{resolved.target} is not a lesson or quiz")


# A statement's id by its role in what one request writes ("launched", "answered/<question>", ...):
# the player's own requests take fresh UUIDs; a device's queued op (``player.offline``) gives ids
# derived from its client-generated id, so a replayed op yields the same statements (xAPI 2.0
# Part 2 §2.2.2: an LRS keeps one statement per id and refuses a different one under a used id).
StatementIds = Callable[[str], str]


def fresh_ids(_role: str) -> str:
    return str(uuid.uuid4())  # cmi5 §9.1: the AU assigns a UUID


@dataclass(frozen=True)
class AuSession:
    """One cmi5 AU session: from ``launched``/``initialized`` to ``terminated`` (cmi5 §9.3)."""

    target: str
    registration: str
    session_id: str
    started: datetime

    def to_session(self) -> dict[str, str]:
        return {"target": self.target, "registration": self.registration, "session_id": self.session_id,
                "started": self.started.isoformat()}

    @classmethod
    def from_session(cls, data: Any) -> AuSession | None:
        try:
            return cls(data["target"], data["registration"], data["session_id"],
                       datetime.fromisoformat(data["started"]))
        except (TypeError, KeyError, ValueError):
            return None


class Statements:
    """Builds the statements of one AU session for one learner."""

    def __init__(self, launch: PlayerSession, resolved: Resolved, au: AuSession,
                 ids: StatementIds | None = None) -> None:
        self.launch, self.resolved, self.au = launch, resolved, au
        self.object = au_activity(resolved)
        self.ids = ids or fresh_ids

    def _context(self, *, defined: bool, moveon: bool = False, parent: list[dict[str, Any]] | None = None,
                 grouping: list[dict[str, Any]] | None = None, extensions: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
        r = self.resolved
        assert r.module is not None  # lessons and quizzes always sit in a module
        module = activity(r.module.target, "module", r.module.title)
        course = activity(r.course.target, "course", r.course.title)
        categories = []
        if defined:
            categories.append({"id": CMI5_CATEGORY})  # cmi5 §9.6.2.1: every cmi5 defined statement
        if moveon:
            categories.append({"id": MOVEON_CATEGORY})  # cmi5 §9.6.2.2: ones with success/completion
        activities: dict[str, Any] = {"parent": parent or [module], "grouping": grouping or [course]}
        if categories:
            activities["category"] = categories
        return {
            "registration": self.au.registration,  # cmi5 §9.6.1
            "contextActivities": activities,
            # cmi5 §9.6.3.1: the session id on every statement of the session, defined or allowed.
            "extensions": {EXT_SESSION: self.au.session_id, **(extensions or {})},
        }

    def _statement(self, verb: str, when: datetime, context: dict[str, Any], *,
                   obj: dict[str, Any] | None = None, result: dict[str, Any] | None = None,
                   role: str | None = None) -> dict[str, Any]:
        verb_id, vi, en = VERBS[verb]
        st: dict[str, Any] = {
            "id": self.ids(role or verb),
            "actor": actor(self.launch),
            "verb": {"id": verb_id, "display": {"vi": vi, "en": en}},
            "object": obj or self.object,
            "context": context,
            "timestamp": lrs_statements.format_time(when),  # cmi5 §9.7: always, in UTC
        }
        if result is not None:
            st["result"] = result
        return st

    def launched(self, when: datetime, launch_url: str) -> dict[str, Any]:
        # cmi5 §9.3.1 (written by the LMS, which the hub also is), with the §9.6.3.3/4/6 extensions.
        quiz = self.resolved.quiz
        ext: dict[str, Any] = {EXT_LAUNCH_MODE: "Normal", EXT_LAUNCH_URL: launch_url,
                               EXT_MOVE_ON: "CompletedAndPassed" if quiz else "Completed"}
        if quiz is not None:
            ext[EXT_MASTERY] = quiz.passing_score  # cmi5 §9.6.3.2
        return self._statement("launched", when, self._context(defined=True, extensions=ext))

    def initialized(self, when: datetime) -> dict[str, Any]:
        return self._statement("initialized", when, self._context(defined=True))  # cmi5 §9.3.2

    def progressed(self, when: datetime, progress: int) -> dict[str, Any]:
        # "cmi5 allowed": no cmi5 category. cmi5 §9.5.5.1: progress is an integer 0-100.
        return self._statement("progressed", when, self._context(defined=False),
                               result={"extensions": {EXT_PROGRESS: max(0, min(100, int(progress)))}})

    def completed(self, when: datetime, seconds: float) -> dict[str, Any]:
        # cmi5 §9.3.3, §9.5.3 (completion true), §9.5.4.1 (duration required).
        return self._statement("completed", when, self._context(defined=True, moveon=True),
                               result={"completion": True, "duration": schemas.iso_duration(seconds)})

    def judged(self, when: datetime, passed: bool, raw: int, max_score: int, seconds: float, *,
               defined: bool = True) -> dict[str, Any]:
        """``passed`` or ``failed`` with the score (cmi5 §9.3.4/§9.3.5, §9.5.1: raw, min and max are
        integers; §9.5.2 success; §9.5.4.1 duration; §9.6.3.2 masteryScore). ``defined`` False makes
        it a "cmi5 allowed" statement: cmi5 §9.3 allows one "passed" per registration and no
        "failed" after it, so later attempts are reported without the cmi5 categories."""
        quiz = self.resolved.quiz
        assert quiz is not None
        result = {"score": {"scaled": round(raw / max_score, 4) if max_score else 0.0, "raw": raw, "min": 0,
                            "max": max_score},
                  "success": passed, "duration": schemas.iso_duration(seconds)}
        ctx = self._context(defined=defined, moveon=defined, extensions={EXT_MASTERY: quiz.passing_score})
        return self._statement("passed" if passed else "failed", when, ctx, result=result, role="judged")

    def answered(self, when: datetime, question: Question, response: list[str], success: bool) -> dict[str, Any]:
        # "cmi5 allowed" (cmi5 sample scenario 19): the object is the question; the quiz is its parent.
        quiz = self.resolved.quiz
        r = self.resolved
        assert quiz is not None and r.module is not None
        ctx = self._context(defined=False, parent=[self.object],
                            grouping=[activity(r.course.target, "course", r.course.title),
                                      activity(r.module.target, "module", r.module.title)])
        return self._statement("answered", when, ctx, obj=question_activity(quiz, question),
                               result={"response": "[,]".join(sorted(response)), "success": success},
                               role=f"answered/{question.id}")

    def terminated(self, when: datetime) -> dict[str, Any]:
        # cmi5 §9.3.8: the last statement of the session; §9.5.4.1: duration since initialized.
        seconds = max(0.0, (when - self.au.started).total_seconds())
        return self._statement("terminated", when, self._context(defined=True),
                               result={"duration": schemas.iso_duration(seconds)})


def ticks(start: datetime, count: int) -> list[datetime]:
    """Distinct, increasing timestamps for statements written together, so the order cmi5 §9.3
    requires (initialized first, terminated last) is visible in ``timestamp`` alone."""
    return [start + timedelta(microseconds=i) for i in range(count)]
