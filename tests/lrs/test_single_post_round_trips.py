"""Issue 17 item 1: a single statement POST on PostgreSQL waits on the server once: the one
statement that stores its row, id claim and side rows, appends its audit chain entry and, sent on a
connection in autocommit mode, is its own commit (lrs.pg_one_trip; before: BEGIN, the ingest
statement, the chain's statement, COMMIT). Counted in libpq's own protocol trace. And what the
usual path's read-in-passing must keep: Activity definitions merged as xAPI says (Part Three
§2.5, newest value wins, language maps gain languages) when two processes, each with its own
connections and no shared memory, write the same Activity in turn."""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import event

from hocvu.app import create_app
from hocvu.settings import Settings
from lrs.storage import Database
from tests.conftest import Xapi, new_credential, statement

pytestmark = pytest.mark.postgres


def _traced_app(url: str, instance: Path) -> tuple[Flask, list[Path]]:
    database = Database(url)
    files: list[Path] = []

    @event.listens_for(database.engine, "connect")
    def _trace(dbapi_conn: Any, _record: Any) -> None:
        path = instance / f"trace{len(files)}.log"
        files.append(path)
        f = path.open("w")  # libpq writes to it while the connection lives
        dbapi_conn.pgconn.trace(f.fileno())
        dbapi_conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        dbapi_conn.info_trace_file = f  # kept open with the connection

    settings = Settings.of(database_url=url, secret_key="test-secret", instance_dir=instance)
    return create_app(settings, db=database), files


def _waits(files: list[Path]) -> int:
    """Round trips so far: each run of messages sent is answered before the next is sent."""
    text = "".join(p.read_text() for p in files)
    return len(re.findall(r"^F\t.*\n(?=B\t)", text, re.M))


def test_a_single_post_waits_on_the_server_once(postgresql_app: Flask, tmp_path: Path) -> None:
    url = postgresql_app.extensions["hocvu.db"].url
    app, files = _traced_app(url, tmp_path)
    _, key, secret = new_credential(app, ["all"])  # "all" includes "define": the definitions are read
    x = Xapi(app.test_client(), key, secret, "2.0.0")
    activity = f"https://hocvu.vn/courses/trips/{uuid.uuid4()}"
    body = statement(object={"id": activity, "definition": {"name": {"vi": "Bài"}}})
    # The first defines the Activity; by the 6th psycopg has prepared the statements (its
    # prepare_threshold: the run that prepares one waits once more, once per connection).
    for _ in range(8):
        assert x.post("statements", json_body={**body, "id": str(uuid.uuid4())}).status_code == 200
    counts = []
    for _ in range(3):
        before = _waits(files)
        assert x.post("statements", json_body={**body, "id": str(uuid.uuid4())}).status_code == 200
        counts.append(_waits(files) - before)
    assert counts == [1, 1, 1], "".join(p.read_text() for p in files)[-6000:]
    # A statement voiding another takes the usual path (its target's row lock and update come
    # between the write and the commit): BEGIN, ingest, lock, update, chain, COMMIT.
    target = str(uuid.uuid4())
    assert x.post("statements", json_body={**body, "id": target}).status_code == 200
    before = _waits(files)
    voiding = statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
                        object={"objectType": "StatementRef", "id": target})
    assert x.post("statements", json_body=voiding).status_code == 200
    assert _waits(files) - before > 1
    assert x.get("statements", statementId=target).status_code == 404  # voided (Part Three §2.1.4)
    app.extensions["hocvu.db"].dispose()


def test_reads_between_posts_keep_the_prepared_statement(postgresql_app: Flask, tmp_path: Path) -> None:
    """A GET ends its transaction with COMMIT (lrs.http.frame), not the ROLLBACK of closing:
    psycopg forgets a connection's prepared statements at every ROLLBACK, and the next POST on that
    connection would send the ingest statement to be parsed and planned again."""
    url = postgresql_app.extensions["hocvu.db"].url
    app, files = _traced_app(url, tmp_path)
    _, key, secret = new_credential(app, ["all"])
    x = Xapi(app.test_client(), key, secret, "2.0.0")
    for _ in range(8):
        assert x.post("statements", json_body=statement()).status_code == 200
    for _ in range(3):
        assert x.get("statements", limit=2).status_code == 200
        before = "".join(p.read_text() for p in files)
        assert x.post("statements", json_body=statement()).status_code == 200
        sent = "".join(p.read_text() for p in files)[len(before):]
        assert "\tParse\t" not in sent and "DEALLOCATE" not in sent, sent[-3000:]
    app.extensions["hocvu.db"].dispose()


def test_definitions_merge_across_processes_xapi_part3_s2_5(postgresql_app: Flask) -> None:
    """Two apps on one database (two processes' worth of pools): A defines, B changes the type and
    adds a language, A sends its first definition again. The type is A's again (the newest value),
    B's language stays (a language map gains languages), though A saw neither change."""
    url = postgresql_app.extensions["hocvu.db"].url
    other = create_app(Settings.of(database_url=url, secret_key="test-secret",
                                   instance_dir=Path(tempfile.mkdtemp())), db=Database(url))
    _, key, secret = new_credential(postgresql_app, ["all"])
    a = Xapi(postgresql_app.test_client(), key, secret, "2.0.0")
    b = Xapi(other.test_client(), key, secret, "2.0.0")
    activity = f"https://hocvu.vn/courses/merge/{uuid.uuid4()}"
    first = {"type": "http://adlnet.gov/expapi/activities/lesson", "name": {"vi": "Bài 1"}}
    second = {"type": "http://adlnet.gov/expapi/activities/module", "name": {"en": "Lesson 1"}}
    for x, definition in ((a, first), (a, first), (b, second), (a, first)):
        res = x.post("statements", json_body=statement(object={"id": activity, "definition": definition}))
        assert res.status_code == 200, res.get_json()
    assert a.definition(activity) == {"type": first["type"], "name": {"vi": "Bài 1", "en": "Lesson 1"}}
    assert b.definition(activity) == a.definition(activity)
    other.extensions["hocvu.db"].dispose()
