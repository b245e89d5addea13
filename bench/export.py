"""Export benchmark: rows/s from the store to Parquet (partitioned by tenant and date), CSV and a
pandas DataFrame, for N statements spread over 4 tenants and 90 days.

    .venv/bin/python -m bench.export                                  # 50k, SQLite and PostgreSQL
    BENCH_EXPORT_STATEMENTS=1000000 BENCH_BACKENDS=postgresql .venv/bin/python -m bench.export   # issue 5's 1M

The statements are inserted with bulk SQL (index columns computed as the store does, no request
path, no audit chain): this measures the export, not ingest (bench/statements.py does that).
About 30 % of passed/failed statements carry an identity stamp, as verified attempts would.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert

from bench.data import Generator
from bench.databases import scratch_databases
from connectors.export import ExportQuery
from connectors.export_files import export_statements
from connectors.frames import statements_frame
from hocvu import db as dbops
from lrs import credentials
from lrs.identifiers import actor_key
from lrs.statements import format_time
from lrs.storage import Database, Statement

# Statement's Table, as Core's insert() types it (a mapped class's __table__ is typed as a FromClause).
STATEMENTS = cast(Table, Statement.__table__)

STAMP_IRI = "https://hocvu.vn/xapi/extensions/identity-verification"
TENANTS = ("bo-gddt", "bo-noi-vu", "bo-y-te", "ubnd-da-nang")
CHUNK = 10_000


def rows(gen: Generator, tenant_ids: list[int], total: int) -> Iterator[list[dict[str, Any]]]:
    start = datetime.now(UTC) - timedelta(days=91)  # in the past: an export stops at the present
    chunk: list[dict[str, Any]] = []
    for i in range(total):
        st = gen.statement()
        # Stored in order over 90 days, a little after the experience.
        stored = start + timedelta(seconds=i * 90 * 86400 / total)
        st["stored"] = format_time(stored)
        st.setdefault("timestamp", st["stored"])
        if st["verb"]["id"].endswith(("passed", "failed")) and gen.rng.random() < 0.3:
            st["context"]["extensions"] = {STAMP_IRI: {
                "method": "vneid+face", "level": 2, "signedInAt": st["stored"], "faceCheckedAt": st["stored"],
                "faceOutcome": "match", "faceDistance": 0.31, "threshold": 0.4, "metric": "euclidean_l2",
                "model": "Dlib", "detector": "dlib", "outcome": "verified", "subject": f"hocvu-subject:{i:064x}"}}
        chunk.append({
            "tenant_id": tenant_ids[i % len(tenant_ids)], "statement_id": st["id"], "verb_id": st["verb"]["id"],
            "actor_key": actor_key(st["actor"]), "object_type": "Activity", "object_activity_id": st["object"]["id"],
            "object_agent_key": None, "object_statement_id": None, "registration": st["context"]["registration"],
            "timestamp": datetime.fromisoformat(st["timestamp"]), "stored": stored, "voided": False,
            "is_voiding": False, "credential_id": None, "full": st})
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def fill(db: Database, total: int) -> float:
    with db.session() as s:
        tenant_ids = [credentials.create_tenant(s, slug, slug).id for slug in TENANTS]
        s.commit()
    t = time.perf_counter()
    gen = Generator(learners=min(20000, max(100, total // 20)))
    with db.session() as s:
        for chunk in rows(gen, tenant_ids, total):
            s.execute(insert(STATEMENTS), chunk)
            s.commit()
    return time.perf_counter() - t


def timed(label: str, total: int, fn: Any) -> None:
    t = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t
    print(f"{label:<42} {total / seconds:>10,.0f} rows/s  ({seconds:.1f} s){result}")


def run(label: str, url: str, total: int) -> None:
    db = Database(url)
    dbops.upgrade(db)
    loaded = fill(db, total)
    print(f"\n== {label}: {total:,} statements in {len(TENANTS)} tenants, inserted in {loaded:.1f} s")
    q = ExportQuery(settle=timedelta(0))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)

        def parquet() -> str:
            with db.session() as s:
                r = export_statements(s, q, "parquet", out / "pq", progress=False)
            size = sum(Path(f).stat().st_size for f in r.files)
            assert r.rows == total
            return f"  {len(r.files)} files, {size / 1e6:.1f} MB"

        def csv() -> str:
            with db.session() as s:
                r = export_statements(s, q, "csv", out / "s.csv", progress=False)
            assert r.rows == total
            return f"  {(out / 's.csv').stat().st_size / 1e6:.1f} MB"

        def pseudonymised() -> str:
            with db.session() as s:
                r = export_statements(s, ExportQuery(settle=timedelta(0), pseudonymise=True), "parquet",
                                      out / "pq-pseudo", progress=False, pseudonym_key=b"k" * 32)
            assert r.rows == total
            return ""

        def frame() -> str:
            df = statements_frame(db)
            assert len(df) == total
            return f"  {df.memory_usage(deep=True).sum() / 1e6:.0f} MB in memory"

        timed("export to Parquet (tenant/date partitions)", total, parquet)
        timed("export to Parquet, pseudonymised", total, pseudonymised)
        timed("export to CSV", total, csv)
        timed("statements_frame (pandas)", total, frame)
    db.dispose()


def main() -> None:
    total = int(os.environ.get("BENCH_EXPORT_STATEMENTS", "50000"))
    for name, url in scratch_databases("export"):
        run(name, url, total)


if __name__ == "__main__":
    main()
