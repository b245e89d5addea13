"""Statement ingest and query benchmark against a real gunicorn server over real HTTP.

    make bench                                   # SQLite, and PostgreSQL when 127.0.0.1:5432 answers
    BENCH_STATEMENTS=1000000 BENCH_BACKENDS=postgresql make bench   # the 1M-statement figures

Prints batch and single POST rates and query latency percentiles. Targets (2 cores, PostgreSQL):
batch ingest ≥ 5,000 statements/s, single POST p50 ≤ 5 ms, query page p95 ≤ 50 ms at 1M stored.
"""

from __future__ import annotations

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.data import BASE, COURSES, Generator
from bench.databases import scratch_databases

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def start_server(url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str, tuple[str, str]]:
    env = {**os.environ, "HOCVU_DATABASE_URL": url, "HOCVU_INSTANCE_DIR": str(workdir), "HOCVU_SECRET_KEY": "bench"}
    hocvu = [sys.executable, "-m", "hocvu.cli"]
    subprocess.run([*hocvu, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([*hocvu, "tenant", "create", "bench", "--name", "Benchmark"], env=env, check=True,
                   capture_output=True)
    cred = json.loads(subprocess.run([*hocvu, "credential", "create", "--tenant", "bench", "--scopes", "all",
                                      "--json"], env=env, check=True, capture_output=True).stdout)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                             "--log-level", "warning", "hocvu.wsgi:app"], env=env)
    base = f"http://127.0.0.1:{port}/xapi"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{base}/about", timeout=5).raise_for_status()
            return proc, base, (cred["key"], cred["secret"])
        except requests.RequestException:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.terminate()
                raise RuntimeError("the hub did not start within 60 s") from None
            time.sleep(0.2)


def session(auth: tuple[str, str]) -> requests.Session:
    http = requests.Session()
    http.auth = auth
    http.headers.update({"X-Experience-API-Version": "2.0.0", "Content-Type": "application/json"})
    return http


def load(base: str, auth: tuple[str, str], gen: Generator, total: int, label: str) -> float:
    """Batch POSTs of 500 from CLIENTS concurrent clients (LMSs send at once); returns statements/s.
    Bodies are generated before the clock starts so the figure is the hub's, not the generator's."""
    batch = 500
    bodies = [json.dumps([gen.statement() for _ in range(min(batch, total - i))]) for i in range(0, total, batch)]
    done = 0
    lock = threading.Lock()

    def post(body: str) -> None:
        nonlocal done
        local = getattr(tls, "http", None) or session(auth)
        tls.http = local
        local.post(f"{base}/statements", data=body).raise_for_status()
        with lock:
            done += batch
            if done % 100_000 < batch:
                print(f"  [{label}] loaded {done:,} statements", flush=True)

    tls = threading.local()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(post, bodies))
    return total / (time.perf_counter() - t0)


def _instant(rng: random.Random, window: tuple[datetime, datetime]) -> str:
    low, high = window
    return (low + (high - low) * rng.random()).isoformat().replace("+00:00", "Z")


def measure_queries(http: requests.Session, base: str, gen: Generator, window: tuple[datetime, datetime]) -> None:
    """p50/p95 of the common queries, 100 each. ``window``: when the load was stored (since/until
    fall inside it, so each such query matches a part of the tenant, often most of it)."""
    rng = random.Random(1)
    queries = {
        "since (stored time)": lambda: {"since": _instant(rng, window), "limit": 25},
        "until (stored time)": lambda: {"until": _instant(rng, window), "limit": 25},
        "latest page (limit=25)": lambda: {"limit": 25},
        "by verb": lambda: {"verb": "http://adlnet.gov/expapi/verbs/passed", "limit": 25},
        "by learner": lambda: {"agent": json.dumps(gen.actor(rng.randrange(len(gen.learners)))), "limit": 25},
        "by activity (related)": lambda: {"activity": f"{BASE}/{rng.choice(list(COURSES))}",
                                          "related_activities": "true", "limit": 25},
        "by registration": lambda: {"registration": rng.choice(list(gen.registrations.values()))},
        "next page (more)": None,
    }
    for name, params in queries.items():
        times = []
        for _ in range(100):
            if params is None:
                more = http.get(f"{base}/statements", params={"limit": 25}).json()["more"]
                t = time.perf_counter()
                http.get(base.removesuffix("/xapi") + more).raise_for_status()
            else:
                p = params()
                t = time.perf_counter()
                http.get(f"{base}/statements", params=p).raise_for_status()
            times.append((time.perf_counter() - t) * 1000)
        print(f"GET {name}: p50 {pct(times, 50):.1f} ms, p95 {pct(times, 95):.1f} ms")


def run(label: str, url: str, total: int) -> None:
    gen = Generator()
    with tempfile.TemporaryDirectory() as tmp:
        proc, base, auth = start_server(url, Path(tmp))
        try:
            http = session(auth)
            started = datetime.now(UTC)
            rate = load(base, auth, gen, total, label)
            window = (started, datetime.now(UTC))
            singles = []
            for _ in range(300):
                body = json.dumps(gen.statement())
                t = time.perf_counter()
                http.post(f"{base}/statements", data=body).raise_for_status()
                singles.append((time.perf_counter() - t) * 1000)
            print(f"\n== {label}: {total:,} statements stored (load average {os.getloadavg()[0]:.2f})")
            print(f"batch POST (500/request, {CLIENTS} concurrent clients): {rate:,.0f} statements/s")
            print(f"single POST: p50 {pct(singles, 50):.1f} ms, p95 {pct(singles, 95):.1f} ms")
            measure_queries(http, base, gen, window)
        finally:
            proc.terminate()
            proc.wait()


def main() -> None:
    total = int(os.environ.get("BENCH_STATEMENTS", "50000"))
    for name, url in scratch_databases("statements"):
        run(name, url, total)


if __name__ == "__main__":
    main()
