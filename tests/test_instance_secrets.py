"""The embedded mode's instance secrets (app secret key, VNeID pepper): made once, never read half-written."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from identity.settings import instance_secret


def test_workers_starting_together_agree_on_one_whole_secret(tmp_path: Path) -> None:
    folder = tmp_path / "instance"
    with ThreadPoolExecutor(16) as pool:
        seen = set(pool.map(lambda _: instance_secret(folder, "secret_key"), range(64)))
    assert len(seen) == 1 and len(seen.pop()) >= 64  # 48 random bytes, base64url: 64 characters
    assert (folder / "secret_key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in folder.iterdir()] == ["secret_key"]  # no temporary file left behind
