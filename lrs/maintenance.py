"""Keeping the statement store's planner statistics fresh (PostgreSQL).

The query shapes of ``lrs.statement_query`` are chosen not to depend on statistics; the planner
still picks better among the rest with them, and a PostgreSQL running with autovacuum off (or one
that has not caught up after a bulk load) has none. So the hub analyses the tables it writes:
a process that has stored ``every`` statements since it last did runs ``ANALYZE`` in a background
thread (its own connection, after the request's commit; ANALYZE takes a lock that does not block
readers or writers), and ``hocvu db analyze`` runs it on demand, e.g. after an import or restore.

Past a small store the threshold grows with the store, as autovacuum's does (its
``autovacuum_analyze_scale_factor`` is 0.1): ANALYZE samples a fixed number of rows, so each run
costs about the same at 1M as at 10M stored (1-2 s of the database's CPU on 2 cores), and a run
every 50,000 statements was a tenth of the machine during a national bulk load while the
statistics it refreshed had barely moved.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import Engine

from lrs import partitions

log = logging.getLogger(__name__)

# The tables ingest writes, in the order they are analysed (the ones queries filter on first).
STATEMENT_TABLES: Final = ("statements", "statement_activities", "statement_agents", "audit_entries")
KEEPER_KEY: Final = "hocvu.stats_keeper"  # Session.info key: the database's StatsKeeper
# After a run the next one waits for this share of the statements then stored (at least ``every``).
# Per process: with W workers each waits W times as long, but they take turns, so the store is
# analysed about once per GROWTH of its size whatever W is.
GROWTH: Final = 0.1


def analyze(engine: Engine, tables: tuple[str, ...] = STATEMENT_TABLES) -> float:
    """ANALYZE ``tables`` (SQLite: the whole database); returns the seconds it took."""
    started = time.perf_counter()
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"ANALYZE {', '.join(tables)}"))
        else:
            conn.execute(text("ANALYZE"))
        conn.commit()
    return time.perf_counter() - started


def stored_estimate(engine: Engine) -> int:
    """The planner's count of stored statements (PostgreSQL's ``reltuples`` of ``statements``, the
    partitioned parent's included, as the last ANALYZE left it); 0 when never analysed."""
    if engine.dialect.name != "postgresql":
        return 0
    with engine.connect() as conn:
        rows = conn.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'statements'::regclass"))
    return max(0, int(rows or 0))


class StatsKeeper:
    """Counts the statements this process stored; once past ``threshold`` (``every`` at first,
    then GROWTH of the store as the last run found it), analyses in the background (one run at a
    time; a run that fails is logged and the next threshold tries again)."""

    def __init__(self, engine: Engine, every: int) -> None:
        self.engine, self.every = engine, every
        self.threshold = every
        self._lock = threading.Lock()
        self._count = 0
        self._running: threading.Thread | None = None
        self.runs = 0  # finished runs, for tests and the log

    def stored(self, count: int) -> None:
        if self.every <= 0:
            return
        with self._lock:
            self._count += count
            if self._count < self.threshold or (self._running is not None and self._running.is_alive()):
                return
            self._count = 0
            self._running = threading.Thread(target=self._run, name="hocvu-analyze", daemon=True)
            self._running.start()

    def wait(self, timeout: float = 60.0) -> None:
        """Block until a run in progress has finished (tests; a clean shutdown)."""
        running = self._running
        if running is not None:
            running.join(timeout)

    def _run(self) -> None:
        try:
            seconds = analyze(self.engine)
            self.runs += 1
            done, self.threshold = self.threshold, max(self.every, int(stored_estimate(self.engine) * GROWTH))
            log.info("analysed the statement tables after %s stored statements (%.2f s); the next run after %s",
                     done, seconds, self.threshold)
        except Exception:
            log.exception("could not analyse the statement tables; the next %s statements try again",
                          self.threshold)
        try:
            # PostgreSQL: the monthly partitions of `statements` stay ahead (lrs.partitions).
            made = partitions.keep_ahead(self.engine)
            if made:
                log.info("created statement partitions %s", ", ".join(made))
        except Exception:
            log.exception("could not create statement partitions; the next %s statements try again", self.every)
