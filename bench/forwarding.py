"""Forwarding throughput: statements/s delivered from one hocvu store to another over real HTTP.

    .venv/bin/python -m bench.forwarding                          # 5,000 statements, batches of 100 and 500
    BENCH_FORWARD_STATEMENTS=100000 BENCH_FORWARD_BATCHES=100 .venv/bin/python -m bench.forwarding

The source is a SQLite store filled in process (not timed); the target is a second hocvu served
by gunicorn (2 workers) on its own SQLite database. One delivery worker drains the backlog
(``deliver_target`` rounds, as a Celery task or the eager loop runs them) into a fresh target
tenant per batch size; the figure is statements delivered / wall time, the target's own storing
included. Afterwards the target's count is checked against the source's, and the same batches
are POSTed straight to the target as a yardstick (the target's storing is most of the cost).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy import func, select

from bench.data import Generator
from bench.statements import serve
from connectors.forwarding import targets as fw
from connectors.forwarding.delivery import TargetKey, deliver_target
from hocvu import db as dbops
from lrs import credentials, statements
from lrs.storage import Database, Statement, Tenant


def fill_source(db: Database, total: int) -> int:
    """A tenant with ``total`` statements, stored through the LRS's own write path; returns its id."""
    gen = Generator()
    with db.session() as session:
        tenant = credentials.create_tenant(session, "bench-source", "Forwarding benchmark")
        cred, secret = credentials.create_credential(session, tenant, "loader", ["all"])
        session.commit()
        principal = credentials.authenticate(session, cred.key, secret)
        for start in range(0, total, 500):
            statements.store(session, principal, "2.0.0", [gen.statement() for _ in range(min(500, total - start))], [])
            session.commit()
        return tenant.id


def target_tenant(workdir: Path, slug: str) -> tuple[str, str]:
    """A fresh tenant on the target with a statements/write credential (the hocvu CLI, as an operator would)."""
    env = {**os.environ, "HOCVU_DATABASE_URL": f"sqlite:///{workdir / 'target' / 'hocvu.db'}",
           "HOCVU_INSTANCE_DIR": str(workdir / "target"), "HOCVU_SECRET_KEY": "bench"}
    hocvu = [sys.executable, "-m", "hocvu.cli"]
    subprocess.run([*hocvu, "tenant", "create", slug, "--name", slug], env=env, check=True, capture_output=True)
    cred = json.loads(subprocess.run([*hocvu, "credential", "create", "--tenant", slug, "--scopes",
                                      "statements/write", "--json"], env=env, check=True, capture_output=True).stdout)
    return cred["key"], cred["secret"]


def target_count(workdir: Path, slug: str) -> int:
    db = Database(f"sqlite:///{workdir / 'target' / 'hocvu.db'}")
    try:
        with db.session() as session:
            tenant = credentials.get_tenant(session, slug)
            return int(session.scalar(select(func.count()).select_from(Statement)
                                      .where(Statement.tenant_id == tenant.id)) or 0)
    finally:
        db.dispose()


def direct_rate(base: str, workdir: Path, source: Database, tenant_id: int, batch: int) -> float:
    """The yardstick: the same statements POSTed straight to the target by one plain client
    (requests), batch by batch — what the target can take from a single sender."""
    key, secret = target_tenant(workdir, f"bench-direct-{batch}")
    with source.session() as session:
        docs = list(session.scalars(select(Statement.full).where(Statement.tenant_id == tenant_id)
                                    .order_by(Statement.seq)))
    bodies = [json.dumps(docs[i:i + batch]) for i in range(0, len(docs), batch)]
    http = requests.Session()
    http.auth = (key, secret)
    http.headers.update({"X-Experience-API-Version": "2.0.0", "Content-Type": "application/json"})
    started = time.perf_counter()
    for body in bodies:
        http.post(f"{base}/statements", data=body, timeout=60).raise_for_status()
    return len(docs) / (time.perf_counter() - started)


def main() -> None:
    total = int(os.environ.get("BENCH_FORWARD_STATEMENTS", "5000"))
    batches = [int(b) for b in os.environ.get("BENCH_FORWARD_BATCHES", "100,500").split(",")]
    with tempfile.TemporaryDirectory(prefix="hocvu-bench-forward-") as tmp:
        workdir = Path(tmp)
        source = Database(f"sqlite:///{workdir / 'source.db'}")
        dbops.upgrade(source)
        started = time.perf_counter()
        tenant_id = fill_source(source, total)
        print(f"source: {total} statements stored in {time.perf_counter() - started:.1f} s (not timed below)")
        proc, base, _ = serve(f"sqlite:///{workdir / 'target' / 'hocvu.db'}", workdir / "target")
        config = fw.ForwardConfig.from_secret("bench", gap_timeout=0.0)
        try:
            for batch in batches:
                slug = f"bench-target-{batch}"
                key, secret = target_tenant(workdir, slug)
                with source.session() as session:
                    tenant = session.get(Tenant, tenant_id)
                    assert tenant is not None
                    target = fw.add_target(session, config, tenant, fw.TargetSpec(
                        name=slug, endpoint=base + "/", key=key, secret=secret, xapi_version="2.0.0",
                        batch_size=batch))
                    session.commit()
                    target_key = TargetKey(target.tenant_id, target.id)
                started = time.perf_counter()
                delivered = 0
                while True:
                    report = deliver_target(source, config, target_key)
                    delivered += report.delivered
                    if report.error:
                        raise RuntimeError(f"delivery failed: {report.error}")
                    if not report.more and report.delivered == 0:
                        break
                elapsed = time.perf_counter() - started
                held = target_count(workdir, slug)
                assert held == total, f"target holds {held} statements, source {total}"
                rate = delivered / elapsed
                direct = direct_rate(base, workdir, source, tenant_id, batch)
                print(f"forwarding, batches of {batch}: {delivered} statements in {elapsed:.2f} s = "
                      f"{rate:,.0f} statements/s delivered (target holds {held}); the same batches POSTed "
                      f"directly: {direct:,.0f}/s, so forwarding runs at {rate / direct:.0%} of what the target "
                      f"takes ({datetime.now(UTC):%H:%M:%S})")
        finally:
            proc.terminate()
            proc.wait(10)
            source.dispose()


if __name__ == "__main__":
    main()
