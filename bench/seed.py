"""COPY-speed seeding of a PostgreSQL store, and the database's own write ceiling for the same rows.

Where the code path under test is not ingest (the query figures at 10M statements), the store is
filled here instead of through the hub: TEMPLATES statements are prepared by the hub's own code
(``lrs.statements.prepare``, ``lrs.related.related``), copies of them with fresh ids and stored
times hashed into the audit chain as the hub would (``lrs.audit.chain``), then written to
all four tables the hub writes (statements, statement_agents, statement_activities, audit_entries,
plus the chain head) by one ``COPY`` stream per table. Every chain entry's link and content hash
are the hub's (checked over 45,000 copies); the seeder signs no checkpoints, so `hocvu audit verify`
reports the missing cadence and nothing else.

The time of the COPY alone, for rows prepared beforehand, is the database's ceiling for those rows:
bench/statements.py prints the hub's batch ingest rate as a ratio to it, from the same run.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg

from bench.data import Generator
from lrs.audit import chain
from lrs.credentials import Principal
from lrs.jcs import canonical_json
from lrs.statements import Indexed, format_time, prepare

CHUNK = 20_000  # statements prepared and written per round: bounded memory at 10M
# Distinct statements prepared by the hub's code; the store is made of copies of them with fresh ids
# (as many learners as the generator has, so each learner's share of a 10M store is as generated).
TEMPLATES = 20_000


@dataclass
class Tables:
    statements: list[tuple[Any, ...]]
    agents: list[tuple[Any, ...]]
    activities: list[tuple[Any, ...]]
    entries: list[tuple[Any, ...]]


@dataclass
class Head:
    position: int
    entry_hash: str


_STATEMENT_COLUMNS = ("seq", "tenant_id", "statement_id", "verb_id", "actor_key", "object_type",
                      "object_activity_id", "object_agent_key", "object_statement_id", "registration",
                      "timestamp", "stored", "voided", "is_voiding", "credential_id", "\"full\"")


def principal_of(conn: psycopg.Connection[Any], key: str) -> Principal:
    row = conn.execute("SELECT id, tenant_id, key, scopes, authority FROM credentials WHERE key = %s",
                       (key,)).fetchone()
    assert row is not None, f"no credential {key}"
    return Principal(row[0], row[1], row[2], frozenset(row[3]), row[4])


def build(gen: Generator, principal: Principal, seqs: list[int], head: Head, stored: datetime) -> Tables:
    """Rows for ``count`` statements, as the hub would write them (same preparation, same chain)."""
    tenant = principal.tenant_id
    t = Tables([], [], [], [])
    recorded = chain.iso(stored)
    for seq in seqs:
        p: Indexed = prepare(gen.statement(), principal, "2.0.0", stored)
        r = p.row
        t.statements.append((seq, *(r[c] for c in _STATEMENT_COLUMNS[1:-1]), orjson.dumps(p.statement).decode()))
        t.agents.extend((seq, tenant, k, d) for k, d in p.agents)
        t.activities.extend((seq, tenant, a, d) for a, d in p.activities)
        position = head.position + 1
        content = chain.content_hash(p.statement)
        h = chain.entry_hash(head.entry_hash, tenant, position, "stored", r["statement_id"], content, None, recorded)
        t.entries.append((tenant, position, "stored", r["statement_id"], content, None, stored, head.entry_hash, h))
        head.position, head.entry_hash = position, h
    return t


@dataclass
class Template:
    """A statement prepared by the hub once, as text that copies of it differ from only by id and
    stored time (both of fixed length, so the canonical form's key order is unchanged)."""

    row: tuple[Any, ...]
    agents: list[tuple[str, bool]]
    activities: list[tuple[str, bool]]
    full: str
    canonical: str
    statement_id: str
    stored: str


def templates(gen: Generator, principal: Principal, count: int, stored: datetime) -> list[Template]:
    out = []
    for _ in range(count):
        p = prepare(gen.statement(), principal, "2.0.0", stored)
        out.append(Template(tuple(p.row[c] for c in _STATEMENT_COLUMNS[1:-1]), p.agents, p.activities,
                            orjson.dumps(p.statement).decode(), canonical_json(p.statement).decode(),
                            p.statement["id"], p.statement["stored"]))
    return out


def replicate(pool: list[Template], offset: int, principal: Principal, seqs: list[int], head: Head,
              stored: datetime, rng: random.Random) -> Tables:
    """Rows for copies of ``pool``'s statements with fresh ids and this ``stored`` time: the hub's
    preparation once per template, then only string replacement and the chain's hashes per row."""
    tenant = principal.tenant_id
    t = Tables([], [], [], [])
    recorded = chain.iso(stored)
    stored_text = format_time(stored)
    for i, seq in enumerate(seqs):
        tpl = pool[(offset + i) % len(pool)]
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        full = tpl.full.replace(tpl.statement_id, sid).replace(tpl.stored, stored_text)
        canonical = tpl.canonical.replace(tpl.statement_id, sid).replace(tpl.stored, stored_text)
        # row: tenant_id, statement_id, verb .. registration, timestamp, stored, voided, is_voiding, credential_id
        t.statements.append((seq, tenant, sid, *tpl.row[2:10], stored, *tpl.row[11:], full))
        t.agents.extend((seq, tenant, k, d) for k, d in tpl.agents)
        t.activities.extend((seq, tenant, a, d) for a, d in tpl.activities)
        position = head.position + 1
        content = chain.sha256_hex(canonical.encode("utf-8"))
        h = chain.entry_hash(head.entry_hash, tenant, position, "stored", sid, content, None, recorded)
        t.entries.append((tenant, position, "stored", sid, content, None, stored, head.entry_hash, h))
        head.position, head.entry_hash = position, h
    return t


def copy_tables(conn: psycopg.Connection[Any], t: Tables) -> None:
    with conn.cursor() as cur:
        for table, columns, rows in (
                ("statements", _STATEMENT_COLUMNS, t.statements),
                ("statement_agents", ("seq", "tenant_id", "agent_key", "direct"), t.agents),
                ("statement_activities", ("seq", "tenant_id", "activity_id", "direct"), t.activities),
                # The ids' registry of the partitioned table (lrs.partitions, migration 0110).
                ("statement_ids", ("tenant_id", "statement_id", "seq"), [(r[1], r[2], r[0]) for r in t.statements]),
                ("audit_entries", chain._ENTRY_COLUMNS, t.entries)):
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


def _head(conn: psycopg.Connection[Any], tenant: int) -> Head:
    row = conn.execute("SELECT position, entry_hash FROM audit_heads WHERE tenant_id = %s", (tenant,)).fetchone()
    return Head(int(row[0]), row[1]) if row else Head(0, chain.GENESIS)


def _save_head(conn: psycopg.Connection[Any], tenant: int, head: Head, now: datetime) -> None:
    conn.execute("INSERT INTO audit_heads (tenant_id, position, entry_hash, checkpoint_position, checkpoint_time) "
                 "VALUES (%s, %s, %s, 0, %s) ON CONFLICT (tenant_id) DO UPDATE SET position = EXCLUDED.position, "
                 "entry_hash = EXCLUDED.entry_hash", (tenant, head.position, head.entry_hash, now))


def seed(url: str, key: str, total: int, gen: Generator, *, start: datetime | None = None,
         progress: bool = True) -> tuple[float, float]:
    """Store ``total`` statements for the credential ``key`` by COPY; returns (seconds preparing,
    seconds copying). ``stored`` times spread evenly from ``start`` (default: now) to now, one
    per chunk, so since/until and stored-time partitions see a store that grew over time."""
    now = datetime.now(UTC)
    start = start or now
    prep_s = copy_s = 0.0
    rng = random.Random(total)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        principal = principal_of(conn, key)
        head = _head(conn, principal.tenant_id)
        t0 = time.perf_counter()
        pool = templates(gen, principal, min(total, TEMPLATES), start)
        prep_s += time.perf_counter() - t0
        chunks = max(1, (total + CHUNK - 1) // CHUNK)
        done = 0
        while done < total:
            n = min(CHUNK, total - done)
            stored = start + (now - start) * (done // CHUNK) / chunks
            seqs = [s for (s,) in conn.execute("SELECT nextval(pg_get_serial_sequence('statements', 'seq')) "
                                               "FROM generate_series(1, %s)", (n,))]
            t0 = time.perf_counter()
            tables = replicate(pool, done, principal, seqs, head, stored, rng)
            t1 = time.perf_counter()
            copy_tables(conn, tables)
            _save_head(conn, principal.tenant_id, head, now)
            conn.commit()
            t2 = time.perf_counter()
            prep_s, copy_s = prep_s + t1 - t0, copy_s + t2 - t1
            done += n
            if progress and done % 500_000 < n:
                print(f"  [seed] {done:,} statements by COPY ({done / (prep_s + copy_s):,.0f}/s)", flush=True)
    return prep_s, copy_s


def copy_ceiling(url: str, key: str, count: int, gen: Generator) -> float:
    """Statements/s of one COPY stream writing ``count`` prepared statements to all four tables,
    in one transaction that is rolled back (the store is left as it was)."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        principal = principal_of(conn, key)
        row = conn.execute("SELECT coalesce(max(seq), 0) + 1000000000 FROM statements").fetchone()
        first = int(row[0]) if row else 1
        tables = build(gen, principal, list(range(first, first + count)), Head(10**12, chain.GENESIS),
                       datetime.now(UTC))
        t0 = time.perf_counter()
        copy_tables(conn, tables)
        conn.execute("SELECT 1")  # the COPY has reached the server
        elapsed = time.perf_counter() - t0
        conn.rollback()
    return count / elapsed


def stored_count(url: str) -> int:
    """Statements already in the store (a kept database, BENCH_PG_DATABASE)."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        row = conn.execute("SELECT count(*) FROM statements").fetchone()
    return int(row[0]) if row else 0


def forget_statistics(url: str) -> None:
    """The statement tables as a fresh bulk load leaves them where nothing has analysed them yet
    (autovacuum off or behind): no column statistics and no row counts (reltuples -1, PostgreSQL's
    "never analysed"). For BENCH_NO_STATS, which measures the queries in that state."""
    tables = ("SELECT c.oid FROM pg_class c WHERE c.relkind IN ('r', 'p') AND c.relname LIKE 'statement%'")
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(f"DELETE FROM pg_statistic WHERE starelid IN ({tables})")
        conn.execute(f"UPDATE pg_class SET reltuples = -1, relpages = 0, relallvisible = 0 WHERE oid IN ({tables})")


def spread_start(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
