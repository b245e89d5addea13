"""LTI fixtures: the test platform (tests/lti/lti_platform.py) and the real hub app, each served on a
loopback port so each side fetches the other's keys over real HTTP; a ``Browser`` that carries a
user between them (Flask's test client on the tool side, so the session can be inspected).

The app is built like tests/conftest.py builds it (a migrated database, ``create_app``), with its
public URL set to where it is served. The shared environment (``lti_env``, and every test through
``lms``) runs on SQLite and on PostgreSQL, as the hub is deployed: the LTI tables are keyed by
tenant on PostgreSQL (migration 0211), and an LMS's launches, grades and rosters are checked there.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import credentials
from lrs.storage import Database
from lti_tool.launch_cache import MemoryCache
from lti_tool.launch_context import LaunchContext
from lti_tool.registrations import PlatformSpec, add_platform
from lti_tool.services import LtiTool
from player.session import KEY as PLAYER_SESSION
from player.session import PlayerSession
from tests.conftest import backend_url
from tests.lti.lti_platform import Client, Platform


class _Dispatch:
    """Lets the server bind its port before the app (which needs that URL) exists."""

    app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.app(environ, start_response)


@dataclass
class Env:
    app: Flask
    platform: Platform
    tool_url: str

    @property
    def db(self) -> Database:
        db: Database = self.app.extensions["hocvu.db"]
        return db

    @property
    def tool(self) -> LtiTool:
        tool: LtiTool = self.app.extensions["lti_tool"]
        return tool


def serve(app: Any) -> tuple[Any, str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def build_app(tmp_dir: Any, *, redis_url: str | None = None, memory_cache: bool = False,
              db_url: str | None = None) -> tuple[Flask, Any, str]:
    """The hub on a loopback port, on ``db_url`` (default: a new SQLite file in ``tmp_dir``). Its
    launch state is the production default (the database, or Redis with ``redis_url``);
    ``memory_cache`` swaps in the one-process MemoryCache, which this single-process server can use
    and whose keys tests may list (tests/lti/test_lti_launch_security.py and the proctoring tests
    count cached launches that way)."""
    dispatch = _Dispatch()
    server, url = serve(dispatch)
    db_url = db_url or f"sqlite:///{tmp_dir / 'lti.db'}"
    database = Database(db_url)
    dbops.upgrade(database)
    dispatch.app = create_app(Settings.of(database_url=db_url, secret_key="test-secret", public_url=url,
                                       redis_url=redis_url, instance_dir=tmp_dir / "instance"), db=database)
    if memory_cache:
        dispatch.app.extensions["lti_tool"].cache = MemoryCache()
    return dispatch.app, server, url


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def lti_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("lti")
    with backend_url(request.param, "lti", f"sqlite:///{folder / 'lti.db'}") as db_url:
        platform = Platform()
        app, server, url = build_app(folder, memory_cache=True, db_url=db_url)
        yield Env(app, platform, url)
        server.shutdown()
        platform.close()
        app.extensions["hocvu.db"].dispose()


@dataclass
class Lms:
    """One tenant with one LMS registered: the platform's client and our registration row."""

    env: Env
    tenant_slug: str
    tenant_id: int
    client: Client
    registration_id: int


def register_lms(env: Env) -> Lms:
    client = env.platform.add_client(env.tool_url)
    with env.db.session() as session:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        tenant = credentials.create_tenant(session, slug, f"Sở {slug}")
        spec = PlatformSpec(issuer=env.platform.issuer, client_id=client.client_id,
                            auth_login_url=env.platform.auth_url, token_url=env.platform.token_url,
                            keyset_url=env.platform.jwks_url)
        row = add_platform(session, tenant, spec, [client.deployment_id])
        session.commit()
        return Lms(env, slug, tenant.id, client, row.id)


@pytest.fixture
def lms(lti_env: Env) -> Lms:
    return register_lms(lti_env)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action") or ""
        elif tag == "input" and a.get("name"):
            self.fields[str(a["name"])] = a.get("value") or ""


def form(page: str) -> tuple[str, dict[str, str]]:
    parser = _Forms()
    parser.feed(page)
    return parser.action, parser.fields


class Browser:
    """A user's browser: follows the tool's and the platform's redirects and auto-submitted forms."""

    def __init__(self, client: FlaskClient, platform: Platform, lms: Lms, *, secure: bool = False) -> None:
        self.client, self.platform, self.lms = client, platform, lms
        # Over HTTPS pylti1p3 keys its cache by a session-id cookie (SameSite=None; Secure).
        self.base = "https://localhost" if secure else "http://localhost"

    def login_params(self, hint: str, user: str) -> dict[str, str]:
        # LTI Core 1.3 §4.1 / Security Framework §5.1.1.1: third-party initiated login.
        return {"iss": self.platform.issuer, "login_hint": user, "lti_message_hint": hint,
                "target_link_uri": self.lms.client.redirect_uris[0], "client_id": self.lms.client.client_id,
                "lti_deployment_id": self.lms.client.deployment_id}

    def login(self, hint: str, user: str, *, method: str = "POST") -> TestResponse:
        params = self.login_params(hint, user)
        first = (self.client.post("/lti/login", data=params, base_url=self.base) if method == "POST"
                 else self.client.get("/lti/login", query_string=params, base_url=self.base))
        # pylti1p3's cookie check page: the browser's script reloads with lti1p3_new_window=1
        # when cookies work (or the user opens that URL in a new window when they do not).
        assert first.status_code == 200, first.get_data(as_text=True)
        assert "lti1p3_new_window" in first.get_data(as_text=True)
        return self.client.get("/lti/login", query_string={**params, "lti1p3_new_window": "1"}, base_url=self.base)

    def authorize(self, hint: str, user: str) -> dict[str, str]:
        """Login initiation → the platform's authorization endpoint → the form it auto-submits."""
        redirect = self.login(hint, user)
        assert redirect.status_code == 302, redirect.get_data(as_text=True)
        location = redirect.headers["Location"]
        assert location.startswith(self.platform.auth_url)
        answer = requests.get(location, timeout=10)
        assert answer.status_code == 200, answer.text
        action, fields = form(answer.text)
        assert urlsplit(action).path == "/lti/launch"
        return fields

    def post_launch(self, fields: dict[str, str]) -> TestResponse:
        return self.client.post("/lti/launch", data=fields, base_url=self.base)

    def launch(self, hint: str, user: str = "learner-1") -> TestResponse:
        return self.post_launch(self.authorize(hint, user))

    def session(self) -> dict[str, Any]:
        with self.client.session_transaction(base_url=self.base) as sess:
            return dict(sess)

    def lti_launch(self) -> LaunchContext:
        """The LTI launch behind the player session this browser holds (``LaunchContext.of_player``)."""
        launch = LaunchContext.of_player(PlayerSession.from_session(self.session()[PLAYER_SESSION]))
        assert launch is not None
        return launch


@pytest.fixture
def browser(lti_env: Env, lms: Lms) -> Browser:
    return Browser(lti_env.app.test_client(), lti_env.platform, lms)


@dataclass(frozen=True)
class StubItem:
    """The shape of player.catalogue.CatalogueItem (the real catalogue is another engineer's)."""

    target: str
    title: str
    kind: str
    graded: bool
    max_score: float | None


STUB_ITEMS = [
    StubItem("course/ky-nang-so-co-ban", "Kỹ năng số cơ bản", "course", False, None),
    StubItem("course/ky-nang-so-co-ban/module/an-toan", "An toàn trên mạng", "module", False, None),
    StubItem("course/ky-nang-so-co-ban/quiz/final", "Bài kiểm tra cuối khoá", "quiz", True, 10.0),
]


@pytest.fixture
def catalogue(monkeypatch: pytest.MonkeyPatch) -> list[StubItem]:
    from lti_tool import deep_linking

    monkeypatch.setattr(deep_linking, "load_catalogue", lambda locale: list(STUB_ITEMS))
    return STUB_ITEMS


def error_message(response: TestResponse) -> str:
    match = re.search(r'id="lti-error-message">(.*?)</p>', response.get_data(as_text=True), re.S)
    return match.group(1) if match else ""


# --- Proctoring Services 1.0 (tests/lti/test_lti_proctoring*.py) ---------------------------------


@pytest.fixture(scope="session")
def proctoring_platform() -> Iterator[Any]:
    """An assessment platform (tests/lti/platform_proctoring.py) beside the ordinary test platform."""
    from tests.lti.proctoring.platform_proctoring import ProctoringPlatform

    platform = ProctoringPlatform()
    yield platform
    platform.close()


@pytest.fixture
def proctored_lms(lti_env: Env, proctoring_platform: Any) -> Lms:
    """A tenant whose LMS is the proctoring platform, registered with the hub."""
    return register_lms(Env(lti_env.app, proctoring_platform, lti_env.tool_url))


@pytest.fixture
def proctored_browser(lti_env: Env, proctored_lms: Lms) -> Browser:
    return Browser(lti_env.app.test_client(), proctored_lms.env.platform, proctored_lms)
