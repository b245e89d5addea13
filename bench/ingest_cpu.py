"""Ingest's CPU cost per statement on PostgreSQL, the hub's and the database's, beside the COPY
ceiling's for the same rows: figures that hold on a shared machine, where wall-clock rates follow
whatever else runs (on 2 busy cores, the rate is the cores' time divided by these costs).

    BENCH_CPU_BATCHES=40 .venv/bin/python -m bench.ingest_cpu

In-process (Flask's test client, one client, no HTTP server): batch POSTs of 500, then single
POSTs. CPU is utime+stime of this process (the hub) and of the PostgreSQL backends serving it
(/proc; the database runs on this machine). The ceiling: bench.seed's COPY of the same kind of rows
to all four tables, one stream, rolled back.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from bench import seed
from bench.data import Generator
from bench.databases import PG_ADMIN

BATCHES = int(os.environ.get("BENCH_CPU_BATCHES", "40"))
SINGLES = int(os.environ.get("BENCH_CPU_SINGLES", "400"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def backends(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        me = conn.info.backend_pid
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()").fetchall()
    return [int(p) for (p,) in rows if p != me]


def ceiling_cpu(url: str, key: str, count: int) -> tuple[float, float, float]:
    """(client CPU s, backend CPU s, wall s) of bench.seed's COPY of ``count`` statements."""
    with psycopg.connect(url) as conn:
        principal = seed.principal_of(conn, key)
        row = conn.execute("SELECT coalesce(max(seq), 0) + 1000000000 FROM statements").fetchone()
        first = int(row[0]) if row else 1
        from datetime import UTC, datetime

        from lrs.audit import chain
        tables = seed.build(Generator(seed=11), principal, list(range(first, first + count)),
                            seed.Head(10**12, chain.GENESIS), datetime.now(UTC))
        pid = conn.info.backend_pid
        t0, c0, b0 = time.perf_counter(), time.process_time(), cpu_of([pid])
        seed.copy_tables(conn, tables)
        conn.execute("SELECT 1")
        result = time.process_time() - c0, cpu_of([pid]) - b0, time.perf_counter() - t0
        conn.rollback()
    return result


def main() -> None:
    from hocvu import db as dbops
    from hocvu.app import create_app
    from hocvu.settings import Settings
    from lrs import credentials
    from lrs.storage import Database

    name = f"hocvu_bench_ingest_cpu_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    database = Database(url)
    try:
        dbops.upgrade(database)
        app = create_app(Settings.of(database_url=url, secret_key="bench", instance_dir=Path(tempfile.mkdtemp())),
                         db=database)
        with database.session() as s:
            tenant = credentials.create_tenant(s, "bench", "Bench")
            cred, secret = credentials.create_credential(s, tenant, "bench", ["all"])
            s.commit()
            key = cred.key
        headers = {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode(),
                   "X-Experience-API-Version": "2.0.0", "Content-Type": "application/json"}
        client, gen = app.test_client(), Generator()
        batches = [json.dumps([gen.statement() for _ in range(500)]) for _ in range(BATCHES + 4)]
        singles = [json.dumps(gen.statement()) for _ in range(SINGLES + 50)]
        for body in batches[:4] + singles[:50]:  # warm: caches, prepared statements, connections
            assert client.post("/xapi/statements", data=body, headers=headers).status_code == 200
        pids = backends(url)
        t0, c0, b0 = time.perf_counter(), time.process_time(), cpu_of(pids)
        for body in batches[4:]:
            assert client.post("/xapi/statements", data=body, headers=headers).status_code == 200
        wall, hub, pg = time.perf_counter() - t0, time.process_time() - c0, cpu_of(pids) - b0
        n = BATCHES * 500
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\n== PostgreSQL, in-process, one client ({os.cpu_count()} cores; load average {load})")
        print(f"batch POST (500/request): hub CPU {hub / n * 1e6:.0f} µs + PostgreSQL CPU {pg / n * 1e6:.0f} µs "
              f"a statement = {(hub + pg) / n * 1e6:.0f} µs; wall {n / wall:,.0f} statements/s")
        c_client, c_pg, c_wall = ceiling_cpu(url, key, 20_000)
        ceiling = (c_client + c_pg) / 20_000
        print(f"COPY ceiling, same kind of rows: client CPU {c_client / 20_000 * 1e6:.0f} µs + PostgreSQL CPU "
              f"{c_pg / 20_000 * 1e6:.0f} µs a statement = {ceiling * 1e6:.0f} µs; wall {20_000 / c_wall:,.0f}/s")
        print(f"the hub's CPU cost is {ceiling / ((hub + pg) / n):.0%} of the ceiling's rate "
              f"(CPU-bound on 2 cores: {2 / ((hub + pg) / n):,.0f} statements/s against {2 / ceiling:,.0f}/s)")
        times, hubs, pgs = [], [], []
        for body in singles[50:]:
            t, c, b = time.perf_counter(), time.process_time(), cpu_of(pids)
            assert client.post("/xapi/statements", data=body, headers=headers).status_code == 200
            times.append((time.perf_counter() - t) * 1000)
            hubs.append((time.process_time() - c) * 1000)
            pgs.append((cpu_of(pids) - b) * 1000)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"single POST: wall p50 {statistics.median(times):.2f} ms; CPU a request: hub "
              f"{statistics.fmean(hubs):.2f} ms + PostgreSQL {statistics.fmean(pgs):.2f} ms (load average {load})")
    finally:
        database.engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
