"""Has the learner completed the course under its rules? Read from the tenant's LRS, never from the
player's tables: the statements are the record an auditor checks, and the credential cites them.

A required quiz counts as passed when the LRS holds, for the learner's actor, a ``passed``
statement (cmi5 §9.3.4) whose object is the quiz, that is not voided (xAPI 1.0.3 Part Two §2.4.8:
a voided statement is as if it were never made), and whose ``authority`` is the player's — the LRS
sets ``authority`` from the credential that wrote the statement (Part Two §2.4.9), so a statement a
tenant's own credential wrote for the learner never counts. When the quiz demands identity
assurance, the passing statement must carry the hub's stamp (``identity.stamp``) with outcome
``verified`` at the required VNeID level or above; the LRS lets only hub-signed statements carry
that stamp (``identity.stamp_guard``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from credentials.config import CourseRules, Holder, RequiredQuiz
from identity.stamp import VERIFIED, stamp_of
from lrs.identifiers import actor_key
from lrs.storage import Statement, as_utc

PASSED: Final = "http://adlnet.gov/expapi/verbs/passed"


@dataclass(frozen=True)
class Evidence:
    """One required quiz's passing statement."""

    quiz: RequiredQuiz
    statement_id: str
    passed_at: datetime
    scaled: float | None
    verified: bool              # carried the identity stamp with outcome "verified"
    level: int | None           # the VNeID level in that stamp


@dataclass(frozen=True)
class Completion:
    rules: CourseRules
    evidence: tuple[Evidence, ...]
    missing: tuple[RequiredQuiz, ...]

    @property
    def complete(self) -> bool:
        return bool(self.rules.quizzes) and not self.missing

    @property
    def completed_at(self) -> datetime | None:
        return max((e.passed_at for e in self.evidence), default=None)

    @property
    def identity_level(self) -> int | None:
        """The lowest VNeID level the identity-assured quizzes were passed at (None: none required)."""
        levels = [e.level for e in self.evidence if e.quiz.min_level is not None and e.level is not None]
        return min(levels) if levels else None


def _authority_ok(statement: dict[str, Any], trusted: dict[str, Any]) -> bool:
    authority = statement.get("authority")
    return isinstance(authority, dict) and authority.get("account") == trusted.get("account")


def _evidence(quiz: RequiredQuiz, row: Statement) -> Evidence | None:
    """The statement as evidence for ``quiz``, or None when it does not meet the quiz's rule."""
    full = row.full
    stamp = stamp_of(full)
    level = stamp.get("level") if stamp is not None else None
    verified = stamp is not None and stamp.get("outcome") == VERIFIED and isinstance(level, int)
    if quiz.min_level is not None and not (verified and isinstance(level, int) and level >= quiz.min_level):
        return None
    score = (full.get("result") or {}).get("score") or {}
    scaled = score.get("scaled") if isinstance(score.get("scaled"), int | float) else None
    return Evidence(quiz, row.statement_id, as_utc(row.timestamp), scaled, verified,
                    level if isinstance(level, int) else None)


def completion(session: Session, holder: Holder, rules: CourseRules, trusted_authority: dict[str, Any]) -> Completion:
    """Each required quiz's first qualifying ``passed`` statement, and the quizzes still missing one."""
    ids = [q.activity_id for q in rules.quizzes]
    rows: list[Statement] = list(session.scalars(select(Statement).where(
        Statement.tenant_id == holder.tenant_id, Statement.actor_key == actor_key(holder.actor),
        Statement.verb_id == PASSED, Statement.object_activity_id.in_(ids), Statement.voided.is_(False))
        .order_by(Statement.timestamp, Statement.seq))) if ids else []
    found: dict[str, Evidence] = {}
    by_id = {q.activity_id: q for q in rules.quizzes}
    for row in rows:
        quiz = by_id.get(row.object_activity_id or "")
        if quiz is None or quiz.activity_id in found or not _authority_ok(row.full, trusted_authority):
            continue
        item = _evidence(quiz, row)
        if item is not None:
            found[quiz.activity_id] = item
    return Completion(rules, tuple(found[q.activity_id] for q in rules.quizzes if q.activity_id in found),
                      tuple(q for q in rules.quizzes if q.activity_id not in found))
