"""The web process's statistics keeper (lrs.maintenance.StatsKeeper) on a real PostgreSQL: it
looks every `every` statements it stores and runs ANALYZE when the statements were never analysed
or a tenth of them changed since, as PostgreSQL counts changes over all processes (the rule of
autovacuum's ``autovacuum_analyze_scale_factor``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from bench.data import Generator
from lrs.maintenance import GROWTH, StatsKeeper, analysis_due
from lrs.statements import store
from lrs.storage import Database
from tests.lrs.store_support import migrated_store

STORED = 600


@pytest.fixture
def keeper_store() -> Iterator[tuple[Database, Any]]:
    """A migrated database and a function that stores n statements through the hub's own store."""
    with migrated_store("keeper", "keeper") as (db, principal):
        gen = Generator(seed=5, learners=50)

        def put(n: int) -> None:
            with db.session() as s:
                store(s, principal, "2.0.0", [gen.statement() for _ in range(n)], [])
                s.commit()

        yield db, put


def _until(due: bool, db: Database) -> None:
    """A backend reports its change counts at most a second after its commit when busy, and up to
    10 s after when its connection then sits idle in a pool (PostgreSQL 15's PGSTAT_IDLE_INTERVAL)."""
    deadline = time.monotonic() + 30
    while analysis_due(db.engine) is not due and time.monotonic() < deadline:
        time.sleep(0.05)
    assert analysis_due(db.engine) is due


def _look(keeper: StatsKeeper) -> None:
    keeper.stored(keeper.every)
    keeper.wait()


def test_keeper_analyses_a_store_never_analysed_then_after_a_tenth_changed(keeper_store: Any) -> None:
    db, put = keeper_store
    keeper = StatsKeeper(db.engine, every=100)
    keeper.stored(99)  # below its threshold: does not look
    keeper.wait()
    assert (keeper.runs, keeper.skipped) == (0, 0)
    put(STORED)
    _until(True, db)  # never analysed, rows stored
    _look(keeper)
    assert (keeper.runs, keeper.skipped) == (1, 0)
    _look(keeper)  # analysed just now, nothing changed since
    assert (keeper.runs, keeper.skipped) == (1, 1)
    put(int(STORED * GROWTH) - 10)  # under a tenth
    time.sleep(1.5)
    _look(keeper)
    assert (keeper.runs, keeper.skipped) == (1, 2)
    put(20)  # past a tenth: the server's counts, whichever connection (or process) made the changes
    _until(True, db)
    _look(keeper)
    assert (keeper.runs, keeper.skipped) == (2, 2)
    _until(False, db)


def test_keepers_of_two_processes_do_not_analyse_side_by_side(keeper_store: Any) -> None:
    """Web processes reach their look together; while one analyses (holding the hub's advisory lock
    in its transaction), another that finds the same change counts skips, and looks again later."""
    db, put = keeper_store
    put(STORED)
    _until(True, db)
    keeper = StatsKeeper(db.engine, every=100)
    with db.engine.connect() as other:  # the other process's keeper, mid-run
        assert other.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext('hocvu.analyze'))"))
        _look(keeper)
        assert (keeper.runs, keeper.skipped) == (0, 1)
        other.rollback()
    _look(keeper)  # the lock is free again and the statistics are still due
    assert (keeper.runs, keeper.skipped) == (1, 1)


def test_keeper_off_never_looks(keeper_store: Any) -> None:
    db, put = keeper_store
    put(10)
    off = StatsKeeper(db.engine, every=0)
    off.stored(10**6)
    off.wait()
    assert (off.runs, off.skipped) == (0, 0)
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'statements'::regclass")) < 0
