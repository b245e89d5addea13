"""Support for the forwarding tests: a second hocvu LRS served over real HTTP on loopback, the
source side's tenant and credential, and comparisons of what each store holds."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import delete, select
from werkzeug.serving import BaseWSGIServer, make_server

from connectors.forwarding import targets as fw
from connectors.forwarding.delivery import RoundReport, TargetKey, deliver_target
from connectors.storage import ForwardItem, ForwardTarget
from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import credentials
from lrs.storage import Database, Statement, Tenant
from tests.conftest import Xapi, new_credential, run_instance

WSGI = Callable[[dict[str, Any], Callable[..., Any]], Any]
# Fast schedules so a test waits milliseconds, not minutes; gaps never hold delivery back here
# (the race test sets its own gap timeout).
FAST = {"backoff_base": 0.01, "backoff_cap": 0.05, "gap_timeout": 0.0, "http_timeout": 5.0, "max_attempts": 3}


def fast_config(**overrides: Any) -> fw.ForwardConfig:
    return fw.ForwardConfig.from_secret("test-secret", **{**FAST, **overrides})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LrsServer:
    """A hocvu LRS on its own SQLite database, served by werkzeug on a fixed loopback port so
    it can be stopped and started again (a new app on the same database) mid-test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.port = free_port()
        self.db = Database(url)
        dbops.upgrade(self.db)
        self.app = self._new_app()
        self.wrap: Callable[[WSGI], WSGI] | None = None  # a middleware to misbehave with
        self._server: BaseWSGIServer | None = None
        self._wrapped: tuple[Flask, Callable[[WSGI], WSGI] | None, WSGI] | None = None

    def _new_app(self) -> Flask:
        return create_app(Settings.of(instance_dir=run_instance(),
                                      database_url=self.url, secret_key="target-secret"), db=self.db)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/xapi/"

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # Wrap once per (app, middleware) so a middleware can count requests.
        if self._wrapped is None or self._wrapped[0] is not self.app or self._wrapped[1] is not self.wrap:
            handler = self.app.wsgi_app if self.wrap is None else self.wrap(self.app.wsgi_app)
            self._wrapped = (self.app, self.wrap, handler)
        return self._wrapped[2](environ, start_response)

    def start(self) -> LrsServer:
        self._server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def restart(self) -> None:
        """Back up after a stop: a fresh app (as a restarted process would be) on the same database."""
        self.app = self._new_app()
        self.start()

    def tenant(self) -> tuple[int, str, str]:
        """A fresh tenant with a write/read credential: (tenant id, key, secret)."""
        slug, key, secret = new_credential(self.app, ["all"])
        with self.db.session() as session:
            return credentials.get_tenant(session, slug).id, key, secret


@dataclass
class Source:
    """The source LRS side of a test: one fresh tenant on the `app` fixture's database."""

    app: Flask
    db: Database
    tenant_id: int
    slug: str
    xapi: Xapi
    xapi2: Xapi

    def add_target(self, server: LrsServer, name: str = "national", config: fw.ForwardConfig | None = None,
                   **spec: Any) -> tuple[int, int]:
        """Point a target at a fresh tenant of ``server``; returns (target id, target tenant id)."""
        target_tenant, key, secret = server.tenant()
        with self.db.session() as session:
            tenant = session.get(Tenant, self.tenant_id)
            assert tenant is not None
            target = fw.add_target(session, config or fast_config(), tenant, fw.TargetSpec(
                name=name, endpoint=server.endpoint, key=key, secret=secret, **spec))
            session.commit()
            return target.id, target_tenant

    def key(self, target_id: int) -> TargetKey:
        """A target of this tenant by its key (tenant_id, id), as delivery names it."""
        return TargetKey(self.tenant_id, target_id)

    def target(self, target_id: int) -> ForwardTarget:
        with self.db.session() as session:
            target = session.get(ForwardTarget, self.key(target_id))
            assert target is not None
            return target

    def items(self, target_id: int) -> list[ForwardItem]:
        with self.db.session() as session:
            return list(session.scalars(select(ForwardItem).where(ForwardItem.tenant_id == self.tenant_id,
                                                                      ForwardItem.target_id == target_id)
                                        .order_by(ForwardItem.seq)))

    def post(self, body: Any, *, v2: bool = False) -> list[str]:
        response = (self.xapi2 if v2 else self.xapi).post("statements", json_body=body)
        assert response.status_code == 200, response.get_data(as_text=True)
        return list(response.get_json())

    def backlog(self, target_id: int) -> int:
        with self.db.session() as session:
            target = session.get(ForwardTarget, self.key(target_id))
            assert target is not None
            return fw.backlog(session, target)


def drain(source: Source, target_id: int, config: fw.ForwardConfig, *, timeout: float = 30.0) -> list[RoundReport]:
    """Run rounds (waiting out backoff) until nothing is left for the target."""
    reports: list[RoundReport] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reports.append(deliver_target(source.db, config, source.key(target_id)))
        if source.backlog(target_id) == 0:
            return reports
        time.sleep(0.02)
    raise AssertionError(f"backlog {source.backlog(target_id)} left after {timeout}s; last: {reports[-1:]}")


def comparable(full: dict[str, Any]) -> dict[str, Any]:
    # authority and stored are the receiving LRS's own (xAPI 1.0.3 Part Two §2.4.8, §2.4.9).
    return {k: v for k, v in full.items() if k not in ("authority", "stored")}


def holdings(db: Database, tenant_id: int) -> dict[str, tuple[dict[str, Any], bool]]:
    """Every statement a tenant holds: id -> (statement less authority/stored, voided?)."""
    with db.session() as session:
        rows = session.execute(select(Statement.statement_id, Statement.full, Statement.voided)
                               .where(Statement.tenant_id == tenant_id)).all()
    out = {sid: (comparable(full), voided) for sid, full, voided in rows}
    assert len(out) == len(rows)
    return out


def make_source(app: Flask) -> Source:
    slug, key, secret = new_credential(app, ["all"])
    db: Database = app.extensions["hocvu.db"]
    with db.session() as session:
        tenant_id = credentials.get_tenant(session, slug).id
    return Source(app, db, tenant_id, slug, Xapi(app.test_client(), key, secret),
                  Xapi(app.test_client(), key, secret, version="2.0.0"))


def remove_targets(source: Source) -> None:
    with source.db.session() as session:
        ids = session.scalars(select(ForwardTarget.id).where(ForwardTarget.tenant_id == source.tenant_id)).all()
        session.execute(delete(ForwardItem).where(ForwardItem.tenant_id == source.tenant_id,
                                                  ForwardItem.target_id.in_(ids)))
        session.execute(delete(ForwardTarget).where(ForwardTarget.tenant_id == source.tenant_id,
                                                    ForwardTarget.id.in_(ids)))
        session.commit()


def stmt(n: int, *, verb: str = "http://adlnet.gov/expapi/verbs/completed",
         activity: str = "https://hocvu.vn/courses/ky-nang-so/lesson-1", **extra: Any) -> dict[str, Any]:
    """A distinct statement with a fixed id (so tests can name it)."""
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"hocvu-forward-test/{uuid.uuid4()}/{n}")),
            "actor": {"objectType": "Agent", "name": f"Học viên {n}", "mbox": f"mailto:hv{n}@example.vn"},
            "verb": {"id": verb, "display": {"vi": "đã hoàn thành"}},
            "object": {"objectType": "Activity", "id": activity},
            "result": {"score": {"scaled": (n % 10) / 10}},
            "timestamp": "2026-11-23T08:00:00.123456+07:00", **extra}


def voiding(target_id: str) -> dict[str, Any]:
    return {"actor": {"objectType": "Agent", "mbox": "mailto:admin@example.vn"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
            "object": {"objectType": "StatementRef", "id": target_id}}
