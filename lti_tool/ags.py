"""Assignment and Grade Services 2.0: scores from the player to the platform's gradebook.

``post_score`` writes the score to the outbox (``LtiScoreOutbox``) and commits *before* any
network call, then tries to deliver it at once; a platform that is down or answers 5xx/429
leaves it pending, and ``retry_pending_scores`` (called by ``hocvu lti retry-scores``, a cron
job, or later a Celery beat) sends it again with exponential backoff. A score is never lost,
and a claim on the row keeps two senders from delivering it twice.

The Score's ``timestamp`` is fixed when the learner earns it, so a retried score that arrives
after a newer one is ignored by the platform, as AGS 2.0 §3.4.4 requires ("the platform MUST
NOT update a result if the last timestamp on record is later than the incoming score update").
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from lti_tool.errors import InvalidScore, LtiError, ServiceNotOffered
from lti_tool.launch_context import LaunchContext
from lti_tool.services import LtiTool, current_tool
from lti_tool.storage import LtiScoreOutbox

log = logging.getLogger(__name__)

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
# AGS 2.0 §3.4.6 activityProgress and §3.4.7 gradingProgress values.
ACTIVITY_PROGRESS = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
GRADING_PROGRESS = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")
# Retry schedule: 30 s, 1 min, 2 min, ... capped at one hour, with jitter so a recovering
# platform is not hit by every queued score in the same second.
BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0
CLAIM_SECONDS = 120
# Statuses worth retrying; any other 4xx means the platform refuses this score for good
# (e.g. the line item was deleted): it is kept as "failed" for an operator, not dropped.
RETRYABLE_STATUSES = {401, 408, 425, 429}


@dataclass(frozen=True)
class ScoreOutcome:
    outbox_id: int
    status: str          # "delivered" | "pending" | "failed"
    error: str | None = None


@dataclass(frozen=True)
class RetryReport:
    delivered: int = 0
    pending: int = 0
    failed: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    # AGS 2.0 §3.4.4: ISO 8601 with sub-second precision and a timezone.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def score_body(score_given: float, score_max: float, activity_progress: str, grading_progress: str,
               user_id: str, *, timestamp: datetime, comment: str | None = None) -> dict[str, Any]:
    """The AGS Score (§3.4), checked before it is queued so a bad score fails loudly, now."""
    if activity_progress not in ACTIVITY_PROGRESS:
        raise InvalidScore(f"activityProgress must be one of {', '.join(ACTIVITY_PROGRESS)}")
    if grading_progress not in GRADING_PROGRESS:
        raise InvalidScore(f"gradingProgress must be one of {', '.join(GRADING_PROGRESS)}")
    if not user_id:
        raise InvalidScore("userId is required")  # §3.4.3: the platform's user id (the launch's sub)
    # §3.4.5: scoreGiven ≥ 0 and scoreMaximum > 0 (a scoreGiven above the maximum is allowed: extra credit).
    if score_given < 0 or score_max <= 0:
        raise InvalidScore("scoreGiven must be ≥ 0 and scoreMaximum > 0")
    body: dict[str, Any] = {"userId": user_id, "scoreGiven": float(score_given), "scoreMaximum": float(score_max),
                            "activityProgress": activity_progress, "gradingProgress": grading_progress,
                            "timestamp": _iso(timestamp)}
    if comment:
        body["comment"] = comment
    return body


def post_score(launch: LaunchContext, score_given: float, score_max: float, activity_progress: str,
               grading_progress: str, user_id: str, *, tool: LtiTool | None = None, comment: str | None = None,
               now: datetime | None = None) -> ScoreOutcome:
    """Queue a score for the launch's line item and try to deliver it now."""
    tool = tool or current_tool()
    if not launch.ags_lineitem:
        raise ServiceNotOffered("this launch has no AGS line item (the link is not graded)")
    if SCORE_SCOPE not in launch.ags_scopes:
        raise ServiceNotOffered("the platform did not grant the AGS score scope for this launch")
    now = now or _now()
    body = score_body(score_given, score_max, activity_progress, grading_progress, user_id,
                      timestamp=now, comment=comment)
    with tool.session() as session:
        row = LtiScoreOutbox(tenant_id=launch.tenant_id, registration_id=launch.registration_id,
                             lineitem_url=launch.ags_lineitem, scopes=list(launch.ags_scopes), score=body,
                             status="pending", attempts=0, next_attempt=now, created=now)
        session.add(row)
        session.commit()  # durable before the network: a crash from here on cannot lose it
        if not _claim(session, row.id, now):
            return ScoreOutcome(row.id, "pending")
        return _deliver(tool, session, row, now)


def retry_pending_scores(tool: LtiTool | None = None, *, now: datetime | None = None,
                         limit: int = 200) -> RetryReport:
    """Send every pending score whose next attempt is due. Safe to run from several processes."""
    tool = tool or current_tool()
    now = now or _now()
    delivered = pending = failed = 0
    with tool.session() as session:
        due = list(session.scalars(
            select(LtiScoreOutbox.id).where(LtiScoreOutbox.status == "pending", LtiScoreOutbox.next_attempt <= now,
                                            or_(LtiScoreOutbox.claimed_until.is_(None),
                                                LtiScoreOutbox.claimed_until < now))
            .order_by(LtiScoreOutbox.id).limit(limit)))
        for row_id in due:
            if not _claim(session, row_id, now):
                continue  # another sender took it
            row = session.get(LtiScoreOutbox, row_id, populate_existing=True)
            assert row is not None
            outcome = _deliver(tool, session, row, now)
            delivered += outcome.status == "delivered"
            pending += outcome.status == "pending"
            failed += outcome.status == "failed"
    return RetryReport(delivered, pending, failed)


def _claim(session: Session, row_id: int, now: datetime) -> bool:
    """Atomically owns a pending row for CLAIM_SECONDS (compare-and-set on claimed_until)."""
    result = session.execute(
        update(LtiScoreOutbox)
        .where(LtiScoreOutbox.id == row_id, LtiScoreOutbox.status == "pending",
               or_(LtiScoreOutbox.claimed_until.is_(None), LtiScoreOutbox.claimed_until < now))
        .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS)))
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _grade(body: dict[str, Any]) -> Grade:
    grade = (Grade().set_score_given(body["scoreGiven"]).set_score_maximum(body["scoreMaximum"])
             .set_activity_progress(body["activityProgress"]).set_grading_progress(body["gradingProgress"])
             .set_timestamp(body["timestamp"]).set_user_id(body["userId"]))
    if body.get("comment"):
        grade.set_comment(body["comment"])
    return grade


def _send(tool: LtiTool, session: Session, row: LtiScoreOutbox) -> None:
    registration = tool.registration(session, row.registration_id)
    connector = tool.connector(registration)
    service = AssignmentsGradesService(connector, {"scope": list(row.scopes), "lineitem": row.lineitem_url})
    try:
        # AGS 2.0 §3.4: POST {lineitem}/scores, application/vnd.ims.lis.v1.score+json.
        service.put_grade(_grade(row.score))
    except LtiServiceException as exc:
        if exc.response.status_code != 401:
            raise
        connector.forget_token(list(row.scopes))  # a cached token the platform no longer accepts
        service.put_grade(_grade(row.score))


def _deliver(tool: LtiTool, session: Session, row: LtiScoreOutbox, now: datetime) -> ScoreOutcome:
    try:
        _send(tool, session, row)
    # LtiError: our side (a registration removed, a key that cannot be opened) — an operator can
    # fix it, so the score waits rather than fails.
    except (requests.RequestException, LtiServiceException, LtiException, LtiError) as exc:
        status = exc.response.status_code if isinstance(exc, LtiServiceException) else None
        retry = status is None or status >= 500 or status in RETRYABLE_STATUSES
        row.attempts += 1
        row.claimed_until = None
        row.last_error = _describe(exc, status)
        if retry:
            delay = min(BACKOFF_BASE * 2 ** (row.attempts - 1), BACKOFF_CAP) * random.uniform(1.0, 1.1)
            row.next_attempt = now + timedelta(seconds=delay)
        else:
            row.status = "failed"
        session.commit()
        log.warning("AGS score %s for %s not delivered (attempt %s, %s): %s", row.id, row.lineitem_url,
                    row.attempts, row.status, row.last_error)
        return ScoreOutcome(row.id, row.status, row.last_error)
    row.status, row.delivered, row.claimed_until = "delivered", now, None
    row.attempts += 1
    row.last_error = None
    session.commit()
    return ScoreOutcome(row.id, "delivered")


def _describe(exc: Exception, status: int | None) -> str:
    # The platform's answer body may echo request data; keep the status and a short reason only.
    if status is not None:
        return f"HTTP {status} from the platform"
    return f"{type(exc).__name__}: {str(exc)[:300]}"
