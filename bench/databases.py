"""Throwaway databases for the benchmarks: a SQLite file in a temporary folder, or a PostgreSQL
database created on the server at BENCH_PG_ADMIN and dropped afterwards."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
# A database kept between runs (created when missing, never dropped): a 10M-statement store is
# seeded once and the next run only tops it up (bench.statements), e.g. after a code change.
KEEP = os.environ.get("BENCH_PG_DATABASE", "")


def backends() -> list[str]:
    return os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",")


@contextmanager
def scratch_database(backend: str, label: str) -> Iterator[str | None]:
    """The URL of an empty database for ``backend`` ("sqlite" or "postgresql"), dropped on exit;
    None (after saying why) when no PostgreSQL server answers."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/{label}.db"
        return
    import psycopg

    name = KEEP or f"hocvu_bench_{label}_{os.getpid()}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=2) as conn:
            if not (KEEP and conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()):
                conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        print(f"\n== PostgreSQL skipped: nothing answers at {PG_ADMIN} ({type(exc).__name__})")
        yield None
        return
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        if KEEP:
            print(f"(database {name} kept: BENCH_PG_DATABASE)")
        else:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scratch_databases(label: str) -> Iterator[tuple[str, str]]:
    """(display name, URL) of an empty database for each of BENCH_BACKENDS that answers."""
    for backend in backends():
        with scratch_database(backend, label) as url:
            if url:
                yield ("SQLite" if backend == "sqlite" else "PostgreSQL"), url
