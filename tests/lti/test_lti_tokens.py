"""Access tokens for the platform's services (1EdTech Security Framework 1.0 §4.1, client-credentials
grant with a JWT client assertion): reused until ``expires_in`` less a margin, kept sealed, dropped
and fetched once more on 401/403 (RFC 6750 §3.1); a token the platform keeps refusing leaves the
score waiting, with the reason, instead of failing it."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from flask import Response

from lti_tool.ags import post_score
from lti_tool.launch_cache import MemoryCache
from lti_tool.launch_context import LaunchContext
from tests.lti.conftest import Browser, Env, Lms


def _graded(browser: Browser, lms: Lms) -> tuple[LaunchContext, str]:
    platform = lms.env.platform
    context_id = f"ctx-{uuid.uuid4().hex[:6]}"
    item = platform.add_line_item(context_id, "Bài kiểm tra", 10)
    user = f"learner-{uuid.uuid4().hex[:6]}"
    assert browser.launch(platform.resource_link(lms.client, user=user, context_id=context_id, lineitem=item),
                          user).status_code == 303
    return browser.lti_launch(), item.rsplit("/", 1)[1]


def _token_requests(env: Env, lms: Lms) -> int:
    return sum(lms.client.client_id in a for a in map(_issuer, env.platform.assertions))


def _issuer(assertion: str) -> str:
    from tests.lti.lti_platform import _unverified_claims

    return str(_unverified_claims(assertion).get("iss"))


def test_one_token_for_many_scores_kept_sealed(browser: Browser, lms: Lms, lti_env: Env) -> None:
    """Security Framework 1.0 §4.1: a token is reused while valid (the platform gives expires_in
    3600 s); what the cache holds is not the bearer token itself."""
    launch, _ = _graded(browser, lms)
    for given in (3, 5, 8):
        outcome = post_score(launch, given, 10, "Completed", "FullyGraded", launch.sub, tool=lti_env.tool)
        assert outcome.status == "delivered"
    assert _token_requests(lti_env, lms) == 1
    cache = lti_env.tool.cache
    assert isinstance(cache, MemoryCache)
    stored = [cache.get(k) for k in cache.live_keys() if k.startswith(f"lti1p3-token-{lms.registration_id}-")]
    assert len(stored) == 1
    assert not any(stored[0] == token or token in str(stored[0]) for token in lti_env.platform.tokens)


def test_a_token_expiring_within_the_margin_is_not_reused(browser: Browser, lms: Lms, lti_env: Env) -> None:
    launch, _ = _graded(browser, lms)
    tool = dataclasses.replace(lti_env.tool, token_margin=3600)   # 3600 - 3600: never worth keeping
    for given in (1, 2):
        assert post_score(launch, given, 10, "Completed", "FullyGraded", launch.sub, tool=tool).status == "delivered"
    assert _token_requests(lti_env, lms) == 2


def test_revoked_token_is_replaced_once(browser: Browser, lms: Lms, lti_env: Env) -> None:
    """RFC 6750 §3.1: 401 invalid_token for a token the platform no longer knows: one new token."""
    launch, item = _graded(browser, lms)
    assert post_score(launch, 4, 10, "Completed", "FullyGraded", launch.sub, tool=lti_env.tool).status == "delivered"
    lti_env.platform.tokens.clear()   # the platform forgot every token it issued
    assert post_score(launch, 6, 10, "Completed", "FullyGraded", launch.sub, tool=lti_env.tool).status == "delivered"
    assert _token_requests(lti_env, lms) == 2
    assert lti_env.platform.results[item][launch.sub]["scoreGiven"] == 6.0


def test_a_token_refused_again_leaves_the_score_waiting(browser: Browser, lms: Lms, lti_env: Env,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """403 to the cached token and to the fresh one: a token problem, not the score's. Pending, with
    the reason; never more than one fresh token per attempt."""
    launch, _ = _graded(browser, lms)
    monkeypatch.setattr(lti_env.platform, "_score", lambda item_id: Response("forbidden", status=403))
    outcome = post_score(launch, 4, 10, "Completed", "FullyGraded", launch.sub, tool=lti_env.tool)
    assert outcome.status == "pending"
    assert outcome.error == "access token: the platform refused a freshly issued access token: HTTP 403"
    assert _token_requests(lti_env, lms) == 2
