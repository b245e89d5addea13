"""Migration 0135 on a database that has attachments in its rows (as every database before it
does): `content` becomes nullable, `length` is filled, the bytes stay and are served until
`hocvu attachments migrate` moves them; on SQLite and on a scratch PostgreSQL database."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from hocvu import db as dbops
from hocvu.attachments import register
from lrs.blobs import attachments as attachment_store
from lrs.blobs.filesystem import FileBlobStore
from lrs.blobs.maintenance import migrate
from lrs.storage import Database
from tests.conftest import scratch_pg

BODY = "Bằng chứng nhận (trước 0135)".encode()
SHA2 = hashlib.sha256(BODY).hexdigest()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def scratch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'old.db'}")
        yield database
        database.dispose()
        return
    with scratch_pg("attach_migration") as url:
        database = Database(url)
        yield database
        database.dispose()


def test_0135_keeps_old_bytes_servable_then_migrate_moves_them(scratch: Database, tmp_path: Path) -> None:
    dbops.upgrade(scratch, "0110")  # the lrs branch as it was before the blob store
    with scratch.engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (id, slug, name, created) VALUES (1, 'old', 'Old', :now)"),
                     {"now": datetime.now(UTC)})
        conn.execute(text("INSERT INTO attachments (tenant_id, sha2, content_type, content) "
                          "VALUES (1, :sha2, 'text/plain', :body)"), {"sha2": SHA2, "body": BODY})
    dbops.upgrade(scratch)
    columns = {c["name"]: c for c in inspect(scratch.engine).get_columns("attachments")}
    assert columns["content"]["nullable"] and not columns["length"]["nullable"]
    with scratch.engine.connect() as conn:
        assert conn.execute(text("SELECT length FROM attachments")).scalar_one() == len(BODY)
    store = FileBlobStore(tmp_path / "blobs")
    register(scratch, store)
    with scratch.session() as s:
        assert [p.body for p in attachment_store.load(s, 1, [SHA2])] == [BODY]  # from the row
        assert migrate(s, store).moved == 1
        assert migrate(s, store).moved == 0
        assert [p.body for p in attachment_store.load(s, 1, [SHA2])] == [BODY]  # from the store
    with scratch.engine.connect() as conn:
        assert conn.execute(text("SELECT content FROM attachments")).scalar_one() is None
    assert store.get(SHA2) == BODY
