"""The player's score reporter for LTI launches (registered as ``AGS_REPORTER`` at start-up): a
link's grade goes to the LMS gradebook through AGS (``lti_tool.ags.post_score``, which keeps it in a
durable outbox and retries), as the launching platform's user."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from lti_tool import ags
from lti_tool.launch_context import LaunchContext
from player.grades import LinkGrade
from player.session import PlayerSession

log = logging.getLogger(__name__)


def report_by_ags(db: Session, launch: PlayerSession, grade: LinkGrade) -> bool:
    """True when AGS took the grade (queued or delivered); False when the launch has no line item.
    A ``player.grades.ScoreReporter``: its parameters are named as the Protocol's."""
    context = LaunchContext.of_player(launch)
    if context is None or not ags.can_post_scores(context):
        return False  # the platform did not make this link a gradebook column, or granted no score scope
    ags.post_score(context, grade.score_given, grade.score_max, grade.activity_progress, grade.grading_progress,
                   context.sub)
    return True
