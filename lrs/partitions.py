"""Monthly range partitions of ``statements`` by ``stored`` (PostgreSQL; SQLite has one table).

Migration 0110 makes the table partitioned; the hub then keeps partitions ahead of time
(``hocvu db partitions --ahead N``, also run by ``hocvu db upgrade``), named ``statements_pYYYYMM``,
plus ``statements_default``, which takes any row no monthly partition covers so a write never fails
for lack of one. A monthly partition made for a range the default already holds rows of takes them
over (the default is detached, the rows moved, the default attached again: one transaction).
``hocvu db partitions --detach BEFORE`` detaches the months that end on or before BEFORE: their
statements leave every query (their ids stay taken in ``statement_ids``). Archiving a month to the
Parquet lake with its chain proofs is ``connectors.archive`` (``hocvu lake archive``), which ends
with ``drop_month`` here once the files are written and verified.

Upkeep does not depend on traffic: each web process runs ``keep_ahead`` every
HOCVU_PARTITION_SECONDS (hocvu.app), besides the run after every HOCVU_ANALYZE_EVERY statements
(lrs.maintenance); the advisory lock makes one process do it at a time, and the DDL is skipped when
the partition is there, so any number of workers (or a cron ``hocvu db partitions``) may run it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Final

from sqlalchemy import Connection, Engine, text

AHEAD: Final = 3  # months after this one kept ready (hocvu db upgrade, the web processes)
TABLE: Final = "statements"
_LOCK: Final = 0x686F6376_70617274  # pg advisory lock key ("hocvpart"): one upkeep at a time
DEFAULT: Final = "statements_default"
_NAME: Final = re.compile(r"statements_(p\d{6}|default)")


def is_partition(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


def month_start(d: date | datetime) -> date:
    return date(d.year, d.month, 1)


def add_months(d: date, n: int) -> date:
    m = d.year * 12 + d.month - 1 + n
    return date(m // 12, m % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"statements_p{month:%Y%m}"


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c "
                                  "ON c.oid = p.partrelid WHERE c.relname = :t "
                                  "AND c.relnamespace = current_schema()::regnamespace)"), {"t": TABLE}).scalar())


def attached(conn: Connection) -> list[str]:
    """The partitions now attached to ``statements``."""
    return list(conn.execute(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                  "WHERE i.inhparent = CAST(:t AS regclass) ORDER BY 1"), {"t": TABLE}).scalars())


def detached(conn: Connection) -> list[str]:
    """Monthly partition tables that exist but are not attached (``detach_before``: kept for
    archiving, out of every query, an erasure's included)."""
    if not is_partitioned(conn):
        return []
    have = set(attached(conn))
    names = conn.execute(text("SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE 'statements!_p%' "
                              "ESCAPE '!' AND relnamespace = current_schema()::regnamespace ORDER BY 1")).scalars()
    return [n for n in names if is_partition(n) and n not in have]


def _bound(month: date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


def ensure(conn: Connection, *, ahead: int = AHEAD, now: datetime | None = None,
           since: date | None = None) -> list[str]:
    """Create the default partition and the monthly ones from ``since`` (default: this month) to
    ``ahead`` months after this one, those missing; returns the names created. Runs in the
    caller's transaction; nothing on SQLite or on a table not (yet) partitioned."""
    if not is_partitioned(conn):
        return []
    have = set(attached(conn))
    created: list[str] = []
    if DEFAULT not in have:
        conn.exec_driver_sql(f"CREATE TABLE {DEFAULT} PARTITION OF {TABLE} DEFAULT")
        created.append(DEFAULT)
    this = month_start(now or datetime.now(UTC))
    month = month_start(since) if since else this
    while month <= add_months(this, ahead):
        name = partition_name(month)
        if name not in have:
            _create_month(conn, month)
            created.append(name)
        month = add_months(month, 1)
    return created


def keep_ahead(engine: Engine, ahead: int = AHEAD) -> list[str]:
    """The web processes' upkeep (lrs.maintenance.StatsKeeper): ``ensure`` in a transaction of its
    own, skipped if another process is at it; creating a partition locks the parent table, so it
    waits at most 2 s for writers and otherwise fails (the next run tries again: meanwhile rows
    go to the DEFAULT partition). Costs one catalogue query when nothing is missing."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.begin() as conn:
        if not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK}).scalar():
            return []
        conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
        return ensure(conn, ahead=ahead)


def _create_month(conn: Connection, month: date) -> None:
    lo, hi = _bound(month), _bound(add_months(month, 1))
    name = partition_name(month)
    strays = conn.exec_driver_sql(
        f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE stored >= {lo} AND stored < {hi})").scalar()
    if not strays:
        conn.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES FROM ({lo}) TO ({hi})")
        return
    # The default holds rows of this month: a new partition over them would be refused.
    conn.exec_driver_sql(f"ALTER TABLE {TABLE} DETACH PARTITION {DEFAULT}")
    conn.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES FROM ({lo}) TO ({hi})")
    conn.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM {DEFAULT} WHERE stored >= {lo} AND stored < {hi}")
    conn.exec_driver_sql(f"DELETE FROM {DEFAULT} WHERE stored >= {lo} AND stored < {hi}")
    conn.exec_driver_sql(f"ALTER TABLE {TABLE} ATTACH PARTITION {DEFAULT} DEFAULT")


def detach_before(conn: Connection, before: date) -> list[str]:
    """Detach the monthly partitions whose months end on or before ``before`` (their tables stay,
    detached, for archiving), with their statements' side-table rows; returns their names."""
    if not is_partitioned(conn):
        return []
    gone: list[str] = []
    for name in attached(conn):
        if name == DEFAULT or not name.startswith("statements_p"):
            continue
        month = month_of(name)
        if add_months(month, 1) > before:
            continue
        _detach(conn, name)
        gone.append(name)
    return gone


def _detach(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
    for side in ("statement_agents", "statement_activities"):
        conn.exec_driver_sql(f"DELETE FROM {side} WHERE seq IN (SELECT seq FROM {name})")


def month_of(name: str) -> date:
    """The month of a monthly partition's name (``statements_p202601`` -> 2026-01-01)."""
    if not name.startswith("statements_p") or not is_partition(name):
        raise ValueError(f"{name!r} is not a monthly partition")
    return date(int(name[-6:-2]), int(name[-2:]), 1)


def month_table(conn: Connection, month: date) -> tuple[str, bool] | None:
    """The month's partition table and whether it is attached; None when there is none (never made,
    or already archived and dropped)."""
    if not is_partitioned(conn):
        return None
    name = partition_name(month_start(month))
    if name in attached(conn):
        return name, True
    found = conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar()
    return (name, False) if found else None


def drop_month(conn: Connection, month: date) -> str | None:
    """Detach the month's partition if it is attached (with its side-table rows, as ``detach_before``)
    and drop its table; returns its name (None when there was none). Only after its archive is
    written and verified (connectors.archive): the rows are gone with the table."""
    found = month_table(conn, month)
    if found is None:
        return None
    name, is_attached = found
    if is_attached:
        _detach(conn, name)
    conn.exec_driver_sql(f"DROP TABLE {name}")
    return name
