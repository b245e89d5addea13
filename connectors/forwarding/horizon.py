"""The forwarding horizon: how far delivery may read without skipping a statement.

The race. ``Statement.seq`` is taken when a row is inserted, but transactions commit in any
order: on PostgreSQL, A takes seq 10, B takes 11, B commits, a poller reading "seq > cursor"
sees 11, moves the cursor to 11 — and when A commits, 10 is behind every cursor, never sent.
(SQLite has one writer at a time, holding its lock from first write to commit, so there seqs
become visible in order; the same code runs there and simply never finds a gap.)

The choice, and why. Delivery never reads past ``safe_seq``: the highest seq below which every
number is either visible or known not to be coming. A number missing below a visible one is a
*gap*: a transaction still running, or a number nobody will use (PostgreSQL burns a sequence
value on every rollback and on every ``INSERT ... ON CONFLICT DO NOTHING`` that conflicts, i.e.
every idempotent re-send). The two cannot be told apart from outside, so:

* a gap holds ``safe_seq`` back for ``gap_timeout`` seconds (default 10) — far longer than a
  statement insert transaction — and is then passed;
* every gap is still watched for ``gap_memory`` (default 24 h): if a statement commits into it
  after ``safe_seq`` passed, it is queued for each target already past it ("late commit"), so even
  a transaction stuck longer than the timeout is delivered (out of order, never lost).

Alternatives weighed: a fixed lag on ``stored`` bounds nothing (``stored`` is taken before the
insert, a transaction can wait on locks for longer) and delays every statement; rescanning a
trailing window re-sends the window every round; PostgreSQL's ``pg_current_snapshot()`` xmin
would be exact but needs the inserting transaction id on each row (a column of ``lrs`` storage)
since voiding rewrites ``xmin``. Gap tracking needs nothing from ``lrs`` and costs one index
scan of new seqs per round. Redelivery after a late commit relies on the target's idempotence:
the same id with the same content is a no-op (xAPI 1.0.3 Part Three §2.1.2).

The horizon is global (one sequence serves every tenant), kept in one row that a round locks by
writing it first, so concurrent workers take turns.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from connectors.forwarding.config import ForwardConfig
from connectors.storage import ForwardGap, ForwardHorizon, ForwardItem, ForwardTarget
from lrs.storage import Statement, as_utc, dialect_insert

HORIZON_ID = 1


def _lock(session: Session, now: datetime) -> ForwardHorizon:
    """Make the row if needed, then write it first: the write lock (a row lock on PostgreSQL,
    the database write lock on SQLite) is held until commit, so one round at a time computes."""
    session.execute(dialect_insert(session)(ForwardHorizon.__table__)
                    .values(id=HORIZON_ID, scanned_seq=0, safe_seq=0, updated=now)
                    .on_conflict_do_nothing(index_elements=["id"]))
    session.execute(update(ForwardHorizon).where(ForwardHorizon.id == HORIZON_ID).values(updated=now))
    horizon = session.get(ForwardHorizon, HORIZON_ID, populate_existing=True)
    assert horizon is not None
    return horizon


def _scan_new(session: Session, config: ForwardConfig, horizon: ForwardHorizon, now: datetime) -> None:
    """Record the gaps between seqs that became visible since the last scan."""
    forget_before = now - timedelta(seconds=config.gap_memory)
    rows = session.execute(select(Statement.seq, Statement.stored).where(Statement.seq > horizon.scanned_seq)
                           .order_by(Statement.seq).limit(config.horizon_chunk)).all()
    prev = horizon.scanned_seq
    for seq, stored in rows:
        # A gap under a row stored longer ago than gap_memory is history (first scan of an old
        # database): no transaction stays open that long, so nothing is watched for it.
        if seq > prev + 1 and as_utc(stored) >= forget_before:
            session.add(ForwardGap(lo=prev + 1, hi=seq - 1, first_seen=now))
        prev = seq
    horizon.scanned_seq = prev
    session.flush()


def _collect_fills(session: Session, horizon: ForwardHorizon, now: datetime) -> None:
    """Statements that appeared inside known gaps: shrink the gaps, and queue late commits."""
    fills = session.execute(select(Statement.seq, Statement.tenant_id, ForwardGap.lo)
                            .select_from(ForwardGap)
                            .join(Statement, Statement.seq.between(ForwardGap.lo, ForwardGap.hi))).all()
    if not fills:
        return
    by_gap: dict[int, list[int]] = {}
    for seq, _tenant, lo in fills:
        by_gap.setdefault(lo, []).append(seq)
    for lo, seqs in by_gap.items():
        gap = session.get(ForwardGap, lo)
        assert gap is not None
        pieces, start = [], gap.lo
        for seq in sorted(seqs):
            if seq > start:
                pieces.append((start, seq - 1))
            start = seq + 1
        if start <= gap.hi:
            pieces.append((start, gap.hi))
        first_seen = gap.first_seen
        session.delete(gap)
        session.flush()
        session.add_all(ForwardGap(lo=a, hi=b, first_seen=first_seen) for a, b in pieces)
    for seq, tenant_id, _lo in fills:
        if seq <= horizon.safe_seq:
            _queue_late(session, seq, tenant_id, now)
    session.flush()


def _queue_late(session: Session, seq: int, tenant_id: int, now: datetime) -> None:
    """A statement committed after ``safe_seq`` passed its seq: every target of its tenant whose
    cursor is past it — or that is mid-round, whose read may have missed it while its cursor
    update is still to come — gets it as a queued item (a duplicate send is a no-op)."""
    targets = session.scalars(select(ForwardTarget.id).where(
        ForwardTarget.tenant_id == tenant_id,
        or_(ForwardTarget.cursor_seq >= seq, ForwardTarget.lease_until > now))).all()
    if not targets:
        return
    session.execute(dialect_insert(session)(ForwardItem.__table__)
                    .on_conflict_do_nothing(index_elements=["tenant_id", "target_id", "seq"]),
                    [{"tenant_id": tenant_id, "target_id": t, "seq": seq, "state": "queued", "attempts": 0,
                      "reason": "late commit", "next_attempt": now, "updated": now} for t in targets])


def advance_horizon(session: Session, config: ForwardConfig, now: datetime) -> int:
    """One step of the horizon; returns the new ``safe_seq``. Commits (it must not hold the lock)."""
    horizon = _lock(session, now)
    _scan_new(session, config, horizon, now)
    _collect_fills(session, horizon, now)
    session.execute(delete(ForwardGap).where(ForwardGap.first_seen < now - timedelta(seconds=config.gap_memory)))
    blocking = session.scalar(select(func.min(ForwardGap.lo)).where(
        ForwardGap.lo > horizon.safe_seq, ForwardGap.first_seen > now - timedelta(seconds=config.gap_timeout)))
    safe = blocking - 1 if blocking is not None else horizon.scanned_seq
    horizon.safe_seq = max(horizon.safe_seq, min(safe, horizon.scanned_seq))
    safe_seq = horizon.safe_seq
    session.commit()
    return safe_seq


def current_safe_seq(session: Session) -> int:
    return session.scalar(select(ForwardHorizon.safe_seq).where(ForwardHorizon.id == HORIZON_ID)) or 0
