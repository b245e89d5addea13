"""Nonce/state/launch storage: in memory by default, Redis when HOCVU_REDIS_URL is set."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest

from lti_tool.launch_cache import MemoryCache, RedisCache
from player.session import KEY as PLAYER_SESSION
from tests.lti.conftest import Browser, Env, build_app, register_lms

REDIS_URL = os.environ.get("HOCVU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_reason() -> str | None:
    try:
        RedisCache(REDIS_URL).ping()
        return None
    except Exception as exc:
        return f"no Redis answers at {REDIS_URL} ({type(exc).__name__})"


@pytest.fixture(scope="module")
def redis_url() -> str:
    reason = _redis_reason()
    if reason:
        pytest.skip(reason)
    return REDIS_URL


def test_memory_cache_take_once_and_expiry() -> None:
    cache = MemoryCache(max_entries=3)
    cache.set("nonce", True, 60)
    assert cache.get("nonce") is True
    assert cache.take("nonce") is True and cache.take("nonce") is False
    cache.set("short", "x", 1)
    time.sleep(1.05)
    assert cache.get("short") is None and cache.take("short") is False
    for i in range(5):
        cache.set(f"k{i}", i)
    assert len(cache.live_keys()) <= 3 and cache.get("k4") == 4


def test_redis_cache(redis_url: str) -> None:
    cache = RedisCache(redis_url, prefix=f"hocvu-test:{uuid.uuid4().hex}:")
    cache.set("launch", {"sub": "a", "roles": ["x"]}, 60)
    assert cache.get("launch") == {"sub": "a", "roles": ["x"]}
    assert cache.take("launch") is True and cache.take("launch") is False
    cache.set("short", True, 1)
    time.sleep(1.1)
    assert cache.get("short") is None


@pytest.fixture(scope="module")
def redis_env(redis_url: str, lti_env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    app, server, url = build_app(tmp_path_factory.mktemp("lti-redis"), redis_url=redis_url)
    yield Env(app, lti_env.platform, url)
    server.shutdown()


def test_launch_with_redis_state(redis_env: Env) -> None:
    assert isinstance(redis_env.tool.cache, RedisCache)
    lms = register_lms(redis_env)
    browser = Browser(redis_env.app.test_client(), redis_env.platform, lms)
    fields = browser.authorize(redis_env.platform.resource_link(lms.client), "learner-1")
    assert browser.post_launch(fields).status_code == 303
    assert browser.session()[PLAYER_SESSION]["tenant_id"] == lms.tenant_id
    assert browser.post_launch(fields).status_code == 401   # the nonce was taken in Redis
