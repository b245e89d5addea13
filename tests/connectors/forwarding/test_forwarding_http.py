"""Forwarding to a second running hocvu LRS over real HTTP (issue 6, item 1).

The source is the `app` fixture (SQLite and PostgreSQL), written through its xAPI API; the
target is another hocvu app on its own SQLite database, served by werkzeug on loopback, stopped
and restarted mid-stream. Afterwards the target must hold exactly the source's statements — no
more, no fewer, none twice — compared by id and content (less `authority` and `stored`, which
each LRS sets itself: xAPI 1.0.3 Part Two §2.4.8-§2.4.9).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jws
from joserfc.jwk import RSAKey
from sqlalchemy import select, update

from connectors.forwarding import targets as fw
from connectors.forwarding.delivery import deliver_target
from connectors.forwarding.tasks import RUNTIMES, Runtime
from connectors.storage import ForwardTarget
from lrs.blobs import attachments as attachment_store
from lrs.multipart import AttachmentPart, build_multipart
from lrs.signatures import SIGNATURE_USAGE_TYPE
from lrs.storage import Attachment, as_utc
from tests.connectors.forwarding.forwarding_support import (
    LrsServer,
    Source,
    drain,
    fast_config,
    holdings,
    stmt,
    voiding,
)

WSGI = Callable[[dict[str, Any], Callable[..., Any]], Any]


def _is_statement_post(environ: dict[str, Any]) -> bool:
    return environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/xapi/statements"


def lose_every_other_answer(app: WSGI) -> WSGI:
    """The target stores the batch, then the answer is lost (a 503 instead): the source must send
    it again, and the target must not keep it twice (Part Three §2.1.2: same id, same content)."""
    count = itertools.count()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if _is_statement_post(environ) and next(count) % 2 == 0:
            result = app(environ, lambda *a, **k: None)
            try:
                b"".join(result)
            finally:
                getattr(result, "close", lambda: None)()
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"error": {"code": "unavailable", "message": "answer lost on the way"}}']
        return app(environ, start_response)

    return wsgi


def test_target_down_mid_stream_ends_with_exactly_the_source_statements(source: Source,
                                                                         target_lrs: LrsServer) -> None:
    config = fast_config()
    target_id, target_tenant = source.add_target(target_lrs, batch_size=7)
    first = [stmt(n) for n in range(12)]
    source.post(first[:3])
    source.post(first[3:10])
    for s in first[10:]:
        source.post(s)
    source.post(voiding(first[0]["id"]))  # voided and voiding statements go as stored (Part Two §2.3.2)
    drain(source, target_id, config)
    assert holdings(target_lrs.db, target_tenant) == holdings(source.db, source.tenant_id)

    target_lrs.stop()
    second = [stmt(100 + n) for n in range(20)]
    source.post(second[:9])  # ingest goes on while the target is down
    source.post(second[9:])
    source.post(voiding(second[3]["id"]))
    report = deliver_target(source.db, config, source.key(target_id))
    assert report.delivered == 0 and "cannot reach the target" in (report.error or "")
    down = source.target(target_id)
    assert down.failures == 1 and down.cursor_seq > 0 and down.next_attempt is not None
    assert source.backlog(target_id) == 21
    # Within the backoff the target is left alone.
    waiting = deliver_target(source.db, config, source.key(target_id), clock=lambda: as_utc(down.last_error_at))
    assert waiting.skipped == "waiting"

    target_lrs.wrap = lose_every_other_answer
    try:
        target_lrs.restart()
        drain(source, target_id, config)
    finally:
        target_lrs.wrap = None
    expected = holdings(source.db, source.tenant_id)
    assert len(expected) == 12 + 1 + 20 + 1
    assert holdings(target_lrs.db, target_tenant) == expected
    assert {sid for sid, (_, voided) in expected.items() if voided} == {first[0]["id"], second[3]["id"]}
    after = source.target(target_id)
    assert after.failures == 0 and after.last_error and "503" in after.last_error


@pytest.fixture
def blocking_target(target_lrs: LrsServer) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The target takes a statement POST and then hangs until released."""
    entered, release = threading.Event(), threading.Event()

    def wrap(app: WSGI) -> WSGI:
        def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            if _is_statement_post(environ):
                entered.set()
                release.wait(20)
            return app(environ, start_response)
        return wsgi

    target_lrs.wrap = wrap
    yield entered, release
    release.set()
    target_lrs.wrap = None


def test_ingest_never_waits_for_a_hanging_target(source: Source, target_lrs: LrsServer,
                                                 blocking_target: tuple[threading.Event, threading.Event]) -> None:
    entered, release = blocking_target
    _, target_tenant = source.add_target(target_lrs)
    forwarder = source.app.extensions["hocvu.forwarder"]
    original = RUNTIMES[forwarder.name]
    RUNTIMES[forwarder.name] = Runtime(source.db, fast_config())
    forwarder.start(every=3600)  # only nudges from POST /statements wake it
    try:
        source.post(stmt(1))  # the answer comes first; the nudge makes the thread deliver
        assert entered.wait(15), "the stored statement did not nudge delivery"
        # Delivery hangs on the target, yet statements are stored as fast as ever.
        for n in range(2, 7):
            source.post(stmt(n))
        assert not release.is_set()
        release.set()
        deadline = time.monotonic() + 15
        while holdings(target_lrs.db, target_tenant) != holdings(source.db, source.tenant_id):
            assert time.monotonic() < deadline, "the statements stored meanwhile were not delivered"
            forwarder.nudge()
            time.sleep(0.05)
    finally:
        forwarder.stop()
        RUNTIMES[forwarder.name] = original
    assert len(holdings(target_lrs.db, target_tenant)) == 6


def _sign(statement: dict[str, Any]) -> bytes:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return jws.serialize_compact({"alg": "RS256"}, json.dumps(statement).encode(), RSAKey.import_key(pem),
                                 algorithms=["RS256"]).encode()


def test_signed_statement_travels_with_its_attachments(source: Source, target_lrs: LrsServer) -> None:
    # xAPI 1.0.3 Part Two §2.4.11 / Part Three §1.5.2: attachment content goes as multipart/mixed
    # parts; §2.6: the signature is an attachment the target verifies against the statement.
    config = fast_config()
    target_id, target_tenant = source.add_target(target_lrs)
    certificate = "Chứng nhận hoàn thành khoá Kỹ năng số".encode()
    signed = stmt(1, attachments=[{
        "usageType": "http://id.tincanapi.com/attachment/certificate", "display": {"vi": "Chứng nhận"},
        "contentType": "text/plain; charset=utf-8", "length": len(certificate),
        "sha2": hashlib.sha256(certificate).hexdigest()}])
    token = _sign(signed)
    signed["attachments"].append({"usageType": SIGNATURE_USAGE_TYPE, "display": {"en-US": "Signature"},
                                  "contentType": "application/octet-stream", "length": len(token),
                                  "sha2": hashlib.sha256(token).hexdigest()})
    parts = [AttachmentPart(hashlib.sha256(certificate).hexdigest(), "text/plain; charset=utf-8", certificate),
             AttachmentPart(hashlib.sha256(token).hexdigest(), "application/octet-stream", token)]
    content_type, body = build_multipart(json.dumps([signed, stmt(2)]).encode(), parts)
    response = source.xapi.post("statements", data=body, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.get_data(as_text=True)

    drain(source, target_id, config)
    assert holdings(target_lrs.db, target_tenant) == holdings(source.db, source.tenant_id)
    with target_lrs.db.session() as session:
        # Through the target's blob store (lrs.blobs), bytes verified against their hash.
        hashes = session.scalars(select(Attachment.sha2).where(Attachment.tenant_id == target_tenant)).all()
        held = {p.sha2: p.body for p in attachment_store.load(session, target_tenant, hashes)}
    assert held == {p.sha2: p.body for p in parts}


def test_replay_sends_again_and_the_target_keeps_one_copy(source: Source, target_lrs: LrsServer) -> None:
    config = fast_config()
    source.post([stmt(n) for n in range(3)])
    since = datetime.now(UTC)
    later = source.post([stmt(10 + n) for n in range(4)])
    # A target added "from now" has nothing to send; a replay from `since` sends the later four.
    target_id, target_tenant = source.add_target(target_lrs, from_now=True)
    assert source.backlog(target_id) == 0
    with source.db.session() as session:
        target = session.get(ForwardTarget, source.key(target_id))
        assert target is not None
        cursor = fw.replay(session, target, since)
        session.commit()
    assert source.backlog(target_id) == 4
    drain(source, target_id, config)
    assert set(holdings(target_lrs.db, target_tenant)) == set(later)

    # Replaying again sends the same four again; the target keeps one copy of each.
    with source.db.session() as session:
        target = session.get(ForwardTarget, source.key(target_id))
        assert target is not None
        assert fw.replay(session, target, since) == cursor
        # A replay never moves the cursor forward.
        assert fw.replay(session, target, datetime(2999, 1, 1, tzinfo=UTC)) == cursor
        session.commit()
    reports = drain(source, target_id, config)
    assert sum(r.delivered for r in reports) == 4
    assert holdings(target_lrs.db, target_tenant) == {
        sid: v for sid, v in holdings(source.db, source.tenant_id).items() if sid in later}


def test_filters_by_verb_and_activity_prefix_keep_voiding_with_what_it_voids(source: Source,
                                                                             target_lrs: LrsServer) -> None:
    config = fast_config()
    by_verb, verb_tenant = source.add_target(target_lrs, "completions",
                                             verb_prefix="http://adlnet.gov/expapi/verbs/comp")
    by_activity, activity_tenant = source.add_target(target_lrs, "ky-nang-so",
                                                     activity_prefix="https://hocvu.vn/courses/ky-nang-so/")
    a = stmt(1)
    b = stmt(2, verb="http://adlnet.gov/expapi/verbs/attempted")
    c = stmt(3, activity="https://example.vn/khoa_khac/1")
    d = stmt(4, activity="https://hocvu.vn/courses/KY-NANG-SO/2")  # IRIs compare case-sensitively
    source.post([a, b, c, d])
    void_a, void_b = source.post([voiding(a["id"]), voiding(b["id"])])
    drain(source, by_verb, config)
    drain(source, by_activity, config)
    verb_held = holdings(target_lrs.db, verb_tenant)
    assert set(verb_held) == {a["id"], c["id"], d["id"], void_a}
    assert verb_held[a["id"]][1] is True  # voided at the target too
    assert set(holdings(target_lrs.db, activity_tenant)) == {a["id"], b["id"], void_a, void_b}


def test_refused_statement_is_isolated_retried_then_dead_lettered(source: Source, target_lrs: LrsServer) -> None:
    # The target speaks xAPI 1.0.3; a 2.0.0 statement (contextAgents) is refused with 400. The
    # batch is split until the refused one is alone; the others are delivered in the same round.
    config = fast_config(max_attempts=3)
    target_id, target_tenant = source.add_target(target_lrs, xapi_version="1.0.3", batch_size=10)
    good = [stmt(n) for n in range(7)]
    source.post(good[:4])
    [bad_id] = source.post(stmt(50, context={"contextAgents": [
        {"objectType": "contextAgent", "agent": {"mbox": "mailto:gv@example.vn"}}]}), v2=True)
    source.post(good[4:])
    first = deliver_target(source.db, config, source.key(target_id))
    assert (first.delivered, first.rejected) == (7, 1)
    assert set(holdings(target_lrs.db, target_tenant)) == {s["id"] for s in good}
    [item] = source.items(target_id)
    assert (item.state, item.attempts) == ("queued", 1) and "400" in (item.reason or "")
    assert item.tenant_id == source.tenant_id  # the target's tenant (migration 0213)
    assert "contextAgents" in (item.reason or "")

    deadline = time.monotonic() + 10
    while source.items(target_id)[0].state != "dead":
        assert time.monotonic() < deadline
        deliver_target(source.db, config, source.key(target_id))
        time.sleep(0.02)
    [dead] = source.items(target_id)
    assert dead.attempts == 3
    with source.db.session() as session:
        target = session.get(ForwardTarget, source.key(target_id))
        assert target is not None
        [letter] = fw.dead_letters(session, target)
        assert letter["statement_id"] == bad_id and "xAPI 2.0.0" in letter["reason"]
        assert fw.status(session, source_tenant(session, source))[0]["dead_letters"] == 1
    assert source.backlog(target_id) == 0  # dead letters are not backlog; the stream went on

    # The operator points the target at its 2.0 endpoint and re-queues the dead letter.
    with source.db.session() as session:
        session.execute(update(ForwardTarget).where(ForwardTarget.tenant_id == source.tenant_id,
                                                    ForwardTarget.id == target_id).values(xapi_version="2.0.0"))
        target = session.get(ForwardTarget, source.key(target_id))
        assert target is not None
        assert fw.retry_dead(session, target) == 1
        session.commit()
    drain(source, target_id, config)
    assert source.items(target_id) == []
    assert holdings(target_lrs.db, target_tenant) == holdings(source.db, source.tenant_id)


def source_tenant(session: Any, source: Source) -> Any:
    from lrs.storage import Tenant

    return session.get(Tenant, source.tenant_id)
