"""What a single-statement POST's CPU is made of, layer by layer (issue 17 item 1): the figures
behind docs/scale.md's "The two targets not met". CPU time from /proc, so they hold on a shared
machine; the kept bench store (``BENCH_PG_DATABASE``, seeded by ``make bench``) is read, and
nothing is left in it.

    BENCH_PG_DATABASE=hocvu_bench_post .venv/bin/python -m bench.post_layers [http|database|all]

* http: worker CPU a request, a new connection each (as gunicorn's sync workers serve them), for
  gunicorn serving a three-line WSGI app (its own floor), then the hub's ``/healthz``, ``GET
  /xapi/about``, a statement POST refused after authentication (400), and a stored statement POST.
* database: backend CPU of a transaction on one connection: ``SELECT 1`` and commit, a one-row
  update and commit (a scratch table, dropped), the audit chain's append of 1 and of 500 entries
  (rolled back: the chain is left as it was).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path

import psycopg

from bench import post_cost as pc
from bench.data import Generator
from bench.ingest_cpu import cpu_of
from bench.statements import free_port
from lrs.audit import chain as audit_chain
from lrs.audit import pg_append

REQUESTS = int(os.environ.get("BENCH_LAYER_REQUESTS", "1500"))
# gunicorn's own floor: the smallest WSGI app, served like the hub (bench.statements.start_server).
BARE_APP = ('def app(environ, start_response):\n'
            '    start_response("200 OK", [("Content-Length", "2")])\n'
            '    return [b"ok"]\n')


def _request(port: int, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> int:
    conn = HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        res.read()
        return res.status
    finally:
        conn.close()


def _per_request(workers: list[int], call: Callable[[], int], n: int = REQUESTS) -> tuple[float, set[int]]:
    for _ in range(50):  # warm
        call()
    before = cpu_of(workers)
    statuses = {call() for _ in range(n)}
    return (cpu_of(workers) - before) / n * 1000, statuses


def bare_floor() -> float:
    """Worker CPU a request of gunicorn (2 sync workers) serving the smallest WSGI app."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "bare_app.py").write_text(BARE_APP)
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                                 "--log-level", "warning", "bare_app:app"], cwd=folder)
        try:
            workers = pc.worker_pids(proc.pid)
            time.sleep(1)
            cost, _ = _per_request(workers, lambda: _request(port, "GET", "/"))
            return cost
        finally:
            proc.terminate()
            proc.wait()


def http() -> None:
    print(f"\n== worker CPU a request, a new connection each, {REQUESTS} requests (load average {pc.load()})")
    print(f"gunicorn alone (a three-line WSGI app): {bare_floor():.3f} ms")
    proc, base, auth, workers = pc.hub_server()
    port = int(base.rsplit(":", 1)[1].split("/", 1)[0])
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    xapi = {"Authorization": f"Basic {token}", "X-Experience-API-Version": "2.0.0",
            "Content-Type": "application/json"}
    gen = Generator(seed=int(time.time()))
    calls: dict[str, Callable[[], int]] = {
        "the hub's /healthz": lambda: _request(port, "GET", "/healthz"),
        "GET /xapi/about": lambda: _request(port, "GET", "/xapi/about"),
        "POST /xapi/statements refused after authentication": lambda: _request(
            port, "POST", "/xapi/statements", b'{"not": "a statement"}', xapi),
        "POST /xapi/statements, one statement stored": lambda: _request(
            port, "POST", "/xapi/statements", json.dumps(gen.statement()).encode(), xapi),
    }
    try:
        for name, call in calls.items():
            cost, statuses = _per_request(workers, call)
            print(f"{name}: {cost:.3f} ms (answered {', '.join(map(str, sorted(statuses)))})")
    finally:
        proc.terminate()
        proc.wait()
    print(f"(load average {pc.load()})")


def _entries(tenant: int, count: int) -> str:
    """``count`` chain entries as the hub sends them to ``hocvu_audit_append`` (lrs.audit.pg_append)."""
    stamp = audit_chain.iso(datetime.now(UTC))
    entries = [audit_chain.NewEntry("stored", str(uuid.uuid4()), uuid.uuid4().hex * 2) for _ in range(count)]
    parts = [audit_chain.entry_text_parts(tenant, e.kind, e.statement_id, e.content_hash, e.detail, stamp)
             for e in entries]
    return pg_append.payload(entries, parts)


def database() -> None:
    scratch = f"bench_layers_{os.getpid()}"
    with psycopg.connect(pc.URL) as conn:
        backend = [conn.info.backend_pid]
        row = conn.execute("SELECT id FROM tenants WHERE slug = 'bench'").fetchone()
        if row is None:
            raise SystemExit("no tenant 'bench' in the store: seed it with `make bench` first")
        tenant = int(row[0])
        conn.execute(f"CREATE TABLE {scratch} (id integer PRIMARY KEY, v bigint)")
        conn.execute(f"INSERT INTO {scratch} VALUES (1, 0)")
        conn.commit()
        one, many, now = _entries(tenant, 1), _entries(tenant, 500), datetime.now(UTC)
        append = pg_append.APPEND
        cases: list[tuple[str, str, tuple[object, ...], int, bool]] = [
            ("SELECT 1, commit", "SELECT 1", (), 2000, True),
            ("a one-row UPDATE, commit", f"UPDATE {scratch} SET v = v + 1 WHERE id = 1", (), 2000, True),
            ("the chain's append of 1 entry, rolled back", append, (tenant, one, now), 2000, False),
            ("the chain's append of 500 entries, rolled back", append, (tenant, many, now), 40, False),
        ]
        print(f"\n== PostgreSQL backend CPU a transaction, one connection (load average {pc.load()})")
        try:
            for name, sql, args, n, commit in cases:
                end = conn.commit if commit else conn.rollback
                for _ in range(10):
                    conn.execute(sql, args)
                    end()
                before = cpu_of(backend)
                for _ in range(n):
                    conn.execute(sql, args)
                    end()
                print(f"{name}: {(cpu_of(backend) - before) / n * 1e6:,.0f} µs")
        finally:
            conn.rollback()
            conn.execute(f"DROP TABLE {scratch}")
            conn.commit()


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("http", "all"):
        http()
    if what in ("database", "all"):
        database()


if __name__ == "__main__":
    main()
