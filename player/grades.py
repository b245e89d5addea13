"""The grade hand-off: after a graded quiz attempt ends, the link's score goes to the session's score
reporter (``PlayerSession.reporter``: a name registered at start-up; LTI AGS is one, which queues
the score durably and retries).

What the link is worth: a quiz link is that quiz; a course or module link is the sum over the
graded quizzes under it (``CatalogueItem.max_score`` says the same). Each quiz counts with the
learner's best finished attempt, so a retake never lowers the grade already in the gradebook.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from player.catalogue import Catalogue, UnknownTarget
from player.quiz import best_scores
from player.session import PlayerSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkGrade:
    score_given: float
    score_max: float
    activity_progress: str   # AGS 2.0 §3.4.6
    grading_progress: str    # AGS 2.0 §3.4.7


def link_grade(db: Session, catalogue: Catalogue, launch: PlayerSession) -> LinkGrade | None:
    """The grade of the launch's link now, or None when nothing under it is graded."""
    try:
        quizzes = catalogue.resolve(launch.target).graded_quizzes()
    except UnknownTarget:
        return None
    if not quizzes:
        return None
    best = best_scores(db, launch, [q.target for q in quizzes])
    done = all(best[q.target] is not None for q in quizzes)
    # Until every graded quiz of the link is finished the score is partial: "InProgress" and
    # "Pending" tell the platform a later score will replace it (AGS 2.0 §3.4.6-§3.4.7).
    return LinkGrade(score_given=float(sum(best[q.target] or 0 for q in quizzes)),
                     score_max=float(sum(q.max_score for q in quizzes)),
                     activity_progress="Completed" if done else "InProgress",
                     grading_progress="FullyGraded" if done else "Pending")


class ScoreReporter(Protocol):
    """Sends a link's grade to where the session's source keeps grades (LTI AGS is one: ``lti_tool``
    registers it at start-up). True when the grade was taken (queued or delivered)."""

    def __call__(self, db: Session, launch: PlayerSession, grade: LinkGrade) -> bool: ...


def hand_off_grade(db: Session, catalogue: Catalogue, launch: PlayerSession,
                   reporters: Mapping[str, ScoreReporter]) -> bool:
    """Send the link's grade through the session's reporter; True when it took it.

    Call after the attempt is committed: a reporter keeps the score in its own outbox, and a failure
    here must never cost the learner the attempt itself, so every failure is logged, not raised."""
    if launch.reporter is None:
        return False  # the source keeps no grade for this link
    return report_grade(db, launch, link_grade(db, catalogue, launch), reporters)


def report_grade(db: Session, launch: PlayerSession, grade: LinkGrade | None,
                 reporters: Mapping[str, ScoreReporter]) -> bool:
    """Send ``grade`` (a link's, however the player computed it: a SCORM course's comes from its SCOs)
    through the session's reporter; True when it took it. Failures are logged, never raised."""
    if launch.reporter is None or grade is None:
        return False
    reporter = reporters.get(launch.reporter)
    if reporter is None:
        log.warning("grade for %s not sent: no score reporter %r is registered", launch.target, launch.reporter)
        return False
    try:
        return reporter(db, launch, grade)
    except Exception:
        log.exception("grade for %s (learner %s) could not be handed to %s", launch.target,
                      launch.learner.account, launch.reporter)
        return False
