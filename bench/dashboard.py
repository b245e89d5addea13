"""Dashboard benchmark (issue 17 item 3): the report from the rollups at N statements — rollup
refresh throughput, report.json and dashboard page p50/p95 (served by the app, a national analyst's
view of every tenant), Python memory per request (tracemalloc peak: flat in N), the same report from
every statement (the old way) for comparison, and the read with a tail of fresh statements not yet
rolled up. The machine's load average is printed beside every figure.

    .venv/bin/python -m bench.dashboard                                     # 100k, PostgreSQL
    BENCH_DASHBOARD_STATEMENTS=100000,1000000 .venv/bin/python -m bench.dashboard

Statements are seeded with bulk SQL (bench.export's generator: 4 tenants, 3 courses, 90 days; past
50,000, the database's own copies of them with new learners: ``seed``), not through ingest: this
measures the reads and the refresh. BENCH_BACKENDS as for the other benchmarks.

    BENCH_PG_DATABASE=hocvu_bench_dash10m BENCH_DASHBOARD_STATEMENTS=10000000 BENCH_DASHBOARD_SEED_ONLY=1 \
        .venv/bin/python -m bench.dashboard          # seed a kept store once (≈ 25 min here)
    BENCH_PG_DATABASE=hocvu_bench_dash10m BENCH_DASHBOARD_STATEMENTS=10000000 BENCH_DASHBOARD_JOBS=2 \
        .venv/bin/python -m bench.dashboard          # rebuild its rollups, refresh with 2 processes, measure

BENCH_DASHBOARD_REFRESH_SECONDS stops the refresh (no batch started after it) and measures what is done;
BENCH_DASHBOARD_LEARNER_COPIES and _SPLIT shape the learners (``LEARNER_COPIES``).
"""

from __future__ import annotations

import base64
import logging
import os
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text as sa_text

from bench.databases import scratch_database
from bench.export import fill
from connectors import rollups
from connectors.export import ExportQuery
from connectors.reports import load_report
from connectors.rollups import delta
from connectors.rollups.refresh import ROLLUP_TABLES
from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import credentials
from lrs.storage import Database, Statement

REQUESTS = int(os.environ.get("BENCH_DASHBOARD_REQUESTS", "40"))
# Statements made in Python; the rest are the database's copies of them (``seed``).
BASE = int(os.environ.get("BENCH_DASHBOARD_BASE", "50000"))
# Learners of the copies (``seed``): each copy's learners are new ones, split into LEARNER_SPLIT
# sets by seq (a generated learner's statements shared among them), and at most LEARNER_COPIES
# distinct sets in all (0: no cap). Up to 2M statements the split is 1, as in the 1M run of
# docs/scale.md (≈ 20 statements a learner); past it 2, so 10M has ≈ 1M learners (≈ 10 statements
# each) and millions of enrolments, the rollup tables a national store would have. The old rule,
# a cap of 40 sets (≈ 100k learners whatever N), is LEARNER_COPIES=40.
LEARNER_COPIES = int(os.environ.get("BENCH_DASHBOARD_LEARNER_COPIES", "0"))


def learner_split(total: int) -> int:
    return int(os.environ.get("BENCH_DASHBOARD_LEARNER_SPLIT", "1" if total <= 2_000_000 else "2"))


# Seed and stop (a kept store, BENCH_PG_DATABASE, is seeded while the refresh is changed, then measured).
SEED_ONLY = os.environ.get("BENCH_DASHBOARD_SEED_ONLY", "") == "1"
logging.getLogger("connectors.http_reports").setLevel(logging.WARNING)  # one access line per request otherwise


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=20)
    return f"p50 {statistics.median(samples) * 1000:.1f} ms, p95 {q[18] * 1000:.1f} ms (n={len(samples)})"


def timed_requests(client: Any, path: str, headers: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path, headers=headers)
        out.append(time.perf_counter() - t)
        assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return out


def peak_kib(client: Any, path: str, headers: dict[str, str]) -> float:
    tracemalloc.start()
    client.get(path, headers=headers)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1024


def server_pids(db: Database) -> list[int]:
    """The PostgreSQL backends serving this database (the pool's connections, opened first)."""
    from sqlalchemy import text

    if db.dialect != "postgresql":
        return []
    with db.engine.connect() as conn:
        return [int(p) for p in conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()]


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these local processes (the database runs on this machine in the bench)."""
    total = 0.0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run(url: str, total: int) -> None:
    # BENCH_ROLLUP_WRITES=per-row: the portable per-row writes, to compare with the set-based ones.
    delta.SET_BASED = os.environ.get("BENCH_ROLLUP_WRITES", "set-based") != "per-row"
    db = Database(url)
    dbops.upgrade(db)
    with db.engine.connect() as conn:
        stored = conn.execute(sa_text("SELECT count(*) FROM statements")).scalar_one()
    if stored < total:
        seconds = seed(db, total - stored, learner_split(total))
        print(f"  seeded {total - stored:,} statements in {seconds:.1f} s ({(total - stored) / seconds:,.0f}/s; "
              f"learner sets a copy {learner_split(total)}, cap {LEARNER_COPIES or 'none'})  [{load()}]")
        if SEED_ONLY:
            return
    else:  # a kept store (BENCH_PG_DATABASE): its rollups are measured from zero again
        print(f"  {stored:,} statements already stored (BENCH_PG_DATABASE)")
        rollups.rebuild(db)
        if db.dialect == "postgresql":  # the deleted rows' space (autovacuum may be off)
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa_text(f"VACUUM {', '.join(ROLLUP_TABLES)}"))
    measure_refresh(db)
    print(f"  rollup tables: {table_rows(db)}; learners {learners(db):,}  [{load()}]", flush=True)
    app = create_app(Settings.of(database_url=url, secret_key="bench"), db=db)
    with db.session() as s:
        cred, secret = credentials.create_national_credential(s, "analyst", "bench")
        s.commit()
    headers = {"Authorization": "Basic " + base64.b64encode(f"{cred.key}:{secret}".encode()).decode()}
    client = app.test_client()
    client.get("/reports/report.json", headers=headers)  # warm: imports, pools
    json_times = timed_requests(client, "/reports/report.json", headers, REQUESTS)
    print(f"  report.json from rollups: {percentiles(json_times)}  [{load()}]")
    # The page writes its five SVG charts from the figures on every view (no cache, no drawing library).
    print(f"  dashboard page (5 SVG charts written for each view): "
          f"{percentiles(timed_requests(client, '/reports/', headers, REQUESTS))}  [{load()}]")
    for path in ("/reports/report.json", "/reports/"):
        print(f"  Python memory per {path} (tracemalloc peak): {peak_kib(client, path, headers):,.0f} KiB")
    # A tail of fresh statements not yet rolled up: read and added in memory by every view.
    fill_more(db, 1000)
    print(f"  with 1,000 fresh statements after the watermark: "
          f"{percentiles(timed_requests(client, '/reports/report.json', headers, REQUESTS))}  [{load()}]")
    small_course(db)
    rollups.refresh(db, settle=timedelta(0))
    for path in ("/reports/report.json", "/reports/"):
        print(f"  {path} with a course of ≤ 3 learners (hidden, and its smallest neighbour with it): "
              f"{percentiles(timed_requests(client, path, headers, REQUESTS))}, "
              f"{peak_kib(client, path, headers):,.0f} KiB  [{load()}]")
    if total <= 200_000:
        t = time.perf_counter()
        with db.session() as s:
            load_report(s, ExportQuery(settle=timedelta(0), pseudonymise=True), min_group=5, pseudonym_key=b"k" * 32)
        print(f"  the old way (every statement into pandas), once: {time.perf_counter() - t:.2f} s  [{load()}]")
    db.dispose()


def measure_refresh(db: Database) -> None:
    """The refresh from zero: wall clock, and CPU of the refresher (its processes with JOBS > 1) and
    of its PostgreSQL backends (sampled while they live: a job's backend ends with it)."""
    jobs = int(os.environ.get("BENCH_DASHBOARD_JOBS", "1"))
    budget = os.environ.get("BENCH_DASHBOARD_REFRESH_SECONDS")
    until = time.time() + float(budget) if budget else None
    sampler = BackendCpu(db)
    before = os.times()
    t = time.perf_counter()
    done = rollups.refresh(db, settle=timedelta(0), jobs=jobs, until=until)
    spent = time.perf_counter() - t
    after = os.times()
    pg_cpu = sampler.stop()
    cpu = sum(after[:4]) - sum(before[:4])  # this process and its finished children (the jobs)
    writes = "set-based" if delta.SET_BASED else "per-row"
    with db.engine.connect() as conn:
        waiting = conn.execute(sa_text("SELECT count(*) FROM statements")).scalar_one() - done.statements
    partial = f", STOPPED by BENCH_DASHBOARD_REFRESH_SECONDS={budget}: {waiting:,} not rolled up" if waiting > 0 else ""
    print(f"  rollup refresh from zero ({writes} writes, {jobs} job(s)): {done.statements:,} statements in "
          f"{spent:.1f} s = {done.statements / spent:,.0f} statements/s wall ({done.batches} batches{partial})"
          f"  [{load()}]")
    # CPU time does not depend on what else the machine runs: the per-core figure docs/scale.md uses.
    print(f"  CPU: refresher {cpu:.1f} s + PostgreSQL backends {pg_cpu:.1f} s = "
          f"{done.statements / max(cpu + pg_cpu, 1e-9):,.0f} statements per CPU-second "
          f"({1000 * (cpu + pg_cpu) / max(done.statements, 1):.3f} ms a statement: "
          f"{1000 * cpu / max(done.statements, 1):.3f} + {1000 * pg_cpu / max(done.statements, 1):.3f})", flush=True)


class BackendCpu:
    """CPU seconds of this database's PostgreSQL backends from now on: each backend's last reading
    (every 0.5 s) less its first, so backends of jobs that ended still count (≤ 0.5 s each lost)."""

    def __init__(self, db: Database) -> None:
        import threading

        self.db = db
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.done = threading.Event()
        self.sample()
        self.first = dict(self.last)
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        for pid in server_pids(self.db):  # a backend gone since the query reads 0: its last reading stays
            self.last[pid] = max(self.last.get(pid, 0.0), cpu_seconds([pid]))

    def loop(self) -> None:
        while not self.done.wait(0.5):
            self.sample()

    def stop(self) -> float:
        self.done.set()
        self.thread.join()
        self.sample()
        return sum(v - self.first.get(pid, 0.0) for pid, v in self.last.items())


def table_rows(db: Database) -> str:
    """Row counts of the rollup tables (what a report's cost depends on) and their size on disk."""
    parts = []
    with db.engine.connect() as conn:
        for name in ROLLUP_TABLES:
            n = conn.execute(sa_text(f"SELECT count(*) FROM {name}")).scalar_one()
            size = ""
            if db.dialect == "postgresql":
                mib = conn.execute(sa_text(f"SELECT pg_total_relation_size('{name}')")).scalar_one() / 2**20
                size = f" ({mib:,.0f} MiB)"
            parts.append(f"{name} {n:,}{size}")
    return ", ".join(parts)


def learners(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(sa_text("SELECT count(DISTINCT actor_key) FROM report_enrolments")).scalar_one())


def seed(db: Database, total: int, split: int = 1) -> float:
    """``BASE`` statements from bench.export's generator by bulk SQL, then, on PostgreSQL, copies of
    them made by the database itself (``INSERT … SELECT``, no Python per row): each copy with new
    learners (its actor keys suffixed: ``split`` sets a copy, up to ``LEARNER_COPIES`` in all) and ``stored`` a few
    microseconds later, so 10M statements are seeded in minutes rather than hours. The rollups
    read ``actor_key`` from its column, so a copy's JSON document needs no change."""
    from sqlalchemy import text

    t = time.perf_counter()
    base = min(total, BASE if db.dialect == "postgresql" else total)
    fill(db, base)
    names = [c.name for c in Statement.__table__.c if c.name != "seq"]
    learner_set = f"(:copy * {split} + seq % {split})" + (f" % {LEARNER_COPIES}" if LEARNER_COPIES else "")
    made = {"statement_id": "gen_random_uuid()::text",
            "actor_key": f"actor_key || ':' || {learner_set}",
            "stored": "stored + :copy * interval '1 microsecond'"}
    columns = ", ".join(f'"{n}"' for n in names)  # "full" is an SQL keyword
    select_list = ", ".join(made.get(n, f'"{n}"') for n in names)
    with db.engine.connect() as conn:
        top = conn.execute(text("SELECT max(seq) FROM statements")).scalar_one()
        for copy, start in enumerate(range(base, total, base), start=1):
            conn.execute(text(f"INSERT INTO statements ({columns}) SELECT {select_list} FROM statements "
                              f"WHERE seq <= :top ORDER BY seq LIMIT :n"),
                         {"copy": copy, "top": top, "n": min(base, total - start)})
            conn.commit()
            if copy % 20 == 0:
                print(f"  [seed] {start + base:,} statements ({time.perf_counter() - t:.0f} s)  [{load()}]", flush=True)
        conn.execute(text("ANALYZE statements"))
        conn.commit()
    return time.perf_counter() - t


def small_course(db: Database) -> None:
    """The first three statements of a tenant copied into a course of their own (once per store, on
    PostgreSQL): k-anonymity hides it and a neighbour, so the report counts the hidden groups'
    distinct learners (a national catalogue always has such a course)."""
    from sqlalchemy import text

    if db.dialect != "postgresql":
        return
    names = ", ".join(f'"{c.name}"' for c in Statement.__table__.c if c.name != "seq")
    tiny = '{"grouping": [{"id": "https://hocvu.vn/courses/bench-small"}]}'
    made = {"statement_id": "gen_random_uuid()::text", "stored": "now()",
            "full": f"""jsonb_set("full", '{{context,contextActivities}}', '{tiny}')"""}
    select_list = ", ".join(made.get(c.name, f'"{c.name}"') for c in Statement.__table__.c if c.name != "seq")
    with db.engine.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM report_groups WHERE group_key = 'https://hocvu.vn/courses/bench-small' "
                                 "OR group_key = 'https://hocvu.vn/courses/tiny' LIMIT 1")).first():
            conn.execute(text(f"INSERT INTO statements ({names}) SELECT {select_list} FROM statements "
                              f"WHERE tenant_id = (SELECT min(id) FROM tenants) ORDER BY seq LIMIT 3"))
            conn.commit()


def fill_more(db: Database, n: int) -> None:
    from sqlalchemy import insert, select

    from bench.data import Generator
    from bench.export import STATEMENTS, rows
    from lrs.storage import Tenant

    with db.session() as s:
        tenant_ids = list(s.scalars(select(Tenant.id)))
        for chunk in rows(Generator(seed=11, learners=200), tenant_ids, n):
            for r in chunk:
                r["stored"] = datetime.now(UTC)  # after every watermark
            s.execute(insert(STATEMENTS), chunk)
        s.commit()


def main() -> None:
    sizes = [int(n) for n in os.environ.get("BENCH_DASHBOARD_STATEMENTS", "100000").split(",")]
    for backend in os.environ.get("BENCH_BACKENDS", "postgresql").split(","):
        for total in sizes:
            with scratch_database(backend, f"dashboard{total}") as url:
                if url is None:
                    continue
                print(f"\n== dashboard from rollups, {backend}, {total:,} statements  [{load()}]")
                run(url, total)


if __name__ == "__main__":
    main()
