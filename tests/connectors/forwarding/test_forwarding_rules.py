"""The rules under delivery: the backoff schedule (a pure function), how a target's answers are
read (against the real target LRS over HTTP), the tincan adapter, target validation and the
sealing of target secrets."""

from __future__ import annotations

import json
import random

import pytest
from sqlalchemy import select

from connectors.forwarding import targets as fw
from connectors.forwarding.client import XapiTarget, send
from connectors.storage import ForwardTarget
from tests.connectors.forwarding.forwarding_support import (
    LrsServer,
    Source,
    fast_config,
    free_port,
    stmt,
)

# --- backoff -----------------------------------------------------------------------------------


def test_backoff_doubles_from_base_to_cap_with_equal_jitter() -> None:
    rng = random.Random(7)
    for failures, step in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (10, 512.0), (11, 600.0), (400, 600.0)]:
        for _ in range(50):
            delay = fw.backoff_delay(failures, 1.0, 600.0, rng)
            assert step / 2 <= delay <= step, (failures, delay)


def test_backoff_is_zero_without_failures_and_spreads_targets_apart() -> None:
    assert fw.backoff_delay(0, 1.0, 600.0) == 0.0
    delays = {round(fw.backoff_delay(5, 1.0, 600.0, random.Random(seed)), 6) for seed in range(20)}
    assert len(delays) == 20  # targets that failed together do not come back together


# --- answers from a real target ----------------------------------------------------------------


def _client(server: LrsServer, key: str, secret: str, version: str = "1.0.3") -> XapiTarget:
    return XapiTarget(endpoint=server.endpoint, key=key, secret=secret, version=version, timeout=5)


def test_answers_are_read_as_ok_conflict_reject_or_transient(target_lrs: LrsServer) -> None:
    _, key, secret = target_lrs.tenant()
    client = _client(target_lrs, key, secret)
    good = stmt(1)
    assert send(client, [good], []).kind == "ok"
    assert send(client, [good], []).kind == "ok"  # same id, same content: a no-op (Part Three §2.1.2)
    changed = {**good, "result": {"score": {"scaled": 0.99}}}
    outcome = send(client, [changed], [])
    assert (outcome.kind, outcome.reason and outcome.reason[:3]) == ("conflict", "409")
    refused = send(client, [{**stmt(2), "verb": {"id": "not an IRI"}}], [])
    assert refused.kind == "reject" and refused.reason and refused.reason.startswith("400")
    # Wrong credentials say nothing about the statements: the target backs off instead.
    assert send(_client(target_lrs, key, "wrong"), [stmt(3)], []).kind == "transient"
    down = XapiTarget(endpoint=f"http://127.0.0.1:{free_port()}/xapi/", key=key, secret=secret, version="1.0.3")
    outcome = send(down, [stmt(4)], [])
    assert outcome.kind == "transient" and "ConnectionRefusedError" in (outcome.reason or "")


def test_adapter_speaks_2_0_0_which_tincan_1_0_0_refuses(target_lrs: LrsServer) -> None:
    from tincan import RemoteLRS

    with pytest.raises(Exception, match="Unsupported Version"):
        RemoteLRS(endpoint=target_lrs.endpoint, version="2.0.0")
    _, key, secret = target_lrs.tenant()
    client = _client(target_lrs, key, secret, "2.0.0")
    statement = stmt(1, context={"contextAgents": [{"objectType": "contextAgent",
                                                     "agent": {"mbox": "mailto:gv@example.vn"}}]})
    response = client.post_statements([statement], [])
    assert response.response.status == 200, response.data
    assert response.response.getheader("X-Experience-API-Version") == "2.0.0"
    assert json.loads(response.data) == [statement["id"]]
    with pytest.raises(ValueError):
        _client(target_lrs, key, secret, "0.95")


# --- targets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "message"), [
    ({"endpoint": "ftp://lrs.example.vn/xapi/"}, r"http\(s\) URL"),
    ({"endpoint": "https://user:pw@lrs.example.vn/xapi/"}, "not in the endpoint URL"),
    ({"xapi_version": "0.95"}, "xAPI version"),
    ({"name": "has space"}, "without spaces"),
    ({"batch_size": 0}, "batch size"),
    ({"secret": ""}, "key and secret"),
])
def test_invalid_targets_are_refused_and_nothing_is_stored(source: Source, change: dict[str, object],
                                                           message: str) -> None:
    spec = {"name": "t", "endpoint": "https://lrs.example.vn/xapi/", "key": "k", "secret": "s", **change}
    with source.db.session() as session:
        tenant = source_tenant(session, source)
        with pytest.raises(fw.InvalidTarget, match=message):
            fw.add_target(session, fast_config(), tenant, fw.TargetSpec(**spec))  # type: ignore[arg-type]
        session.rollback()
        assert session.scalars(select(ForwardTarget).where(ForwardTarget.tenant_id == source.tenant_id)).all() == []


def test_target_secret_is_sealed_and_never_described(source: Source, target_lrs: LrsServer) -> None:
    target_id, _ = source.add_target(target_lrs)
    target = source.target(target_id)
    config = fast_config()
    secret = fw.unseal(config, target.secret_sealed)
    assert secret not in target.secret_sealed
    assert secret not in json.dumps(fw.describe(target))
    # Another app secret cannot open it: a clear error, not garbage sent as a password.
    with pytest.raises(fw.SecretUnreadable, match="HOCVU_SECRET_KEY"):
        fw.unseal(fw.ForwardConfig.from_secret("another-secret"), target.secret_sealed)
    with source.db.session() as session:
        tenant = source_tenant(session, source)
        with pytest.raises(fw.InvalidTarget, match="already has a target"):
            fw.add_target(session, config, tenant, fw.TargetSpec(name="national", endpoint=target_lrs.endpoint,
                                                                key="k", secret="s"))


def source_tenant(session: object, source: Source) -> object:
    from lrs.storage import Tenant

    return session.get(Tenant, source.tenant_id)  # type: ignore[attr-defined]
