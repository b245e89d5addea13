"""Proctoring Services 1.0 messages, tool side (https://www.imsglobal.org/spec/proctoring/v1p0):
LtiStartProctoring is validated and recorded, bad ones get an error page and store nothing, and the
LtiStartAssessment JWT the tool signs is accepted by the spec-written platform (its own JOSE
library, the tool's JWKS over HTTP). The full round trip through the identity gate is in
test_lti_proctoring_flow.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from lti_tool.launch_cache import MemoryCache
from lti_tool.proctoring import gate as proctoring_gate
from lti_tool.proctoring import messages as proctoring
from lti_tool.proctoring import session as proctoring_session
from lti_tool.storage import LtiProctoringSession
from player.session import KEY as PLAYER_SESSION
from tests.lti.conftest import Browser, Env, Lms, error_message, form
from tests.lti.lti_platform import LTI, REMOVE
from tests.lti.proctoring.platform_proctoring import AP, GATE_TARGET, ProctoringPlatform


def _rows(env: Env, lms: Lms) -> list[LtiProctoringSession]:
    with env.db.session() as session:
        return list(session.scalars(select(LtiProctoringSession)
                                    .where(LtiProctoringSession.registration_id == lms.registration_id)))


def _cached_launches(env: Env) -> int:
    cache = env.tool.cache
    assert isinstance(cache, MemoryCache)
    return sum(k.startswith("lti1p3-launch-") for k in cache.live_keys())


def _start(browser: Browser, lms: Lms, **kw: Any) -> tuple[Any, Any]:
    platform = lms.env.platform
    assert isinstance(platform, ProctoringPlatform)
    hint, attempt = platform.start_proctoring(lms.client, **kw)
    return browser.launch(hint, attempt.user), attempt


def test_start_proctoring_records_the_session_and_opens_the_gate(
        lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """Proctoring, Start Proctoring message: start_assessment_url, attempt_number, session_data and
    the acs claim are kept for the attempt; the learner is sent to the identity gate of this
    proctoring session. The link names a catalogue item (optional custom parameter target)."""
    session_data = 'csrf "ý" <b>&amp; {"x": [1, 2]}'
    response, attempt = _start(proctored_browser, proctored_lms, attempt_number=2, session_data=session_data,
                               acs_actions=["flag", "terminate"], custom={"proctoring_on_failed_check": "terminate"})

    assert response.status_code == 303, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert location.path == "/player/identity/gate"
    [row] = _rows(lti_env, proctored_lms)
    assert parse_qs(location.query) == {"proctoring": [row.public_id],
                                        "next": [f"/lti/proctoring/{row.public_id}/start"]}
    assert row.gate_target == GATE_TARGET
    assert (row.tenant_id, row.sub, row.resource_link_id, row.attempt_number) == (
        proctored_lms.tenant_id, attempt.user, attempt.resource_link_id, 2)
    assert row.session_data == session_data   # byte for byte, to be returned unchanged
    platform = proctored_lms.env.platform
    assert row.start_assessment_url == platform.start_assessment_url
    assert (row.acs_url, row.acs_actions, row.failure_action) == (platform.url + "/api/acs", ["flag", "terminate"],
                                                                  "terminate")
    assert row.state == "pending" and row.end_assessment_return is True and row.verified_subject is None
    assert proctored_browser.session()["lti_proctoring"] == [row.public_id]
    # The gate knows the learner from the session row (keyed by its id), not from the player's launch.
    assert PLAYER_SESSION not in proctored_browser.session()
    with lti_env.db.session() as db:
        key = proctoring_gate.gate_key(proctoring_session.get_session(db, row.public_id))
    launch = proctoring_gate.gate_launch(row)
    assert (launch.tenant_id, launch.issuer, launch.sub, launch.resource_link_id, launch.target) == (
        proctored_lms.tenant_id, platform.issuer, attempt.user, attempt.resource_link_id, GATE_TARGET)
    assert key.target == GATE_TARGET   # the catalogue item's gate, as in the player
    assert response.headers["Cache-Control"] == "no-store"


def test_start_proctoring_without_target_proctors_the_platforms_assessment(
        lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """Proctoring Services 1.0: the assessment is the platform's. A link with no custom target is
    proctored by its resource link; the custom parameters hocvu_min_level and hocvu_recheck_min/_max
    (LTI Core 1.3 §5.4.6) set the gate's level and recheck interval. The browser's player launch
    (another tab) is left as it was."""
    platform = proctored_lms.env.platform
    assert isinstance(platform, ProctoringPlatform)
    player_tab = proctored_browser.launch(platform.resource_link(proctored_lms.client, target=GATE_TARGET))
    assert player_tab.status_code in (302, 303), player_tab.get_data(as_text=True)
    player_launch = proctored_browser.session()[PLAYER_SESSION]

    response, attempt = _start(proctored_browser, proctored_lms, target=None, title="  Kiểm tra   giữa kỳ ",
                               custom={"hocvu_min_level": "1", "hocvu_recheck_min": "60",
                                       "hocvu_recheck_max": "120"})
    assert response.status_code == 303, response.get_data(as_text=True)
    [row] = _rows(lti_env, proctored_lms)
    location = urlsplit(response.headers["Location"])
    assert location.path == "/player/identity/gate"
    assert parse_qs(location.query) == {"proctoring": [row.public_id],
                                        "next": [f"/lti/proctoring/{row.public_id}/start"]}
    assert row.gate_target == "" and row.resource_link_id == attempt.resource_link_id
    session = proctored_browser.session()
    assert session[PLAYER_SESSION] == player_launch   # not clobbered
    assert session["lti_proctoring.gate"] == {row.public_id: {
        "locale": "vi", "title": "Kiểm tra giữa kỳ", "min_level": 1, "recheck": [60, 120]}}

    # The gate's key: a registration of this proctoring session and the resource link's activity.
    with lti_env.db.session() as db:
        key = proctoring_gate.gate_key(proctoring_session.get_session(db, row.public_id))
    iri = proctoring_gate.resource_link_activity_id(platform.issuer, row.deployment_id, attempt.resource_link_id)
    assert iri.startswith("https://hocvu.vn/xapi/lti/resource-link/") and len(iri) == 40 + 64
    assert (key.tenant_id, key.target) == (proctored_lms.tenant_id, iri)
    assert key.registration == proctoring_gate.session_registration(row)
    other = proctoring_gate.resource_link_activity_id(platform.issuer, row.deployment_id, "exam-other")
    assert other != iri

    # Defaults: level 2, no scheduled recheck.
    _start(proctored_browser, proctored_lms, target=None, resource_link_id="exam-defaults")
    defaults = proctored_browser.session()["lti_proctoring.gate"]
    [second] = [r for r in _rows(lti_env, proctored_lms) if r.resource_link_id == "exam-defaults"]
    assert defaults[second.public_id] == {"locale": "vi", "title": "Bài thi cuối khoá", "min_level": 2,
                                          "recheck": None}
    assert set(defaults) == {row.public_id, second.public_id}


def test_gate_of_a_proctoring_session_belongs_to_the_launched_browser(
        lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """The gate at /player/identity/gate?proctoring=<id> serves only the browser the platform
    launched (a copied link is refused, and reads nothing)."""
    assert _start(proctored_browser, proctored_lms, target=None)[0].status_code == 303
    [row] = _rows(lti_env, proctored_lms)
    stranger = lti_env.app.test_client().get("/player/identity/gate", query_string={"proctoring": row.public_id})
    assert stranger.status_code == 403


BAD: dict[str, tuple[dict[str, Any], int, str]] = {
    # name: (start_proctoring keyword arguments, status, words of the error message)
    "start_assessment_url missing (Start Proctoring message: REQUIRED)":
        ({"overrides": {AP + "claim/start_assessment_url": REMOVE}}, 400, "start_assessment_url"),
    "start_assessment_url not a URL": ({"overrides": {AP + "claim/start_assessment_url": "javascript:alert(1)"}},
                                       400, "start_assessment_url"),
    "start_assessment_url relative": ({"overrides": {AP + "claim/start_assessment_url": "/exam/start"}},
                                      400, "start_assessment_url"),
    "attempt_number missing (Start Proctoring message: REQUIRED)":
        ({"overrides": {AP + "claim/attempt_number": REMOVE}}, 400, "attempt_number"),
    "attempt_number a string": ({"attempt_number": "1"}, 400, "attempt_number"),
    "attempt_number zero": ({"attempt_number": 0}, 400, "attempt_number"),
    "session_data not a string": ({"session_data": {"csrf": 1}}, 400, "session_data"),
    "resource_link missing (LTI Core 1.3 §5.3.5)": ({"overrides": {LTI + "resource_link": REMOVE}}, 400,
                                                    "resource_link"),
    "acs url not a URL": ({"overrides": {AP + "claim/acs": {"assessment_control_url": "ftp://x", "actions": []}}},
                          400, "assessment_control_url"),
    "target naming nothing in the catalogue (LTI Core 1.3 §5.4.6 custom)":
        ({"target": "course/khong-co/module/x/quiz/y"}, 400, "names nothing in the catalogue"),
    "hocvu_min_level not a VNeID level (custom)": ({"target": None, "custom": {"hocvu_min_level": "3"}}, 400,
                                                   "hocvu_min_level"),
    "hocvu_min_level not a number (custom)": ({"target": None, "custom": {"hocvu_min_level": "hai"}}, 400,
                                              "hocvu_min_level"),
    "hocvu_recheck_min without _max (custom)": ({"target": None, "custom": {"hocvu_recheck_min": "60"}}, 400,
                                                "hocvu_recheck_max"),
    "hocvu_recheck_max below _min (custom)":
        ({"target": None, "custom": {"hocvu_recheck_min": "300", "hocvu_recheck_max": "60"}}, 400, "hocvu_recheck"),
    "hocvu_recheck_min below 30 s (custom)":
        ({"target": None, "custom": {"hocvu_recheck_min": "5", "hocvu_recheck_max": "60"}}, 400, "hocvu_recheck"),
    "hocvu_recheck not whole seconds (custom)":
        ({"target": None, "custom": {"hocvu_recheck_min": "1.5", "hocvu_recheck_max": "60"}}, 400, "hocvu_recheck"),
    "failure option unknown (LTI Core 1.3 §5.4.6 custom)":
        ({"custom": {"proctoring_on_failed_check": "ignore"}}, 400, "proctoring_on_failed_check"),
    "LtiStartAssessment sent to the tool (Proctoring §3.3: it goes tool → platform)":
        ({"overrides": {LTI + "message_type": "LtiStartAssessment"}}, 400, "sent by the proctoring tool"),
    "version not 1.3.0 (LTI Core 1.3 §5.3.1)": ({"overrides": {LTI + "version": "1.1"}}, 400, "version"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_start_proctoring_is_refused_and_nothing_is_stored(
        case: str, lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    kwargs, status, words = BAD[case]
    before = _cached_launches(lti_env)
    response, _ = _start(proctored_browser, proctored_lms, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "text/html" and response.headers["Cache-Control"] == "no-store"
    assert words in error_message(response)
    assert _rows(lti_env, proctored_lms) == []
    assert not {"lti_proctoring", "lti_proctoring.gate", PLAYER_SESSION} & set(proctored_browser.session())
    assert _cached_launches(lti_env) == before


def test_replayed_start_proctoring_is_refused(lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """Security Framework 1.0 §5.1.3 step 9: an id_token's nonce is used once."""
    platform = proctored_lms.env.platform
    assert isinstance(platform, ProctoringPlatform)
    hint, attempt = platform.start_proctoring(proctored_lms.client)
    fields = proctored_browser.authorize(hint, attempt.user)
    assert proctored_browser.post_launch(fields).status_code == 303
    [row] = _rows(lti_env, proctored_lms)
    updated = row.updated

    replay = proctored_browser.post_launch(fields)
    assert replay.status_code == 401 and "replayed" in error_message(replay)
    [again] = _rows(lti_env, proctored_lms)
    assert again.updated == updated


def test_a_new_start_for_the_same_attempt_reuses_the_session(
        lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """The learner closed the window and the platform starts proctoring again: one session per
    attempt, carrying the latest session_data (the one the platform will check)."""
    first, _ = _start(proctored_browser, proctored_lms, resource_link_id="exam-again", session_data="one")
    second, _ = _start(proctored_browser, proctored_lms, resource_link_id="exam-again", session_data="two")
    assert first.status_code == second.status_code == 303
    [row] = _rows(lti_env, proctored_lms)
    assert row.session_data == "two" and row.state == "pending"
    third, _ = _start(proctored_browser, proctored_lms, resource_link_id="exam-again", attempt_number=2)
    assert third.status_code == 303 and len(_rows(lti_env, proctored_lms)) == 2


def test_end_assessment_for_an_unknown_attempt_is_refused(
        lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """Proctoring §4.4: LtiEndAssessment names an attempt the tool proctored."""
    platform = proctored_lms.env.platform
    assert isinstance(platform, ProctoringPlatform)
    _, attempt = platform.start_proctoring(proctored_lms.client)   # planned, never launched
    response = proctored_browser.launch(platform.end_assessment(proctored_lms.client, attempt), attempt.user)
    assert response.status_code == 404 and "no proctoring session" in error_message(response)
    assert _rows(lti_env, proctored_lms) == []


def test_start_page_belongs_to_the_launched_browser(
        lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    assert _start(proctored_browser, proctored_lms)[0].status_code == 303
    [row] = _rows(lti_env, proctored_lms)
    stranger = lti_env.app.test_client().get(f"/lti/proctoring/{row.public_id}/start")
    assert stranger.status_code == 403 and "not started in this browser" in error_message(stranger)
    # The launched browser has not passed the gate yet: it is sent (back) there.
    own = proctored_browser.client.get(f"/lti/proctoring/{row.public_id}/start")
    assert own.status_code == 303 and urlsplit(own.headers["Location"]).path == "/player/identity/gate"
    assert _rows(lti_env, proctored_lms)[0].state == "pending"


def _person(name: str = "Nguyễn Thị Minh Khai") -> proctoring.VerifiedPerson:
    return proctoring.VerifiedPerson(full_name=name, subject="hocvu-subject:" + "ab" * 32,
                                     summary={"method": "vneid+face", "level": 2, "outcome": "verified"})


def test_start_assessment_jwt_is_accepted_by_the_platform(
        lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """Proctoring §3.3 / "Start Assessment message": signed with the tool's key (checked against
    /lti/jwks), iss = client_id, aud = platform, a fresh nonce, the same resource link and
    attempt_number, session_data returned exactly, verified_user without iss/sub (§4.3.2.1)."""
    session_data = 'tok "ý" <&> \\u00e9 ' + "x" * 200
    _start(proctored_browser, proctored_lms, attempt_number=3, session_data=session_data)
    platform = proctored_lms.env.platform
    assert isinstance(platform, ProctoringPlatform)
    tool = lti_env.tool
    with tool.session() as db:
        [row] = _rows(lti_env, proctored_lms)
        token = proctoring.start_assessment_jwt(row, tool.registration(db, row.registration_id), _person())
        claims = proctoring.start_assessment_claims(row, tool.registration(db, row.registration_id), _person())
    assert claims[proctoring.SESSION_DATA] == session_data
    assert claims[proctoring.VERIFIED_USER] == {
        "name": "Nguyễn Thị Minh Khai", "family_name": "Nguyễn", "middle_name": "Thị Minh", "given_name": "Khai",
        proctoring.PSEUDONYM_CLAIM: "hocvu-subject:" + "ab" * 32}

    answer = requests.post(platform.start_assessment_url, data={"JWT": token}, timeout=10)
    assert answer.status_code == 200, answer.text
    accepted = platform.start_assessments[-1]
    assert accepted[AP + "claim/session_data"] == session_data and accepted[AP + "claim/attempt_number"] == 3
    assert accepted["iss"] == proctored_lms.client.client_id and accepted["aud"] == platform.issuer
    assert accepted[AP + "claim/end_assessment_return"] is True

    # The same JWT again (its nonce), and one changed by a byte, are refused by the platform.
    assert requests.post(platform.start_assessment_url, data={"JWT": token}, timeout=10).status_code == 400
    head, body, sig = token.split(".")
    forged = ".".join([head, body, sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]])
    refused = requests.post(platform.start_assessment_url, data={"JWT": forged}, timeout=10)
    assert refused.status_code == 400 and "signature" in refused.text


def test_verified_user_never_carries_a_citizen_id_or_platform_subject() -> None:
    """§4.3.2.1: iss and sub SHOULD NOT be in verified_user; privacy: no citizen ID, no picture."""
    claim = proctoring.verified_user(_person("An"))
    assert claim == {"name": "An", "given_name": "An", proctoring.PSEUDONYM_CLAIM: "hocvu-subject:" + "ab" * 32}
    assert not {"sub", "iss", "picture"} & set(claim)


def test_peek_reads_only_the_message_type() -> None:
    assert proctoring.peek_message_type("not a jwt") is None
    assert proctoring.peek_message_type("a.!!!.c") is None


def test_start_assessment_form_is_auto_posted(lti_env: Env) -> None:
    with lti_env.app.test_request_context():
        from flask import render_template

        page = render_template("proctoring/start_assessment.html", start_assessment_url="https://lms.example/start",
                               jwt="a.b.c", monitor_url="/lti/proctoring/x/monitor")
    action, fields = form(page)
    assert action == "https://lms.example/start" and fields == {"JWT": "a.b.c"}
    assert 'window.open("/lti/proctoring/x/monitor"' in page


def test_end_assessment_closes_the_session(lti_env: Env, proctored_lms: Lms, proctored_browser: Browser) -> None:
    """Proctoring §4.4: LtiEndAssessment (asked for with end_assessment_return) closes the session;
    the end page links back to the platform (LTI Core 1.3 §5.4.4 launch_presentation.return_url)
    and shows an error the platform reports (errormsg), escaped."""
    _, attempt = _start(proctored_browser, proctored_lms)
    [row] = _rows(lti_env, proctored_lms)
    with lti_env.db.session() as session:
        proctoring_session.mark_started(session, proctoring_session.get_session(session, row.public_id), _person())
        session.commit()
    platform = proctored_lms.env.platform
    assert isinstance(platform, ProctoringPlatform)
    hint = platform.end_assessment(proctored_lms.client, attempt, return_url=platform.url + "/course/42",
                                   errormsg="<script>Hết giờ</script>")
    fields = proctored_browser.authorize(hint, attempt.user)
    page = proctored_browser.post_launch(fields)

    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert f'href="{platform.url}/course/42"' in text and "&lt;script&gt;Hết giờ&lt;/script&gt;" in text
    [closed] = _rows(lti_env, proctored_lms)
    assert closed.state == "ended" and closed.ended is not None
    assert proctored_browser.post_launch(fields).status_code == 401   # the same message again: replayed nonce

    # The platform sends it again (a new message): still ended, the same end time.
    again = proctored_browser.launch(platform.end_assessment(proctored_lms.client, attempt), attempt.user)
    assert again.status_code == 200 and _rows(lti_env, proctored_lms)[0].ended == closed.ended
    # An ended attempt cannot be proctored again, and its start page is gone.
    restart, _ = _start(proctored_browser, proctored_lms, resource_link_id=attempt.resource_link_id)
    assert restart.status_code == 409 and "already ended" in error_message(restart)
    assert proctored_browser.client.get(f"/lti/proctoring/{row.public_id}/start").status_code == 404
