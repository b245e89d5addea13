"""A real hub behind a real gunicorn (as `make run` serves it), for tests where the HTTP server's
own behaviour matters: chunked bodies, connections, a database that goes away."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Hub:
    base: str  # http://127.0.0.1:PORT
    key: str
    secret: str
    pid: int

    @property
    def auth(self) -> tuple[str, str]:
        return self.key, self.secret


def hocvu(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "hocvu.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def prepare(env: dict[str, str]) -> tuple[str, str]:
    """Migrate the database and make a tenant with an all-scopes credential; (key, secret)."""
    hocvu(env, "db", "upgrade")
    slug = f"gunicorn-{os.getpid()}-{time.monotonic_ns()}"
    hocvu(env, "tenant", "create", slug, "--name", "gunicorn test")
    cred = json.loads(hocvu(env, "credential", "create", "--tenant", slug, "--scopes", "all", "--json"))
    return cred["key"], cred["secret"]


@contextmanager
def gunicorn(database_url: str, instance: Path, *, extra_env: dict[str, str] | None = None,
             credential: tuple[str, str] | None = None) -> Iterator[Hub]:
    """The hub on ``database_url`` behind gunicorn (2 workers, as `make run`), until the block ends."""
    env = {**os.environ, "HOCVU_DATABASE_URL": database_url, "HOCVU_INSTANCE_DIR": str(instance),
           "HOCVU_SECRET_KEY": "gunicorn-test", "HOCVU_FORWARD_SECONDS": "0", "HOCVU_SCORE_RETRY_SECONDS": "0",
           **(extra_env or {})}
    key, secret = credential or prepare(env)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                             "--log-level", "warning", "hocvu.wsgi:app"], env=env, cwd=ROOT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code < 500 or \
                        requests.get(f"{base}/xapi/about", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("gunicorn did not start within 60 s")
            time.sleep(0.2)
        yield Hub(base, key, secret, proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the group this test started: gunicorn and its workers
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
