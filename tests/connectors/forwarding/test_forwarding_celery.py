"""Forwarding as Celery tasks: eager in-process without a broker, and a real Celery worker on the
Redis at 127.0.0.1:6379 when one answers — with the target stopped and restarted mid-stream."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from connectors.forwarding.tasks import DELIVER, KICK, RUNTIMES, Forwarder
from tests.connectors.forwarding.forwarding_support import LrsServer, Source, fast_config, holdings, stmt, voiding

REDIS_URL = "redis://127.0.0.1:6379/15"  # a database of its own; queue names are per test run


def _redis_reason() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
        return None
    except redis.RedisError as exc:
        return f"no Redis answers at {REDIS_URL} ({type(exc).__name__}); the worker test needs a broker"


def _wait_until_equal(source: Source, server: LrsServer, tenant: int, forwarder: Forwarder,
                      timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while holdings(server.db, tenant) != holdings(source.db, source.tenant_id):
        assert time.monotonic() < deadline, "the target never caught up with the source"
        forwarder.kick()
        time.sleep(0.1)


def test_eager_mode_delivers_in_process(source: Source, target_lrs: LrsServer) -> None:
    """With no broker the kick is a round run in the web process, called directly; the eager app's
    kick task, applied through Celery, runs the same round."""
    forwarder = Forwarder(source.db, fast_config())  # no broker: eager
    assert forwarder.celery.conf.task_always_eager and {KICK, DELIVER} <= set(forwarder.celery.tasks)
    _, target_tenant = source.add_target(target_lrs)
    source.post([stmt(n) for n in range(5)])
    result = forwarder.kick()
    assert result["delivered"] == 5 and result["more"] is False
    assert holdings(target_lrs.db, target_tenant) == holdings(source.db, source.tenant_id)
    # The eager app's kick task, applied through Celery, runs the same round: nothing left to send.
    source.post([stmt(n) for n in range(5, 8)])
    through_celery = forwarder.celery.tasks[KICK].apply(kwargs={"runtime": forwarder.name}).get()
    assert through_celery["delivered"] == 3 and forwarder.kick()["delivered"] == 0
    assert holdings(target_lrs.db, target_tenant) == holdings(source.db, source.tenant_id)
    RUNTIMES.pop(forwarder.name)


def test_deliver_message_of_an_older_release_still_delivers(source: Source, target_lrs: LrsServer) -> None:
    """A deliver message queued before targets travelled as (tenant_id, id) carries the id alone:
    during a rolling deploy it still delivers (its tenant looked up); for a removed target it is a no-op."""
    forwarder = Forwarder(source.db, fast_config())
    target_id, target_tenant = source.add_target(target_lrs)
    source.post([stmt(n) for n in range(4)])
    deliver = forwarder.celery.tasks[DELIVER]
    assert deliver.apply(args=(target_id,), kwargs={"runtime": forwarder.name}).get()["delivered"] == 4
    assert holdings(target_lrs.db, target_tenant) == holdings(source.db, source.tenant_id)
    assert deliver.apply(args=(target_id + 1000,), kwargs={"runtime": forwarder.name}).get()["skipped"] == "gone"
    RUNTIMES.pop(forwarder.name)


@pytest.fixture
def worker_forwarder(source: Source) -> Iterator[Forwarder]:
    reason = _redis_reason()
    if reason:
        pytest.skip(reason)
    queue = f"hocvu-forward-test-{uuid.uuid4().hex[:8]}"
    forwarder = Forwarder(source.db, fast_config(), REDIS_URL, name=f"test-{uuid.uuid4().hex[:8]}", queue=queue)
    assert not forwarder.celery.conf.task_always_eager
    with start_worker(forwarder.celery, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        yield forwarder
    RUNTIMES.pop(forwarder.name)
    client = redis.Redis.from_url(REDIS_URL)
    if leftovers := client.keys(f"*{queue}*"):  # the queue and kombu's bindings
        client.delete(*leftovers)


def test_celery_worker_on_redis_survives_a_target_restart(source: Source, target_lrs: LrsServer,
                                                          worker_forwarder: Forwarder) -> None:
    target_id, target_tenant = source.add_target(target_lrs, batch_size=6)
    first = source.post([stmt(n) for n in range(10)])
    assert "published" in worker_forwarder.kick()  # the web side only publishes
    _wait_until_equal(source, target_lrs, target_tenant, worker_forwarder)

    target_lrs.stop()
    source.post([stmt(100 + n) for n in range(15)])
    source.post(voiding(first[2]))
    deadline = time.monotonic() + 20
    while "cannot reach the target" not in (source.target(target_id).last_error or ""):
        assert time.monotonic() < deadline, "the worker never tried the stopped target"
        worker_forwarder.kick()
        time.sleep(0.1)
    target_lrs.restart()
    _wait_until_equal(source, target_lrs, target_tenant, worker_forwarder)
    assert len(holdings(target_lrs.db, target_tenant)) == 26
