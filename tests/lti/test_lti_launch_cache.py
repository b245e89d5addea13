"""Nonce/launch/token storage (lti_tool.launch_cache): the database by default, Redis when
HOCVU_REDIS_URL is set, one-process memory for a single-process test server. Each takes a key once
(1EdTech Security Framework 1.0 §5.1.3 step 9), honours expiry, and an unreachable store is the hub's
503, never a learner's "replayed launch"."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from hocvu import db as dbops
from lrs.storage import Database
from lti_tool.errors import LaunchStateUnavailable
from lti_tool.launch_cache import DbCache, MemoryCache, RedisCache, make_cache
from lti_tool.storage import LtiLaunchState
from player.session import KEY as PLAYER_SESSION
from tests.lti.conftest import Browser, Env, build_app, error_message, register_lms

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


def test_database_cache_is_the_default_and_takes_once(app: Flask) -> None:
    """DESIGN.md, Scale: without Redis the launch state is in the database every process shares.
    Security Framework 1.0 §5.1.3 step 9: of 16 concurrent takes of one nonce exactly one wins."""
    db: Database = app.extensions["hocvu.db"]
    cache = make_cache(None, db)
    assert isinstance(cache, DbCache)
    key = f"lti1p3-nonce-{uuid.uuid4().hex}"
    cache.set(key, True, 600)
    assert cache.get(key) is True
    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(lambda _: cache.take(key), range(16))) == [False] * 15 + [True]
    assert cache.get(key) is None
    cache.set(key, {"claims": ["a", "b"]}, 600)
    cache.set(key, {"claims": ["c"]}, 600)   # set again: replaced, not duplicated
    assert cache.get(key) == {"claims": ["c"]}
    cache.delete(key)
    assert cache.get(key) is None


def test_database_cache_expires_and_sweeps(app: Flask) -> None:
    db: Database = app.extensions["hocvu.db"]
    now = datetime.now(UTC)
    clock = [now]
    cache = DbCache(db, clock=lambda: clock[0])
    key = f"lti1p3-nonce-{uuid.uuid4().hex}"
    cache.set(key, True, 600)
    clock[0] = now + timedelta(seconds=601)
    assert cache.get(key) is None and cache.take(key) is False   # expired: no longer there to take
    cache.set(f"other-{uuid.uuid4().hex}", True, 10)
    assert cache.sweep() >= 1
    with db.session() as session:
        left = session.scalar(select(func.count()).select_from(LtiLaunchState).where(
            LtiLaunchState.expires <= clock[0]))
    assert left == 0


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
    # On lti_env's database (SQLite or PostgreSQL, as its parameter says): a second hub on it, as a
    # second web process would be.
    app, server, url = build_app(tmp_path_factory.mktemp("lti-redis"), redis_url=redis_url, db_url=lti_env.db.url)
    yield Env(app, lti_env.platform, url)
    server.shutdown()
    app.extensions["hocvu.db"].dispose()


def test_launch_with_redis_state(redis_env: Env) -> None:
    assert isinstance(redis_env.tool.cache, RedisCache)
    lms = register_lms(redis_env)
    browser = Browser(redis_env.app.test_client(), redis_env.platform, lms)
    fields = browser.authorize(redis_env.platform.resource_link(lms.client), "learner-1")
    assert browser.post_launch(fields).status_code == 303
    assert browser.session()[PLAYER_SESSION]["tenant_id"] == lms.tenant_id
    assert browser.post_launch(fields).status_code == 401   # the nonce was taken in Redis


@pytest.fixture(scope="module")
def db_env(lti_env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """The hub with its production default: launch state in its database."""
    app, server, url = build_app(tmp_path_factory.mktemp("lti-db-state"), db_url=lti_env.db.url)
    yield Env(app, lti_env.platform, url)
    server.shutdown()
    app.extensions["hocvu.db"].dispose()


def test_launch_with_database_state(db_env: Env) -> None:
    """Security Framework 1.0 §5.1.3 step 9 with the nonce in the database: used once."""
    assert isinstance(db_env.tool.cache, DbCache)
    lms = register_lms(db_env)
    browser = Browser(db_env.app.test_client(), db_env.platform, lms)
    fields = browser.authorize(db_env.platform.resource_link(lms.client), "learner-1")
    assert browser.post_launch(fields).status_code == 303
    replay = browser.post_launch(fields)
    assert replay.status_code == 401 and "already used" in error_message(replay)


def test_an_unreachable_store_is_the_hubs_503_not_the_learners_fault(db_env: Env) -> None:
    """The launch store does not answer: the learner is told to try again (503), not that their
    launch was replayed (401), and the error is logged for the operator."""
    lms = register_lms(db_env)
    browser = Browser(db_env.app.test_client(), db_env.platform, lms)
    tool = db_env.tool
    working = tool.cache
    dead = Database("postgresql://hocvu@127.0.0.1:9/nowhere", connect_args={"connect_timeout": 1})
    tool.cache = DbCache(dead)
    try:
        params = browser.login_params(db_env.platform.resource_link(lms.client), "learner-1")
        answer = browser.client.get("/lti/login", query_string={**params, "lti1p3_new_window": "1"})
        assert answer.status_code == 503
        assert "try again" in error_message(answer) and "replay" not in error_message(answer)
        with pytest.raises(LaunchStateUnavailable):
            tool.cache.take("anything")
    finally:
        tool.cache = working
        dead.dispose()


def test_migrated_database_has_the_launch_state_table(tmp_path: object) -> None:
    database = Database(f"sqlite:///{tmp_path}/fresh.db")
    dbops.upgrade(database)
    cache = DbCache(database)
    cache.set("k", [1, 2], 5)
    assert cache.get("k") == [1, 2]
    database.dispose()
