"""The grade hand-off: after a graded quiz attempt ends, the link's score goes to the LMS gradebook
through LTI AGS (``lti_tool.ags.post_score``, which queues it durably and retries).

What the link is worth: a quiz link is that quiz; a course or module link is the sum over the
graded quizzes under it (``CatalogueItem.max_score`` says the same). Each quiz counts with the
learner's best finished attempt, so a retake never lowers the grade already in the gradebook.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lti_tool.catalogue import Catalogue, UnknownTarget
from lti_tool.launch_context import LaunchContext
from lti_tool.player_quiz import best_scores

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkGrade:
    score_given: float
    score_max: float
    activity_progress: str   # AGS 2.0 §3.4.6
    grading_progress: str    # AGS 2.0 §3.4.7


def link_grade(db: Session, catalogue: Catalogue, launch: LaunchContext) -> LinkGrade | None:
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


def hand_off_grade(db: Session, catalogue: Catalogue, launch: LaunchContext) -> bool:
    """Send the link's grade to the LMS; True when AGS took it (queued or delivered).

    Call after the attempt is committed: AGS stores the score in its own outbox, and a failure
    here must never cost the learner the attempt itself, so every failure is logged, not raised."""
    if not launch.ags_lineitem:
        return False  # the platform did not make this link a gradebook column
    grade = link_grade(db, catalogue, launch)
    if grade is None:
        return False
    try:
        from lti_tool import ags
    except ImportError as err:  # the AGS module (or its LTI library) is not installed here
        log.warning("grade for %s not sent: AGS unavailable (%s)", launch.target, err)
        return False
    try:
        ags.post_score(launch, grade.score_given, grade.score_max, grade.activity_progress,
                       grade.grading_progress, launch.sub)
    except Exception:
        log.exception("grade for %s (learner %s) could not be handed to AGS", launch.target, launch.sub)
        return False
    return True
