"""Quiz attempts without Flask: one open attempt per learner and resource link, scored on the
server, with the time limit enforced by the server's clock (the browser's countdown is a courtesy).

An attempt lives inside one cmi5 AU session. Ending it writes, in order: ``answered`` per answered
question, ``completed`` (first attempt of the registration only, cmi5 §9.3.3), ``passed`` or
``failed`` with the score, and ``terminated`` (cmi5 §9.3.8: the session's last statement).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lrs.storage import as_utc
from player.catalogue import Catalogue, Quiz, Resolved, UnknownTarget
from player.domain import (
    AttemptClosed,
    AttemptInProgress,
    BadInput,
    NotAnAu,
    TimeUp,
    registration_for,
    start_au,
)
from player.session import PlayerSession
from player.statements import AuSession, StatementIds, Statements, ticks, write
from player.storage import EXPIRED, OPEN, SUBMITTED, QuizAttempt

# Answers arriving this long after the deadline still count: the browser submits at zero, and the
# request needs time to travel. Later than this, only answers saved before the deadline count.
GRACE = timedelta(seconds=10)


@dataclass(frozen=True)
class Score:
    raw: int
    max: int
    passed: bool
    correct: dict[str, bool]  # question id → answered correctly

    @property
    def scaled(self) -> float:
        return self.raw / self.max if self.max else 0.0


def clean_answers(quiz: Quiz, answers: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Only questions of this quiz and choices of each question; one choice for 'single' questions."""
    out: dict[str, list[str]] = {}
    for q in quiz.questions:
        chosen = [c for c in dict.fromkeys(answers.get(q.id) or []) if c in q.choice_ids]
        if q.type == "single":
            chosen = chosen[:1]
        if chosen:
            out[q.id] = sorted(chosen)
    return out


def score(quiz: Quiz, answers: Mapping[str, list[str]]) -> Score:
    """All or nothing per question: a multiple-answer question counts only with exactly the right set."""
    correct = {q.id: set(answers.get(q.id) or ()) == set(q.correct) for q in quiz.questions}
    raw = sum(q.points for q in quiz.questions if correct[q.id])
    # cmi5 §9.3.4: a passed statement's scaled score is >= masteryScore, failed's is below it.
    return Score(raw, quiz.max_score, raw / quiz.max_score >= quiz.passing_score if quiz.max_score else False, correct)


def _quiz_of(resolved: Resolved) -> Quiz:
    if resolved.quiz is None:
        raise NotAnAu(f"{resolved.target} is not a quiz")
    return resolved.quiz


def open_attempt(db: Session, launch: PlayerSession) -> QuizAttempt | None:
    # The tenant leads the unique key (tenant_id, open_key): naming it lets that index answer.
    return db.scalar(select(QuizAttempt).where(QuizAttempt.tenant_id == launch.tenant_id,
                                               QuizAttempt.open_key == _open_key(launch)))


def attempts(db: Session, launch: PlayerSession, quiz_target: str) -> list[QuizAttempt]:
    """This learner's attempts at one quiz through this link, newest first."""
    return list(db.scalars(select(QuizAttempt).where(
        QuizAttempt.tenant_id == launch.tenant_id, QuizAttempt.registration == registration_for(launch),
        QuizAttempt.quiz_target == quiz_target).order_by(QuizAttempt.number.desc())))


def best_scores(db: Session, launch: PlayerSession, quiz_targets: list[str]) -> dict[str, int | None]:
    """The best ended attempt per quiz (None when never finished): what the gradebook gets."""
    rows = db.execute(select(QuizAttempt.quiz_target, func.max(QuizAttempt.score_raw)).where(
        QuizAttempt.tenant_id == launch.tenant_id, QuizAttempt.registration == registration_for(launch),
        QuizAttempt.quiz_target.in_(quiz_targets), QuizAttempt.status != OPEN).group_by(QuizAttempt.quiz_target))
    best: dict[str, int | None] = dict.fromkeys(quiz_targets)
    best.update({target: value for target, value in rows})
    return best


def _open_key(launch: PlayerSession) -> str:
    return f"{launch.tenant_id}:{registration_for(launch)}"


def start_attempt(db: Session, launch: PlayerSession, resolved: Resolved, now: datetime,
                  launch_url: str, session_id: str | None = None) -> QuizAttempt:
    """A new attempt, in an AU session of its own (launched, initialized ... terminated), or the
    open one when it is at this quiz. An open attempt at another quiz of the link is an error.
    ``session_id``: the cmi5 session id to use (an identity gate chose it beforehand)."""
    quiz = _quiz_of(resolved)
    current = open_attempt(db, launch)
    if current is not None:
        if current.quiz_target == quiz.target:
            return current
        raise AttemptInProgress(f"an attempt at {current.quiz_target} is open", target=current.quiz_target)
    registration = registration_for(launch)
    number = 1 + (db.scalar(select(func.max(QuizAttempt.number)).where(
        QuizAttempt.tenant_id == launch.tenant_id, QuizAttempt.registration == registration,
        QuizAttempt.quiz_target == quiz.target)) or 0)
    au = start_au(db, launch, resolved, now, launch_url, session_id)
    attempt = QuizAttempt(
        # The columns keep their first names: issuer and sub are the learner's account home page and
        # name (an LMS's issuer and sub for LTI), resource_link_id the session's link.
        tenant_id=launch.tenant_id, registration=registration, issuer=launch.learner.home_page,
        sub=launch.learner.account, resource_link_id=launch.link, quiz_target=quiz.target, number=number,
        open_key=_open_key(launch), status=OPEN, session_id=au.session_id, session_started=au.started,
        started=now, deadline=now + timedelta(seconds=quiz.time_limit_seconds) if quiz.time_limit_seconds else None,
        ended=None, answers={}, score_raw=None, score_max=quiz.max_score, passed=None)
    try:
        with db.begin_nested():
            db.add(attempt)
    except IntegrityError:
        # The unique open_key decided a race (two tabs, a double tap): the other request won. The
        # caller rolls back, so this request's launched/initialized are not kept either.
        raise AttemptInProgress("another attempt was opened at the same moment") from None
    return attempt


def time_left(attempt: QuizAttempt, now: datetime) -> float | None:
    return None if attempt.deadline is None else (as_utc(attempt.deadline) - now).total_seconds()


def _late(attempt: QuizAttempt, now: datetime) -> bool:
    return attempt.deadline is not None and now > as_utc(attempt.deadline) + GRACE


def _deadline(attempt: QuizAttempt) -> datetime:
    if attempt.deadline is None:
        raise ValueError("this attempt has no time limit")
    return as_utc(attempt.deadline)


def save_answer(db: Session, attempt: QuizAttempt, quiz: Quiz, question_id: str, choices: list[str],
                now: datetime) -> None:
    """Keep one answer of an open attempt (the autosave that makes a time-out fair)."""
    if attempt.status != OPEN:
        raise AttemptClosed("this attempt has ended")
    if _late(attempt, now):
        raise TimeUp("the time limit has passed")
    try:
        quiz.question(question_id)
    except KeyError:
        raise BadInput(f"no question {question_id!r} in this quiz") from None
    merged = dict(attempt.answers or {})
    merged.update(clean_answers(quiz, {question_id: choices}))
    if not clean_answers(quiz, {question_id: choices}):
        merged.pop(question_id, None)
    attempt.answers = merged  # a new dict, so SQLAlchemy sees the JSON change


@dataclass(frozen=True)
class Outcome:
    attempt: QuizAttempt
    score: Score
    timed_out: bool


def submit(db: Session, launch: PlayerSession, resolved: Resolved, attempt: QuizAttempt,
           answers: Mapping[str, list[str]], now: datetime, *, ids: StatementIds | None = None,
           when: datetime | None = None) -> Outcome:
    """End the attempt with ``answers``; after the deadline (plus GRACE) the submitted answers are
    ignored and the ones saved before the deadline are scored instead. ``now`` is the server's
    clock, which alone decides lateness; ``when`` (default ``now``) is when the learner submitted,
    for an attempt without a time limit submitted from a device that was offline."""
    quiz = _quiz_of(resolved)
    if attempt.status != OPEN:
        raise AttemptClosed("this attempt has already ended")
    if attempt.quiz_target != quiz.target:
        raise BadInput("this attempt belongs to another quiz")
    if _late(attempt, now):
        return finish(db, launch, resolved, attempt, _deadline(attempt), timed_out=True, ids=ids)
    attempt.answers = clean_answers(quiz, answers)
    return finish(db, launch, resolved, attempt, when or now, timed_out=False, ids=ids)


def finish(db: Session, launch: PlayerSession, resolved: Resolved, attempt: QuizAttempt, when: datetime, *,
           timed_out: bool, ids: StatementIds | None = None) -> Outcome:
    """Score the attempt's answers, close it, and write its statements stamped at ``when``."""
    quiz = _quiz_of(resolved)
    # Claim the attempt: of two requests ending it at once (a double tap on Submit, or a submit
    # racing the time-out on another device) exactly one sees rowcount 1; the other writes nothing.
    # By the PostgreSQL primary key (tenant_id, id) (migration 0212).
    claimed: Any = db.execute(update(QuizAttempt).where(QuizAttempt.tenant_id == attempt.tenant_id,
                                                        QuizAttempt.id == attempt.id,
                                                        QuizAttempt.open_key.is_not(None))
                              .values(open_key=None).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise AttemptClosed("this attempt has already ended")
    result = score(quiz, attempt.answers or {})
    earlier = db.scalars(select(QuizAttempt).where(
        QuizAttempt.tenant_id == attempt.tenant_id, QuizAttempt.registration == attempt.registration,
        QuizAttempt.quiz_target == attempt.quiz_target, QuizAttempt.status != OPEN,
        QuizAttempt.id != attempt.id)).all()
    first_end = not earlier
    passed_before = any(a.passed for a in earlier)
    au = AuSession(attempt.quiz_target, attempt.registration, attempt.session_id, as_utc(attempt.session_started))
    st = Statements(launch, resolved, au, ids)
    spent = max(0.0, (when - as_utc(attempt.started)).total_seconds())
    answered = [q for q in quiz.questions if q.id in (attempt.answers or {})]
    stamps = ticks(when, len(answered) + 3)
    out = [st.answered(stamps[i], q, attempt.answers[q.id], result.correct[q.id]) for i, q in enumerate(answered)]
    n = len(out)
    if first_end:
        out.append(st.completed(stamps[n], spent))  # cmi5 §9.3.3: zero or one per registration
    # cmi5 §9.3: at most one cmi5-defined "passed" per registration and no "failed" after it.
    out.append(st.judged(stamps[n + 1], result.passed, result.raw, result.max, spent, defined=not passed_before))
    out.append(st.terminated(stamps[n + 2]))
    write(db, launch.tenant_id, out)
    attempt.status = EXPIRED if timed_out else SUBMITTED
    attempt.open_key, attempt.ended = None, when
    attempt.score_raw, attempt.score_max, attempt.passed = result.raw, result.max, result.passed
    db.flush()
    return Outcome(attempt, result, timed_out)


def expire_due(db: Session, launch: PlayerSession, catalogue: Catalogue, now: datetime) -> Outcome | None:
    """Close the learner's open attempt if its time ran out while nobody was looking; it is scored
    on the answers saved before the deadline and its statements are stamped at the deadline."""
    attempt = open_attempt(db, launch)
    if attempt is None or not _late(attempt, now):
        return None
    try:
        resolved = catalogue.resolve(attempt.quiz_target)
    except UnknownTarget:
        attempt.status, attempt.open_key, attempt.ended = EXPIRED, None, now  # the quiz was withdrawn
        return None
    return finish(db, launch, resolved, attempt, _deadline(attempt), timed_out=True)
