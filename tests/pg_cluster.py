"""A throwaway PostgreSQL 15 cluster of the test's own, on a free port, that a test may stop and
start again (the shared server on 5432 is never touched). As root, its programs run as the
``postgres`` user (initdb refuses root)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")


def unavailable_reason() -> str | None:
    if not (BIN / "initdb").exists():
        return f"no PostgreSQL 15 programs in {BIN}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root with no postgres user to run initdb as"
    return None


class Cluster:
    """In ``folder`` (a new temporary one by default), started with ``settings`` (by default fsync
    off: a test's data need not survive the machine)."""

    def __init__(self, port: int, folder: Path | None = None, settings: dict[str, str] | None = None) -> None:
        self.port = port
        self.folder = folder or Path(tempfile.mkdtemp(prefix="hocvu-pg-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data = self.folder / "data"
        self.settings = {"fsync": "off"} if settings is None else settings
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr[-1000:]}")

    def init(self) -> Cluster:
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self.start()

    def start(self) -> Cluster:
        options = " ".join([f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1",
                            *(f"-c {name}={value}" for name, value in self.settings.items())])
        # -t 600: a cluster that crashed may replay up to max_wal_size of WAL before it answers
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w",
                  "-t", "600", "start")
        return self

    def stop(self) -> None:
        """As a crash or a failover would: at once, connections cut."""
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
