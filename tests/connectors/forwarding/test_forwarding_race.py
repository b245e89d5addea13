"""The out-of-order commit race (connectors.forwarding.horizon).

A statement takes its seq when inserted but becomes visible when its transaction commits; if a
later seq commits first, a cursor moved past it would skip the earlier one for good. On
PostgreSQL the test holds a real transaction open with an inserted, uncommitted row while
another request stores and commits a later statement. SQLite has one writer at a time, so there
the same situation is made by hand: the seq is taken from ``sqlite_sequence`` now (what
``nextval`` does) and the row written with it later.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from connectors.forwarding.delivery import deliver_target
from connectors.forwarding.horizon import advance_horizon, current_safe_seq
from connectors.storage import ForwardGap, ForwardItem, ForwardTarget
from lrs.credentials import authenticate
from lrs.statements import prepare
from lrs.storage import Statement
from tests.connectors.forwarding.forwarding_support import (
    LrsServer,
    Source,
    fast_config,
    holdings,
    stmt,
)


class Held:
    """A statement whose seq is taken now and whose row becomes visible only at ``commit()``."""

    def __init__(self, source: Source, raw: dict[str, Any]) -> None:
        self.db = source.db
        with self.db.session() as session:
            principal = authenticate(session, source.xapi.key, source.xapi.secret)
        self.row = prepare(raw, principal, "1.0.3", datetime.now(UTC)).row
        self.session: Session | None = None
        if self.db.dialect == "postgresql":
            self.session = self.db.session()
            self.seq = int(self.session.execute(insert(Statement.__table__).values(**self.row)
                                                .returning(Statement.seq)).scalar_one())
        else:
            with self.db.session() as session:
                session.execute(text("UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'statements'"))
                self.seq = int(session.scalar(text("SELECT seq FROM sqlite_sequence WHERE name = 'statements'")))
                session.commit()

    def commit(self) -> None:
        if self.session is not None:
            self.session.commit()
            self.session.close()
        else:
            with self.db.session() as session:
                session.execute(insert(Statement.__table__).values(seq=self.seq, **self.row))
                session.commit()


def _settle_other_gaps(source: Source) -> None:
    # Gaps other tests left in this shared database must not hold this test up.
    with source.db.session() as session:
        advance_horizon(session, fast_config(), datetime.now(UTC))


def _seq_of(source: Source, statement_id: str) -> int:
    with source.db.session() as session:
        return int(session.scalar(select(Statement.seq).where(Statement.tenant_id == source.tenant_id,
                                                              Statement.statement_id == statement_id)))


def test_a_later_seq_committed_first_does_not_let_the_cursor_skip_the_earlier(source: Source,
                                                                              target_lrs: LrsServer) -> None:
    config = fast_config(gap_timeout=3600)  # the gap may hold delivery back as long as it takes
    _settle_other_gaps(source)
    target_id, target_tenant = source.add_target(target_lrs)
    [before] = source.post(stmt(0))
    held = Held(source, stmt(1))
    [after] = source.post(stmt(2))
    assert _seq_of(source, after) > held.seq

    deliver_target(source.db, config, source.key(target_id))
    assert set(holdings(target_lrs.db, target_tenant)) == {before}
    with source.db.session() as session:
        assert current_safe_seq(session) == held.seq - 1  # the horizon stops below the gap
    assert source.target(target_id).cursor_seq < held.seq

    held.commit()
    deliver_target(source.db, config, source.key(target_id))
    assert holdings(target_lrs.db, target_tenant) == holdings(source.db, source.tenant_id)
    assert set(holdings(target_lrs.db, target_tenant)) == {before, held.row["statement_id"], after}
    assert source.target(target_id).cursor_seq >= _seq_of(source, after)


def test_a_commit_later_than_the_gap_timeout_is_still_delivered(source: Source, target_lrs: LrsServer) -> None:
    config = fast_config(gap_timeout=0)  # the gap is passed at once; it is watched for a late commit
    target_id, target_tenant = source.add_target(target_lrs)
    held = Held(source, stmt(1))
    [after] = source.post(stmt(2))
    deliver_target(source.db, config, source.key(target_id))
    assert set(holdings(target_lrs.db, target_tenant)) == {after}
    assert source.target(target_id).cursor_seq > held.seq

    held.commit()
    report = deliver_target(source.db, config, source.key(target_id))
    assert report.delivered == 1
    assert source.items(target_id) == []
    assert holdings(target_lrs.db, target_tenant) == holdings(source.db, source.tenant_id)


def test_a_late_commit_is_queued_for_a_target_mid_round(source: Source, target_lrs: LrsServer) -> None:
    # A round that read before the late row appeared but moves its cursor after the horizon saw
    # it would otherwise pass it unseen: a target holding its lease gets the item too.
    config = fast_config(gap_timeout=0)
    target_id, _ = source.add_target(target_lrs)
    held = Held(source, stmt(1))
    source.post(stmt(2))
    now = datetime.now(UTC)
    with source.db.session() as session:
        advance_horizon(session, config, now)
        session.execute(update(ForwardTarget).where(ForwardTarget.tenant_id == source.tenant_id,
                                                    ForwardTarget.id == target_id)
                        .values(cursor_seq=held.seq - 1, lease_until=now + timedelta(minutes=5)))
        session.commit()
    held.commit()
    with source.db.session() as session:
        advance_horizon(session, config, now + timedelta(seconds=1))
        items = session.scalars(select(ForwardItem).where(ForwardItem.tenant_id == source.tenant_id,
                                                            ForwardItem.target_id == target_id)).all()
        assert [(i.tenant_id, i.seq, i.state, i.reason) for i in items] == [
            (source.tenant_id, held.seq, "queued", "late commit")]
        assert session.scalar(select(ForwardGap).where(ForwardGap.lo <= held.seq, ForwardGap.hi >= held.seq)) is None
        session.execute(update(ForwardTarget).where(ForwardTarget.tenant_id == source.tenant_id,
                                                    ForwardTarget.id == target_id).values(lease_until=None))
        session.commit()
