"""Delivery rounds: one target at a time, in batches, in stored order.

A round holds the target's lease (so one process delivers to it at a time), then sends, in
order: queued items that are due (statements the target refused before, and late commits), then
the stream from its cursor up to the horizon's ``safe_seq`` (``connectors.forwarding.horizon``).
No database transaction stays open across an HTTP request; bookkeeping after each request is
conditional on the lease and on the cursor the batch was read at, so an operator's ``replay``
during a round wins and a lost lease changes nothing.

Failures: a batch the target cannot take for reasons of its own (down, 5xx, 429, bad
credentials) changes nothing and the target backs off (``forwarding.backoff_delay``). A batch it
refuses (400 and kin) is split in halves until the refused statements are alone; the rest are
delivered, each refused one becomes a queued item retried with its own backoff and a dead letter
after ``max_attempts`` refusals. Re-sending what the target already has is harmless: the same id
with the same content is a no-op (xAPI 1.0.3 Part Three §2.1.2), a 409 for a lone statement means
the target already holds it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from connectors.forwarding.client import Outcome, XapiTarget, send
from connectors.forwarding.config import ForwardConfig, SecretUnreadable, backoff_delay, now_utc, unseal
from connectors.forwarding.horizon import advance_horizon, current_safe_seq
from connectors.forwarding.targets import filter_condition, items_of
from connectors.storage import ForwardItem, ForwardTarget
from lrs.blobs import attachments as attachment_store
from lrs.multipart import AttachmentPart
from lrs.storage import Database, Statement, as_utc

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class TargetKey(NamedTuple):
    """A target by its key (tenant_id, id): every look-up of a round names the tenant, so it uses
    the key's index and goes to one shard on Citus (migration 0213)."""

    tenant_id: int
    id: int


def _is(key: TargetKey) -> ColumnElement[bool]:
    return and_(ForwardTarget.tenant_id == key.tenant_id, ForwardTarget.id == key.id)


@dataclass
class Row:
    seq: int
    statement: dict[str, Any]


@dataclass
class BatchResult:
    delivered: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    failure: Outcome | None = None  # set: nothing of the batch counts, the target backs off


@dataclass
class RoundReport:
    target_id: int
    delivered: int = 0
    rejected: int = 0
    skipped: str | None = None  # why nothing was tried: "busy", "disabled", "waiting", "gone"
    error: str | None = None
    more: bool = False  # work remains that a next round can do now (not waiting on backoff)


def due_targets(session: Session, now: datetime) -> list[TargetKey]:
    # Every tenant's targets, so no tenant to name: on Citus this one asks every shard, once a kick
    # (a handful of rows); the rounds it starts then go by key.
    return [TargetKey(t, i) for t, i in session.execute(select(ForwardTarget.tenant_id, ForwardTarget.id).where(
        ForwardTarget.enabled.is_(True),
        or_(ForwardTarget.next_attempt.is_(None), ForwardTarget.next_attempt <= now)).order_by(ForwardTarget.id))]


def key_of(db: Database, target_id: int) -> TargetKey | None:
    """The key of a target known by its id alone (a message queued by an older release), or None
    when it is gone. By id alone: every shard on Citus, once per such message."""
    with db.transaction() as session:
        tenant = session.scalar(select(ForwardTarget.tenant_id).where(ForwardTarget.id == target_id))
    return None if tenant is None else TargetKey(tenant, target_id)


def _claim(db: Database, config: ForwardConfig, key: TargetKey, token: str, now: datetime) -> bool:
    with db.session() as session:
        claimed = cast("CursorResult[Any]", session.execute(update(ForwardTarget).where(
            _is(key), or_(ForwardTarget.lease_until.is_(None), ForwardTarget.lease_until < now))
            .values(lease_until=now + timedelta(seconds=config.lease_seconds), lease_token=token))).rowcount
        session.commit()
    return bool(claimed)


def _release(db: Database, key: TargetKey, token: str) -> None:
    with db.session() as session:
        session.execute(update(ForwardTarget).where(_is(key), ForwardTarget.lease_token == token)
                        .values(lease_until=None, lease_token=None))
        session.commit()


def send_batch(client: XapiTarget, rows: list[Row], parts: dict[str, AttachmentPart],
               deadline: float) -> BatchResult:
    """Send ``rows`` as one request; when the target refuses it, bisect to find the refused ones."""
    result = BatchResult()

    def go(chunk: list[Row]) -> None:
        if result.failure is not None:
            return
        if time.monotonic() > deadline and len(chunk) < len(rows):
            result.failure = Outcome("transient", "round time budget spent while isolating refused statements")
            return
        wanted = attachment_store.declared_hashes(r.statement for r in chunk)
        outcome = send(client, [r.statement for r in chunk], [p for h, p in parts.items() if h in wanted])
        if outcome.kind == "ok" or (outcome.kind == "conflict" and len(chunk) == 1):
            result.delivered.extend(r.seq for r in chunk)
        elif outcome.kind == "transient":
            result.failure = outcome
        elif len(chunk) == 1:
            result.rejected[chunk[0].seq] = outcome.reason or "refused"
        else:
            half = len(chunk) // 2
            go(chunk[:half])
            go(chunk[half:])

    go(rows)
    return result


def _attachments(session: Session, tenant_id: int, rows: list[Row]) -> dict[str, AttachmentPart]:
    # Through the blob store, bytes verified (lrs.blobs.attachments): altered bytes stop the round
    # with a ServerError rather than travel to another LRS under a hash they do not have.
    parts = attachment_store.load(session, tenant_id, attachment_store.declared_hashes(r.statement for r in rows))
    return {p.sha2: p for p in parts}


class TargetRound:
    """One round of one target (the caller holds its lease)."""

    def __init__(self, db: Database, config: ForwardConfig, key: TargetKey, token: str, clock: Clock) -> None:
        self.db, self.config, self.key, self.token, self.clock = db, config, key, token, clock
        self.deadline = time.monotonic() + config.round_seconds
        self.report = RoundReport(key.id)
        self.refused: set[int] = set()  # a round offers each statement once, however short its backoff

    def _target(self, session: Session) -> ForwardTarget | None:
        return session.scalar(select(ForwardTarget).where(_is(self.key), ForwardTarget.lease_token == self.token))

    def run(self) -> RoundReport:
        with self.db.session() as session:
            target = self._target(session)
            if target is None:
                self.report.skipped = "gone"
                return self.report
            try:
                client = XapiTarget(endpoint=target.endpoint, key=target.auth_key,
                                    secret=unseal(self.config, target.secret_sealed), version=target.xapi_version,
                                    timeout=self.config.http_timeout)
            except SecretUnreadable as err:
                self._fail(Outcome("transient", err.message))
                return self.report
        while time.monotonic() < self.deadline:
            if not self._items(client) and not self._stream(client):
                return self.report
            if self.report.error:
                return self.report
        self.report.more = True
        return self.report

    def _load(self, session: Session, target: ForwardTarget, *conds: Any) -> list[Row]:
        rows = session.execute(select(Statement.seq, Statement.full).where(
            Statement.tenant_id == target.tenant_id, filter_condition(target), *conds)
            .order_by(Statement.seq).limit(target.batch_size)).all()
        return [Row(seq, full) for seq, full in rows]

    def _items(self, client: XapiTarget) -> bool:
        """Send due queued items; False when there were none."""
        now = self.clock()
        with self.db.session() as session:
            target = self._target(session)
            if target is None:
                return False
            seqs = list(session.scalars(select(ForwardItem.seq).where(
                items_of(target), ForwardItem.state == "queued", ForwardItem.next_attempt <= now,
                ForwardItem.seq.not_in(self.refused)).order_by(ForwardItem.seq).limit(target.batch_size)))
            if not seqs:
                return False
            rows = self._load(session, target, Statement.seq.in_(seqs))
            parts = _attachments(session, target.tenant_id, rows)
            # Items whose statement no longer matches the filters (changed since) are dropped.
            unmatched = set(seqs) - {r.seq for r in rows}
            if unmatched:
                session.execute(delete(ForwardItem).where(items_of(target), ForwardItem.seq.in_(unmatched)))
                session.commit()
        if not rows:
            return True
        result = send_batch(client, rows, parts, self.deadline)
        with self.db.session() as session:
            target = self._target(session)
            if target is None:
                return False
            if result.failure is not None:
                self._fail(result.failure, session, target)
                return True
            session.execute(delete(ForwardItem).where(items_of(target), ForwardItem.seq.in_(result.delivered)))
            self._record_rejects(session, target, result.rejected, now)
            self._succeed(session, target, result, now)
        return True

    def _stream(self, client: XapiTarget) -> bool:
        """Send the next batch past the cursor; False when the cursor reached the horizon."""
        now = self.clock()
        with self.db.session() as session:
            target = self._target(session)
            if target is None:
                return False
            safe = current_safe_seq(session)
            start = target.cursor_seq
            rows = self._load(session, target, Statement.seq > start, Statement.seq <= safe)
            # Fewer rows than a batch: nothing else matches up to the horizon, the cursor may go there.
            end = rows[-1].seq if len(rows) == target.batch_size else max(safe, start)
            parts = _attachments(session, target.tenant_id, rows)
            if not rows:
                if end > start:
                    session.execute(update(ForwardTarget).where(
                        _is(self.key), ForwardTarget.lease_token == self.token,
                        ForwardTarget.cursor_seq == start).values(cursor_seq=end))
                    session.commit()
                # Statements stored during the round: their nudges found the lease taken, so this
                # round takes them on rather than leave them for the next timer tick.
                return advance_horizon(session, self.config, self.clock()) > safe
        result = send_batch(client, rows, parts, self.deadline)
        with self.db.session() as session:
            target = self._target(session)
            if target is None:
                return False
            if result.failure is not None:
                self._fail(result.failure, session, target)
                return True
            moved = cast("CursorResult[Any]", session.execute(update(ForwardTarget).where(
                _is(self.key), ForwardTarget.lease_token == self.token,
                ForwardTarget.cursor_seq == start).values(cursor_seq=end))).rowcount
            if moved:  # else an operator rewound the cursor meanwhile: this batch will go again
                self._record_rejects(session, target, result.rejected, now)
            self._succeed(session, target, result, now)
        return True

    def _record_rejects(self, session: Session, target: ForwardTarget, rejected: dict[int, str], now: datetime) -> None:
        if not rejected:
            return
        known = {i.seq: i for i in session.scalars(select(ForwardItem).where(
            items_of(target), ForwardItem.seq.in_(rejected)))}
        for seq, reason in rejected.items():
            item = known.get(seq) or ForwardItem(tenant_id=target.tenant_id, target_id=target.id, seq=seq, attempts=0)
            item.attempts += 1
            item.reason = reason
            item.updated = now
            item.state = "dead" if item.attempts >= self.config.max_attempts else "queued"
            item.next_attempt = now + timedelta(seconds=backoff_delay(
                item.attempts, self.config.backoff_base, self.config.backoff_cap, self.config.rng))
            session.add(item)
            log.warning("forward target %s refused statement seq %s (attempt %s%s): %s", target.name, seq,
                        item.attempts, ", now a dead letter" if item.state == "dead" else "", reason)
        self.report.rejected += len(rejected)
        self.refused.update(rejected)

    def _succeed(self, session: Session, target: ForwardTarget, result: BatchResult, now: datetime) -> None:
        target.delivered += len(result.delivered)
        target.failures = 0
        target.next_attempt = None
        if result.delivered:
            target.last_success = now
        session.commit()
        self.report.delivered += len(result.delivered)

    def _fail(self, outcome: Outcome, session: Session | None = None, target: ForwardTarget | None = None) -> None:
        if session is None or target is None:
            with self.db.session() as own:
                found = self._target(own)
                if found is not None:
                    self._fail(outcome, own, found)
            return
        now = self.clock()
        target.failures += 1
        wait = backoff_delay(target.failures, self.config.backoff_base, self.config.backoff_cap, self.config.rng)
        if outcome.retry_after is not None:  # RFC 9110 §10.2.3: the target said when to come back
            wait = max(wait, min(outcome.retry_after, self.config.backoff_cap))
        target.next_attempt = now + timedelta(seconds=wait)
        target.last_error = outcome.reason
        target.last_error_at = now
        session.commit()
        self.report.error = outcome.reason
        log.warning("forward target %s failed (%s in a row, next attempt in %.1fs): %s",
                    target.name, target.failures, wait, outcome.reason)


def deliver_target(db: Database, config: ForwardConfig, key: TargetKey, *, clock: Clock = now_utc) -> RoundReport:
    """One round for one target: advance the horizon, then send while there is work and time."""
    token = secrets.token_hex(16)
    now = clock()
    with db.session() as session:
        target = session.get(ForwardTarget, (key.tenant_id, key.id))
        if target is None:
            return RoundReport(key.id, skipped="gone")
        if not target.enabled:
            return RoundReport(key.id, skipped="disabled")
        if target.next_attempt is not None and as_utc(target.next_attempt) > now:
            return RoundReport(key.id, skipped="waiting")
        advance_horizon(session, config, now)
    if not _claim(db, config, key, token, now):
        return RoundReport(key.id, skipped="busy")
    try:
        return TargetRound(db, config, key, token, clock).run()
    finally:
        _release(db, key, token)
