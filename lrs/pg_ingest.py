"""PostgreSQL's ingest path (``lrs.statements._insert``): a batch's statement rows in one short
statement, and rows that cannot conflict by COPY. The other database goes through SQLAlchemy Core."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson
from sqlalchemy.orm import Session

STATEMENT_COLUMNS: Final = ("seq", "tenant_id", "statement_id", "verb_id", "actor_key", "object_type",
                             "object_activity_id", "object_agent_key", "object_statement_id", "registration",
                             "timestamp", "stored", "voided", "is_voiding", "credential_id", "full")
# One short statement whatever the batch size, with the rows as one JSON text that the server reads
# into records: psycopg caches its parse and, from the fifth run on a connection, PostgreSQL its plan
# (a prepared statement). SQLAlchemy's multi-row VALUES for 500 rows was a new 8,000-parameter text
# each time, parsed again by psycopg on every batch (19 % of ingest's CPU under py-spy); arrays per
# column (unnest) cost more still, psycopg escaping every element in Python (27 %).
# `statements` is partitioned by `stored` (lrs.partitions): the ids' uniqueness is claimed in
# `statement_ids` first (its ON CONFLICT waits for a concurrent claim's commit, as the unique key
# of the unpartitioned table did), and only the rows whose id was claimed go in.
INSERT_STATEMENTS: Final = (
    "WITH r AS MATERIALIZED (SELECT * FROM json_populate_recordset(NULL::statements, %s::json)), "
    "claimed AS (INSERT INTO statement_ids (tenant_id, statement_id, seq) SELECT tenant_id, statement_id, seq "
    "FROM r ORDER BY statement_id ON CONFLICT (tenant_id, statement_id) DO NOTHING RETURNING seq) "
    "INSERT INTO statements ({names}) SELECT {names} FROM r WHERE seq IN (SELECT seq FROM claimed) "
    "RETURNING seq, statement_id"
).format(names=", ".join(f'"{c}"' for c in STATEMENT_COLUMNS))


_NAMES: Final = ", ".join(f'"{c}"' for c in STATEMENT_COLUMNS)
_CURRENT_INSERT: Final = INSERT_STATEMENTS
# The whole of a batch in one statement and one round trip, whatever its size (a single POST's
# round trips were most of its time): ``seq`` drawn in request order (each row is sent with its
# place in the request as ``seq``, kept as ``ord``; PostgreSQL evaluates a volatile function such as
# nextval after the sort of ``ORDER BY``), the ids claimed
# in id order (the lock order of lrs.statements._insert), the claimed rows inserted, and their
# side-table rows, which refer to their statement by its place in the request. Replaces a nextval
# round trip, the insert and two COPYs (each two round trips).
INGEST_CTES: Final = (
    "WITH r AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('statements', 'seq')) AS seq, x.seq AS ord, "
    "{cols} FROM json_populate_recordset(NULL::statements, %(rows)s::json) AS x ORDER BY x.seq), "
    "claimed AS (INSERT INTO statement_ids (tenant_id, statement_id, seq) SELECT tenant_id, statement_id, seq "
    "FROM r ORDER BY statement_id ON CONFLICT (tenant_id, statement_id) DO NOTHING RETURNING seq), "
    "ins AS (INSERT INTO statements ({names}) SELECT {names} FROM r WHERE seq IN (SELECT seq FROM claimed) "
    "RETURNING seq, statement_id), "
    "ag AS (INSERT INTO statement_agents (seq, tenant_id, agent_key, direct) "
    "SELECT ins.seq, %(tenant)s, a.k, a.d "
    "FROM (SELECT (e->>0)::bigint, e->>1, (e->>2)::boolean "
    "FROM json_array_elements(%(agents)s::json) e) AS a(o, k, d) "
    "JOIN r ON r.ord = a.o JOIN ins ON ins.seq = r.seq), "
    "ac AS (INSERT INTO statement_activities (seq, tenant_id, activity_id, direct) "
    "SELECT ins.seq, %(tenant)s, a.k, a.d "
    "FROM (SELECT (e->>0)::bigint, e->>1, (e->>2)::boolean "
    "FROM json_array_elements(%(activities)s::json) e) AS a(o, k, d) "
    "JOIN r ON r.ord = a.o JOIN ins ON ins.seq = r.seq) "
).format(names=_NAMES, cols=", ".join(f'x."{c}"' for c in STATEMENT_COLUMNS[1:]))
INGEST: Final = INGEST_CTES + (
    "SELECT 's', statement_id, seq::text FROM ins "
    # A read the write needs next, in the same round trip (issue 17 item 1): the stored
    # definitions of the Activities the batch defines (lrs.activity_definitions).
    "UNION ALL SELECT 'd', activity_id, definition::text FROM activities "
    "WHERE tenant_id = %(tenant)s AND activity_id = ANY(%(defined)s::text[])"
)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def json_text(value: Any) -> str:
    """``value`` as JSON text for the server to read (datetimes as ISO 8601)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers past 64 bits, lone surrogates: the stdlib writes them (JSONB then judges)
        return json.dumps(value, default=_iso)


def _dbapi(session: Session) -> Any:
    return session.connection().connection.dbapi_connection


def pg_insert_statements(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert statement rows (``lrs.statements.prepare``'s) whose (tenant, id) is new; returns
    {statement id: seq} of those inserted. ``seq`` follows the request (stored order within a batch
    is the order sent), so the numbers are drawn first, in request order, and the rows inserted in
    id order (the lock order of lrs.statements._insert). A number drawn for a row that turns out to
    exist is skipped, as a failed insert's always was."""
    with _dbapi(session).cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence('statements', 'seq')) FROM generate_series(1, %s)",
                    (len(rows),))
        seqs = sorted(int(s) for (s,) in cur.fetchall())
        ordered = sorted(({**r, "seq": seq} for seq, r in zip(seqs, rows, strict=True)),
                         key=lambda r: r["statement_id"])
        cur.execute(INSERT_STATEMENTS, (json_text(ordered),))
        return {sid: int(seq) for seq, sid in cur.fetchall()}


def pg_copy_rows(session: Session, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Rows into ``table`` by COPY, in the session's transaction: for rows that cannot conflict
    (a statement's side-table rows, keyed by its fresh ``seq``)."""
    with _dbapi(session).cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


SideRow = tuple[int, str, bool]  # (the statement's place in the request, from 1; key or Activity id; direct)


@dataclass
class Ingested:
    """What ``pg_ingest`` wrote and read: {statement id: seq} of the statements inserted, and the
    stored definitions of the Activities asked for (those that have one)."""

    seq_of: dict[str, int]
    definitions: dict[str, Any] = field(default_factory=dict)


def pg_ingest(session: Session, tenant: int, rows: list[dict[str, Any]], agents: list[SideRow],
              activities: list[SideRow], *, defined: list[str] | None = None) -> Ingested:
    """Insert statement rows (``lrs.statements.prepare``'s, in request order) whose (tenant, id) is
    new, with the side-table rows of those inserted, in one statement (``INGEST``). In the same
    statement, read the stored definitions of the Activities ``defined``. A number drawn for a row
    that turns out to exist is skipped, as a failed insert's always was."""
    if INSERT_STATEMENTS is not _CURRENT_INSERT:
        # A test fills a store as the release before migration 0110 did, through its own
        # INSERT_STATEMENTS (tests/lrs/test_partitions.py): the statements, then the side rows.
        seq_of = pg_insert_statements(session, rows)
        for table, side in (("statement_agents", agents), ("statement_activities", activities)):
            pg_copy_rows(session, table, ["seq", "tenant_id", "agent_key" if table == "statement_agents"
                                          else "activity_id", "direct"],
                         [(seq_of[rows[o - 1]["statement_id"]], tenant, k, d) for o, k, d in side
                          if rows[o - 1]["statement_id"] in seq_of])
        return Ingested(seq_of)
    placed = [{**r, "seq": i} for i, r in enumerate(rows, start=1)]
    with _dbapi(session).cursor() as cur:
        cur.execute(INGEST, {"rows": json_text(placed), "tenant": tenant, "agents": side_json(agents),
                             "activities": side_json(activities), "defined": defined or []})
        found = Ingested({})
        for kind, key, value in cur.fetchall():
            if kind == "s":
                found.seq_of[key] = int(value)
            else:
                found.definitions[key] = json.loads(value)  # as the JSON column's own reader gives it
        return found


def side_json(rows: list[SideRow]) -> str:
    # Arrays, not objects: orjson writes a list of tuples at C speed (objects built in Python were 6 %).
    return orjson.dumps(rows).decode()
