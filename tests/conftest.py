"""Shared fixtures: a real database (SQLite always, PostgreSQL when one answers), the real app,
and a per-test tenant with its own credential, so tests never see each other's data."""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import credentials
from lrs.storage import Database

PG_ADMIN_URL = os.environ.get("HOCVU_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
CHECKOUT_INSTANCE = Path(__file__).resolve().parents[1] / "instance"
_RUN_INSTANCE: list[Path] = []


def run_instance() -> Path:
    """An instance folder of this test process's own (secrets, keys, blobs, package files), for apps
    and settings made outside the shared fixtures: the default, ``instance/``, is the checkout's,
    which a developer's `make run` uses; a test writing there would leave files in the working tree."""
    if not _RUN_INSTANCE:
        _RUN_INSTANCE.append(Path(tempfile.mkdtemp(prefix="hocvu-test-instance-")))
    return _RUN_INSTANCE[0]


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()


@pytest.fixture(scope="session", autouse=True)
def checkout_instance_untouched() -> Iterator[None]:
    """No test writes into the checkout's ``instance/`` (files there before the run are left alone)."""
    before = _files_under(CHECKOUT_INSTANCE)
    yield
    new = sorted(str(p.relative_to(CHECKOUT_INSTANCE)) for p in _files_under(CHECKOUT_INSTANCE) - before)
    if _RUN_INSTANCE:
        shutil.rmtree(_RUN_INSTANCE[0], ignore_errors=True)
    assert not new, f"tests wrote into the checkout's instance/ (give Settings.of an instance_dir): {new[:10]}"


def _pg_available() -> str | None:
    """Returns why PostgreSQL tests cannot run, or None when they can."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("postgresql://", "postgresql://", 1), connect_timeout=2):
            return None
    except Exception as exc:
        return f"no PostgreSQL answers at {PG_ADMIN_URL} ({type(exc).__name__})"


@contextmanager
def scratch_pg(label: str) -> Iterator[str]:
    """The URL of a new PostgreSQL database of the caller's own, dropped afterwards (whoever is
    still connected); skips the test, saying why, when no PostgreSQL answers."""
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    import psycopg

    name = f"hocvu_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def backend_url(backend: str, label: str, sqlite_url: str) -> Iterator[str]:
    """``sqlite_url`` for "sqlite", else a new PostgreSQL database's (``scratch_pg``, dropped after):
    for fixtures parametrized over both backends."""
    if backend == "sqlite":
        yield sqlite_url
        return
    with scratch_pg(label) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database of the test's own on each backend (a migration test's)."""
    with backend_url(request.param, "fresh", f"sqlite:///{tmp_path / 'hocvu.db'}") as url:
        yield url


def sql_scalar(database: Database, query: str, **params: Any) -> Any:
    """Run ``query`` (SQL text, named parameters) in its own committed transaction: its first
    column's first value, or None for a statement that returns no rows."""
    from sqlalchemy import text

    with database.engine.begin() as conn:
        result = conn.execute(text(query), params)
        return result.scalar() if result.returns_rows else None


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with scratch_pg("test") as url:
        yield url


def _make_app(url: str, instance: Path) -> Flask:
    """The app as the tests share it; its instance folder (secrets, keys, package files) is the
    test run's own, never the checkout's ``instance/``."""
    database = Database(url)
    dbops.upgrade(database)
    return create_app(Settings.of(database_url=url, secret_key="test-secret", instance_dir=instance), db=database)


@pytest.fixture(scope="session")
def sqlite_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return _make_app(f"sqlite:///{tmp_path_factory.mktemp('db') / 'hocvu.db'}", tmp_path_factory.mktemp("instance"))


@pytest.fixture(scope="session")
def postgresql_app(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return _make_app(pg_url, tmp_path_factory.mktemp("instance"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest) -> Flask:
    """The app on each backend: every test using it runs on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_app")


@pytest.fixture
def sqlite_only_app(sqlite_app: Flask) -> Flask:
    return sqlite_app


class Xapi:
    """A test client bound to one tenant's credential, sending xAPI headers by default."""

    def __init__(self, client: FlaskClient, key: str, secret: str, version: str = "1.0.3") -> None:
        self.client, self.key, self.secret, self.version = client, key, secret, version

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        token = base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()
        h = {"Authorization": f"Basic {token}", "X-Experience-API-Version": self.version}
        h.update(extra or {})
        return {k: v for k, v in h.items() if v is not None}

    def request(self, method: str, path: str, *, json_body: Any = None, data: bytes | str | None = None,
                headers: dict[str, str] | None = None, **params: Any) -> Any:
        extra = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body)
            extra.setdefault("Content-Type", "application/json")
        return self.client.open(f"/xapi/{path}", method=method, data=data, query_string=params,
                                headers=self.headers(extra))

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def definition(self, activity_id: str) -> dict[str, Any]:
        """The Activities resource's definition of ``activity_id`` (xAPI 1.0.3 Part Three §4.2)."""
        res = self.get("activities", activityId=activity_id)
        assert res.status_code == 200, res.get_data(as_text=True)
        got: dict[str, Any] = res.get_json()["definition"]
        return got


def new_credential(app: Flask, scopes: list[str], tenant_slug: str | None = None) -> tuple[str, str, str]:
    """Make (or reuse) a tenant and a credential with ``scopes``; returns (slug, key, secret)."""
    database: Database = app.extensions["hocvu.db"]
    with database.session() as session:
        slug = tenant_slug or f"t-{uuid.uuid4().hex[:12]}"
        try:
            tenant = credentials.get_tenant(session, slug)
        except Exception:
            tenant = credentials.create_tenant(session, slug, f"Test tenant {slug}")
        cred, secret = credentials.create_credential(session, tenant, "test", scopes)
        session.commit()
        return slug, cred.key, secret


@pytest.fixture
def xapi(app: Flask) -> Xapi:
    """A fresh tenant with an all-scopes credential, speaking xAPI 1.0.3."""
    _, key, secret = new_credential(app, ["all"])
    return Xapi(app.test_client(), key, secret)


@pytest.fixture
def xapi2(app: Flask) -> Xapi:
    """A fresh tenant with an all-scopes credential, speaking xAPI 2.0.0."""
    _, key, secret = new_credential(app, ["all"])
    return Xapi(app.test_client(), key, secret, version="2.0.0")


def statement(**overrides: Any) -> dict[str, Any]:
    """A small valid statement; keyword arguments replace top-level properties."""
    base: dict[str, Any] = {
        "actor": {"objectType": "Agent", "name": "Nguyễn Văn An", "mbox": "mailto:an@example.vn"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"vi": "đã hoàn thành",
                                                                                 "en-US": "completed"}},
        "object": {"objectType": "Activity", "id": "https://hocvu.vn/courses/ky-nang-so/lesson-1",
                   "definition": {"name": {"vi": "Bài 1", "en-US": "Lesson 1"}}},
    }
    base.update(overrides)
    return base


# --- the identity gate with the real face model (tests/identity/gate, tests/lti/proctoring) ----------


@pytest.fixture(scope="session")
def identity_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The app with the demo VNeID provider on loopback and a real face service, with one learner
    (``ENROLLED``) enrolled once for every test (tests/identity/gate/gate_support.py)."""
    from tests.identity.gate.gate_support import ENROLLED, build_identity_env, fix_challenges

    patch = pytest.MonkeyPatch()
    env, server = build_identity_env(tmp_path_factory.mktemp("player-identity"))
    env.new_challenge = fix_challenges(patch)   # the same steps every time: bursts rendered once
    learner = env.learner()
    learner.ready(ENROLLED)
    assert learner.enrol("A_img2.jpg").status_code == 303
    env.enrolled.add(ENROLLED)
    yield env
    patch.undo()
    server.shutdown()
    server.server_close()


def json_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a parsed JSON value (keys and list indexes), the root's included: where the
    fuzz tests splice a hostile value or make an edit."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += json_paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += json_paths(v, (*prefix, i))
    return out
