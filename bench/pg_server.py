"""Run a benchmark against a PostgreSQL 15 cluster of the bench's own, set up as a deployment on
this machine would set it up, instead of the machine's shared server:

    .venv/bin/python -m bench.pg_server /var/tmp/hocvu-bench-pg -- make bench
    BENCH_PG_SERVER_SETTINGS="shared_buffers=2GB" ... # one setting changed, for an A/B

The cluster is made in FOLDER when missing and kept (a 10M store is loaded once), started on a free
port for the command, which gets BENCH_PG_ADMIN pointing at it, and stopped afterwards.

Why: the shared server runs PostgreSQL's packaged defaults (128 MB of shared buffers, 1 GB of WAL
between checkpoints, autovacuum off for CI). At 10M statements the random-UUID indexes then churn
through 128 MB and each checkpoint rewrites whole index pages into the WAL: the database's own
COPY ceiling there was 1,500-1,900 statements/s, a figure of the configuration more than of the
hub (with the settings below, 2,600-6,000/s at 10M and 9,600/s at 1M). The settings are the usual
sizing for 24 GB of memory and SSD storage. Durability is untouched:
fsync, synchronous_commit and full_page_writes stay on, as an LRS must not lose what it acknowledged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.pg_cluster import BIN, Cluster, unavailable_reason

SETTINGS = {
    "shared_buffers": "6GB",  # a quarter of memory
    "effective_cache_size": "16GB",
    "maintenance_work_mem": "1GB",
    "work_mem": "32MB",
    "wal_buffers": "64MB",
    "max_wal_size": "16GB",  # checkpoints by time, not by WAL volume, during a bulk load
    "min_wal_size": "2GB",
    "checkpoint_timeout": "15min",
    "checkpoint_completion_target": "0.9",
    "wal_compression": "lz4",
    "random_page_cost": "1.1",  # SSD
    "effective_io_concurrency": "200",
    "autovacuum": "on",  # the packaged default, which the shared server's CI configuration turns off
}


class KeptCluster(Cluster):
    """A cluster in a folder that outlives the run, started with SETTINGS and durability on, and
    stopped cleanly (the tests' clusters stop as a crash would)."""

    def __init__(self, port: int, folder: Path) -> None:
        super().__init__(port, folder, {**SETTINGS, **_overrides()})

    def stop(self) -> None:
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "900", "stop")


def _overrides() -> dict[str, str]:
    pairs = os.environ.get("BENCH_PG_SERVER_SETTINGS", "").split()
    return dict(pair.split("=", 1) for pair in pairs)


def main() -> int:
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    reason = unavailable_reason()
    if reason:
        print(f"bench.pg_server: {reason}", file=sys.stderr)
        return 1
    from bench.statements import free_port

    cluster = KeptCluster(free_port(), Path(args[0]).resolve())
    fresh = not (cluster.data / "PG_VERSION").exists()
    cluster.init() if fresh else cluster.start()
    print(f"PostgreSQL cluster in {cluster.folder} ({'made' if fresh else 'kept'}), port {cluster.port}: "
          + ", ".join(f"{k}={v}" for k, v in cluster.settings.items()), flush=True)
    try:
        env = {**os.environ, "BENCH_PG_ADMIN": cluster.url}
        return subprocess.run(args[2:], env=env).returncode
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
