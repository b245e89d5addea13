"""Fixtures for the identity tests: real parts only.

* ``oidc_provider``: panva/oidc-provider, an independent certified OpenID provider, run by node on
  loopback from ``tools/oidc`` (skipped with the reason when node or the package is missing);
* ``forge``: a small loopback HTTP server publishing a JWKS (and a token endpoint) whose keys and
  answers each test chooses, to present forged ID tokens signed with real RSA keys;
* ``browser``: a ``requests`` session that completes a provider's login and consent pages the
  way a browser would, handing the final redirect to our Flask test client;
* ``demo``: the app with its built-in demo provider, also served over real HTTP on loopback so
  the hub's back channel (discovery, token, JWKS) reaches it while the test client is the browser;
* ``make_app``: the real app (``hocvu.app.create_app``) on a migrated SQLite database.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from identity.settings import IdentitySettings
from lrs.storage import Database
from tests.conftest import backend_url

ROOT = Path(__file__).resolve().parents[2]
OIDC_TOOLS = ROOT / "tools" / "oidc"
CALLBACK = "http://localhost/identity/callback"  # the Flask test client's default host
PEPPER = b"test-pepper-0123456789abcdef-not-a-real-one"
SECRETS = {"hocvu-basic": "basic-secret-0123456789abcdef", "hocvu-post": "post-secret-0123456789abcdef"}


# -- the app ------------------------------------------------------------------------------------

@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def identity_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The identity tests' database, migrated: SQLite, then PostgreSQL (a scratch database, dropped
    after), where the bindings and face checks are keyed by tenant (migration 0214)."""
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('identity-db') / 'hocvu.db'}"
    with backend_url(request.param, "identity", sqlite_url) as url:
        database = Database(url)
        dbops.upgrade(database)
        database.dispose()
        yield url


@pytest.fixture
def make_app(identity_db_url: str) -> Iterator[Callable[[IdentitySettings], Flask]]:
    """Builds the real app as tests/conftest.py does, with the identity settings given."""
    made: list[Database] = []

    def make(identity: IdentitySettings) -> Flask:
        database = Database(identity_db_url)
        made.append(database)
        # The hub's instance folder is the identity settings' (the hub key, attachment bytes), as a
        # CLI command given the same HOCVU_INSTANCE_DIR sees it; never the checkout's instance/.
        return create_app(Settings.of(database_url=identity_db_url, secret_key="test-secret",
                                      instance_dir=identity.instance_dir), db=database, identity=identity)

    yield make
    for database in made:
        database.dispose()


# -- the independent provider: panva/oidc-provider ------------------------------------------------

@dataclass
class OidcProvider:
    issuer: str
    jwt_client_key: RSAKey  # private key of the private_key_jwt client "hocvu-jwt"

    def settings(self, client_id: str = "hocvu-basic", **overrides: Any) -> IdentitySettings:
        values: dict[str, Any] = dict(
            issuer=self.issuer, discovery_url=self.issuer + "/.well-known/openid-configuration",
            client_id=client_id, client_secret=SECRETS.get(client_id), scopes=("openid", "profile", "vneid"),
            pepper=PEPPER, redirect_uri=CALLBACK, min_level=1)
        if client_id == "hocvu-post":
            values["token_auth_method"] = "client_secret_post"
        if client_id == "hocvu-jwt":
            values.update(token_auth_method="private_key_jwt", client_secret=None,
                          private_key_pem=self.jwt_client_key.as_pem(private=True).decode(),
                          private_key_kid=self.jwt_client_key.kid)
        values.update(overrides)
        return IdentitySettings(**values)


def _provider_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed: the tests against oidc-provider need Node.js 20+"
    if not (OIDC_TOOLS / "node_modules" / "oidc-provider" / "package.json").exists():
        return "oidc-provider is not installed: run `npm ci --prefix tools/oidc`"
    return None


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    reason = _provider_missing()
    if reason:
        pytest.skip(reason)
    jwt_key = RSAKey.generate_key(2048, {"use": "sig", "alg": "RS256"}, private=True)
    jwt_key.ensure_kid()
    clients = [
        {"client_id": "hocvu-basic", "client_secret": SECRETS["hocvu-basic"], "redirect_uris": [CALLBACK],
         "token_endpoint_auth_method": "client_secret_basic"},
        {"client_id": "hocvu-post", "client_secret": SECRETS["hocvu-post"], "redirect_uris": [CALLBACK],
         "token_endpoint_auth_method": "client_secret_post"},
        {"client_id": "hocvu-jwt", "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt",
         "token_endpoint_auth_signing_alg": "RS256", "jwks": {"keys": [jwt_key.as_dict(private=False)]}},
    ]
    log_path = tmp_path_factory.mktemp("oidc-provider") / "stderr.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([shutil.which("node") or "node", "provider.mjs"], cwd=OIDC_TOOLS, text=True,
                                env={**os.environ, "OIDC_CLIENTS": json.dumps(clients)},
                                stdout=subprocess.PIPE, stderr=log)
    try:
        issuer = _wait_ready(proc, log_path)
        yield OidcProvider(issuer=issuer, jwt_client_key=jwt_key)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_ready(proc: subprocess.Popen[str], log_path: Path, timeout: float = 30.0) -> str:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = proc.stdout.readline()
            if line.startswith("READY "):
                return line.split()[1]
            if not line and proc.poll() is not None:
                break
    raise RuntimeError(f"oidc-provider did not start: {log_path.read_text()[-2000:]}")


# -- a browser for the provider's pages ---------------------------------------------------------

class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")


@dataclass
class Browser:
    """Follows the provider's redirects and fills its forms with plain HTTP, like a person with a
    browser; the redirect to our callback goes to the Flask test client (our app)."""

    client: FlaskClient
    http: requests.Session = field(default_factory=requests.Session)
    callback: str = CALLBACK

    def authorize(self, login: str = "cong-dan-1", *, deny: bool = False, next_url: str | None = None) -> str:
        """Starts at /identity/login, signs in at the provider; returns the callback URL reached."""
        start = self.client.get("/identity/login", query_string={"next": next_url} if next_url else None)
        assert start.status_code == 302, start.data
        url = start.headers["Location"]
        for _ in range(20):
            if url.startswith(self.callback):
                return url
            page = self.http.get(url, allow_redirects=False, timeout=10)
            if page.status_code in (302, 303):
                url = urljoin(url, page.headers["Location"])
                continue
            assert page.status_code == 200, (page.status_code, page.text[:500])
            forms = _Forms()
            forms.feed(page.text)
            if deny:
                abort = next(h for h in forms.links if h.rstrip("/").endswith("abort"))
                url = urljoin(url, abort)
                continue
            form = forms.forms[0]
            fields = dict(form["fields"])
            if fields.get("prompt") == "login":
                fields.update(login=login, password="any")
            answer = self.http.post(urljoin(url, form["action"]), data=fields, allow_redirects=False, timeout=10)
            assert answer.status_code in (302, 303), (answer.status_code, answer.text[:500])
            url = urljoin(url, answer.headers["Location"])
        raise AssertionError("the provider never redirected back to the callback")

    def sign_in(self, login: str = "cong-dan-1", **kw: Any) -> Any:
        return self.client.get(self.authorize(login, **kw))


@pytest.fixture
def browser_for() -> Callable[[Flask], Browser]:
    return lambda app: Browser(app.test_client())


# -- the built-in demo provider, served for the hub's back channel ------------------------------

@dataclass
class Demo:
    app: Flask
    base: str
    client: FlaskClient

    def authorize(self, citizen: str | None = "demo-0001", **login_args: str) -> str:
        """Returns the callback URL the demo provider redirects to after the citizen is picked."""
        start = self.client.get("/identity/login", query_string=login_args)
        url = start.headers["Location"]
        assert url.startswith(self.base + "/demo-vneid/authorize?")
        page = self.client.get(url)
        assert page.status_code == 200 and "Nguyễn Văn An" in page.get_data(as_text=True)
        picked = self.client.post(url, data={"citizen": citizen} if citizen else {"deny": "1"})
        assert picked.status_code == 302, picked.data
        return str(picked.headers["Location"])


@pytest.fixture
def demo(make_app: Callable[[IdentitySettings], Flask], tmp_path: Path) -> Iterator[Demo]:
    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda env, start: holder["app"](env, start), threaded=True)
    base = f"http://127.0.0.1:{server.port}"
    settings = IdentitySettings.demo(base, "test-secret", tmp_path / "instance", redirect_uri=CALLBACK, pepper=PEPPER)
    holder["app"] = app = make_app(settings)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield Demo(app=app, base=base, client=app.test_client())
    server.shutdown()
    server.server_close()


# -- a forging provider: JWKS and token endpoint under the test's control -----------------------

@dataclass
class Forge:
    """Publishes ``jwks`` and answers the token endpoint with ``token_response``; each test signs
    what it wants with real RSA keys (``key`` is published, ``other`` is not)."""

    issuer: str
    key: RSAKey
    other: RSAKey
    jwks: dict[str, Any]
    token_response: dict[str, Any] = field(default_factory=dict)
    jwks_fetches: int = 0

    def settings(self, **overrides: Any) -> IdentitySettings:
        values: dict[str, Any] = dict(
            issuer=self.issuer, discovery_url=self.issuer + "/.well-known/openid-configuration",
            client_id="hocvu", client_secret="forge-secret-0123456789", pepper=PEPPER, redirect_uri=CALLBACK,
            min_level=0, require_citizen_id=False)
        values.update(overrides)
        return IdentitySettings(**values)

    def claims(self, nonce: str, /, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "sub": "citizen-42", "aud": "hocvu", "iat": now,
                                  "exp": now + 300, "nonce": nonce}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None, header: dict[str, Any] | None = None) -> str:
        key = key or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid, **(header or {})}, claims, key)


@pytest.fixture(scope="session")
def forge_keys() -> tuple[RSAKey, RSAKey]:
    """Two real RSA keys, made once (key generation is the slow part)."""
    keys = RSAKey.generate_key(2048, {"use": "sig", "alg": "RS256"}, private=True), \
        RSAKey.generate_key(2048, {"use": "sig", "alg": "RS256"}, private=True)
    for k in keys:
        k.ensure_kid()
    return keys


@pytest.fixture
def forge(forge_keys: tuple[RSAKey, RSAKey]) -> Iterator[Forge]:
    key, other = forge_keys
    state = Forge(issuer="", key=key, other=other, jwks={"keys": [key.as_dict(private=False)]})

    class Handler(BaseHTTPRequestHandler):
        def _json(self, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                self._json({"issuer": state.issuer, "authorization_endpoint": state.issuer + "/authorize",
                            "token_endpoint": state.issuer + "/token", "jwks_uri": state.issuer + "/jwks",
                            "code_challenge_methods_supported": ["S256"]})
            elif self.path == "/jwks":
                state.jwks_fetches += 1
                self._json(state.jwks)
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._json(state.token_response)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
