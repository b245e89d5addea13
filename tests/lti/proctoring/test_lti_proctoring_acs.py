"""Proctoring Services 1.0, Assessment Control Service (https://www.imsglobal.org/spec/proctoring/v1p0):
the tool's control requests reach the spec-written platform with a token for the ACS scope
(client-credentials + JWT assertion, Security Framework 1.0 §4.1) and the right body, the platform's
answer is recorded, and a platform that refuses or fails is recorded too, never an exception."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from lti_tool.proctoring import acs as proctoring_acs
from lti_tool.proctoring import messages as proctoring
from lti_tool.proctoring import session as proctoring_session
from lti_tool.storage import LtiProctoringControl, LtiProctoringSession
from tests.lti.conftest import Browser, Env, Lms
from tests.lti.lti_platform import REMOVE
from tests.lti.proctoring.platform_proctoring import ACS_SCOPE, AP, CONTROL_MEDIA_TYPE, Attempt, ProctoringPlatform


def _platform(lms: Lms) -> ProctoringPlatform:
    platform = lms.env.platform
    assert isinstance(platform, ProctoringPlatform)
    return platform


def _proctored(env: Env, lms: Lms, browser: Browser, *, started: bool = True, **kw: Any) -> tuple[str, Attempt]:
    """A proctoring session launched by the platform and, when ``started``, past the gate (the
    gate's part is the flow test's; here the domain records a verified person directly)."""
    hint, attempt = _platform(lms).start_proctoring(lms.client, **kw)
    assert browser.launch(hint, attempt.user).status_code == 303
    with env.db.session() as session:
        row = session.scalar(select(LtiProctoringSession).where(
            LtiProctoringSession.registration_id == lms.registration_id,
            LtiProctoringSession.resource_link_id == attempt.resource_link_id))
        assert row is not None
        if started:
            proctoring_session.mark_started(session, row, proctoring.VerifiedPerson(
                "Trần Văn Bình", "hocvu-subject:" + "cd" * 32, {"outcome": "verified"}))
            attempt.status = "running"   # as if the platform had taken the StartAssessment
            session.commit()
        return row.public_id, attempt


def _controls(env: Env, public_id: str) -> list[LtiProctoringControl]:
    with env.db.session() as session:
        row = proctoring_session.get_session(session, public_id)
        return list(session.scalars(select(LtiProctoringControl).where(
            LtiProctoringControl.tenant_id == row.tenant_id, LtiProctoringControl.session_id == row.id)
            .order_by(LtiProctoringControl.id)))


def _session(env: Env, public_id: str) -> LtiProctoringSession:
    with env.db.session() as session:
        return proctoring_session.get_session(session, public_id)


def test_flag_reaches_the_platform_with_a_token_for_the_acs_scope(
        lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """ACS request: POST application/vnd.ims.lti-ap.v1.control+json to assessment_control_url with
    a bearer token for .../lti-ap/scope/control.all; user.sub, resource_link.id, attempt_number,
    action, incident_time, incident_severity. ACS response: the attempt's status."""
    public_id, attempt = _proctored(lti_env, proctored_lms, proctored_browser, attempt_number=4)
    platform = _platform(proctored_lms)
    at = datetime(2026, 11, 23, 8, 30, 5, tzinfo=UTC)
    outcome = proctoring_acs.report_failed_check(public_id, tool=lti_env.tool, checked_at=at)

    assert (outcome.outcome, outcome.action, outcome.platform_status) == ("sent", "flag", "running")
    [body] = attempt.controls
    assert body == {"user": {"sub": attempt.user}, "resource_link": {"id": attempt.resource_link_id},
                    "attempt_number": 4, "action": "flag", "incident_time": "2026-11-23T08:30:05Z",
                    "incident_severity": 1.0, "reason_code": "face_check_failed",
                    "reason_msg": "A repeated face check did not match the verified learner"}
    # The token the platform issued for it carries exactly the ACS scope.
    assert any(grant == (proctored_lms.client.client_id, {ACS_SCOPE}) for grant in platform.tokens.values())
    [control] = _controls(lti_env, public_id)
    assert (control.action, control.outcome, control.http_status, control.platform_status) == (
        "flag", "sent", 200, "running")
    row = _session(lti_env, public_id)
    assert row.flags == 1 and row.state == "started"


def test_terminate_when_the_course_asks_for_it(lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """ACS action "terminate" (course option proctoring_on_failed_check=terminate); the platform
    answers status "terminated", and the proctoring session closes with it."""
    public_id, attempt = _proctored(lti_env, proctored_lms, proctored_browser,
                                    custom={"proctoring_on_failed_check": "terminate"})
    outcome = proctoring_acs.report_failed_check(public_id, tool=lti_env.tool)
    assert (outcome.outcome, outcome.action, outcome.platform_status) == ("sent", "terminate", "terminated")
    assert attempt.controls[-1]["action"] == "terminate" and attempt.status == "terminated"
    row = _session(lti_env, public_id)
    assert row.state == "terminated" and row.ended is not None and row.flags == 0
    # Closed: a later failed check sends nothing more.
    assert proctoring_acs.report_failed_check(public_id, tool=lti_env.tool).outcome == "not_offered"
    assert len(attempt.controls) == 1


def test_terminate_not_offered_by_the_platform_falls_back_to_flag(
        lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """acs.actions lists what the platform supports: the tool sends only those."""
    public_id, attempt = _proctored(lti_env, proctored_lms, proctored_browser, acs_actions=["flag"],
                                    custom={"proctoring_on_failed_check": "terminate"})
    assert proctoring_acs.report_failed_check(public_id, tool=lti_env.tool).action == "flag"
    assert [c["action"] for c in attempt.controls] == ["flag"]


def test_no_acs_claim_sends_nothing(lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    public_id, _ = _proctored(lti_env, proctored_lms, proctored_browser, overrides={AP + "claim/acs": REMOVE})
    requests_before = len(_platform(proctored_lms).acs_requests)
    outcome = proctoring_acs.report_failed_check(public_id, tool=lti_env.tool)
    assert outcome.outcome == "not_offered" and _controls(lti_env, public_id) == []
    assert len(_platform(proctored_lms).acs_requests) == requests_before


def test_nothing_is_sent_before_the_assessment_started(
        lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    public_id, attempt = _proctored(lti_env, proctored_lms, proctored_browser, started=False)
    assert proctoring_acs.report_failed_check(public_id, tool=lti_env.tool).outcome == "not_offered"
    assert attempt.controls == [] and _controls(lti_env, public_id) == []


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_platform_errors_are_recorded_not_raised(
        status: int, lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    public_id, attempt = _proctored(lti_env, proctored_lms, proctored_browser)
    platform = _platform(proctored_lms)
    platform.acs_failure = status
    try:
        outcome = proctoring_acs.report_failed_check(public_id, tool=lti_env.tool)
    finally:
        platform.acs_failure = None
    assert (outcome.outcome, outcome.http_status) == ("failed", status)
    [control] = _controls(lti_env, public_id)
    assert (control.outcome, control.http_status) == ("failed", status)
    assert control.error == f"HTTP {status} from the platform"
    assert attempt.controls == [] and _session(lti_env, public_id).state == "started"


def test_token_endpoint_down_is_recorded(lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """Security Framework 1.0 §4.1: no token, no request; the failure is on record."""
    public_id, attempt = _proctored(lti_env, proctored_lms, proctored_browser)
    platform = _platform(proctored_lms)
    platform.down = True   # /token and /api answer 503
    try:
        outcome = proctoring_acs.report_failed_check(public_id, tool=lti_env.tool)
    finally:
        platform.down = False
    assert (outcome.outcome, outcome.http_status) == ("failed", 503) and attempt.controls == []
    assert [c.outcome for c in _controls(lti_env, public_id)] == ["failed"]


def test_acs_scope_refused_is_recorded(lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """The platform does not grant this tool the ACS scope (RFC 6749 §5.2 invalid_scope)."""
    proctored_lms.client.scopes.discard(ACS_SCOPE)
    public_id, attempt = _proctored(lti_env, proctored_lms, proctored_browser)
    outcome = proctoring_acs.report_failed_check(public_id, tool=lti_env.tool)
    assert (outcome.outcome, outcome.http_status) == ("failed", 400) and attempt.controls == []


def test_control_body_rules() -> None:
    row = LtiProctoringSession(sub="u", resource_link_id="rl", attempt_number=1, acs_actions=[])
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        proctoring_acs.control_body(row, "explode", incident_time=at, severity=0.5)
    with pytest.raises(ValueError):
        proctoring_acs.control_body(row, "flag", incident_time=at, severity=1.5)
    body = proctoring_acs.control_body(row, "update", incident_time=at, severity=0, extra_time=10)
    assert body["extra_time"] == 10 and "reason_code" not in body
    assert CONTROL_MEDIA_TYPE == proctoring_acs.CONTROL_MEDIA_TYPE and ACS_SCOPE == proctoring_acs.ACS_SCOPE
