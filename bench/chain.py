"""The audit chain's cost on batch ingest (issue 5 target: the chain costs ≤ 15% of throughput).

    BENCH_STATEMENTS=20000 .venv/bin/python -m bench.chain          # SQLite, and PostgreSQL if it answers
    BENCH_BACKENDS=postgresql BENCH_ROUNDS=3 .venv/bin/python -m bench.chain

For each backend, loads the same statements (batches of 500 from BENCH_CLIENTS concurrent clients,
over real HTTP into a real gunicorn, as bench/statements.py does) into a fresh database with the
chain, and into another with HOCVU_BENCH_NO_AUDIT_CHAIN=1 — a setting that exists ONLY for this
benchmark and leaves a store that does not verify. Rounds alternate the two so drift on a shared
machine hits both; the best round of each is compared. Checkpoints are signed as in production
(every HOCVU_AUDIT_CHECKPOINT_EVERY entries, default 1000) with a key made before the clock
starts. Then `hocvu audit verify` checks the chained store and its rate is printed. HTTP figures
swing on a busy machine, so the chain's share is also timed in-process, within one run: the time
``lrs.statements.store`` spends in the chain append over its whole time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.data import Generator
from bench.databases import PG_ADMIN, backends, scratch_database
from bench.statements import load, serve
from identity.signing import load_signing_material

KEY_FILE_ENV, CERT_FILE_ENV = "HOCVU_SIGNING_KEY_FILE", "HOCVU_SIGNING_CERT_FILE"


@contextmanager
def _env(**values: str | None) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _one_run(backend: str, tmp: Path, name: str, total: int, chain: bool) -> tuple[float, str | None]:
    """Statements/s for one load; with the chain, also the `hocvu audit verify` summary."""
    with scratch_database(backend, f"chain_{name}") as url, _env(HOCVU_BENCH_NO_AUDIT_CHAIN=None if chain else "1"):
        if url is None:
            raise RuntimeError(f"no {backend} database for the run (PostgreSQL stopped answering?)")
        work = tmp / name
        work.mkdir()
        proc, base, auth = serve(url, work)
        try:
            rate = load(base, auth, Generator(), total, f"{backend} {'chain' if chain else 'no chain'}")
        finally:
            proc.terminate()
            proc.wait()
        if not chain:
            return rate, None
        env = {**os.environ, "HOCVU_DATABASE_URL": url, "HOCVU_INSTANCE_DIR": str(work), "HOCVU_SECRET_KEY": "bench"}
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "hocvu.cli", "audit", "verify", "--json",
                              "--cert", os.environ[CERT_FILE_ENV]], env=env, capture_output=True, text=True)
        took = time.perf_counter() - t0
        report = json.loads(out.stdout)
        entries = sum(t["entries"] for t in report["tenants"])
        checkpoints = sum(t["checkpoints"] for t in report["tenants"])
        summary = (f"verify: {'intact' if report['ok'] else 'FAILED'} (exit {out.returncode}), {entries:,} entries, "
                   f"{checkpoints} checkpoints in {took:.1f} s ({entries / took:,.0f} entries/s, "
                   "process start included)")
        return rate, summary


def chain_share(url: str, batches: int = 20) -> str:
    """In-process and robust to a busy machine: the time ``lrs.statements.store`` spends in the
    chain append (hashing, entries, head, checkpoints) as a share of the whole store, same run."""
    from hocvu import db as dbops
    from hocvu.app import audit_policy
    from hocvu.settings import Settings
    from lrs import credentials, statements
    from lrs.audit import chain as audit_chain
    from lrs.storage import Database

    database = Database(url)
    dbops.upgrade(database)
    with database.session() as s:
        tenant = credentials.create_tenant(s, f"share-{os.getpid()}", "chain share")
        cred, secret = credentials.create_credential(s, tenant, "bench", ["all"])
        s.commit()
        principal = credentials.authenticate(s, cred.key, secret)
    gen = Generator(seed=11)
    bodies = [[gen.statement() for _ in range(500)] for _ in range(batches)]
    policy = audit_policy(Settings.from_env())  # the key files main() names
    spent = {"chain": 0.0}
    real_append = audit_chain.append_statements

    def timed(*args: object, **kwargs: object) -> list[int]:
        t = time.perf_counter()
        try:
            return real_append(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            spent["chain"] += time.perf_counter() - t

    audit_chain.append_statements = timed
    try:
        t0 = time.perf_counter()
        for body in bodies:
            with database.session() as s:
                statements.store(s, principal, "2.0.0", body, [], audit=policy)
                s.commit()
        total = time.perf_counter() - t0
    finally:
        audit_chain.append_statements = real_append
        database.dispose()
    n = batches * 500
    return (f"in-process store() of {n:,} statements: {n / total:,.0f} statements/s; chain append "
            f"{spent['chain'] / n * 1e6:.0f} us/statement = {spent['chain'] / total * 100:.1f}% of store time")


def run(backend: str, total: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        with scratch_database(backend, "chain_share") as url:
            if url is None:
                return  # PostgreSQL stopped answering since main() asked; scratch_database said so
            share = chain_share(url)
        with_chain: list[float] = []
        without: list[float] = []
        summary = None
        for r in range(rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            for chain in order:
                rate, s = _one_run(backend, tmp, f"r{r}{'c' if chain else 'n'}", total, chain)
                (with_chain if chain else without).append(rate)
                summary = s or summary
        best_with, best_without = max(with_chain), max(without)
        print(f"\n== {backend}: {total:,} statements per run, {rounds} round(s) each way")
        print(f"batch ingest without chain: {best_without:,.0f} statements/s  (rounds: "
              f"{', '.join(f'{x:,.0f}' for x in without)})")
        print(f"batch ingest with chain:    {best_with:,.0f} statements/s  (rounds: "
              f"{', '.join(f'{x:,.0f}' for x in with_chain)})")
        print(f"chain overhead: {(1 - best_with / best_without) * 100:.1f}% of throughput (target ≤ 15%)")
        if summary:
            print(summary)
        print(share)


def main() -> None:
    total = int(os.environ.get("BENCH_STATEMENTS", "20000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    with tempfile.TemporaryDirectory() as keys:
        # The hub's key exists before the clock starts, as in production (key files from the environment).
        load_signing_material(Path(keys))
        with _env(**{KEY_FILE_ENV: f"{keys}/hocvu_signing_key.pem", CERT_FILE_ENV: f"{keys}/hocvu_signing_cert.pem"}):
            for backend in backends():
                if backend == "postgresql":
                    try:
                        import psycopg

                        psycopg.connect(PG_ADMIN, connect_timeout=2).close()
                    except Exception as exc:
                        print(f"\n== PostgreSQL skipped: nothing answers at {PG_ADMIN} ({type(exc).__name__})")
                        continue
                run(backend, total, rounds)


if __name__ == "__main__":
    main()
