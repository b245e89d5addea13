"""Attachment bytes reach the blob store before the request writes any row (issue 17 item 2): a
slow object store (S3 over a network) must not hold a claimed statement id, a voided target's row
lock or the audit chain's head while it uploads, or every writer of the tenant would wait on it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
import pytest
from flask import Flask

from hocvu.attachments import register
from lrs.blobs.filesystem import FileBlobStore
from lrs.storage import Database
from tests.conftest import Xapi
from tests.lrs.attachments_support import content, part, post, with_attachment

pytestmark = pytest.mark.postgres

# A transaction gets its id (and holds a lock on it) at its first write: none held by the hub's
# connections means nothing of the request has been written, so no row lock can be held.
WRITERS = """SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'transactionid' AND a.datname = current_database() AND a.pid <> pg_backend_pid()"""


class ProbingStore(FileBlobStore):
    """The filesystem store, noting at each put how many of the hub's transactions had written."""

    def __init__(self, root: Path, url: str) -> None:
        super().__init__(root)
        self.url, self.writers_at_put = url, list[int]()

    def put(self, key: str, body: bytes) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(WRITERS).fetchone()
        self.writers_at_put.append(int(row[0]) if row else -1)
        super().put(key, body)


def test_bytes_are_sent_before_the_first_row_is_written(postgresql_app: Flask, pg_url: str, tmp_path: Path) -> None:
    from tests.conftest import new_credential

    _, key, secret = new_credential(postgresql_app, ["all"])
    xapi = Xapi(postgresql_app.test_client(), key, secret)
    database: Database = postgresql_app.extensions["hocvu.db"]
    probe = ProbingStore(tmp_path / "blobs", pg_url.replace("postgresql+psycopg://", "postgresql://"))
    original = postgresql_app.extensions["hocvu.blobs"]
    register(database, probe)
    try:
        body = content()
        st = with_attachment(body)
        res = post(xapi, st, [part(body)])
        assert res.status_code == 200, res.get_data(as_text=True)
        # The same statement again (an idempotent retry): its bytes are sent again, still before any write.
        assert post(xapi, st, [part(body)]).status_code == 200
    finally:
        register(database, original)
    assert probe.writers_at_put == [0, 0]
    assert probe.get(hashlib.sha256(body).hexdigest()) == body
