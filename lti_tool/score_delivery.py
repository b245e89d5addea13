"""Where each AGS score stands, for the people who need to know: the instructor's roster (each
learner's delivery state for the link) and the operator (`hocvu lti scores --failed`). Read-only
views of ``LtiScoreOutbox``; the sending is ``lti_tool.ags``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.storage import as_utc
from lti_tool.launch_context import LaunchContext
from lti_tool.services import LtiTool, current_tool
from lti_tool.storage import LtiScoreOutbox


@dataclass(frozen=True)
class ScoreDelivery:
    """The latest score the hub sent (or is sending) for one learner of one resource link."""

    outbox_id: int
    user_id: str
    status: str                      # "delivered" | "pending" | "failed"
    score_given: float | None
    score_max: float | None
    attempts: int
    last_error: str | None           # why the last attempt failed (no platform body, no token)
    created: datetime                # when the learner earned it (UTC)
    delivered: datetime | None
    next_attempt: datetime | None    # for a pending score: when it is tried again

    @classmethod
    def of(cls, row: LtiScoreOutbox) -> ScoreDelivery:
        score = row.score or {}
        return cls(outbox_id=row.id, user_id=str(row.user_id or score.get("userId") or ""), status=row.status,
                   score_given=score.get("scoreGiven"), score_max=score.get("scoreMaximum"), attempts=row.attempts,
                   last_error=row.last_error, created=as_utc(row.created),
                   delivered=as_utc(row.delivered) if row.delivered else None,
                   next_attempt=as_utc(row.next_attempt) if row.status == "pending" else None)


def delivery_states(launch: LaunchContext, *, tool: LtiTool | None = None) -> dict[str, ScoreDelivery]:
    """Per learner (the NRPS ``user_id``, i.e. the launch ``sub``), the latest score of the launch's
    resource link: a newer pending score shows as pending even when an older one was delivered."""
    tool = tool or current_tool()
    with tool.session() as session:
        return link_delivery_states(session, launch.tenant_id, launch.registration_id, launch.resource_link_id)


def link_delivery_states(session: Session, tenant_id: int, registration_id: int,
                         resource_link_id: str) -> dict[str, ScoreDelivery]:
    # With the launch's tenant: on Citus the roster's query goes to that tenant's shard only.
    rows = session.scalars(select(LtiScoreOutbox).where(
        LtiScoreOutbox.tenant_id == tenant_id, LtiScoreOutbox.registration_id == registration_id,
        LtiScoreOutbox.resource_link_id == resource_link_id).order_by(LtiScoreOutbox.id))
    states: dict[str, ScoreDelivery] = {}
    for row in rows:
        state = ScoreDelivery.of(row)
        states[state.user_id] = state   # ordered by id: the last one wins
    return states


def list_scores(session: Session, *, status: str | None = None, tenant_id: int | None = None,
                limit: int = 100) -> list[LtiScoreOutbox]:
    """Outbox rows, newest first, for the operator."""
    query = select(LtiScoreOutbox).order_by(LtiScoreOutbox.id.desc()).limit(limit)
    if status:
        query = query.where(LtiScoreOutbox.status == status)
    if tenant_id is not None:
        query = query.where(LtiScoreOutbox.tenant_id == tenant_id)
    return list(session.scalars(query))
