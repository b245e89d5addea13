"""The proctoring session (1EdTech Proctoring Services 1.0, tool side, no Flask): the row kept per
proctored attempt from its ``LtiStartProctoring`` to its ``LtiEndAssessment``, and its states.
The messages themselves are checked and built in ``lti_tool.proctoring``; callers commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.errors import Conflict, NotFound
from lti_tool.proctoring.messages import (
    EndAssessment,
    StartProctoring,
    VerifiedPerson,
    parse_end_assessment,
    parse_start_proctoring,
)
from lti_tool.storage import LtiProctoringSession

PENDING, STARTED, ENDED, TERMINATED = "pending", "started", "ended", "terminated"
CLOSED = (ENDED, TERMINATED)


def _now() -> datetime:
    return datetime.now(UTC)


def _attempt_query(tenant_id: int, registration_id: int, deployment_id: str, sub: str, resource_link_id: str,
                   attempt_number: int) -> Select[LtiProctoringSession]:
    # The tenant first, as in the unique key uq_lti_proctoring_sessions_attempt that answers it.
    ps = LtiProctoringSession
    return select(ps).where(
        ps.tenant_id == tenant_id, ps.registration_id == registration_id, ps.deployment_id == deployment_id,
        ps.sub == sub, ps.resource_link_id == resource_link_id, ps.attempt_number == attempt_number)


def record_start(session: Session, claims: Mapping[str, Any], *, tenant_id: int, registration_id: int,
                 now: datetime | None = None) -> LtiProctoringSession:
    """Keeps the proctoring session of a validated LtiStartProctoring. The same attempt launched
    again (a closed window, a retry) reuses its row with the new message's values, since the
    platform checks the session_data of the latest one; an attempt already ended cannot restart.
    The caller commits."""
    start = parse_start_proctoring(claims)
    now = now or _now()
    query = _attempt_query(tenant_id, registration_id, start.deployment_id, start.sub, start.resource_link_id,
                           start.attempt_number)
    row = session.scalar(query)
    if row is None:
        row = LtiProctoringSession(
            public_id=secrets.token_hex(16), tenant_id=tenant_id, registration_id=registration_id,
            issuer=str(claims["iss"]), deployment_id=start.deployment_id, sub=start.sub,
            resource_link_id=start.resource_link_id, attempt_number=start.attempt_number, flags=0, created=now)
        try:
            with session.begin_nested():   # the same launch racing in two tabs: one row wins
                session.add(row)
                _fill(row, start, now)
        except IntegrityError:
            row = session.scalar(query)
            if row is None:
                raise
    if row.state in CLOSED:
        raise Conflict(f"attempt {start.attempt_number} of this assessment has already ended; "
                       "start a new attempt in the learning platform")
    _fill(row, start, now)
    session.flush()
    return row


def _fill(row: LtiProctoringSession, start: StartProctoring, now: datetime) -> None:
    row.context_id, row.session_data = start.context_id, start.session_data
    row.start_assessment_url, row.acs_url, row.acs_actions = start.start_assessment_url, start.acs_url, \
        list(start.acs_actions)
    # "" when the link names no catalogue item: the gate then runs for the platform's assessment.
    row.failure_action, row.gate_target = start.failure_action, start.target or ""
    row.end_assessment_return = True   # we always want LtiEndAssessment, to close the session
    row.state, row.updated = PENDING, now


def get_session(session: Session, public_id: str) -> LtiProctoringSession:
    # By public_id alone: the session's URLs name no tenant (see LtiProctoringSession's keys). The
    # row found carries its tenant, so its later saves go by the whole key (tenant_id, id).
    row = session.scalar(select(LtiProctoringSession).where(LtiProctoringSession.public_id == public_id))
    if row is None:
        raise NotFound("this proctoring session does not exist")
    return row


def record_end(session: Session, claims: Mapping[str, Any], *, tenant_id: int, registration_id: int,
               now: datetime | None = None) -> tuple[LtiProctoringSession, EndAssessment]:
    """Closes the session a validated LtiEndAssessment names (Proctoring §4.4). A session closed
    already stays closed (a platform may resend the message). The caller commits."""
    end = parse_end_assessment(claims)
    row = session.scalar(_attempt_query(tenant_id, registration_id, end.deployment_id, end.sub, end.resource_link_id,
                                        end.attempt_number))
    if row is None:
        raise NotFound("no proctoring session was started for this attempt")
    if row.state not in CLOSED:
        row.state = ENDED
        row.ended = row.updated = now or _now()
        session.flush()
    return row, end



def mark_started(session: Session, row: LtiProctoringSession, person: VerifiedPerson, *,
                 assurance_session_id: str | None = None, now: datetime | None = None) -> None:
    """The learner passed the gate and is sent to the assessment; the gate's session id links the
    repeated checks to this attempt. The caller commits."""
    if row.state in CLOSED:
        raise Conflict("this proctoring session has already ended")
    row.state, row.updated = STARTED, now or _now()
    row.verified_subject = person.subject
    row.verification = dict(person.summary)
    row.assurance_session_id = assurance_session_id or row.assurance_session_id
    session.flush()
