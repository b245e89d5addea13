"""The player's score reporter for LTI launches (registered as ``AGS_REPORTER`` at start-up): a
link's grade goes to the LMS gradebook through AGS (``lti_tool.ags.post_score``, which keeps it in a
durable outbox and retries), as the launching platform's user."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lti_tool import ags
from lti_tool.launch_context import LaunchContext
from player.grades import LinkGrade
from player.session import PlayerSession

log = logging.getLogger(__name__)


# The Score's comment for a learner's grade (AGS 2.0 §3.4: text the platform shows beside it; the
# composition root gives the credentials package's link to the learner's certificate), or None.
ScoreComment = Callable[[PlayerSession], str | None]


@dataclass(frozen=True)
class AgsReporter:
    """The player's score reporter for LTI launches; ``comment`` is optional."""

    comment: ScoreComment | None = None

    def __call__(self, db: Session, launch: PlayerSession, grade: LinkGrade) -> bool:
        """True when AGS took the grade (queued or delivered); False when the launch has no line item."""
        context = LaunchContext.of_player(launch)
        if context is None:
            return False
        refused = ags.score_refusal(context)
        if refused is not None:
            if context.ags_lineitem or context.ags_lineitems:
                # A gradebook column the grade cannot reach (a scope the platform did not grant, AGS 2.0
                # §3.1): said in the log, since no outbox row will show it (issue 11: nothing silent).
                log.warning("grade for %s (learner %s) not sent to the LMS: %s", launch.target, context.sub, refused)
            return False  # else the platform did not make this link a gradebook column: nothing to send
        ags.post_score(context, grade.score_given, grade.score_max, grade.activity_progress,
                       grade.grading_progress, context.sub, comment=self._comment(launch))
        return True

    def _comment(self, opened: PlayerSession) -> str | None:
        if self.comment is None:
            return None
        try:
            return self.comment(opened)
        except Exception:  # a comment is a courtesy: never the reason a grade is not sent
            log.exception("the score comment for %s could not be made", opened.target)
            return None


report_by_ags = AgsReporter()
