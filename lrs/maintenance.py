"""Keeping the statement store's planner statistics fresh (PostgreSQL).

The query shapes of ``lrs.statement_query`` are chosen not to depend on statistics; the planner
still picks better among the rest with them, and a PostgreSQL running with autovacuum off (or one
that has not caught up after a bulk load) has none. So the hub analyses the tables it writes:
a process that has stored ``every`` statements since it last looked runs ``ANALYZE`` when due, in
a background thread (its own connection, after the request's commit; ANALYZE takes a lock that
does not block readers or writers), and ``hocvu db analyze`` runs it on demand, e.g. after an
import or restore.

Due means the store has changed by a tenth since the last ANALYZE, by anyone (PostgreSQL's own count of rows changed,
``n_mod_since_analyze``, over all processes, restarts included), or was never analysed: the rule
of autovacuum (``autovacuum_analyze_scale_factor`` 0.1). A run samples a fixed number of rows but
costs more as the tables grow (14 s of the database's time at 10M stored on 2 busy cores), and a
run every 50,000 statements per process was a tenth of the machine during a national bulk load
while the statistics it refreshed had barely moved.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from lrs import partitions

log = logging.getLogger(__name__)

# The tables ingest writes, in the order they are analysed (the ones queries filter on first).
STATEMENT_TABLES: Final = ("statements", "statement_activities", "statement_agents", "audit_entries")
KEEPER_KEY: Final = "hocvu.stats_keeper"  # Session.info key: the database's StatsKeeper
GROWTH: Final = 0.1  # the share of the store changed since the last ANALYZE that makes the next due


def _analyze(conn: Connection, tables: tuple[str, ...]) -> None:
    conn.execute(text(f"ANALYZE {', '.join(tables)}" if conn.dialect.name == "postgresql" else "ANALYZE"))


def analyze(engine: Engine, tables: tuple[str, ...] = STATEMENT_TABLES) -> float:
    """ANALYZE ``tables`` (SQLite: the whole database); returns the seconds it took."""
    started = time.perf_counter()
    with engine.connect() as conn:
        _analyze(conn, tables)
        conn.commit()
    return time.perf_counter() - started


# The statement tables' partitions (or the plain table): rows changed since each was last analysed
# and rows as then counted (-1 never analysed: counted 0, so any change makes a run due).
_CHANGES: Final = text("""
    SELECT coalesce(sum(s.n_mod_since_analyze), 0), coalesce(sum(greatest(c.reltuples, 0)), 0),
           current_setting('track_counts')::bool
    FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
    WHERE c.relkind = 'r'  -- a partitioned parent holds no rows of its own, only its partitions' count
      AND (c.oid = 'statements'::regclass
           OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'statements'::regclass))
""")


# One keeper analyses at a time, hub-wide: web processes store at the same pace, so they reach their
# look together, and each saw the same change counts (two ANALYZEs of 2-5 s side by side, measured).
_ONE_AT_A_TIME: Final = text("SELECT pg_try_advisory_xact_lock(hashtext('hocvu.analyze'))")


def _due(conn: Connection) -> bool:
    row = conn.execute(_CHANGES).one()
    changed, counted, tracked = int(row[0]), float(row[1]), bool(row[2])
    return not tracked or (changed > 0 and changed >= GROWTH * counted)


def analysis_due(engine: Engine) -> bool:
    """True when the statements were never analysed or have changed by GROWTH since, or when
    PostgreSQL counts no changes (``track_counts`` off: then every check runs)."""
    if engine.dialect.name != "postgresql":
        return True
    with engine.connect() as conn:
        due = _due(conn)
        conn.commit()  # not the closing ROLLBACK, at which psycopg forgets the pooled connection's prepared statements
    return due


def analyze_if_due(engine: Engine) -> float | None:
    """ANALYZE the statement tables when ``analysis_due``, unless another process is doing it now
    (PostgreSQL: an advisory lock held to the end of the transaction that looks and analyses; the
    counts are read after it is taken, so a run that just finished is seen). Returns the seconds
    it took, or None when nothing ran."""
    if engine.dialect.name != "postgresql":
        return analyze(engine)
    started = time.perf_counter()
    with engine.connect() as conn:
        ran = bool(conn.execute(_ONE_AT_A_TIME).scalar()) and _due(conn)
        if ran:
            _analyze(conn, STATEMENT_TABLES)
        conn.commit()  # releases the lock; a COMMIT keeps the pooled connection's prepared statements
    return time.perf_counter() - started if ran else None


class StatsKeeper:
    """Counts the statements this process stored; every ``every`` of them, in the background (one
    run at a time), analyses if ``analysis_due`` and keeps the partitions ahead. A run that fails
    is logged and the next check tries again."""

    def __init__(self, engine: Engine, every: int) -> None:
        self.engine, self.every = engine, every
        self._lock = threading.Lock()
        self._count = 0
        self._running: threading.Thread | None = None
        self.runs = 0  # finished runs, for tests and the log
        self.skipped = 0  # checks that found the statistics fresh enough

    def stored(self, count: int) -> None:
        if self.every <= 0:
            return
        with self._lock:
            self._count += count
            if self._count < self.every or (self._running is not None and self._running.is_alive()):
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
            seconds = analyze_if_due(self.engine)
            if seconds is not None:
                self.runs += 1
                log.info("analysed the statement tables, changed by a tenth or more since last (%.2f s)", seconds)
            else:
                self.skipped += 1
        except Exception:
            log.exception("could not analyse the statement tables; the next %s statements try again", self.every)
        try:
            # PostgreSQL: the monthly partitions of `statements` stay ahead (lrs.partitions).
            made = partitions.keep_ahead(self.engine)
            if made:
                log.info("created statement partitions %s", ", ".join(made))
        except Exception:
            log.exception("could not create statement partitions; the next %s statements try again", self.every)
