"""When the database is away: 503 with Retry-After instead of 500, and the probes load balancers ask.

* Any request that meets an unreachable, refusing or timed-out database (a connection that cannot
  be made or was lost, a statement or lock wait past HOCVU_DB_STATEMENT_TIMEOUT, a pool with no
  free connection, SQLite's "database is locked") is answered 503 Service Unavailable with
  Retry-After (RFC 9110 §15.6.4, §10.2.3): on /xapi/ in the xAPI error shape with the version
  header, on the HTML pages (/reports/, /audit/) a page saying, in Vietnamese first, to try again
  shortly, elsewhere ``{"error": {"code": "service_unavailable", ...}}``. Nothing was written: the
  failed transaction never committed.
* ``GET /healthz``: liveness, the process answers (no database), for restarts.
* ``GET /readyz``: readiness, for taking a process out of rotation: the database answers, Redis
  answers when HOCVU_REDIS_URL is set, and the schema is at the migrations' heads; 503 otherwise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Final

from flask import Blueprint, Flask, Response, g, request
from markupsafe import escape
from sqlalchemy import exc, inspect, text
from sqlalchemy.orm import Session

from hocvu.settings import Settings
from lrs.errors import ServiceUnavailable
from lrs.http.frame import PREFIX as XAPI_PREFIX
from lrs.http.frame import render_error
from lrs.storage import Database

log = logging.getLogger(__name__)
bp = Blueprint("availability", __name__)
EXTENSION: Final = "hocvu.availability"
# What a database that is away (or too slow) raises through SQLAlchemy: psycopg's OperationalError
# (connection refused or lost, query_canceled by statement_timeout, lock_not_available, admin
# shutdown) and sqlite3's ("database is locked", "unable to open database file"); InterfaceError
# (a connection already closed); TimeoutError (no pooled connection within pool_timeout).
UNAVAILABLE: Final = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)
MESSAGE: Final = "the database is unavailable or did not answer in time; nothing was written, try again shortly"
DATA_SUFFIXES: Final = (".json", ".jsonl", ".csv", ".zip")
PAGE: Final = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tạm thời gián đoạn / Temporarily unavailable — hocvu</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}}
p.en{{color:#555}}</style></head>
<body><main>
<h1>Hệ thống tạm thời gián đoạn</h1>
<p>Hệ thống chưa kết nối được cơ sở dữ liệu. Không có gì bị thay đổi.
Vui lòng thử lại sau khoảng {seconds} giây.</p>
<h2 lang="en">Temporarily unavailable</h2>
<p class="en" lang="en">The service cannot reach its database right now. Nothing was changed.
Please try again in about {seconds} seconds.</p>
<p class="en">HTTP 503 · service_unavailable</p>
</main></body></html>
"""


class Availability:
    """The app's database and Redis, and the schema heads the code expects."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.redis_url, self.retry_after = db, settings.hub.redis_url, settings.hub.unavailable_retry_after
        self._heads: frozenset[str] | None = None

    def expected_heads(self) -> frozenset[str]:
        if self._heads is None:
            from alembic.script import ScriptDirectory

            from hocvu.db import alembic_config

            self._heads = frozenset(ScriptDirectory.from_config(alembic_config(self.db)).get_heads())
        return self._heads

    def checks(self) -> dict[str, str]:
        """Each dependency: "ok", "not configured", or what is wrong (never a secret or a host)."""
        found: dict[str, str] = {}
        try:
            with self.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                found["database"] = "ok"
                # Alembic's own table, read directly: a MigrationContext per probe logged two INFO
                # lines a call, a load balancer's every few seconds.
                current = frozenset(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
                                    if inspect(conn).has_table("alembic_version") else ())
                missing = sorted(self.expected_heads() - current)
                found["migrations"] = "ok" if not missing else f"not at head: {', '.join(missing)} not applied"
        except UNAVAILABLE as err:
            log.warning("readyz: the database does not answer (%s)", type(err.orig or err).__name__
                        if isinstance(err, exc.DBAPIError) else type(err).__name__)
            found.setdefault("database", "unreachable")
            found.setdefault("migrations", "unknown")
        found["redis"] = self._redis()
        return found

    def _redis(self) -> str:
        if not self.redis_url:
            return "not configured"
        import redis

        try:
            client = redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
            try:
                client.ping()
            finally:
                client.close()
            return "ok"
        except redis.RedisError as err:
            log.warning("readyz: Redis does not answer (%s)", type(err).__name__)
            return "unreachable"


def _availability() -> Availability:
    from flask import current_app

    found: Availability = current_app.extensions[EXTENSION]
    return found


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status=status,
                        headers=headers or {}, content_type="application/json; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return _json({"status": "ok"}, 200)


@bp.get("/readyz")
def readyz() -> Response:
    a = _availability()
    checks = a.checks()
    ready = all(v in ("ok", "not configured") for v in checks.values())
    if ready:
        return _json({"status": "ready", "checks": checks}, 200)
    return _json({"status": "unavailable", "checks": checks}, 503, {"Retry-After": str(a.retry_after)})


def _wants_html() -> bool:
    if request.path.endswith(DATA_SUFFIXES):
        return False
    if request.accept_mimetypes:
        return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"
    return request.path.startswith(("/reports/", "/audit/"))  # the human pages, asked without Accept


def _forget_session(name: str) -> None:
    # The request's session holds the broken connection: drop it quietly so neither the error
    # renderer's rollback nor teardown's close raises a second error on it.
    session: Session | None = g.pop(name, None)
    if session is not None:
        try:
            session.close()
        except Exception:  # the connection is already gone; closing it is allowed to fail
            log.debug("closing a session on an unavailable database failed", exc_info=True)


def unavailable(err: Exception) -> Response:
    """The 503 for a database that is away (see the module docstring)."""
    a = _availability()
    cause = err.orig if isinstance(err, exc.DBAPIError) and err.orig is not None else err
    log.warning("503 on %s %s: the database is unavailable (%s: %s)", request.method, request.path,
                type(cause).__name__, str(cause).strip().splitlines()[0][:200] if str(cause).strip() else "")
    _forget_session("xapi_session")
    headers = {"Retry-After": str(a.retry_after)}
    if request.path.startswith(XAPI_PREFIX):
        return render_error(ServiceUnavailable(MESSAGE, retry_after=a.retry_after))
    if _wants_html():
        response = Response(PAGE.format(seconds=escape(str(a.retry_after))), status=503, headers=headers,
                            content_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return response
    return _json(ServiceUnavailable(MESSAGE, retry_after=a.retry_after).body(), 503, headers)


def init_app(app: Flask, settings: Settings, db: Database) -> None:
    app.extensions[EXTENSION] = Availability(db, settings)
    app.register_blueprint(bp)
    handler: Callable[[Exception], Response] = unavailable
    for kind in UNAVAILABLE:
        app.register_error_handler(kind, handler)
