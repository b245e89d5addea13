"""Assignment and Grade Services 2.0: scores from the player to the platform's gradebook.

``post_score`` writes the score to the outbox (``LtiScoreOutbox``) and commits *before* any
network call, then tries to deliver it at once; a platform that is down, answers 5xx/429, or
refuses the tool's access token leaves it pending, and ``retry_pending_scores`` (the web
process's periodic task, ``hocvu lti retry-scores``, cron or Celery beat) sends it again with
exponential backoff. A score is never lost, and a claim on the row keeps two senders from
delivering it twice. What the platform refuses for good is kept as "failed", logged with its
reason, listed by ``hocvu lti scores --failed`` and requeued by ``retry-scores --failed``.

Where a score goes (AGS 2.0 §3.1): the launch's ``lineitem`` when it has one (declarative); with
only ``lineitems``, the tool's own line item for the resource link, found or created
(``lti_tool.ags_links``). Only the scopes the platform granted are used (§3.1: ``scope``).

The Score's ``timestamp`` is fixed when the learner earns it, so a retried score that arrives
after a newer one is ignored by the platform, as AGS 2.0 §3.4.4 requires ("the platform MUST
NOT update a result if the last timestamp on record is later than the incoming score update").
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlencode

import requests
from pylti1p3.assignments_grades import AssignmentsGradesService, TAssignmentsGradersData
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from sqlalchemy import or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from lti_tool import ags_links
from lti_tool.ags_links import LINEITEM_SCOPE, RESULT_SCOPE, SCORE_SCOPE, LineItemUnavailable
from lti_tool.errors import InvalidScore, LtiError, PlatformUnavailable, ServiceNotOffered
from lti_tool.launch_context import LaunchContext
from lti_tool.service_connector import TokenError
from lti_tool.services import LtiTool, current_tool
from lti_tool.storage import LtiResourceLink, LtiScoreOutbox

log = logging.getLogger(__name__)

# AGS 2.0 §3.4.6 activityProgress and §3.4.7 gradingProgress values.
ACTIVITY_PROGRESS = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
GRADING_PROGRESS = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")
# Retry schedule: 30 s, 1 min, 2 min, ... capped at one hour, with jitter so a recovering
# platform is not hit by every queued score in the same second.
BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0
CLAIM_SECONDS = 120
RESOLVING_DELAY = 5.0   # another sender is finding/creating the link's line item: try again soon
# Statuses worth retrying; any other 4xx means the platform refuses this score for good
# (e.g. the line item was deleted): it is kept as "failed" for an operator, not dropped.
RETRYABLE_STATUSES = {401, 403, 408, 425, 429}
STATUSES = ("pending", "delivered", "failed")


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


@dataclass(frozen=True)
class _Target:
    """Where a launch's scores go: a line item, or a container to find/create ours in."""

    lineitem: str | None
    lineitems: str | None
    scopes: tuple[str, ...]
    spec_link: LtiResourceLink | None = None   # the tool-managed link of a programmatic launch


def _target(session: Session, launch: LaunchContext) -> _Target | None:
    if launch.ags_lineitem:
        return _Target(launch.ags_lineitem, None, tuple(launch.ags_scopes))
    link = ags_links.link_of(session, launch.tenant_id, launch.registration_id, launch.deployment_id,
                             launch.resource_link_id)
    container = launch.ags_lineitems or (link.lineitems_url if link else None)
    if link is None or not container:
        return None
    return _Target(None, container, tuple(launch.ags_scopes or link.scopes), link)


def _check_target(target: _Target | None) -> _Target:
    if target is None:
        raise ServiceNotOffered("this launch has no AGS line item or line item container (the link is not graded)")
    if SCORE_SCOPE not in target.scopes:
        raise ServiceNotOffered("the platform did not grant the AGS score scope for this launch")
    if target.lineitem is None and not ags_links.can_read(target.scopes):
        raise ServiceNotOffered("the platform gave a line item container but no lineitem scope to find or "
                                "create this link's gradebook column in")
    return target


def can_post_scores(launch: LaunchContext, *, tool: LtiTool | None = None) -> bool:
    """Whether ``post_score`` would take a score for this launch (the player asks before a hand-off)."""
    return score_refusal(launch, tool=tool) is None


def score_refusal(launch: LaunchContext, *, tool: LtiTool | None = None) -> str | None:
    """Why ``post_score`` would refuse a score for this launch (no line item, or a scope the platform
    did not grant), or None when it would take it."""
    tool = tool or current_tool()
    with tool.session() as session:
        try:
            _check_target(_target(session, launch))
        except ServiceNotOffered as exc:
            return exc.message
    return None


def post_score(launch: LaunchContext, score_given: float, score_max: float, activity_progress: str,
               grading_progress: str, user_id: str, *, tool: LtiTool | None = None, comment: str | None = None,
               now: datetime | None = None) -> ScoreOutcome:
    """Queue a score for the launch's line item (or the tool's own, AGS 2.0 §3.2) and try to deliver it now."""
    tool = tool or current_tool()
    now = now or _now()
    body = score_body(score_given, score_max, activity_progress, grading_progress, user_id,
                      timestamp=now, comment=comment)
    with tool.session() as session:
        target = _check_target(_target(session, launch))
        spec = (ags_links.lineitem_spec(target.spec_link, launch.target, score_max)
                if target.spec_link is not None else None)
        row = LtiScoreOutbox(tenant_id=launch.tenant_id, registration_id=launch.registration_id,
                             lineitem_url=target.lineitem, lineitems_url=target.lineitems, lineitem_spec=spec,
                             resource_link_id=launch.resource_link_id, user_id=user_id, scopes=list(target.scopes),
                             score=body, status="pending", attempts=0, next_attempt=now, created=now)
        session.add(row)
        session.commit()  # durable before the network: a crash from here on cannot lose it
        if not _claim(session, row.tenant_id, row.id, now):
            return ScoreOutcome(row.id, "pending")
        return _deliver(tool, session, row, now)


def retry_pending_scores(tool: LtiTool | None = None, *, now: datetime | None = None, limit: int = 200,
                         due_by: datetime | None = None) -> RetryReport:
    """Send every pending score whose next attempt is due (by ``due_by``, default now). Safe to run
    from several processes."""
    tool = tool or current_tool()
    now = now or _now()
    delivered = pending = failed = 0
    with tool.session() as session:
        # Every tenant's due scores (ix_lti_score_outbox_due): on Citus this one query per batch asks
        # every shard; each row's tenant then goes with its claim, load and save (one shard each).
        due = session.execute(
            select(LtiScoreOutbox.tenant_id, LtiScoreOutbox.id).where(
                LtiScoreOutbox.status == "pending", LtiScoreOutbox.next_attempt <= (due_by or now),
                or_(LtiScoreOutbox.claimed_until.is_(None), LtiScoreOutbox.claimed_until < now))
            .order_by(LtiScoreOutbox.id).limit(limit)).all()
        for tenant_id, row_id in due:
            if not _claim(session, tenant_id, row_id, now):
                continue  # another sender took it
            row = session.get(LtiScoreOutbox, (tenant_id, row_id), populate_existing=True)
            assert row is not None
            outcome = _deliver(tool, session, row, now)
            delivered += outcome.status == "delivered"
            pending += outcome.status == "pending"
            failed += outcome.status == "failed"
    return RetryReport(delivered, pending, failed)


def requeue_failed(tool: LtiTool | None = None, *, ids: list[int] | None = None,
                   now: datetime | None = None) -> int:
    """Makes failed scores pending again (after an operator fixed their cause); returns how many."""
    tool = tool or current_tool()
    query = update(LtiScoreOutbox).where(LtiScoreOutbox.status == "failed")
    if ids:
        # By id alone: an operator's pick from `hocvu lti scores`, across tenants (ids come from one
        # sequence, so they do not repeat). Rare; on Citus it asks every shard.
        query = query.where(LtiScoreOutbox.id.in_(ids))
    with tool.session() as session:
        result = cast("CursorResult[Any]",
                      session.execute(query.values(status="pending", next_attempt=now or _now(), claimed_until=None)))
        session.commit()
        return int(result.rowcount)


def _claim(session: Session, tenant_id: int, row_id: int, now: datetime) -> bool:
    """Atomically owns a pending row for CLAIM_SECONDS (compare-and-set on claimed_until). By the
    whole key (tenant_id, id): its index answers, and on Citus one shard."""
    result = cast("CursorResult[Any]", session.execute(
        update(LtiScoreOutbox)
        .where(LtiScoreOutbox.tenant_id == tenant_id, LtiScoreOutbox.id == row_id, LtiScoreOutbox.status == "pending",
               or_(LtiScoreOutbox.claimed_until.is_(None), LtiScoreOutbox.claimed_until < now))
        .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))))
    session.commit()
    return bool(result.rowcount)


def _grade(body: dict[str, Any]) -> Grade:
    grade = (Grade().set_score_given(body["scoreGiven"]).set_score_maximum(body["scoreMaximum"])
             .set_activity_progress(body["activityProgress"]).set_grading_progress(body["gradingProgress"])
             .set_timestamp(body["timestamp"]).set_user_id(body["userId"]))
    if body.get("comment"):
        grade.set_comment(body["comment"])
    return grade


def _send(tool: LtiTool, session: Session, row: LtiScoreOutbox, now: datetime) -> bool:
    """POSTs the score (AGS 2.0 §3.4, application/vnd.ims.lis.v1.score+json); False when its line
    item is being resolved by another sender right now."""
    connector = tool.connector(tool.registration(session, row.registration_id))
    data: dict[str, Any] = {"scope": list(row.scopes)}
    if row.lineitems_url:
        data["lineitems"] = row.lineitems_url
    # pylti1p3 types the scopes as the four AGS ones; these are the platform's grant as it came.
    service = AssignmentsGradesService(connector, cast(TAssignmentsGradersData, data))
    lineitem = row.lineitem_url
    if lineitem is None:
        assert row.lineitems_url and row.lineitem_spec
        lineitem = ags_links.resolve_lineitem(session, service, row.tenant_id, row.lineitems_url, row.lineitem_spec,
                                              create=LINEITEM_SCOPE in row.scopes, now=now)
        if lineitem is None:
            return False
    service._service_data["lineitem"] = lineitem
    try:
        service.put_grade(_grade(row.score))
    except LtiServiceException as exc:
        if exc.response.status_code == 404 and row.lineitem_url is None:
            ags_links.forget_lineitem(session, row.tenant_id, row.lineitem_spec)   # deleted on the platform: look again
        raise
    return True


def _classify(exc: Exception) -> tuple[bool, str]:
    """(retry?, reason) for a failed delivery. The platform's answer body may echo request data
    and never goes into the reason; tokens never do either."""
    if isinstance(exc, TokenError):
        # The tool's access was refused (keys re-created, a rotated key not yet trusted, the token
        # endpoint down): nothing is wrong with the score, so it waits for a later attempt.
        return True, f"access token: {exc.reason}"
    if isinstance(exc, LtiServiceException):
        status = exc.response.status_code
        return status >= 500 or status in RETRYABLE_STATUSES, f"HTTP {status} from the platform"
    if isinstance(exc, (LineItemUnavailable, ServiceNotOffered)):
        return False, exc.message
    if isinstance(exc, (PlatformUnavailable, LtiError)):
        # Our side or the platform's outage (a registration disabled, a key that cannot be opened):
        # an operator or time can fix it, so the score waits rather than fails.
        return True, exc.message
    return True, f"{type(exc).__name__}: {str(exc)[:300]}"


def _deliver(tool: LtiTool, session: Session, row: LtiScoreOutbox, now: datetime) -> ScoreOutcome:
    try:
        sent = _send(tool, session, row, now)
    except (requests.RequestException, LtiServiceException, LtiException, LtiError) as exc:
        retry, reason = _classify(exc)
        row.attempts += 1
        row.claimed_until = None
        row.last_error = reason
        if retry:
            delay = min(BACKOFF_BASE * 2 ** (row.attempts - 1), BACKOFF_CAP) * random.uniform(1.0, 1.1)
            row.next_attempt = now + timedelta(seconds=delay)
        else:
            row.status = "failed"
        session.commit()
        log.warning("AGS score %s (registration %s, link %s) not delivered, attempt %s, now %s: %s", row.id,
                    row.registration_id, row.resource_link_id, row.attempts, row.status, row.last_error)
        return ScoreOutcome(row.id, row.status, row.last_error)
    if not sent:
        row.claimed_until, row.next_attempt = None, now + timedelta(seconds=RESOLVING_DELAY)
        session.commit()
        return ScoreOutcome(row.id, "pending")
    row.status, row.delivered, row.claimed_until = "delivered", now, None
    row.attempts += 1
    row.last_error = None
    session.commit()
    return ScoreOutcome(row.id, "delivered")


def read_results(launch: LaunchContext, *, tool: LtiTool | None = None,
                 user_id: str | None = None) -> list[dict[str, Any]]:
    """The line item's results (AGS 2.0 §3.3, result.readonly), all pages; [] while the tool's own
    line item does not exist yet."""
    tool = tool or current_tool()
    with tool.session() as session:
        target = _target(session, launch)
        if target is None or RESULT_SCOPE not in target.scopes:
            raise ServiceNotOffered("the platform did not grant the AGS result.readonly scope for this launch")
        lineitem = target.lineitem or (target.spec_link.lineitem_url if target.spec_link is not None else None)
        if not lineitem:
            return []
        connector = tool.connector(tool.registration(session, launch.registration_id))
    url: str | None = AssignmentsGradesService._add_url_path_ending(lineitem, "results")
    if user_id:
        url = f"{url}{'&' if '?' in str(url) else '?'}{urlencode({'user_id': user_id})}"
    results: list[dict[str, Any]] = []
    try:
        for _ in range(ags_links.MAX_PAGES):
            if not url:
                break
            page = connector.make_service_request(list(target.scopes), url,
                                                  accept="application/vnd.ims.lis.v2.resultcontainer+json")
            # A results body is a JSON array (AGS 2.0 §3.3.3); pylti1p3 types it as any JSON value.
            results.extend(r for r in page["body"] or [] if isinstance(r, dict))  # type: ignore[union-attr]
            url = page["next_page_url"]
    except LtiServiceException as exc:
        raise PlatformUnavailable(f"the results request failed: HTTP {exc.response.status_code}",
                                  http_status=exc.response.status_code) from exc
    except requests.RequestException as exc:
        raise PlatformUnavailable(f"the results request failed: {type(exc).__name__}") from exc
    return results
