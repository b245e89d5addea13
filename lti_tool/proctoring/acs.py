"""The Assessment Control Service client (1EdTech Proctoring Services 1.0, "Assessment Control
Service"): the tool tells the platform about an incident in a proctored attempt — here, a face check
that failed during the assessment — and the platform answers with the attempt's status.

The access token comes the way AGS gets one (``HubServiceConnector``: OAuth 2 client-credentials
grant with a JWT client assertion signed by the tool's key, Security Framework 1.0 §4.1) for the
ACS scope. Each request is written to ``LtiProctoringControl`` *before* the call, and its outcome
after: a platform that refuses (4xx), fails (5xx) or cannot be reached leaves a failed record and
a log line, never an exception in the learner's request.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from pylti1p3.exception import LtiException, LtiServiceException
from sqlalchemy.orm import Session

from lti_tool.errors import LtiError
from lti_tool.proctoring.session import CLOSED, PENDING, TERMINATED, get_session
from lti_tool.services import LtiTool, current_tool
from lti_tool.storage import LtiProctoringControl, LtiProctoringSession

log = logging.getLogger(__name__)

# Proctoring, ACS: the scope the token is asked for and the media type of request and response.
ACS_SCOPE = "https://purl.imsglobal.org/spec/lti-ap/scope/control.all"
CONTROL_MEDIA_TYPE = "application/vnd.ims.lti-ap.v1.control+json"
ACTIONS = ("flag", "pause", "resume", "terminate", "update")
FACE_CHECK_FAILED = "face_check_failed"   # our reason_code (tool-defined, Proctoring ACS request)


@dataclass(frozen=True)
class ControlOutcome:
    control_id: int | None   # None: nothing was sent (no ACS offered, or the action is not supported)
    action: str | None
    outcome: str             # "sent" | "failed" | "not_offered"
    platform_status: str | None = None
    http_status: int | None = None
    error: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def choose_action(row: LtiProctoringSession, preferred: str) -> str | None:
    """The action to send: ``preferred`` when the platform lists it in the acs claim's actions,
    else "flag" when it does (a terminate the platform does not offer is still worth a flag),
    else None. A claim with no actions list offers none to choose from: the preferred one is sent."""
    offered = list(row.acs_actions or [])
    if not offered:
        return preferred
    for action in (preferred, "flag"):
        if action in offered:
            return action
    return None


def control_body(row: LtiProctoringSession, action: str, *, incident_time: datetime, severity: float,
                 reason_code: str | None = None, reason_msg: str | None = None,
                 extra_time: int | None = None) -> dict[str, Any]:
    """The ACS request (Proctoring, ACS request): the learner as the platform knows them (user.sub),
    the resource link and attempt_number of the Start Proctoring message, the action, when the
    incident happened and how severe it is (0 to 1)."""
    if action not in ACTIONS:
        raise ValueError(f"ACS action must be one of {', '.join(ACTIONS)}")
    if not 0.0 <= severity <= 1.0:
        raise ValueError("incident_severity is a number from 0 to 1")
    body: dict[str, Any] = {"user": {"sub": row.sub}, "resource_link": {"id": row.resource_link_id},
                            "attempt_number": row.attempt_number, "action": action,
                            "incident_time": _iso(incident_time), "incident_severity": severity}
    if extra_time is not None:   # only meaningful with "update"
        body["extra_time"] = int(extra_time)
    if reason_code:
        body["reason_code"] = reason_code
    if reason_msg:
        body["reason_msg"] = reason_msg
    return body


def send_control(public_id: str, preferred: str, *, tool: LtiTool | None = None, severity: float = 1.0,
                 reason_code: str | None = FACE_CHECK_FAILED, reason_msg: str | None = None,
                 incident_time: datetime | None = None) -> ControlOutcome:
    """Sends one ACS request for the proctoring session ``public_id`` and records the answer."""
    tool = tool or current_tool()
    incident_time = incident_time or _now()
    with tool.session() as session:
        row = get_session(session, public_id)
        action = choose_action(row, preferred)
        if not row.acs_url or action is None:
            log.warning("proctoring session %s: the platform offers no ACS %s; nothing sent", row.public_id, preferred)
            return ControlOutcome(None, action, "not_offered")
        body = control_body(row, action, incident_time=incident_time, severity=severity,
                            reason_code=reason_code, reason_msg=reason_msg)
        control = LtiProctoringControl(tenant_id=row.tenant_id, session_id=row.id, action=action,
                                       reason_code=reason_code, incident_severity=severity,
                                       incident_time=incident_time, outcome="pending", created=_now())
        session.add(control)
        if action == "flag":
            row.flags += 1
        session.commit()   # on record before the network
        return _deliver(tool, session, row, control, body)


def _post(tool: LtiTool, session: Session, row: LtiProctoringSession, body: dict[str, Any]) -> dict[str, Any]:
    connector = tool.connector(tool.registration(session, row.registration_id))
    assert row.acs_url is not None
    data = json.dumps(body)
    try:
        response = connector.make_service_request([ACS_SCOPE], row.acs_url, is_post=True, data=data,
                                                  content_type=CONTROL_MEDIA_TYPE, accept=CONTROL_MEDIA_TYPE)
    except LtiServiceException as exc:
        if exc.response.status_code != 401:
            raise
        connector.forget_token([ACS_SCOPE])   # a cached token the platform no longer accepts
        response = connector.make_service_request([ACS_SCOPE], row.acs_url, is_post=True, data=data,
                                                  content_type=CONTROL_MEDIA_TYPE, accept=CONTROL_MEDIA_TYPE)
    answer = response["body"]
    if not isinstance(answer, dict) or not isinstance(answer.get("status"), str):
        raise ValueError("the ACS response has no status")
    return answer


def _deliver(tool: LtiTool, session: Session, row: LtiProctoringSession, control: LtiProctoringControl,
             body: dict[str, Any]) -> ControlOutcome:
    try:
        answer = _post(tool, session, row, body)
    # LtiError: our side (registration removed, key unreadable); ValueError: an unreadable answer.
    except (requests.RequestException, LtiServiceException, LtiException, LtiError, ValueError) as exc:
        status = exc.response.status_code if isinstance(exc, LtiServiceException) else None
        control.outcome, control.http_status = "failed", status
        # The platform's body may echo request data: keep the status and a short reason only.
        control.error = f"HTTP {status} from the platform" if status else f"{type(exc).__name__}: {str(exc)[:300]}"
        session.commit()
        log.warning("ACS %s for proctoring session %s not accepted: %s", control.action, row.public_id, control.error)
        return ControlOutcome(control.id, control.action, "failed", http_status=status, error=control.error)
    platform_status = str(answer["status"])[:32]
    control.outcome, control.http_status, control.platform_status = "sent", 200, platform_status
    if platform_status == TERMINATED and row.state not in CLOSED:
        # The platform ended the attempt: no LtiEndAssessment may follow, so the session closes here.
        row.state, row.ended = TERMINATED, _now()
    row.updated = _now()
    session.commit()
    log.info("ACS %s for proctoring session %s: platform status %s", control.action, row.public_id, platform_status)
    return ControlOutcome(control.id, control.action, "sent", platform_status=platform_status, http_status=200)


def report_failed_check(public_id: str, *, tool: LtiTool | None = None, reason_msg: str | None = None,
                        checked_at: datetime | None = None) -> ControlOutcome:
    """A face check failed during the proctored assessment: flag the attempt, or terminate it when
    the course asked for that (``proctoring_on_failed_check=terminate``). Sessions not running (not
    yet started, or closed) send nothing."""
    tool = tool or current_tool()
    with tool.session() as session:
        row = get_session(session, public_id)
        state, preferred = row.state, row.failure_action
    if state in CLOSED or state == PENDING:
        return ControlOutcome(None, None, "not_offered", error=f"the proctoring session is {state}")
    return send_control(public_id, preferred, tool=tool, severity=1.0, reason_code=FACE_CHECK_FAILED,
                        reason_msg=reason_msg or "A repeated face check did not match the verified learner",
                        incident_time=checked_at)
