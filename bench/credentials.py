"""Issuing and verifying Open Badges 3.0 credentials (issue 15 target: p50 ≤ 20 ms each, per credential).

    make bench-credentials                                   # SQLite, and PostgreSQL if it answers
    BENCH_CREDENTIALS=500 BENCH_BACKENDS=sqlite .venv/bin/python -m bench.credentials

For each backend: a fresh database, one tenant, BENCH_CREDENTIALS learners who each passed the
shipped course ``an-toan-khong-gian-mang`` (a "passed" statement stored in the LRS as the player
stores it, authority and all). Then, one learner at a time, in-process with no HTTP:

- issue: ``credentials.issuing.issue`` and its commit — the completion read from the LRS, a status
  index reserved, the credential built, canonicalised (RDFC-1.0, pyld) and signed (Ed25519);
- verify: ``credentials.verify.verify_document`` on the credential as downloaded — shape, issuer,
  proof (canonicalisation and Ed25519 again), validity, and the status list (its own proof checked
  once per published version, then its bit read).

The issuer key and the first status list are made before the clock starts. Each figure is printed
beside the machine's load average: on a shared machine other work inflates wall-clock times, so the
process's own CPU time per credential is printed too (for the database's share: PostgreSQL works in
its own processes, and its time shows in wall-clock time only).
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.databases import scratch_databases
from credentials.config import Holder
from credentials.issuing import issue
from credentials.verify import verify_document
from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import credentials as tenants
from lrs.statements import format_time, store
from lrs.storage import Database
from player.catalogue import activity_id, default_catalogue
from player.statements import system_principal

COURSE = "an-toan-khong-gian-mang"
HOME = "https://lms.bench.example.vn"
TARGET_MS = 20.0


def _passed(account: str, quiz: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "actor": {"objectType": "Agent", "account": {"homePage": HOME, "name": account}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"en": "passed"}},
            "object": {"objectType": "Activity", "id": quiz},
            "result": {"success": True, "score": {"scaled": 1.0, "raw": 8, "min": 0, "max": 8}},
            "timestamp": format_time(datetime.now(UTC))}


def _percentiles(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20)
    return f"p50 {statistics.median(ms):6.2f} ms   p95 {q[18]:6.2f} ms   max {max(ms):6.2f} ms"


def _verdict(ms: list[float]) -> str:
    return "meets" if statistics.median(ms) <= TARGET_MS else "MISSES"


def run(name: str, url: str, count: int) -> None:
    database = Database(url)
    dbops.upgrade(database)
    app = create_app(Settings.of(database_url=url, secret_key="bench-credentials-secret"), db=database)
    cfg = app.extensions["credentials.config"]
    quiz = activity_id(default_catalogue().resolve(f"course/{COURSE}").graded_quizzes()[0].target)
    with database.session() as s:
        tenant = tenants.create_tenant(s, f"bench-{uuid.uuid4().hex[:8]}", "Bench tenant")
        accounts = [f"learner-{i}" for i in range(count + 3)]
        for start in range(0, len(accounts), 500):
            store(s, system_principal(tenant.id), "2.0.0", [_passed(a, quiz) for a in accounts[start:start + 500]],
                  [])
        s.commit()
        tenant_id = tenant.id
    holders = [Holder(tenant_id, HOME, a, "Học viên") for a in accounts]
    for warm in holders[:3]:  # the key, the first status list, pyld's context cache
        with database.session() as s:
            issue(s, cfg, warm, COURSE, datetime.now(UTC))
            s.commit()
    issued: list[dict[str, Any]] = []
    issue_ms: list[float] = []
    issue_cpu: list[float] = []
    for holder in holders[3:]:
        t0, c0 = time.perf_counter(), time.process_time()
        with database.session() as s:
            row = issue(s, cfg, holder, COURSE, datetime.now(UTC)).row
            s.commit()
        issue_ms.append((time.perf_counter() - t0) * 1000)
        issue_cpu.append((time.process_time() - c0) * 1000)
        assert row.document is not None
        issued.append(row.document)
    verify_ms: list[float] = []
    verify_cpu: list[float] = []
    for document in issued:
        t0, c0 = time.perf_counter(), time.process_time()
        with database.session() as s:
            report = verify_document(s, cfg, document)
        verify_ms.append((time.perf_counter() - t0) * 1000)
        verify_cpu.append((time.process_time() - c0) * 1000)
        assert report.verified, report.as_json()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n== {name}: {count} credentials ({os.cpu_count()} cores; load average {load})")
    print(f"issue   {_percentiles(issue_ms)}   target p50 ≤ {TARGET_MS:.0f} ms: {_verdict(issue_ms)}")
    print(f"        CPU time of this process: p50 {statistics.median(issue_cpu):.2f} ms")
    print(f"verify  {_percentiles(verify_ms)}   target p50 ≤ {TARGET_MS:.0f} ms: {_verdict(verify_ms)}")
    print(f"        CPU time of this process: p50 {statistics.median(verify_cpu):.2f} ms")
    database.dispose()


def main() -> None:
    count = int(os.environ.get("BENCH_CREDENTIALS", "200"))
    for name, url in scratch_databases("credentials"):
        run(name, url, count)


if __name__ == "__main__":
    main()
