"""Issue 17 item 4: with HOCVU_DATABASE_REPLICA_URL set, the dashboard, report.json, exports and the
auditor pages read from a real PostgreSQL 15 streaming replica that this test makes (a throwaway
primary cluster and a standby cloned from it with ``pg_basebackup -R``), with the replica's lag on the
report; sign-in and writes stay on the primary. Skipped, with the reason, where clusters cannot be
started (no PostgreSQL 15 programs, or root without a postgres user)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask import Flask

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import credentials
from lrs.storage import Database
from tests.conftest import Xapi, new_credential, run_instance, statement
from tests.connectors.export_support import COURSE_TYPE
from tests.gunicorn_support import free_port
from tests.pg_cluster import BIN, Cluster, unavailable_reason


class Standby(Cluster):
    """A streaming replica of ``primary``: its data folder cloned by pg_basebackup, which with -R
    writes standby.signal and primary_conninfo, so it starts in recovery and follows the primary."""

    def clone(self, primary: Cluster) -> Standby:
        self._run(str(BIN / "pg_basebackup"), "-D", str(self.data), "-R", "-X", "stream", "-h", "127.0.0.1",
                  "-p", str(primary.port), "-U", "postgres", "--no-sync")
        return self.start()


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[Cluster, Standby]]:
    reason = unavailable_reason()
    if reason is None and not (BIN / "pg_basebackup").exists():
        reason = f"no pg_basebackup in {BIN}"
    if reason:
        pytest.skip(reason)
    primary = Cluster(free_port()).init()
    standby: Standby | None = None
    try:
        with psycopg.connect(primary.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE hocvu")
        standby = Standby(free_port()).clone(primary)
        yield primary, standby
    finally:
        if standby is not None:
            standby.remove()
        primary.remove()


def _url(cluster: Cluster) -> str:
    return cluster.url.rsplit("/", 1)[0] + "/hocvu"


@pytest.fixture(scope="module")
def replica_app(clusters: tuple[Cluster, Standby]) -> Flask:
    primary, standby = clusters
    database = Database(_url(primary))
    dbops.upgrade(database)
    return create_app(Settings.of(instance_dir=run_instance(),
                                  database_url=_url(primary), database_replica_url=_url(standby),
                                  secret_key="test-secret", db_connect_timeout=2), db=database)


def on(cluster: Cluster, sql: str) -> Any:
    with psycopg.connect(_url(cluster), autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None


def wait_for(check: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.2)


def completions(xapi: Xapi, course: str, learners: list[str]) -> None:
    body = [statement(id=str(uuid.uuid4()), actor={"account": {"homePage": "https://lms.example.vn", "name": who}},
                      verb={"id": "http://adlnet.gov/expapi/verbs/completed"},
                      object={"id": course, "definition": {"type": COURSE_TYPE}}) for who in learners]
    assert xapi.post("statements", json_body=body).status_code == 200


def basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


def test_reads_come_from_the_streaming_replica(replica_app: Flask, clusters: tuple[Cluster, Standby]) -> None:
    primary, standby = clusters
    assert on(standby, "SELECT pg_is_in_recovery()") is True and on(primary, "SELECT pg_is_in_recovery()") is False
    slug, key, secret = new_credential(replica_app, ["all"])
    xapi = Xapi(replica_app.test_client(), key, secret)
    course = f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}"
    completions(xapi, course, [f"a{i}" for i in range(6)])
    # A write on the primary appears on the replica.
    wait_for(lambda: on(standby, "SELECT count(*) FROM statements") == 6)
    headers = basic(key, secret)  # a credential made on the primary a moment ago: sign-in reads the primary
    client = replica_app.test_client()
    report = client.get("/reports/report.json", headers=headers).get_json()
    assert report["breakdowns"]["tenant"]["total"]["learners"] == 6
    assert report["source"] == "rollups" and report["replicaLagSeconds"] is not None

    # Replay paused: the primary moves on, the replica does not, and every read shows the replica's view.
    on(standby, "SELECT pg_wal_replay_pause()")
    try:
        completions(xapi, course, [f"b{i}" for i in range(4)])
        assert on(primary, "SELECT count(*) FROM statements") == 10
        time.sleep(1.2)
        assert on(standby, "SELECT count(*) FROM statements") == 6
        report = client.get("/reports/report.json", headers=headers).get_json()
        assert report["breakdowns"]["tenant"]["total"]["learners"] == 6  # read on the replica
        assert report["replicaLagSeconds"] > 0.5
        page = client.get("/reports/", headers=headers).get_data(as_text=True)
        assert 'id="replica-lag"' in page
        export = client.get("/reports/export.csv", headers=headers, query_string={"settle": "0"})
        assert export.status_code == 200 and len(export.get_data(as_text=True).strip().splitlines()) == 1 + 6
        # The export's cursor does not pass what the replica has not replayed (the next export gets it).
        cursor = export.headers["X-Hocvu-Export-Cursor"]
        # The statements written while replay was paused are after the cursor: on the primary they are.
        after = on(primary, "SELECT count(*) FROM statements WHERE stored > "
                            f"'{cursor.removeprefix('stored:')}'::timestamptz")
        assert after == 4
    finally:
        on(standby, "SELECT pg_wal_replay_resume()")
    wait_for(lambda: on(standby, "SELECT count(*) FROM statements") == 10)
    report = client.get("/reports/report.json", headers=headers).get_json()
    assert report["breakdowns"]["tenant"]["total"]["learners"] == 10
    assert slug in report["tenants"]


def test_the_auditor_pages_read_the_replica(replica_app: Flask, clusters: tuple[Cluster, Standby]) -> None:
    """With the replica stopped, the auditor's and analyst's pages fail as unavailable (503) while
    the primary still answers the LRS: the pages' reads were on the replica, sign-in on the primary."""
    primary, standby = clusters
    with Database(_url(primary)).session() as s:
        auditor, a_secret = credentials.create_national_credential(s, "auditor", "replica test")
        analyst, n_secret = credentials.create_national_credential(s, "analyst", "replica test")
        s.commit()
    _, key, secret = new_credential(replica_app, ["all"])
    client = replica_app.test_client()
    wait_for(lambda: client.get("/audit/attempts.json", headers=basic(auditor.key, a_secret)).status_code == 200)
    standby.stop()
    try:
        assert client.get("/audit/attempts.json", headers=basic(auditor.key, a_secret)).status_code == 503
        assert client.get("/reports/report.json", headers=basic(analyst.key, n_secret)).status_code == 503
        xapi = Xapi(client, key, secret)
        assert xapi.get("statements", limit=1).status_code == 200  # the LRS is on the primary
    finally:
        standby.start()
    wait_for(lambda: client.get("/audit/attempts.json", headers=basic(auditor.key, a_secret)).status_code == 200)
