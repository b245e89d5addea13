"""Statement ingest and query benchmark against a real gunicorn server over real HTTP.

    make bench                                   # SQLite, and PostgreSQL when 127.0.0.1:5432 answers
    BENCH_STATEMENTS=1000000 BENCH_BACKENDS=postgresql make bench   # the 1M-statement figures
    BENCH_STATEMENTS=10000000 BENCH_BACKENDS=postgresql make bench  # 10M: COPY-seeded, then ingest
    BENCH_PG_DATABASE=name ...   # keep the store between runs (seeded once, then topped up)
    BENCH_NO_STATS=1 ...         # PostgreSQL: the queries with no statistics (as after a bulk load)
    BENCH_SERVER="--workers 2 --threads 4" ...   # gunicorn's worker options (default: 2 sync workers)
    python -m bench.pg_server DIR -- make bench  # on a PostgreSQL cluster set up as deployed (see there)

On PostgreSQL, when BENCH_STATEMENTS is more than BENCH_INGEST (default 200,000), the difference is
loaded first by COPY (bench.seed: the hub's own preparation and audit chain, written at the
database's speed), so the query figures at 10M take minutes: the code path under test there is the
query, not ingest. The last BENCH_INGEST statements go through the hub (batch POSTs), and the same
run prints the COPY ceiling for the same rows and the hub's ratio to it.

Prints batch and single POST rates and query latency percentiles. Targets (2 cores, PostgreSQL):
batch ingest ≥ 5,000 statements/s, single POST p50 ≤ 5 ms, query page p95 ≤ 50 ms at 1M stored.
"""

from __future__ import annotations

import base64
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path

import requests

from bench import seed
from bench.data import BASE, COURSES, Generator
from bench.databases import scratch_databases

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
INGEST = int(os.environ.get("BENCH_INGEST", "200000"))
# gunicorn's worker options: 2 sync workers by default (one per core); `make run` serves with
# "--workers 2 --threads 4", gunicorn's own advice for sync workers is 2 × cores + 1. Two a core
# were measured against one (docs/scale.md): no clear difference beyond the machine's noise.
SERVER = os.environ.get("BENCH_SERVER", "--workers 2")


def server_workers() -> int:
    """How many worker processes BENCH_SERVER starts (without --workers, gunicorn's default:
    WEB_CONCURRENCY, else one)."""
    words = SERVER.split()
    for i, word in enumerate(words):
        if word in ("--workers", "-w") and i + 1 < len(words):
            return int(words[i + 1])
        if word.startswith("--workers="):
            return int(word.split("=", 1)[1])
    return int(os.environ.get("WEB_CONCURRENCY", "1"))


CEILING_ROWS = 20_000  # statements written by COPY (and rolled back) to measure the ceiling


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def prepare_store(url: str, workdir: Path) -> tuple[dict[str, str], tuple[str, str]]:
    env = {**os.environ, "HOCVU_DATABASE_URL": url, "HOCVU_INSTANCE_DIR": str(workdir), "HOCVU_SECRET_KEY": "bench"}
    hocvu = [sys.executable, "-m", "hocvu.cli"]
    subprocess.run([*hocvu, "db", "upgrade"], env=env, check=True, capture_output=True)
    # check=False: a kept database (BENCH_PG_DATABASE) has the tenant from an earlier run.
    subprocess.run([*hocvu, "tenant", "create", "bench", "--name", "Benchmark"], env=env, check=False,
                   capture_output=True)
    cred = json.loads(subprocess.run([*hocvu, "credential", "create", "--tenant", "bench", "--scopes", "all",
                                      "--json"], env=env, check=True, capture_output=True).stdout)
    return env, (cred["key"], cred["secret"])


def start_server(env: dict[str, str], auth: tuple[str, str]) -> tuple[subprocess.Popen[bytes], str, tuple[str, str]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", *SERVER.split(),
                             "--log-level", "warning", "hocvu.wsgi:app"], env=env)
    base = f"http://127.0.0.1:{port}/xapi"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{base}/about", timeout=5).raise_for_status()
            return proc, base, auth
        except requests.RequestException:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.terminate()
                raise RuntimeError("the hub did not start within 60 s") from None
            time.sleep(0.2)


def serve(url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str, tuple[str, str]]:
    """A hub on the database at ``url`` (instance folder ``workdir``), ready to POST to: the schema
    upgraded, tenant "bench" with an all-scopes credential, gunicorn started (BENCH_SERVER). Returns
    the server process, its xAPI endpoint and the credential. The environment is read when called."""
    env, auth = prepare_store(url, workdir)
    return start_server(env, auth)


def session(auth: tuple[str, str]) -> requests.Session:
    http = requests.Session()
    http.auth = auth
    http.headers.update({"X-Experience-API-Version": "2.0.0", "Content-Type": "application/json"})
    return http


def load(base: str, auth: tuple[str, str], gen: Generator, total: int, label: str, stored: int = 0) -> float:
    """Batch POSTs of 500 from CLIENTS concurrent clients (LMSs send at once); returns statements/s.
    Bodies are generated a chunk at a time with the clock stopped, so the figure is the hub's, not
    the generator's, and a 10M load needs one chunk's memory; each chunk's rate is printed, so a
    rate that falls as the store grows shows."""
    batch, chunk = 500, 200_000
    tls = threading.local()

    def post(body: str) -> None:
        local = getattr(tls, "http", None) or session(auth)
        tls.http = local
        local.post(f"{base}/statements", data=body).raise_for_status()

    elapsed = 0.0
    with ThreadPoolExecutor(CLIENTS) as pool:
        for start in range(0, total, chunk):
            size = min(chunk, total - start)
            bodies = [json.dumps([gen.statement() for _ in range(min(batch, size - i))]) for i in range(0, size, batch)]
            t0 = time.perf_counter()
            list(pool.map(post, bodies))
            took = time.perf_counter() - t0
            elapsed += took
            if total > chunk:
                print(f"  [{label}] {stored + start + size:,} stored, the hub's last {size:,}: {size / took:,.0f}/s "
                      f"(load average {os.getloadavg()[0]:.2f})", flush=True)
    return total / elapsed


def post_once(base: str, auth: tuple[str, str], body: str) -> None:
    """One statement POST on a new connection (gunicorn's sync workers close each one anyway), by
    the standard library's client: ``requests`` spends ~1 ms of the client's CPU on a POST, on the
    same 2 cores and inside the figure, which is the hub's latency, not a client library's."""
    host, _, rest = base.removeprefix("http://").partition("/")
    name, _, port = host.partition(":")
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    conn = HTTPConnection(name, int(port or 80), timeout=60)
    try:
        conn.request("POST", f"/{rest}/statements", body=body.encode(),
                     headers={"Authorization": f"Basic {token}", "X-Experience-API-Version": "2.0.0",
                              "Content-Type": "application/json"})
        res = conn.getresponse()
        answer = res.read()
        if res.status != 200:
            raise RuntimeError(f"POST answered {res.status}: {answer[:200]!r}")
    finally:
        conn.close()


def concurrent_singles(base: str, auth: tuple[str, str], gen: Generator, writers: int = CLIENTS,
                       each: int = 75) -> list[float]:
    """Single-statement POSTs from ``writers`` clients at once, all to one tenant: they queue on the
    tenant's audit chain head (lrs.audit.chain), held from the chain's one statement to the commit."""
    bodies = [[json.dumps(gen.statement()) for _ in range(each)] for _ in range(writers)]
    times: list[float] = []
    lock = threading.Lock()

    def write(mine: list[str]) -> None:
        for body in mine:
            t = time.perf_counter()
            post_once(base, auth, body)
            with lock:
                times.append((time.perf_counter() - t) * 1000)

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, bodies))
    return times


def singles(base: str, auth: tuple[str, str], gen: Generator, count: int = 300) -> list[float]:
    """Milliseconds of ``count`` single-statement POSTs, one after another (bodies made first)."""
    bodies = [json.dumps(gen.statement()) for _ in range(count)]
    times = []
    for body in bodies:
        t = time.perf_counter()
        post_once(base, auth, body)
        times.append((time.perf_counter() - t) * 1000)
    return times


def _instant(rng: random.Random, window: tuple[datetime, datetime]) -> str:
    low, high = window
    return (low + (high - low) * rng.random()).isoformat().replace("+00:00", "Z")


def measure_queries(http: requests.Session, base: str, gen: Generator, window: tuple[datetime, datetime]) -> None:
    """p50/p95 of the common queries, 100 each. ``window``: when the load was stored (since/until
    fall inside it, so each such query matches a part of the tenant, often most of it)."""
    rng = random.Random(1)
    queries: dict[str, Callable[[], dict[str, str | int]] | None] = {
        "since (stored time)": lambda: {"since": _instant(rng, window), "limit": 25},
        "until (stored time)": lambda: {"until": _instant(rng, window), "limit": 25},
        "latest page (limit=25)": lambda: {"limit": 25},
        "by verb": lambda: {"verb": "http://adlnet.gov/expapi/verbs/passed", "limit": 25},
        "by learner": lambda: {"agent": json.dumps(gen.actor(rng.randrange(len(gen.learners)))), "limit": 25},
        "by activity (related)": lambda: {"activity": f"{BASE}/{rng.choice(list(COURSES))}",
                                          "related_activities": "true", "limit": 25},
        # A registration's whole page (up to the page cap, ~450 statements: what a cmi5 AU or an
        # LMS reads back), and its first 25 like the other kinds: the first is mostly serialising.
        "by registration": lambda: {"registration": rng.choice(list(gen.registrations.values()))},
        "by registration (limit=25)": lambda: {"registration": rng.choice(list(gen.registrations.values())),
                                               "limit": 25},
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
    postgres = not url.startswith("sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        env, auth = prepare_store(url, Path(tmp))
        before = seed.stored_count(url) if postgres else 0
        hub = min(INGEST, total) if postgres else total  # the statements POSTed through the hub
        seeded = max(0, total - hub - before)
        # A kept store holds the statements an earlier run drew from the same seed: another seed
        # gives fresh ids (else every POST would be an idempotent re-send and store nothing).
        gen = Generator(seed=7 + before)
        if before:
            print(f"  [{label}] {before:,} statements already stored (BENCH_PG_DATABASE)", flush=True)
        if seeded:
            t0 = time.perf_counter()
            prep_s, copy_s = seed.seed(url, auth[0], seeded, gen, start=seed.spread_start(90))
            print(f"  [{label}] seeded {seeded:,} statements by COPY in {time.perf_counter() - t0:.0f} s "
                  f"(preparing {prep_s:.0f} s, COPY {copy_s:.0f} s; load average {os.getloadavg()[0]:.2f})", flush=True)
            subprocess.run([sys.executable, "-m", "hocvu.cli", "db", "analyze"], env=env, check=True,
                           capture_output=True)
        if postgres and os.environ.get("BENCH_NO_STATS"):
            # Queries straight after a bulk load, nothing analysed: no statistics, and the hub's
            # own ANALYZE keeper off for the run (HOCVU_ANALYZE_EVERY=0).
            seed.forget_statistics(url)
            env["HOCVU_ANALYZE_EVERY"] = "0"
            print(f"  [{label}] statistics of the statement tables removed; the hub analyses nothing", flush=True)
        proc, base, auth = start_server(env, auth)
        try:
            http = session(auth)
            started = datetime.now(UTC)
            rate = load(base, auth, gen, hub, label, before + seeded)
            load_avg = os.getloadavg()[0]
            window = (started, datetime.now(UTC))
            busy = singles(base, auth, gen)
            print(f"\n== {label}: {before + seeded + hub:,} statements stored "
                  f"({before:,} before this run, {seeded:,} by COPY, {hub:,} by the hub; gunicorn {SERVER})")
            print(f"batch POST (500/request, {CLIENTS} concurrent clients): {rate:,.0f} statements/s "
                  f"(load average {load_avg:.2f})")
            if postgres:
                ceiling = seed.copy_ceiling(url, auth[0], CEILING_ROWS, Generator(seed=11))
                print(f"COPY ceiling, same rows, all four tables, one stream: {ceiling:,.0f} statements/s; "
                      f"the hub reaches {rate / ceiling:.0%} of it (load average {os.getloadavg()[0]:.2f})")
            print(f"single POST right after the load (the hub's rollup refresh, HOCVU_ROLLUP_SECONDS, and its "
                  f"ANALYZE catching up on the same cores): p50 {pct(busy, 50):.1f} ms, p95 {pct(busy, 95):.1f} ms "
                  f"(load average {os.getloadavg()[0]:.2f})")
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "hocvu.cli", "rollups", "refresh"], env=env, check=True,
                           capture_output=True)
            print(f"rollups caught up by `hocvu rollups refresh` in {time.perf_counter() - t0:.1f} s")
            quiet = singles(base, auth, gen)
            print(f"single POST, rollups caught up: p50 {pct(quiet, 50):.1f} ms, p95 {pct(quiet, 95):.1f} ms "
                  f"(load average {os.getloadavg()[0]:.2f})")
            many = concurrent_singles(base, auth, gen)
            print(f"single POST, {CLIENTS} concurrent writers to one tenant: p50 {pct(many, 50):.1f} ms, "
                  f"p95 {pct(many, 95):.1f} ms (load average {os.getloadavg()[0]:.2f})")
            measure_queries(http, base, gen, window)
            print(f"(queries measured at load average {os.getloadavg()[0]:.2f})")
        finally:
            proc.terminate()
            proc.wait()


def main() -> None:
    total = int(os.environ.get("BENCH_STATEMENTS", "50000"))
    for name, url in scratch_databases("statements"):
        run(name, url, total)


if __name__ == "__main__":
    main()
