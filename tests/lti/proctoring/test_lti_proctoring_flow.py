"""Proctoring Services 1.0 end to end (https://www.imsglobal.org/spec/proctoring/v1p0), over real HTTP
with the spec-written platform (tests/lti/platform_proctoring.py) and the real identity gate: the
demo VNeID provider, the real face model (Dlib) and photos from ../shared/faces.

LtiStartProctoring → VNeID sign-in, link, face check at /player/identity/gate → LtiStartAssessment
auto-POSTed to the platform, which verifies it with the tool's JWKS → a repeated face check that
fails → ACS "flag" at the platform → LtiEndAssessment closes the session. Both for the platform's
own assessment (no custom target: the usual case, an LMS quiz) and for a link naming a catalogue item."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from identity.gate.face import CHECK_TYPE, CHECK_VERB, EXT_FACE_CHECK
from identity.stamp import STAMP_IRI, UNVERIFIED, VERIFIED
from identity.storage import AttemptAssurance
from lti_tool.proctoring import gate as proctoring_gate
from lti_tool.proctoring import messages as proctoring
from lti_tool.proctoring import session as proctoring_session
from lti_tool.storage import LtiProctoringControl, LtiProctoringSession
from player.session import KEY as PLAYER_SESSION
from schemas.cmi5 import EXT_SESSION
from tests.conftest import Xapi, new_credential
from tests.identity.gate.gate_support import answer_challenge, jwcrypto_payload, signed_statements
from tests.lti.conftest import Browser, Env, Lms, form, register_lms
from tests.lti.proctoring.platform_proctoring import ACS_SCOPE, AP, GATE_TARGET, ProctoringPlatform

CITIZEN, CITIZEN_NAME = "demo-0001", "Nguyễn Văn An"   # enrolled with a burst of A_img2.jpg by identity_env
LEVEL_1_CITIZEN = "demo-0003"                          # identification level 1


@pytest.fixture
def flow(identity_env: Any, proctoring_platform: ProctoringPlatform) -> tuple[Any, Lms, Browser]:
    lms = register_lms(Env(identity_env.app, proctoring_platform, identity_env.base))
    return identity_env, lms, Browser(identity_env.app.test_client(), proctoring_platform, lms)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def _gate_fields(page: str) -> dict[str, str]:
    """The hidden fields of the gate's forms, as the browser posts them (the gate names itself)."""
    _, fields = form(page)
    return {k: v for k, v in fields.items() if k in ("csrf", "proctoring", "target", "next")}


def _sign_in(browser: Browser, next_url: str, citizen: str = CITIZEN) -> None:
    """VNeID sign-in with the built-in demo provider (authorization code + PKCE, on loopback)."""
    client = browser.client
    start = client.get("/identity/login", query_string={"next": next_url})
    assert start.status_code == 302, start.get_data(as_text=True)
    picked = client.post(start.headers["Location"], data={"citizen": citizen})
    assert picked.status_code == 302, picked.get_data(as_text=True)
    done = client.get(picked.headers["Location"])
    assert done.status_code == 303 and done.headers["Location"] == next_url, done.get_data(as_text=True)


def _gate_check(browser: Any, env: Any, fields: dict[str, str], photo: str) -> Any:
    """The gate's check as identity.js makes it: a challenge, then a burst of ``photo`` answering it."""
    return answer_challenge(browser.client, env, photo, challenge_url="/player/identity/challenge",
                            asked={**fields, "purpose": "check"}, url="/player/identity/check", data=fields)


def _monitor_check(browser: Any, env: Any, public_id: str, csrf: str, photo: str) -> Any:
    """A repeated check from the monitoring window: its own challenge, then the burst (JSON back)."""
    return answer_challenge(browser.client, env, photo, challenge_url=f"/lti/proctoring/{public_id}/challenge",
                            asked={"csrf": csrf}, url=f"/lti/proctoring/{public_id}/check", data={"csrf": csrf},
                            headers={"Accept": "application/json"})


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
    fields = _gate_fields(page)
    assert fields == {"csrf": _csrf(page), "proctoring": parse_qs(urlsplit(gate_url).query)["proctoring"][0],
                      "next": next_url}
    assert browser.client.post("/player/identity/bind", data=fields).status_code == 303
    checked = _gate_check(browser, env, fields, "A_img2.jpg")
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
    failed = _monitor_check(browser, env, public_id, _csrf(monitor.get_data(as_text=True)), "B_img26.jpg")
    assert failed.status_code == 200, failed.get_data(as_text=True)
    answer = failed.get_json()
    assert answer["matched"] is False and answer["acs"] == "sent" and answer["recheck_in"] is not None
    [control] = attempt.controls
    assert control["action"] == "flag" and control["reason_code"] == "face_check_failed"
    assert control["user"] == {"sub": attempt.user} and control["attempt_number"] == 1
    assert len(platform.tokens) == tokens_before + 1
    assert list(platform.tokens.values())[-1] == (lms.client.client_id, {ACS_SCOPE})
    with env.db.session() as db:
        # An explicit ON: the model has two keys to the session (PostgreSQL's composite, SQLite's plain).
        [recorded] = db.scalars(select(LtiProctoringControl).join(
            LtiProctoringSession, (LtiProctoringSession.tenant_id == LtiProctoringControl.tenant_id)
            & (LtiProctoringSession.id == LtiProctoringControl.session_id)).where(
            LtiProctoringSession.public_id == public_id))
        assert (recorded.action, recorded.outcome, recorded.platform_status) == ("flag", "sent", "running")
        gate_row = db.scalar(select(AttemptAssurance).where(AttemptAssurance.session_id == row.assurance_session_id))
        assert gate_row is not None and gate_row.failed_at is not None
        from identity.gate.domain import stamp_for

        assert stamp_for(gate_row)["outcome"] == UNVERIFIED   # never silently verified again

    # 5. End Assessment message (§4.4) → the session closes; the monitor has nothing more to do.
    ended = browser.launch(platform.end_assessment(lms.client, attempt), attempt.user)
    assert ended.status_code == 200 and 'id="proctoring-return"' in ended.get_data(as_text=True)
    with env.db.session() as db:
        assert proctoring_session.get_session(db, public_id).state == "ended"
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
    fields = _gate_fields(browser.client.get(gate_url).get_data(as_text=True))
    assert browser.client.post("/player/identity/bind", data=fields).status_code == 303
    mismatch = _gate_check(browser, env, fields, "C_img8.jpg")
    assert mismatch.status_code == 303 and "outcome=no_match" in mismatch.headers["Location"]
    again = browser.client.get(next_url)
    assert again.status_code == 303 and urlsplit(again.headers["Location"]).path == "/player/identity/gate"
    assert len(platform.start_assessments) == sent_before
    with env.db.session() as db:
        row = db.scalar(select(LtiProctoringSession).where(LtiProctoringSession.registration_id == lms.registration_id))
        assert row is not None and row.state == "pending" and row.verified_subject is None


def test_round_trip_for_the_platforms_own_assessment_without_target(flow: tuple[Any, Lms, Browser]) -> None:
    """Proctoring Services 1.0 as an LMS administrator sets it up for their own quiz: no custom
    target. Launch → gate for the resource link → LtiStartAssessment verified by the platform → a
    repeated check that fails → ACS flag → LtiEndAssessment. The checks are statements in the
    tenant's LRS about the resource link's activity (type .../activities/assessment, named by the
    link's title), with the proctoring session's registration, stamped and signed by the hub
    (xAPI 1.0.3 Part Two §2.6 signed statements, checked with jwcrypto and the certificate alone)."""
    env, lms, browser = flow
    platform = lms.env.platform
    assert isinstance(platform, ProctoringPlatform)
    # Another tab: the learner's course player, launched from the same LMS.
    assert browser.launch(platform.resource_link(lms.client, user="sv-2026-0050", target=GATE_TARGET),
                          "sv-2026-0050").status_code in (302, 303)
    player_launch = browser.session()[PLAYER_SESSION]

    # 1. Start Proctoring, no target; the link asks for rechecks every 60-120 s.
    hint, attempt = platform.start_proctoring(lms.client, user="sv-2026-0050", target=None,
                                              title="Kiểm tra cuối kỳ (Moodle)",
                                              custom={"hocvu_recheck_min": "60", "hocvu_recheck_max": "120"})
    launched = browser.launch(hint, attempt.user)
    assert launched.status_code == 303, launched.get_data(as_text=True)
    gate_url = launched.headers["Location"]
    query = parse_qs(urlsplit(gate_url).query)
    public_id, next_url = query["proctoring"][0], query["next"][0]
    assert "target" not in query and browser.session()[PLAYER_SESSION] == player_launch

    # 2. The gate, for the platform's assessment (its title on the page), level 2 by default.
    _sign_in(browser, gate_url)
    page = browser.client.get(gate_url).get_data(as_text=True)
    assert 'data-step="bind"' in page and "Kiểm tra cuối kỳ (Moodle)" in page
    fields = _gate_fields(page)
    assert fields["proctoring"] == public_id and "target" not in fields
    bound = browser.client.post("/player/identity/bind", data=fields)
    assert bound.status_code == 303 and "proctoring=" + public_id in bound.headers["Location"]
    assert 'data-step="check"' in browser.client.get(bound.headers["Location"]).get_data(as_text=True)
    checked = _gate_check(browser, env, fields, "A_img2.jpg")
    assert checked.status_code == 303 and checked.headers["Location"] == next_url, checked.get_data(as_text=True)

    # 3. LtiStartAssessment (§3.3), verified by the platform with the tool's JWKS.
    start = browser.client.get(next_url)
    assert start.status_code == 200, start.get_data(as_text=True)
    action, jwt_fields = form(start.get_data(as_text=True))
    accepted = requests.post(action, data=jwt_fields, timeout=10)
    assert accepted.status_code == 200, accepted.text
    claims = platform.start_assessments[-1]
    assert claims[AP + "claim/verified_user"]["name"] == CITIZEN_NAME and attempt.status == "running"
    assert claims[proctoring.lti.RESOURCE_LINK] == {"id": attempt.resource_link_id}

    iri = proctoring_gate.resource_link_activity_id(platform.issuer, lms.client.deployment_id,
                                                    attempt.resource_link_id)
    with env.db.session() as db:
        row = proctoring_session.get_session(db, public_id)
        assert row.state == "started" and row.gate_target == ""
        registration = proctoring_gate.session_registration(row)
        gate_row = db.scalar(select(AttemptAssurance).where(AttemptAssurance.session_id == row.assurance_session_id))
        assert gate_row is not None and gate_row.pending_key is None
        assert (gate_row.target, gate_row.registration, gate_row.min_level) == (iri, registration, 2)
        assert (gate_row.recheck_min, gate_row.recheck_max) == (60, 120) and gate_row.recheck_due is not None
        session_id = gate_row.session_id

    # 4. A repeated check with someone else's face → ACS "flag".
    monitor = browser.client.get(f"/lti/proctoring/{public_id}/monitor")
    assert monitor.status_code == 200
    failed = _monitor_check(browser, env, public_id, _csrf(monitor.get_data(as_text=True)), "B_img26.jpg")
    assert failed.status_code == 200, failed.get_data(as_text=True)
    assert failed.get_json()["matched"] is False and failed.get_json()["acs"] == "sent"
    [control] = attempt.controls
    assert (control["action"], control["reason_code"]) == ("flag", "face_check_failed")
    assert control["resource_link"] == {"id": attempt.resource_link_id} and control["attempt_number"] == 1

    # 5. LtiEndAssessment (§4.4) closes the session.
    ended = browser.launch(platform.end_assessment(lms.client, attempt), attempt.user)
    assert ended.status_code == 200
    with env.db.session() as db:
        assert proctoring_session.get_session(db, public_id).state == "ended"
    assert browser.session()[PLAYER_SESSION] == player_launch   # the player's tab never lost its launch

    # The check statements, in the tenant's LRS: the resource link's activity, stamped and signed.
    _, key, secret = new_credential(env.app, ["all"], lms.tenant_slug)
    got = signed_statements(Xapi(env.app.test_client(), key, secret), registration)
    assert [st["verb"]["id"] for st, _ in got] == [CHECK_VERB, CHECK_VERB]
    parent = {"objectType": "Activity", "id": iri, "definition": {
        "type": "http://adlnet.gov/expapi/activities/assessment", "name": {"vi": "Kiểm tra cuối kỳ (Moodle)"}}}
    cert = env.material.cert_pem
    for (st, token), (kind, success, outcome) in zip(got, [("initial", True, VERIFIED),
                                                           ("recheck", False, UNVERIFIED)], strict=True):
        assert st["object"]["id"] == iri + "/identity-check"
        assert st["object"]["definition"]["type"] == CHECK_TYPE
        assert st["context"]["contextActivities"]["parent"] == [parent]
        assert st["context"]["registration"] == registration
        assert st["context"]["extensions"][EXT_SESSION] == session_id
        assert st["actor"]["account"] == {"homePage": platform.issuer, "name": attempt.user}
        assert st["result"]["success"] is success and st["result"]["extensions"][EXT_FACE_CHECK]["kind"] == kind
        assert st["context"]["extensions"][STAMP_IRI]["outcome"] == outcome
        assert token is not None
        signed = jwcrypto_payload(token, cert)
        assert signed["object"] == st["object"] and signed["context"]["extensions"][STAMP_IRI] == \
            st["context"]["extensions"][STAMP_IRI]
    assert "003090000001" not in json.dumps([st for st, _ in got])


@pytest.mark.parametrize(("custom", "step", "status"), [({}, "level", 403), ({"hocvu_min_level": "1"}, "bind", 200)])
def test_min_level_of_the_platforms_assessment(flow: tuple[Any, Lms, Browser], custom: dict[str, str], step: str,
                                               status: int) -> None:
    """custom hocvu_min_level (LTI Core 1.3 §5.4.6), default 2: a level-1 VNeID account stops at the
    level step unless the link asks for level 1 only."""
    _, lms, browser = flow
    platform = lms.env.platform
    assert isinstance(platform, ProctoringPlatform)
    hint, attempt = platform.start_proctoring(lms.client, user="sv-2026-0051", target=None, custom=custom)
    gate_url = browser.launch(hint, attempt.user).headers["Location"]
    _sign_in(browser, gate_url, LEVEL_1_CITIZEN)
    page = browser.client.get(gate_url)
    assert page.status_code == status and f'data-step="{step}"' in page.get_data(as_text=True)
