"""Resource-link launches end to end: OIDC login initiation, the platform's authorization
endpoint, the id_token launch, and the LaunchContext handed to the player."""

from __future__ import annotations

from lti_tool.launch_context import LaunchContext
from player.session import KEY as PLAYER_SESSION
from tests.lti.conftest import Browser, Env, Lms, error_message
from tests.lti.lti_platform import INSTRUCTOR, LTI


def test_resource_link_launch_stores_the_launch_and_opens_the_player(browser: Browser, lms: Lms) -> None:
    platform = lms.env.platform
    lineitem = platform.add_line_item("ctx-1", "Bài kiểm tra", 10)
    hint = platform.resource_link(lms.client, user="learner-42", lineitem=lineitem, locale="en-US",
                                  overrides={LTI + "custom": {"target": "course/ky-nang-so-co-ban/quiz/final",
                                                              "extra": "1"}})
    response = browser.launch(hint, "learner-42")

    assert response.status_code == 303
    assert response.headers["Location"] == "/player/"
    context = browser.lti_launch()
    assert context == LaunchContext(
        tenant_id=lms.tenant_id, registration_id=lms.registration_id, issuer=platform.issuer,
        deployment_id=lms.client.deployment_id, sub="learner-42", name="Người học learner-42",
        roles=("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",), resource_link_id="rl-ctx-1",
        target="course/ky-nang-so-co-ban/quiz/final", locale="en", context_id="ctx-1",
        context_title="Kỹ năng số cơ bản", ags_lineitem=lineitem,
        ags_lineitems=f"{platform.url}/api/contexts/ctx-1/lineitems", ags_scopes=context.ags_scopes,
        nrps_url=f"{platform.url}/api/contexts/ctx-1/memberships",
        custom={"target": "course/ky-nang-so-co-ban/quiz/final", "extra": "1"})
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in context.ags_scopes
    assert not context.is_instructor


def test_login_by_get_and_instructor_role(browser: Browser, lms: Lms) -> None:
    hint = lms.env.platform.resource_link(lms.client, user="teacher-7", roles=INSTRUCTOR)
    params = browser.login_params(hint, "teacher-7")
    first = browser.client.get("/lti/login", query_string=params)
    assert first.status_code == 200 and "lti1p3-new-tab-link" in first.get_data(as_text=True)

    response = browser.launch(hint, "teacher-7")
    assert response.status_code == 303
    context = browser.lti_launch()
    assert context.is_instructor and context.sub == "teacher-7" and context.locale == "vi"
    assert context.ags_lineitem is None


def test_launch_over_https_keys_state_by_the_session_cookie(lti_env: Env, lms: Lms) -> None:
    browser = Browser(lti_env.app.test_client(), lti_env.platform, lms, secure=True)
    hint = lti_env.platform.resource_link(lms.client)
    redirect = browser.login(hint, "learner-1")
    cookies = redirect.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("lti1p3-session-id="))
    assert "Secure" in session_cookie and "SameSite=None" in session_cookie and "HttpOnly" in session_cookie
    fields = browser.authorize(hint, "learner-1")

    stranger = lti_env.app.test_client()   # the id_token without the browser's cookies
    refused = stranger.post("/lti/launch", data=fields, base_url="https://localhost")
    assert refused.status_code == 401
    assert browser.post_launch(fields).status_code == 303


def test_link_without_target_is_refused(browser: Browser, lms: Lms) -> None:
    hint = lms.env.platform.resource_link(lms.client, target=None)
    response = browser.launch(hint)
    assert response.status_code == 400
    assert "target" in error_message(response)
    assert PLAYER_SESSION not in browser.session()


def test_login_initiation_errors(browser: Browser, lms: Lms) -> None:
    params = browser.login_params("x", "u")
    params.pop("iss")
    missing = browser.client.post("/lti/login", data={**params, "lti1p3_new_window": "1"})
    assert missing.status_code == 400 and missing.mimetype == "text/html"

    unknown = browser.client.post("/lti/login", data={**browser.login_params("x", "u"), "iss": "https://nobody.example",
                                                      "lti1p3_new_window": "1"})
    assert unknown.status_code == 401
    assert "lti1p3-state" not in (unknown.headers.get("Set-Cookie") or "")


def test_jwks_publishes_the_tool_key(lti_env: Env) -> None:
    client = lti_env.app.test_client()
    keys = client.get("/lti/jwks").get_json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" and k["kid"] for k in keys)
    assert all("d" not in k and "p" not in k for k in keys)  # never a private member
