"""A database that is away (issue 13 case 8): 503 Service Unavailable with Retry-After (RFC 9110
§15.6.4, §10.2.3), in the xAPI error shape on /xapi/ (xAPI 1.0.3 Part Three §3.2: every response
names its version), a Vietnamese-first "try again shortly" page on /reports/ and /audit/; and the
probes: /healthz (liveness, no database), /readyz (database, Redis when configured, migrations).

Real databases only: a PostgreSQL URL on a closed port, a throwaway cluster of the test's own that
is stopped mid-test under a real gunicorn and started again, a statement timed out on a real lock.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs.storage import Database
from tests.conftest import new_credential, run_instance, statement
from tests.gunicorn_support import free_port, gunicorn
from tests.pg_cluster import Cluster, unavailable_reason

XAPI = {"X-Experience-API-Version": "2.0.0"}


def _basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


@pytest.fixture(scope="module")
def away() -> FlaskClient:
    """The hub on a PostgreSQL URL nobody listens on."""
    app = create_app(Settings.of(instance_dir=run_instance(),
                                 database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/hocvu",
                                 secret_key="t", db_connect_timeout=2, unavailable_retry_after=7))
    return app.test_client()


@pytest.mark.parametrize(("method", "path"), [("GET", "statements"), ("POST", "statements"),
                                              ("PUT", "activities/state"), ("GET", "agents/profile"),
                                              ("GET", "activities")])
def test_xapi_answers_503_in_its_error_shape(away: FlaskClient, method: str, path: str) -> None:
    res = away.open(f"/xapi/{path}", method=method, headers={**XAPI, **_basic("k", "s")}, json=statement())
    assert res.status_code == 503
    assert res.headers["Retry-After"] == "7"
    assert res.headers["X-Experience-API-Version"] == "2.0.0"
    assert res.get_json() == {"error": {"code": "service_unavailable", "message": res.get_json()["error"]["message"]}}
    assert "try again" in res.get_json()["error"]["message"]


def test_about_needs_no_database(away: FlaskClient) -> None:
    assert away.get("/xapi/about").status_code == 200  # xAPI 1.0.3 Part Three §2.8: no authentication


@pytest.mark.parametrize("path", ["/reports/", "/audit/"])
def test_html_pages_say_try_again_shortly_in_vietnamese_first(away: FlaskClient, path: str) -> None:
    res = away.get(path, headers={"Accept": "text/html", **_basic("k", "s")})
    assert res.status_code == 503 and res.headers["Retry-After"] == "7"
    page = res.get_data(as_text=True)
    assert res.content_type.startswith("text/html") and '<html lang="vi">' in page
    assert page.index("Vui lòng thử lại") < page.index("Please try again")
    assert "Traceback" not in page and "127.0.0.1" not in page


def test_json_endpoints_outside_xapi_answer_503_json(away: FlaskClient) -> None:
    res = away.get("/reports/report.json", headers=_basic("k", "s"))
    assert res.status_code == 503 and res.get_json()["error"]["code"] == "service_unavailable"


def test_probes(away: FlaskClient) -> None:
    assert away.get("/healthz").get_json() == {"status": "ok"}
    ready = away.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"] == "7"
    assert ready.get_json()["checks"]["database"] == "unreachable"


def test_an_unopenable_sqlite_database_is_503_too(tmp_path: Path) -> None:
    """The embedded default: a SQLite file that cannot be opened (its folder is gone) is the same
    503, not a 500 (RFC 9110 §15.6.4)."""
    url = f"sqlite:///{tmp_path / 'gone' / 'hocvu.db'}"
    client = create_app(Settings.of(instance_dir=run_instance(),
                                    database_url=url, secret_key="t"), db=Database(url)).test_client()
    res = client.get("/xapi/statements", headers={**XAPI, **_basic("k", "s")})
    assert res.status_code == 503 and res.get_json()["error"]["code"] == "service_unavailable"
    assert client.get("/readyz").get_json()["checks"]["database"] == "unreachable"


def test_readyz_checks_migrations_and_redis(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'hocvu.db'}"
    database = Database(url)
    client = create_app(Settings.of(instance_dir=run_instance(),
                                    database_url=url, secret_key="t"), db=database).test_client()
    body = client.get("/readyz").get_json()  # never migrated: no Alembic table at all
    assert body["status"] == "unavailable" and body["checks"]["migrations"].startswith("not at head")
    dbops.upgrade(database, "0001")
    body = client.get("/readyz").get_json()
    assert body["status"] == "unavailable" and body["checks"]["migrations"].startswith("not at head")
    dbops.upgrade(database)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert client.get("/readyz").get_json() == {"status": "ready", "checks": {
            "database": "ok", "migrations": "ok", "redis": "not configured"}}
    # A probe a load balancer sends every few seconds logs nothing when all is well.
    assert not [r for r in caplog.records if r.name.startswith("alembic")]
    app = create_app(Settings.of(instance_dir=run_instance(), database_url=url, secret_key="t",
                                 redis_url=f"redis://127.0.0.1:{free_port()}/0"),
                     db=database)
    res = app.test_client().get("/readyz")
    assert res.status_code == 503 and res.get_json()["checks"]["redis"] == "unreachable"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    made = Cluster(free_port()).init()
    try:
        yield made
    finally:
        made.remove()


def test_a_database_that_goes_away_and_comes_back_under_gunicorn(cluster: Cluster, tmp_path: Path) -> None:
    """A throwaway cluster stopped at once (as a crash or failover) under a real gunicorn: every
    request is 503 with Retry-After, /healthz stays 200, /readyz 503; started again, the same
    processes answer again with nothing lost and nothing stored twice."""
    extra = {"HOCVU_DB_CONNECT_TIMEOUT": "2", "HOCVU_UNAVAILABLE_RETRY_AFTER": "3"}
    with gunicorn(cluster.url, tmp_path, extra_env=extra) as hub:
        http = requests.Session()
        http.auth = hub.auth
        http.headers.update(XAPI)
        post = lambda: http.post(f"{hub.base}/xapi/statements", json=statement(), timeout=30)  # noqa: E731
        assert post().status_code == 200
        assert requests.get(f"{hub.base}/readyz", timeout=10).status_code == 200
        cluster.stop()
        for _ in range(4):  # each worker's pooled connection is gone: every request finds out
            res = post()
            assert res.status_code == 503 and res.headers["Retry-After"] == "3", res.text[:300]
            assert res.json()["error"]["code"] == "service_unavailable"
        assert http.get(f"{hub.base}/xapi/statements", timeout=30).status_code == 503
        page = requests.get(f"{hub.base}/reports/", auth=hub.auth, headers={"Accept": "text/html"}, timeout=30)
        assert page.status_code == 503 and "Vui lòng thử lại" in page.text
        assert requests.get(f"{hub.base}/healthz", timeout=10).status_code == 200
        assert requests.get(f"{hub.base}/readyz", timeout=10).status_code == 503
        cluster.start()
        assert post().status_code == 200
        assert requests.get(f"{hub.base}/readyz", timeout=10).status_code == 200
        assert len(http.get(f"{hub.base}/xapi/statements", timeout=30).json()["statements"]) == 2


def test_a_statement_past_the_timeout_is_503(postgresql_app: Flask, pg_url: str) -> None:
    """HOCVU_DB_STATEMENT_TIMEOUT: a write that waits on a lock past it is cancelled by PostgreSQL
    (query_canceled) and answered 503, nothing written; the document is as it was."""
    _, key, secret = new_credential(postgresql_app, ["all"])
    database = Database(pg_url, statement_timeout=1)
    app = create_app(Settings.of(instance_dir=run_instance(),
                                 database_url=pg_url, secret_key="test-secret", db_statement_timeout=1), db=database)
    client = app.test_client()
    headers = {**XAPI, **_basic(key, secret), "Content-Type": "application/json"}
    params = {"activityId": "https://hocvu.vn/a", "profileId": "locked"}
    assert client.put("/xapi/activities/profile", query_string=params, data='{"v": 1}',
                      headers={**headers, "If-None-Match": "*"}).status_code == 204
    held = threading.Event()
    done = threading.Event()

    def hold_lock() -> None:
        with psycopg.connect(pg_url) as conn, conn.transaction():
            conn.execute("SELECT 1 FROM documents WHERE doc_id = 'locked' FOR UPDATE")
            held.set()
            done.wait(20)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert held.wait(10)
        res: Any = client.post("/xapi/activities/profile", query_string=params, data='{"v": 2}', headers=headers)
        assert res.status_code == 503 and res.headers["Retry-After"] == "5"
    finally:
        done.set()
        holder.join()
    assert client.get("/xapi/activities/profile", query_string=params, headers=headers).get_json() == {"v": 1}
