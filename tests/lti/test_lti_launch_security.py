"""Launches that must be refused (1EdTech Security Framework 1.0 §5.1.3, LTI Core 1.3 §5.3):
each gets an HTML error page with its status, and nothing is stored — no launch in the session,
no launch in the cache."""

from __future__ import annotations

from typing import Any

import pytest

from lti_tool.launch_cache import MemoryCache
from player.session import KEY as PLAYER_SESSION
from tests.lti.conftest import Browser, Env, Lms, error_message
from tests.lti.lti_platform import LTI, REMOVE


def _cached_launches(env: Env) -> int:
    cache = env.tool.cache
    assert isinstance(cache, MemoryCache)
    return sum(k.startswith("lti1p3-launch-") for k in cache.live_keys())


def _refused(browser: Browser, env: Env, hint: str, status: int) -> str:
    before = _cached_launches(env)
    response = browser.launch(hint)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    assert PLAYER_SESSION not in browser.session()
    assert _cached_launches(env) == before
    return error_message(response)


CASES: dict[str, tuple[dict[str, Any], int, str]] = {
    # name: (platform.resource_link keyword arguments, status, words of the message)
    "missing kid": ({"header": {"kid": REMOVE}}, 401, "kid"),
    "unknown kid": ({"header": {"kid": "no-such-key"}}, 401, "public key"),
    "wrong signature": ({"sign_key": "rogue"}, 401, "signature"),
    "wrong aud": ({"overrides": {"aud": "someone-else"}}, 401, "registration"),
    "wrong iss": ({"overrides": {"iss": "https://evil.example"}}, 401, "registration"),
    "expired": ({"exp_delta": -600}, 401, "expired"),
    "unknown deployment": ({"overrides": {LTI + "deployment_id": "dep-unknown"}}, 403, "deployment"),
    "missing message type": ({"overrides": {LTI + "message_type": REMOVE}}, 400, "message type"),
    "wrong message type": ({"overrides": {LTI + "message_type": "LtiNoSuchRequest"}}, 400, "message type"),
    "missing roles": ({"overrides": {LTI + "roles": REMOVE}}, 400, "roles"),
    "wrong LTI version": ({"overrides": {LTI + "version": "1.1.0"}}, 400, "version"),
    "missing sub": ({"overrides": {"sub": REMOVE}}, 400, "sub"),
    "several audiences without azp": ({"overrides": {"aud": "__ours_and_another__"}}, 401, "azp"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_launch_is_refused(case: str, browser: Browser, lms: Lms, lti_env: Env) -> None:
    kwargs, status, words = CASES[case]
    # Copies, not the table's own dicts: a case filled in for one LMS must not carry its client id
    # into the next run of the case (the other database's).
    kwargs = dict(kwargs)
    if kwargs.get("sign_key") == "rogue":
        kwargs["sign_key"] = lti_env.platform.rogue_key
    overrides = kwargs["overrides"] = dict(kwargs.get("overrides") or {})
    if overrides.get("aud") == "__ours_and_another__":
        overrides["aud"] = [lms.client.client_id, "another-client"]
    hint = lti_env.platform.resource_link(lms.client, **kwargs)
    message = _refused(browser, lti_env, hint, status)
    assert words.lower() in message.lower(), message


def test_replayed_id_token_is_refused(browser: Browser, lms: Lms, lti_env: Env) -> None:
    fields = browser.authorize(lti_env.platform.resource_link(lms.client), "learner-1")
    assert browser.post_launch(fields).status_code == 303
    with browser.client.session_transaction() as sess:
        sess.clear()
    replay = browser.post_launch(fields)
    assert replay.status_code == 401
    # Said plainly, without accusing the learner: the same words an expired launch gets.
    assert "already used" in error_message(replay) and "Open the activity again" in error_message(replay)
    assert PLAYER_SESSION not in browser.session()


def test_state_must_match_the_login_cookie(browser: Browser, lms: Lms, lti_env: Env) -> None:
    fields = browser.authorize(lti_env.platform.resource_link(lms.client), "learner-1")
    other_browser = lti_env.app.test_client()   # no state cookie: a login CSRF attempt
    response = other_browser.post("/lti/launch", data=fields)
    assert response.status_code == 401
    assert "state cookie" in error_message(response)
    # The nonce was not spent by the refused attempt: the rightful browser can still complete.
    assert browser.post_launch(fields).status_code == 303


def test_missing_id_token(browser: Browser) -> None:
    response = browser.client.post("/lti/launch", data={"state": "state-x"})
    assert response.status_code == 400
    assert "id_token" in error_message(response)
