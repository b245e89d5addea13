"""Proctoring Services 1.0 end to end (https://www.imsglobal.org/spec/proctoring/v1p0), over real HTTP
with the spec-written platform (tests/lti/platform_proctoring.py) and the real identity gate: the
demo VNeID provider, the real face model (Dlib) and photos from ../shared/faces.

LtiStartProctoring → VNeID sign-in, link, face check at /player/identity/gate → LtiStartAssessment
auto-POSTed to the platform, which verifies it with the tool's JWKS → a repeated face check that
fails → ACS "flag" at the platform → LtiEndAssessment closes the session."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from identity.stamp import UNVERIFIED, VERIFIED
from lti_tool import proctoring
from lti_tool.player_storage import AttemptAssurance
from lti_tool.storage import LtiProctoringControl, LtiProctoringSession
from tests.lti.conftest import Browser, Env, Lms, form, register_lms
from tests.lti.platform_proctoring import ACS_SCOPE, AP, GATE_TARGET, ProctoringPlatform

CITIZEN, CITIZEN_NAME = "demo-0001", "Nguyễn Văn An"   # enrolled with A_img1.jpg by the identity_env fixture


@pytest.fixture
def flow(identity_env: Any, proctoring_platform: ProctoringPlatform) -> tuple[Any, Lms, Browser]:
    lms = register_lms(Env(identity_env.app, proctoring_platform, identity_env.base))
    return identity_env, lms, Browser(identity_env.app.test_client(), proctoring_platform, lms)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def _sign_in(browser: Browser, next_url: str) -> None:
    """VNeID sign-in with the built-in demo provider (authorization code + PKCE, on loopback)."""
    client = browser.client
    start = client.get("/identity/login", query_string={"next": next_url})
    assert start.status_code == 302, start.get_data(as_text=True)
    picked = client.post(start.headers["Location"], data={"citizen": CITIZEN})
    assert picked.status_code == 302, picked.get_data(as_text=True)
    done = client.get(picked.headers["Location"])
    assert done.status_code == 303 and done.headers["Location"] == next_url, done.get_data(as_text=True)


def _photo(env: Any, name: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO(env.photos[name]), "frame.jpg"


def test_round_trip_start_proctoring_gate_start_assessment_acs_end(flow: tuple[Any, Lms, Browser]) -> None:
    env, lms, browser = flow
    platform = lms.env.platform
    assert isinstance(platform, ProctoringPlatform)
    session_data = 'phiên "ý" <&> ' + "z" * 64

    # 1. Start Proctoring message → the session is kept, the learner goes to the identity gate.
    hint, attempt = platform.start_proctoring(lms.client, user="sv-2026-0042", attempt_number=1,
                                              session_data=session_data)
    launched = browser.launch(hint, attempt.user)
    assert launched.status_code == 303, launched.get_data(as_text=True)
    gate_url = launched.headers["Location"]
    next_url = parse_qs(urlsplit(gate_url).query)["next"][0]

    # 2. The gate: VNeID sign-in, link this LMS learner to the account, face check (person A).
    _sign_in(browser, gate_url)
    page = browser.client.get(gate_url).get_data(as_text=True)
    assert 'data-step="bind"' in page and CITIZEN_NAME in page
    fields = {"csrf": _csrf(page), "target": GATE_TARGET, "next": next_url}
    assert browser.client.post("/player/identity/bind", data=fields).status_code == 303
    checked = browser.client.post("/player/identity/check", data={**fields, "photo": _photo(env, "A_img2.jpg")},
                                  content_type="multipart/form-data")
    assert checked.status_code == 303 and checked.headers["Location"] == next_url, checked.get_data(as_text=True)

    # 3. Start Assessment message (§3.3): auto-POSTed to start_assessment_url; the platform checks
    #    it with the tool's JWKS (signature, iss/aud, nonce, attempt_number, session_data, resource link).
    start = browser.client.get(next_url)
    assert start.status_code == 200, start.get_data(as_text=True)
    action, jwt_fields = form(start.get_data(as_text=True))
    assert action == platform.start_assessment_url and set(jwt_fields) == {"JWT"}
    accepted = requests.post(action, data=jwt_fields, timeout=10)
    assert accepted.status_code == 200, accepted.text
    claims = platform.start_assessments[-1]
    assert claims[AP + "claim/session_data"] == session_data and claims[AP + "claim/attempt_number"] == 1
    verified = claims[AP + "claim/verified_user"]
    assert (verified["name"], verified["family_name"], verified["given_name"]) == (CITIZEN_NAME, "Nguyễn", "An")
    assert attempt.status == "running" and attempt.end_assessment_return is True

    with env.db.session() as db:
        row = db.scalar(select(LtiProctoringSession).where(LtiProctoringSession.registration_id == lms.registration_id))
        assert row is not None and row.state == "started"
        public_id = row.public_id
        gate_row = db.scalar(select(AttemptAssurance).where(AttemptAssurance.session_id == row.assurance_session_id))
        assert gate_row is not None and gate_row.pending_key is None and gate_row.recheck_due is not None
        assert (gate_row.recheck_min, gate_row.recheck_max) == (180, 420)   # the quiz's identity.recheck
        # The pseudonymous subject, never the citizen ID; the stamp summary says "verified".
        assert verified[proctoring.PSEUDONYM_CLAIM] == row.verified_subject == gate_row.subject
        assert "003090000001" not in str(claims) and "003090000001" not in str(row.verification)
        assert row.verification is not None and row.verification["outcome"] == VERIFIED

    # The gate is used up: the same page again does not send a second StartAssessment.
    assert browser.client.get(next_url).status_code == 303

    # 4. A repeated check during the assessment with someone else's face → ACS "flag".
    monitor = browser.client.get(f"/lti/proctoring/{public_id}/monitor")
    assert monitor.status_code == 200 and 'data-recheck-in="' in monitor.get_data(as_text=True)
    tokens_before = len(platform.tokens)
    failed = browser.client.post(f"/lti/proctoring/{public_id}/check", content_type="multipart/form-data",
                                 data={"csrf": _csrf(monitor.get_data(as_text=True)),
                                       "photo": _photo(env, "B_img26.jpg")},
                                 headers={"Accept": "application/json"})
    assert failed.status_code == 200, failed.get_data(as_text=True)
    answer = failed.get_json()
    assert answer["matched"] is False and answer["acs"] == "sent" and answer["recheck_in"] is not None
    [control] = attempt.controls
    assert control["action"] == "flag" and control["reason_code"] == "face_check_failed"
    assert control["user"] == {"sub": attempt.user} and control["attempt_number"] == 1
    assert len(platform.tokens) == tokens_before + 1
    assert list(platform.tokens.values())[-1] == (lms.client.client_id, {ACS_SCOPE})
    with env.db.session() as db:
        [recorded] = db.scalars(select(LtiProctoringControl).join(LtiProctoringSession)
                                .where(LtiProctoringSession.public_id == public_id))
        assert (recorded.action, recorded.outcome, recorded.platform_status) == ("flag", "sent", "running")
        gate_row = db.scalar(select(AttemptAssurance).where(AttemptAssurance.session_id == row.assurance_session_id))
        assert gate_row is not None and gate_row.failed_at is not None
        from lti_tool.player_assurance import stamp_for

        assert stamp_for(gate_row)["outcome"] == UNVERIFIED   # never silently verified again

    # 5. End Assessment message (§4.4) → the session closes; the monitor has nothing more to do.
    ended = browser.launch(platform.end_assessment(lms.client, attempt), attempt.user)
    assert ended.status_code == 200 and 'id="proctoring-return"' in ended.get_data(as_text=True)
    with env.db.session() as db:
        assert proctoring.get_session(db, public_id).state == "ended"
    assert browser.client.get(f"/lti/proctoring/{public_id}/monitor").status_code == 404


def test_start_page_before_the_gate_passes_goes_back_to_the_gate(flow: tuple[Any, Lms, Browser]) -> None:
    """No LtiStartAssessment without a passed gate (a check that did not match is not a pass)."""
    env, lms, browser = flow
    platform = lms.env.platform
    assert isinstance(platform, ProctoringPlatform)
    hint, attempt = platform.start_proctoring(lms.client, user="sv-2026-0043")
    gate_url = browser.launch(hint, attempt.user).headers["Location"]
    next_url = parse_qs(urlsplit(gate_url).query)["next"][0]
    sent_before = len(platform.start_assessments)
    assert urlsplit(browser.client.get(next_url).headers["Location"]).path == "/player/identity/gate"
    _sign_in(browser, gate_url)
    fields = {"csrf": _csrf(browser.client.get(gate_url).get_data(as_text=True)), "target": GATE_TARGET,
              "next": next_url}
    assert browser.client.post("/player/identity/bind", data=fields).status_code == 303
    mismatch = browser.client.post("/player/identity/check", data={**fields, "photo": _photo(env, "C_img8.jpg")},
                                   content_type="multipart/form-data")
    assert mismatch.status_code == 303 and "outcome=no_match" in mismatch.headers["Location"]
    again = browser.client.get(next_url)
    assert again.status_code == 303 and urlsplit(again.headers["Location"]).path == "/player/identity/gate"
    assert len(platform.start_assessments) == sent_before
    with env.db.session() as db:
        row = db.scalar(select(LtiProctoringSession).where(LtiProctoringSession.registration_id == lms.registration_id))
        assert row is not None and row.state == "pending" and row.verified_subject is None
