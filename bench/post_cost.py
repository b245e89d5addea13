"""What one single-statement POST costs on PostgreSQL (issue 17 item 1), in figures that hold on a
shared machine: CPU time and round trips, not wall-clock latency.

    BENCH_PG_DATABASE=hocvu_bench_post .venv/bin/python -m bench.post_cost [trips|cpu|writers|all]

The store is the kept bench database (seed it first with ``make bench`` and the same
BENCH_PG_DATABASE). Three parts:

* trips: in-process (Flask's test client), every connection traced by libpq (PQtrace): round trips a
  request (each ends with the server's ReadyForQuery) and the statements it sends, listed once.
* cpu: a real gunicorn (2 workers) over HTTP, one client, single POSTs one after another: CPU time
  of the workers and of the PostgreSQL backends (/proc) per request, wall p50 beside the load.
* writers: 4 concurrent clients to one tenant, the same CPU figures, and what their backends wait
  on (pg_stat_activity sampled every few ms: wait events, and the lock held on the chain head).
"""

from __future__ import annotations

import base64
import collections
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event

from bench import statements as bs
from bench.data import Generator
from bench.databases import KEEP, PG_ADMIN
from bench.ingest_cpu import cpu_of

SINGLES = int(os.environ.get("BENCH_POST_SINGLES", "300"))
TRIPS = int(os.environ.get("BENCH_POST_TRIPS", "50"))
URL = PG_ADMIN.rsplit("/", 1)[0] + "/" + (KEEP or "hocvu_bench_post")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def backends(url: str, exclude: int | None = None) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                            "AND backend_type = 'client backend'").fetchall()
    return [int(p) for (p,) in rows if p != exclude]


def trips() -> None:
    """Round trips per single POST, and the statements of one, through libpq's protocol trace."""
    from hocvu.app import create_app
    from hocvu.settings import Settings
    from lrs import credentials
    from lrs.storage import Database

    trace_dir = Path(tempfile.mkdtemp())
    files: list[Any] = []
    database = Database(URL)

    @event.listens_for(database.engine, "connect")
    def _trace(dbapi_conn: Any, _record: Any) -> None:
        f = open(trace_dir / f"c{len(files)}.log", "w")  # noqa: SIM115 (kept open while the connection lives)
        files.append(f)
        dbapi_conn.pgconn.trace(f.fileno())
        dbapi_conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)

    app = create_app(Settings.of(database_url=URL, secret_key="bench", instance_dir=Path(tempfile.mkdtemp())),
                     db=database)
    with database.session() as s:
        tenant = credentials.get_tenant(s, "bench")
        cred, secret = credentials.create_credential(s, tenant, "post-cost", ["all"])
        s.commit()
        key = cred.key
    headers = {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode(),
               "X-Experience-API-Version": "2.0.0", "Content-Type": "application/json"}
    client, gen = app.test_client(), Generator(seed=int(time.time()))

    def traced() -> str:
        return "".join((trace_dir / f"c{i}.log").read_text() for i in range(len(files)))

    for _ in range(20):  # warm: pool, credential cache, prepared statements
        assert client.post("/xapi/statements", data=json.dumps(gen.statement()), headers=headers).status_code == 200
    counts, sample = [], ""
    for i in range(TRIPS):
        for f in files:
            f.flush()
        before = traced()
        assert client.post("/xapi/statements", data=json.dumps(gen.statement()), headers=headers).status_code == 200
        for f in files:
            f.flush()
        after = traced()
        # Files only grow; a new connection's file appears whole in ``after``.
        new = "".join(after[len(before):]) if after.startswith(before) else after
        counts.append(len(re.findall(r"^B\t\d+\tReadyForQuery", new, re.M)))
        if i == TRIPS - 1:
            sample = new
    print(f"\n== single POST round trips (in-process, {TRIPS} requests after 20 warm): "
          f"{collections.Counter(counts)}")
    for line in sample.splitlines():
        if line.startswith("F\t") and ("\tQuery\t" in line or "\tParse\t" in line or "\tBind\t" in line
                                       or "\tSync" in line):
            print("   ", line[:220])
    database.dispose()


def worker_pids(pid: int, count: int = 2) -> list[int]:
    """The pids of gunicorn ``pid``'s workers, once ``count`` are up (30 s at most)."""
    workers: list[int] = []
    deadline = time.monotonic() + 30
    while len(workers) < count and time.monotonic() < deadline:
        workers = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        time.sleep(0.1)
    return workers


def hub_server() -> tuple[Any, str, tuple[str, str], list[int]]:
    """The hub under gunicorn on the kept store: the process, its xAPI endpoint, a credential, the
    workers' pids."""
    # One instance folder per store, kept: the hub's signing key is made once (a fresh folder made
    # a new RSA key at the run's first checkpoint, ~0.5 s of a worker's CPU inside the figures).
    instance = Path(tempfile.gettempdir()) / f"hocvu-bench-instance-{URL.rsplit('/', 1)[1]}"
    instance.mkdir(exist_ok=True)
    env, auth = bs.prepare_store(URL, instance)
    proc, base, auth = bs.start_server(env, auth)
    return proc, base, auth, worker_pids(proc.pid, bs.server_workers())


def head_updates(url: str) -> int:
    """Row updates of audit_heads so far (each append updates the head once; one more when the
    head it read had moved, or when it was locked first). Backends report at idle, ~1 s after."""
    time.sleep(1.5)
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT n_tup_upd FROM pg_stat_user_tables "
                           "WHERE relname = 'audit_heads'").fetchone()
    return int(row[0]) if row else 0


def _sample_waits(url: str, stop: threading.Event, seen: collections.Counter[str]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        me = conn.info.backend_pid
        while not stop.is_set():
            rows = conn.execute(
                "SELECT state, wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity "
                "WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> %s", (me,))
            for state, wtype, wevent, query in rows:
                if state == "active":
                    seen[f"{wtype or 'CPU'}:{wevent or '-'} | {query}"] += 1
                elif state == "idle in transaction":
                    seen["idle in transaction (client's turn)"] += 1
            time.sleep(0.003)


def cpu(writers: int = 1) -> None:
    """Hub and PostgreSQL CPU per single POST over real HTTP; ``writers`` clients at once."""
    proc, base, auth, workers = hub_server()
    gen = Generator(seed=int(time.time()))
    try:
        bs.singles(base, auth, gen, 50)  # warm both workers' pools and caches
        if writers > 1:
            bs.concurrent_singles(base, auth, gen, writers, 10)
        pids = backends(URL)
        stop, seen = threading.Event(), collections.Counter[str]()
        sampler = threading.Thread(target=_sample_waits, args=(URL, stop, seen)) if writers > 1 else None
        if sampler:
            sampler.start()
        u0 = head_updates(URL)
        h0, p0 = cpu_of(workers), cpu_of(pids)
        if writers == 1:
            times = bs.singles(base, auth, gen, SINGLES)
        else:
            times = bs.concurrent_singles(base, auth, gen, writers, SINGLES // writers)
        hub, pg = cpu_of(workers) - h0, cpu_of(pids) - p0
        stop.set()
        if sampler:
            sampler.join()
        n = len(times)
        updates = head_updates(URL) - u0
        print(f"\n== single POST over HTTP, {writers} writer(s), {n} requests (load average {load()})")
        print(f"audit head row updates a request: {updates / n:.2f}")
        print(f"CPU a request: hub {hub / n * 1000:.2f} ms + PostgreSQL {pg / n * 1000:.2f} ms; "
              f"wall p50 {bs.pct(times, 50):.1f} ms, p95 {bs.pct(times, 95):.1f} ms")
        if seen:
            total = sum(seen.values())
            print("backends sampled (share of samples):")
            for what, k in seen.most_common(12):
                print(f"   {k / total:6.1%}  {what}")
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("trips", "all"):
        trips()
    if what in ("cpu", "all"):
        cpu(1)
    if what in ("writers", "all"):
        cpu(4)


if __name__ == "__main__":
    main()
