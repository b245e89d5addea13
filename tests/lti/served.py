"""The hub as a deployment runs it: ``make run``'s server (gunicorn, 2 workers × 4 threads,
``hocvu.wsgi:app``) on a loopback port of the 86xx range, and a browser that opens a new TCP
connection for every request, as requests arrive behind any reverse proxy, so consecutive steps
of one launch land on either worker. Used by tests/lti/test_lti_served*.py and bench/lti.py.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from hocvu import db as dbops
from lrs import credentials
from lrs.storage import Database
from lti_tool.launch_context import LaunchContext
from lti_tool.registrations import PlatformSpec, add_platform
from player.session import KEY as PLAYER_SESSION
from player.session import PlayerSession

SECRET = "served-test-secret"
ROOT = Path(__file__).resolve().parents[2]


def free_port(low: int = 8600, high: int = 8700) -> int:
    """A free loopback port in the 86xx range (the range this work's servers use)."""
    for port in range(low, high):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


@dataclass
class ServedHub:
    url: str
    db_url: str
    proc: subprocess.Popen[bytes]
    log: Path
    access_log: Path | None = None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def access(self) -> list[tuple[str, str, int, float, str]]:
        """(method, path, status, milliseconds in the server, worker pid) of each logged request."""
        assert self.access_log is not None
        rows = []
        for line in self.access_log.read_text().splitlines():
            method, path, status, micros, pid = line.split()
            rows.append((method, path, int(status), int(micros) / 1000, pid))
        return rows

    def env(self) -> dict[str, str]:
        return hub_env(self.db_url, self.url, self.log.parent)


def hub_env(db_url: str, public_url: str, instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOCVU_")}
    env.update(HOCVU_DATABASE_URL=db_url, HOCVU_SECRET_KEY=SECRET, HOCVU_PUBLIC_URL=public_url,
               HOCVU_INSTANCE_DIR=str(instance), HOCVU_SCORE_RETRY_SECONDS="0", HOCVU_FORWARD_SECONDS="0",
               PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def serve_hub(workdir: Path, db_url: str, *, access_log: bool = False, **extra_env: str) -> ServedHub:
    """Migrates ``db_url`` and serves the hub on it the way ``make run`` does (no Redis)."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = Database(db_url)
    dbops.upgrade(database)
    database.dispose()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / f"gunicorn-{port}.log"
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
               "--log-level", "warning"]
    access = workdir / f"access-{port}.log" if access_log else None
    if access is not None:
        # %(D)s: the request's time in the server, in microseconds (the benchmark's figure); %(p)s:
        # the worker's process id (which worker took each request).
        command += ["--access-logfile", str(access), "--access-logformat", '%(m)s %(U)s %(s)s %(D)s %(p)s']
    proc = subprocess.Popen([*command, "hocvu.wsgi:app"], env=hub_env(db_url, url, workdir, **extra_env),
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    hub = ServedHub(url, db_url, proc, log, access)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(url + "/lti/jwks", timeout=5, headers={"Connection": "close"}).ok:
                return hub
        except requests.RequestException:
            pass
        time.sleep(0.3)
    hub.stop()
    raise RuntimeError(f"gunicorn did not answer in time: {log.read_text()[-2000:]}")


def register(db_url: str, issuer: str, client_id: str, deployment_id: str, *, auth_url: str, token_url: str,
             jwks_url: str, name: str = "") -> tuple[int, int]:
    """A tenant and its LMS registration, written straight to the served hub's database; (tenant id,
    registration id)."""
    database = Database(db_url)
    try:
        with database.session() as session:
            slug = f"t-{os.urandom(5).hex()}"
            tenant = credentials.create_tenant(session, slug, f"Sở {slug}")
            spec = PlatformSpec(issuer=issuer, client_id=client_id, auth_login_url=auth_url, token_url=token_url,
                                keyset_url=jwks_url, name=name)
            row = add_platform(session, tenant, spec, [deployment_id])
            session.commit()
            return tenant.id, row.id
    finally:
        database.dispose()


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method = "get"
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action, self.method = a.get("action") or "", (a.get("method") or "get").lower()
        elif tag == "input" and a.get("name") and a.get("type") != "checkbox":
            self.fields[str(a["name"])] = a.get("value") or ""


@dataclass
class Step:
    response: requests.Response
    posted: dict[str, str] = field(default_factory=dict)   # the id_token and state posted to the tool


class HttpBrowser:
    """A learner's browser: a cookie jar, and a new TCP connection for every request."""

    def __init__(self) -> None:
        self.jar = requests.cookies.RequestsCookieJar()
        self.requests = 0

    def send(self, method: str, url: str, **kw: Any) -> requests.Response:
        headers = {"Connection": "close", **kw.pop("headers", {})}
        # requests.request makes a Session of its own each time: its own connection pool, so no reuse.
        response = requests.request(method, url, headers=headers, cookies=self.jar, allow_redirects=False,
                                    timeout=60, **kw)
        self.jar.update(response.cookies)
        self.requests += 1
        return response

    def launch(self, start_url: str, *, max_steps: int = 12, post: bool = True) -> Step:
        """From the LMS's link to the tool's answer to the id_token POST: redirects followed,
        pylti1p3's cookie check passed, auto-submitted forms submitted. ``post=False`` stops before
        the id_token POST (its fields are in the step)."""
        method, url, data = "GET", start_url, None
        response: requests.Response | None = None
        for _ in range(max_steps):
            if not post and method == "POST" and urlsplit(url).path == "/lti/launch":
                assert response is not None
                return Step(response, dict(data or {}))
            response = self.send(method, url, data=data)
            if method == "POST" and urlsplit(url).path == "/lti/launch":
                return Step(response, dict(data or {}))
            if response.status_code in (301, 302, 303, 307):
                method, url, data = "GET", urljoin(url, response.headers["Location"]), None
            elif "lti1p3_new_window" in response.text and "lti1p3_new_window=1" not in url:
                # pylti1p3's cookie check: the page's script reloads with lti1p3_new_window=1.
                method, url, data = "GET", url + ("&" if "?" in url else "?") + "lti1p3_new_window=1", None
            else:
                form = _Form()
                form.feed(response.text)
                if response.status_code != 200 or form.action is None:
                    return Step(response)
                method, url, data = form.method.upper(), urljoin(url, form.action), form.fields
        raise AssertionError(f"the launch did not reach the tool in {max_steps} steps")

    def post_again(self, hub_url: str, posted: dict[str, str]) -> requests.Response:
        return self.send("POST", hub_url + "/lti/launch", data=posted)

    def session(self) -> dict[str, Any]:
        """The hub's signed session cookie, read with the hub's secret (what the player sees)."""
        app = Flask("reader")
        app.secret_key = SECRET
        serializer = SecureCookieSessionInterface().get_signing_serializer(app)
        assert serializer is not None
        cookie = self.jar.get("session")
        return dict(serializer.loads(cookie)) if cookie else {}

    def launch_context(self) -> LaunchContext:
        launch = LaunchContext.of_player(PlayerSession.from_session(self.session()[PLAYER_SESSION]))
        assert launch is not None
        return launch

    def player_form(self, hub_url: str, path: str) -> str:
        """The player's CSRF value from a page of the player."""
        page = self.send("GET", hub_url + path)
        assert page.status_code == 200, page.text[:500]
        match = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert match, "no csrf field on the player page"
        return match.group(1)


def spec_login_url(hub_url: str, platform: Any, client: Any, hint: str, user: str) -> str:
    """LTI Core 1.3 §4.1: the spec platform's third-party initiated login, as a link it would render."""
    params = {"iss": platform.issuer, "login_hint": user, "lti_message_hint": hint,
              "target_link_uri": client.redirect_uris[0], "client_id": client.client_id,
              "lti_deployment_id": client.deployment_id}
    return hub_url + "/lti/login?" + requests.compat.urlencode(params)
