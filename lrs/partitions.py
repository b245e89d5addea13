"""Monthly range partitions of ``statements`` by ``stored`` (PostgreSQL; SQLite has one table).

Migration 0110 makes the table partitioned; the hub then keeps partitions ahead of time
(``hocvu db partitions --ahead N``, also run by ``hocvu db upgrade``), named ``statements_pYYYYMM``,
plus ``statements_default``, which takes any row no monthly partition covers so a write never fails
for lack of one. A monthly partition made for a range the default already holds rows of takes them
over (the default is detached, the rows moved, the default attached again: one transaction).
``hocvu db partitions --detach BEFORE`` detaches the months that end on or before BEFORE: their
statements leave every query (their ids stay taken in ``statement_ids``); archiving the detached
tables (to the Parquet lake, with their chain proofs) is not done here.
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
        month = date(int(name[-6:-2]), int(name[-2:]), 1)
        if add_months(month, 1) > before:
            continue
        conn.exec_driver_sql(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
        for side in ("statement_agents", "statement_activities"):
            conn.exec_driver_sql(f"DELETE FROM {side} WHERE seq IN (SELECT seq FROM {name})")
        gone.append(name)
    return gone
