"""Attachment bytes in the content-addressed blob store (lrs.blobs), on both databases with the
filesystem store: where the bytes go, strict keys, tenancy, integrity when serving, the legacy
rows (bytes in the database) and `hocvu attachments migrate`, the sweep, erasure."""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, update

from hocvu.cli import main
from lrs.audit.erasure import erase_agent
from lrs.blobs import BlobKeyError, check_key
from lrs.blobs import attachments as attachment_store
from lrs.blobs.filesystem import TEMP_PREFIX, FileBlobStore
from lrs.blobs.maintenance import migrate, sweep
from lrs.storage import Attachment, Database
from tests.conftest import Xapi
from tests.lrs.attachments_support import content, get_parts, part, post, tenant_of, with_attachment

SHA = hashlib.sha256(b"x").hexdigest()
BAD_KEYS = ["", "../../etc/passwd", SHA[:63], SHA + "0", SHA.upper(), "g" * 64, f"{SHA[:2]}/{SHA[3:]}",
            f"..{SHA[2:]}", SHA + "\n", " " + SHA[1:], SHA[:62] + "/.", "a" * 55, None, 12]


def store_of(app: Flask) -> FileBlobStore:
    store = app.extensions["hocvu.blobs"]
    assert isinstance(store, FileBlobStore)
    return store


# --- the store itself ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_a_key_that_is_not_lowercase_hex_sha2_never_reaches_a_path(tmp_path: Path, key: object) -> None:
    """Keys are 56/64/96/128 lower-case hex digits (xAPI 1.0.3 Part Two §2.4.11 sha2), nothing else."""
    store = FileBlobStore(tmp_path / "blobs")
    with pytest.raises(BlobKeyError):
        check_key(key)
    for call in (lambda: store.get(key), lambda: store.delete(key), lambda: store.modified(key),  # type: ignore[arg-type]
                 lambda: store.put(key, b"x")):  # type: ignore[arg-type]
        with pytest.raises(BlobKeyError):
            call()
    assert not (tmp_path / "blobs").exists()


def test_filesystem_layout_and_atomic_write(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    body = content()
    key = hashlib.sha256(body).hexdigest()
    store.put(key, body)
    store.put(key, body)  # idempotent
    assert (tmp_path / key[:2] / key[2:4] / key).read_bytes() == body
    assert [p.name for p in (tmp_path / key[:2] / key[2:4]).iterdir()] == [key]  # no temporary left
    assert store.get(key) == body and [b.key for b in store.scan()] == [key]
    # SHA-512 is a SHA-2 too (xAPI 1.0.3 Part Two §2.4.11: "SHA-2"), filed under its own digest.
    long_key = hashlib.sha512(body).hexdigest()
    store.put(long_key, body)
    assert store.get(long_key) == body
    store.delete(key)
    store.delete(key)  # a missing blob is not an error
    assert store.get(key) is None and store.modified(key) is None


def test_the_store_refuses_bytes_that_do_not_hash_to_their_key(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    with pytest.raises(BlobKeyError, match="do not hash"):
        store.put(hashlib.sha256(b"one").hexdigest(), b"other")
    assert list(tmp_path.rglob("*")) == [] or all(p.is_dir() for p in tmp_path.rglob("*"))


# --- through the LRS -----------------------------------------------------------------------------


def test_part_three_1_5_2_bytes_go_to_the_blob_store_and_come_back(app: Flask, xapi: Xapi) -> None:
    """xAPI 1.0.3 Part Three §1.5.2: the attachment stored with the statement comes back with
    attachments=true; the row keeps metadata only, the bytes are in the blob store."""
    body = content()
    st = with_attachment(body)
    assert post(xapi, st, [part(body)]).status_code == 200
    sha2 = hashlib.sha256(body).hexdigest()
    database: Database = app.extensions["hocvu.db"]
    with database.session() as s:
        row = s.scalars(select(Attachment).where(Attachment.sha2 == sha2)).one()
        assert (row.content, row.length) == (None, len(body)) and row.content_type.startswith("text/plain")
    assert store_of(app).get(sha2) == body
    _, parts = get_parts(xapi, st["id"])
    assert [(p.sha2, p.body) for p in parts] == [(sha2, body)]


def test_part_three_1_5_2_a_part_not_matching_its_sha2_is_refused_and_not_stored(app: Flask, xapi: Xapi) -> None:
    """xAPI 1.0.3 Part Three §1.5.2: parts are matched by hash; bytes that do not hash to the
    X-Experience-API-Hash they came with are a 400, and nothing reaches the blob store."""
    body = content()
    declared = hashlib.sha256(body).hexdigest()
    res = post(xapi, with_attachment(body), [part(b"altered " + body, sha2=declared)])
    assert res.status_code == 400 and "hash to" in res.get_json()["error"]["message"]
    assert store_of(app).get(declared) is None


def test_tenant_b_cannot_read_tenant_a_attachment_by_its_hash(app: Flask, xapi: Xapi, xapi2: Xapi) -> None:
    """DESIGN.md Tenancy / xAPI 1.0.3 Part Three §1.5.2: tenant B citing A's hash by fileUrl gets no
    bytes, and citing it without a part or fileUrl is a 400 (§1.5.2.s3.b5), though the blob exists."""
    body = content()
    assert post(xapi, with_attachment(body), [part(body)]).status_code == 200
    by_url = with_attachment(body, fileUrl="https://example.org/cert.txt")
    res = xapi2.post("statements", json_body=by_url)
    assert res.status_code == 200, res.get_data(as_text=True)
    _, parts = get_parts(xapi2, by_url["id"])
    assert parts == []
    assert xapi2.post("statements", json_body=with_attachment(body)).status_code == 400


def test_a_blob_altered_on_disk_is_not_served(app: Flask, xapi: Xapi) -> None:
    """xAPI 1.0.3 Part Three §1.5.2 (the part's hash is the attachment's sha2): bytes altered at
    rest are never served under that hash; a 500 with code attachment_corrupt instead."""
    body = content()
    st = with_attachment(body)
    assert post(xapi, st, [part(body)]).status_code == 200
    path = store_of(app).path(hashlib.sha256(body).hexdigest())
    path.write_bytes(b"tampered " + body)
    res = xapi.get("statements", statementId=st["id"], attachments="true")
    assert res.status_code == 500 and res.get_json()["error"]["code"] == "attachment_corrupt"
    assert b"tampered" not in res.get_data()
    assert xapi.get("statements", statementId=st["id"]).status_code == 200  # without the bytes: fine
    path.unlink()
    res = xapi.get("statements", statementId=st["id"], attachments="true")
    assert res.status_code == 500 and res.get_json()["error"]["code"] == "attachment_missing"
    # Storing the same bytes again (any statement, any tenant) repairs the blob.
    assert post(xapi, with_attachment(body), [part(body)]).status_code == 200
    assert get_parts(xapi, st["id"])[1][0].body == body


def test_legacy_rows_are_served_from_the_database_then_migrated_idempotently(app: Flask, xapi: Xapi) -> None:
    """Rows from before migration 0135 hold their bytes: served from there, then moved out by
    `migrate`, which a second run finds nothing to do for."""
    body = content()
    st = with_attachment(body)
    assert post(xapi, st, [part(body)]).status_code == 200
    sha2 = hashlib.sha256(body).hexdigest()
    database: Database = app.extensions["hocvu.db"]
    store = store_of(app)
    with database.transaction() as s:  # as 0135 leaves an old row: bytes in it, none in the store
        s.execute(update(Attachment).where(Attachment.sha2 == sha2).values(content=body))
    store.delete(sha2)
    assert get_parts(xapi, st["id"])[1][0].body == body
    with database.session() as s:
        done = migrate(s, store, batch=2)
        assert done.moved >= 1 and done.corrupt == []
        assert s.scalar(select(Attachment.content).where(Attachment.sha2 == sha2)) is None
        assert migrate(s, store).moved == 0
    assert store.get(sha2) == body
    assert get_parts(xapi, st["id"])[1][0].body == body


def test_cli_attachments_migrate(sqlite_app: Flask, tmp_path: Path) -> None:
    """`hocvu attachments migrate` on the embedded database: moves, reports, and is idempotent."""
    xapi = Xapi(sqlite_app.test_client(), *_credential(sqlite_app))
    body = content()
    assert post(xapi, with_attachment(body), [part(body)]).status_code == 200
    sha2 = hashlib.sha256(body).hexdigest()
    database: Database = sqlite_app.extensions["hocvu.db"]
    with database.transaction() as s:
        s.execute(update(Attachment).where(Attachment.sha2 == sha2).values(content=body))
    env = {"HOCVU_DATABASE_URL": database.url, "HOCVU_ATTACHMENTS_DIR": str(tmp_path), "HOCVU_SECRET_KEY": "t"}
    first = CliRunner().invoke(main, ["attachments", "migrate", "--json"], env=env)
    assert first.exit_code == 0, first.output
    assert FileBlobStore(tmp_path).get(sha2) == body
    again = CliRunner().invoke(main, ["attachments", "migrate", "--json"], env=env)
    assert again.exit_code == 0 and '"moved": 0' in again.output


def _credential(app: Flask) -> tuple[str, str]:
    from tests.conftest import new_credential

    _, key, secret = new_credential(app, ["all"])
    return key, secret


def test_sweep_removes_old_unreferenced_blobs_only(app: Flask, xapi: Xapi) -> None:
    """A blob no row names (a rolled-back request's) goes once older than the grace period; a
    referenced blob stays however old, and so does a young orphan."""
    store = store_of(app)
    body, orphan, young = content(), content(), content()
    assert post(xapi, with_attachment(body), [part(body)]).status_code == 200
    keys = {name: hashlib.sha256(b).hexdigest() for name, b in (("kept", body), ("orphan", orphan), ("young", young))}
    store.put(keys["orphan"], orphan)
    store.put(keys["young"], young)
    old = time.time() - 3 * 86400
    for name in ("kept", "orphan"):
        os.utime(store.path(keys[name]), (old, old))
    stray = store.path(keys["kept"]).parent / f"{TEMP_PREFIX}crashed"
    stray.write_bytes(b"half")
    os.utime(stray, (old, old))
    database: Database = app.extensions["hocvu.db"]
    with database.session() as s:
        dry = sweep(s, store, grace=timedelta(hours=24), now=datetime.now(UTC), dry_run=True)
        assert keys["orphan"] in dry.removed and store.get(keys["orphan"]) == orphan
        done = sweep(s, store, grace=timedelta(hours=24), now=datetime.now(UTC))
    assert keys["orphan"] in done.removed and keys["kept"] not in done.removed and keys["young"] not in done.removed
    assert store.get(keys["orphan"]) is None and store.get(keys["kept"]) == body and store.get(keys["young"]) == young
    assert done.temporaries >= 1 and not stray.exists()


def test_erasure_removes_the_row_and_the_blob_only_when_no_tenant_names_it(app: Flask, xapi: Xapi,
                                                                          xapi2: Xapi) -> None:
    """Erasure (lrs.audit.erasure): the learner's attachment rows go; the shared blob stays while
    another tenant's row names it, and goes with the last one."""
    body = content()
    sha2 = hashlib.sha256(body).hexdigest()
    learner = {"mbox": f"mailto:{sha2[:12]}@example.org", "objectType": "Agent"}
    for client in (xapi, xapi2):
        assert post(client, with_attachment(body, actor=learner), [part(body)]).status_code == 200
    database: Database = app.extensions["hocvu.db"]
    store = store_of(app)
    tenant_a, tenant_b = tenant_of(app, xapi), tenant_of(app, xapi2)
    with database.transaction() as s:
        assert erase_agent(s, tenant_a, learner, actor="test").attachments == [sha2]
    with database.session() as s:
        assert s.scalars(select(Attachment.tenant_id).where(Attachment.sha2 == sha2)).all() == [tenant_b]
    assert store.get(sha2) == body  # tenant B still names it
    with database.transaction() as s:
        erase_agent(s, tenant_b, learner, actor="test")
    assert store.get(sha2) is None


def test_erasure_keeps_an_attachment_another_statement_of_the_tenant_cites(app: Flask, xapi: Xapi) -> None:
    body = content()
    learner = {"mbox": "mailto:erased@example.org", "objectType": "Agent"}
    for actor in (learner, {"mbox": "mailto:other@example.org", "objectType": "Agent"}):
        assert post(xapi, with_attachment(body, actor=actor), [part(body)]).status_code == 200
    database: Database = app.extensions["hocvu.db"]
    with database.transaction() as s:
        assert erase_agent(s, tenant_of(app, xapi), learner, actor="test").attachments == []
    assert store_of(app).get(hashlib.sha256(body).hexdigest()) == body


def test_a_rolled_back_erasure_keeps_the_blob(app: Flask, xapi: Xapi) -> None:
    body = content()
    learner = {"mbox": f"mailto:{hashlib.sha256(body).hexdigest()[:10]}@example.org", "objectType": "Agent"}
    st = with_attachment(body, actor=learner)
    assert post(xapi, st, [part(body)]).status_code == 200
    database: Database = app.extensions["hocvu.db"]
    with pytest.raises(RuntimeError), database.transaction() as s:
        erase_agent(s, tenant_of(app, xapi), learner, actor="test")
        raise RuntimeError("the operator's transaction fails after the erasure")
    assert get_parts(xapi, st["id"])[1][0].body == body
    assert attachment_store.load  # the reader used above is the one every path shares


@pytest.mark.parametrize("declared", ["../../../../tmp/hocvu-attach", SHA[:63], SHA.upper()[:60] + "/../"])
def test_part_three_1_5_2_a_part_whose_hash_is_not_a_sha2_is_refused_before_any_write(
        app: Flask, xapi: Xapi, declared: str) -> None:
    """xAPI 1.0.3 Part Three §1.5.2 (X-Experience-API-Hash is the part's SHA-2): a path-like or
    short value is a 400, and nothing is written to the blob store."""
    body = content()
    st = with_attachment(body)
    before = sorted(p for p in store_of(app).root.rglob("*") if p.is_file()) if store_of(app).root.exists() else []
    raw = (b"--b\r\nContent-Type: application/json\r\n\r\n" + json.dumps(st).encode()
           + b"\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: "
           + declared.encode() + b"\r\n\r\n" + body + b"\r\n--b--\r\n")
    res = xapi.post("statements", data=raw, headers={"Content-Type": "multipart/mixed; boundary=b"})
    assert res.status_code == 400, res.get_data(as_text=True)
    after = sorted(p for p in store_of(app).root.rglob("*") if p.is_file())
    assert after == before


def test_a_failing_blob_store_is_a_503_and_nothing_is_stored(app: Flask, xapi: Xapi, tmp_path: Path) -> None:
    """xAPI 1.0.3 Part Three §3.2 / DESIGN.md (nothing partial is written): when the store cannot
    take the bytes (here its folder is a file), the request is a 503 with Retry-After and the
    statement is not stored."""
    from hocvu.attachments import register

    blocked = tmp_path / "not-a-folder"
    blocked.write_bytes(b"")
    database: Database = app.extensions["hocvu.db"]
    body = content()
    st = with_attachment(body)
    register(database, FileBlobStore(blocked))
    try:
        res = post(xapi, st, [part(body)])
    finally:
        register(database, store_of(app))
    assert res.status_code == 503 and res.headers["Retry-After"] == "5"
    assert res.get_json()["error"]["code"] == "attachment_store_unavailable"
    assert xapi.get("statements", statementId=st["id"]).status_code == 404
    with database.session() as s:
        assert s.scalar(select(Attachment.sha2).where(Attachment.sha2 == hashlib.sha256(body).hexdigest())) is None
