"""The web processes' credential cache (lrs.credentials.CredentialCache): a verified credential is
not looked up on every request, and a revoked one is refused by every process at once (xAPI 1.0.3
Part Three §4.1: every request but About is authenticated; a revoked credential authenticates nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask

from lrs import credentials
from lrs.credentials import CredentialCache, Principal
from lrs.http.frame import CREDENTIAL_CACHE
from tests.conftest import Xapi, _make_app, new_credential

PRINCIPAL = Principal(1, 1, "hv_x", frozenset({"all"}), {"objectType": "Agent", "mbox": "mailto:a@hocvu.vn"})


def _revoke_elsewhere(url: str, key: str, instance: Path) -> None:
    """`hocvu credential revoke`, in a process of its own, as an operator runs it."""
    env = {**os.environ, "HOCVU_DATABASE_URL": url, "HOCVU_INSTANCE_DIR": str(instance), "HOCVU_SECRET_KEY": "x"}
    subprocess.run([sys.executable, "-m", "hocvu.cli", "credential", "revoke", key], env=env, check=True,
                   capture_output=True)


@pytest.mark.postgres
def test_a_revocation_reaches_every_worker_at_once_xapi_1_0_3_part3_s4_1(pg_url: str, tmp_path_factory):
    """Two web processes' worth of apps (each its own cache and LISTEN connection) trust a verified
    credential; `hocvu credential revoke` from a third process ends that in both, well inside the
    cache's lifetime: within the second that the test allows, every request is refused."""
    workers: list[Flask] = [_make_app(pg_url, tmp_path_factory.mktemp("w")) for _ in range(2)]
    for w in workers:  # a long life, so only the revocation can end the entries (the CLI takes seconds)
        w.extensions[CREDENTIAL_CACHE] = CredentialCache(pg_url, 600)
    _, key, secret = new_credential(workers[0], ["all"])
    clients = [Xapi(w.test_client(), key, secret) for w in workers]
    for w, x in zip(workers, clients, strict=True):
        assert x.get("statements").status_code == 200
        assert x.get("statements").status_code == 200
        assert w.extensions[CREDENTIAL_CACHE].get(key, secret) is not None  # trusted without a look-up
    _revoke_elsewhere(pg_url, key, tmp_path_factory.mktemp("cli"))
    deadline = time.monotonic() + 1.0
    refused = [False, False]
    while not all(refused) and time.monotonic() < deadline:
        refused = [x.get("statements").status_code == 401 for x in clients]
        time.sleep(0.01)
    assert all(refused)
    assert all(x.get("statements").status_code == 401 for x in clients for _ in range(5))


def test_a_revocation_in_the_same_process_is_immediate(app: Flask):
    x = Xapi(app.test_client(), *new_credential(app, ["all"])[1:])
    assert x.get("statements").status_code == 200
    assert x.get("statements").status_code == 200
    with app.extensions["hocvu.db"].session() as session:
        credentials.revoke_credential(session, x.key)
        session.commit()
    assert x.get("statements").status_code == 401


def test_a_wrong_secret_is_refused_whatever_is_cached(app: Flask):
    x = Xapi(app.test_client(), *new_credential(app, ["all"])[1:])
    assert x.get("statements").status_code == 200
    assert Xapi(app.test_client(), x.key, x.secret + "x").get("statements").status_code == 401


@pytest.mark.postgres
def test_an_entry_lives_at_most_the_cache_seconds(pg_url: str):
    now = [0.0]
    cache = CredentialCache(pg_url, 5.0, clock=lambda: now[0])
    cache.put("hv_x", "s", PRINCIPAL)
    assert cache.get("hv_x", "s") == PRINCIPAL
    assert cache.get("hv_x", "other") is None  # keyed by the secret's hash too
    now[0] = 5.5
    assert cache.get("hv_x", "s") is None


def test_sqlite_and_zero_seconds_turn_it_off(tmp_path: Path):
    for cache in (CredentialCache(f"sqlite:///{tmp_path}/x.db", 5.0),
                  CredentialCache("postgresql://postgres@127.0.0.1:1/none", 0)):
        cache.put("hv_x", "s", PRINCIPAL)
        assert cache.get("hv_x", "s") is None


def test_an_unreachable_listener_trusts_nothing():
    """Without its LISTEN connection a process cannot hear revocations, so it caches nothing."""
    cache = CredentialCache("postgresql://postgres@127.0.0.1:1/none", 5.0)
    cache.put("hv_x", "s", PRINCIPAL)
    assert cache.get("hv_x", "s") is None
