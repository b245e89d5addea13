"""Shared by the citizen tests: the real app with the built-in demo VNeID provider, served on loopback
for the hub's back channel (discovery, token, JWKS), and a citizen's browser (the Flask test client)
that signs in through the real pages and learns from the front door; a reader for the national
tenant's LRS through the xAPI API."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from identity.settings import IdentitySettings
from lrs import credentials
from lrs.storage import Database
from player.front import CONFIG_EXT, FrontConfig
from tests.conftest import Xapi

PEPPER = b"citizen-test-pepper-0123456789abcdef"
LOCAL_CALLBACK = "http://localhost/identity/callback"   # the Flask test client's default host
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


SEEN_EXT = "tests.requests_seen"   # every request the loopback server answered: "METHOD /path"


@contextmanager
def citizen_app(tmp: Path, *, browser: bool = False) -> Iterator[tuple[Flask, str]]:
    """The app, with the demo VNeID on a loopback port; ``browser``: its callback on that port too
    (a real browser), else on the test client's ``localhost``. The app's extensions[SEEN_EXT] lists
    the requests that reached the server, so a test can tell that an offline browser sent none."""
    holder: dict[str, Any] = {}
    seen: list[str] = []

    def wsgi(env: dict[str, Any], start: Any) -> Any:
        seen.append(f"{env['REQUEST_METHOD']} {env['PATH_INFO']}")
        return holder["app"](env, start)

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.port}"
    url = f"sqlite:///{tmp / 'hocvu.db'}"
    database = Database(url)
    dbops.upgrade(database)
    identity = IdentitySettings.demo(base, "test-secret", tmp / "instance", pepper=PEPPER,
                                     redirect_uri=base + "/identity/callback" if browser else LOCAL_CALLBACK)
    app = create_app(Settings.of(instance_dir=tmp / "instance",
                                 database_url=url, secret_key="test-secret", public_url=base), db=database,
                     identity=identity)
    holder["app"] = app
    app.extensions[SEEN_EXT] = seen
    try:
        yield app, base
    finally:
        server.shutdown()
        server.server_close()


def fresh_national_tenant(app: Flask) -> str:
    """A national tenant of the test's own (the demo has five citizens: tests would meet otherwise)."""
    slug = f"qg-{uuid.uuid4().hex[:10]}"
    app.extensions[CONFIG_EXT] = FrontConfig(slug, f"Quốc gia (test {slug})")
    return slug


def reader(app: Flask, slug: str) -> Xapi:
    """A credential of the national tenant, to read it as an xAPI client would (made on first use)."""
    with app.extensions["hocvu.db"].session() as s:
        tenant = credentials.get_tenant(s, slug)
        cred, secret = credentials.create_credential(s, tenant, "test reader", ["all"])
        s.commit()
        return Xapi(app.test_client(), cred.key, secret, version="2.0.0")


@dataclass
class Citizen:
    app: Flask
    client: FlaskClient

    def sign_in(self, citizen: str, next_url: str = "/learning/") -> TestResponse:
        start = self.client.get("/identity/login", query_string={"next": next_url})
        assert start.status_code == 302, start.get_data(as_text=True)
        picked = self.client.post(start.headers["Location"], data={"citizen": citizen})
        assert picked.status_code == 302, picked.get_data(as_text=True)
        done = self.client.get(picked.headers["Location"])
        assert done.status_code == 303, done.get_data(as_text=True)
        return done

    def open_course(self, course: str) -> TestResponse:
        return self.client.get(f"/courses/{course}")

    def page(self, path: str, **kw: Any) -> TestResponse:
        return self.client.get(path, **kw)

    def csrf(self, path: str = "/") -> str:
        found = CSRF_RE.search(self.client.get(path).get_data(as_text=True))
        assert found is not None
        return found.group(1)

    def ticket(self, path: str) -> str:
        found = re.search(r'data-ticket="([^"]*)"', self.client.get(path).get_data(as_text=True))
        assert found is not None and found.group(1)
        return found.group(1)


def citizen(app: Flask) -> Citizen:
    return Citizen(app, app.test_client())
