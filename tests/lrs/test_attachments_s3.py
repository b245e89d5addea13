"""The S3 blob store (lrs.blobs.s3) against an S3 implementation we did not write: moto's server
(``moto.server.ThreadedMotoServer``), over real HTTP on 127.0.0.1, through boto3. Then the whole
LRS with HOCVU_ATTACHMENTS_STORE=s3: an attachment posted as multipart/mixed lands in the bucket
and comes back verified."""

from __future__ import annotations

import hashlib
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

from flask import Flask  # noqa: E402
from sqlalchemy import select  # noqa: E402

from hocvu import db as dbops  # noqa: E402
from hocvu.app import create_app  # noqa: E402
from hocvu.settings import SettingError, Settings  # noqa: E402
from lrs.blobs import BlobKeyError  # noqa: E402
from lrs.blobs.s3 import S3BlobStore  # noqa: E402
from lrs.storage import Attachment, Database  # noqa: E402
from tests.conftest import Xapi, new_credential  # noqa: E402
from tests.lrs.attachments_support import content, get_parts, part, post, with_attachment  # noqa: E402

CREDENTIALS = {"access_key_id": "hocvu-test", "secret_access_key": "hocvu-test-secret"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _store(endpoint: str, prefix: str = "") -> S3BlobStore:
    bucket = f"hocvu-{uuid.uuid4().hex[:12]}"
    store = S3BlobStore.connect(bucket=bucket, prefix=prefix, endpoint_url=endpoint, region="us-east-1", **CREDENTIALS)
    store.client.create_bucket(Bucket=bucket)
    return store


def test_put_get_delete_scan_over_http(endpoint: str) -> None:
    store = _store(endpoint, prefix="hub-a/")
    body = content()
    key = hashlib.sha256(body).hexdigest()
    assert store.get(key) is None and store.modified(key) is None
    store.put(key, body)
    store.put(key, body)
    assert store.get(key) == body and store.modified(key) is not None
    assert store.object_key(key) == f"hub-a/{key[:2]}/{key}"
    # Another application's object under the prefix is not a blob of ours.
    store.client.put_object(Bucket=store.bucket, Key="hub-a/README", Body=b"not a blob")
    assert [(b.key, b.size) for b in store.scan()] == [(key, len(body))]
    store.delete(key)
    store.delete(key)  # deleting an absent object succeeds (S3 DeleteObject)
    assert store.get(key) is None and list(store.scan()) == []


@pytest.mark.parametrize("key", ["../x", "A" * 64, "a" * 63, "a" * 64 + "/.."])
def test_a_bad_key_never_becomes_an_object_key(endpoint: str, key: str) -> None:
    """The key is a lower-case hex SHA-2 digest (xAPI 1.0.3 Part Two §2.4.11), refused before any request."""
    store = _store(endpoint)
    for call in (lambda: store.get(key), lambda: store.put(key, b"x"), lambda: store.delete(key)):
        with pytest.raises(BlobKeyError):
            call()
    assert store.client.list_objects_v2(Bucket=store.bucket).get("KeyCount", 0) == 0


def test_the_s3_setting_needs_a_bucket() -> None:
    with pytest.raises(SettingError, match="HOCVU_ATTACHMENTS_S3_BUCKET"):
        Settings.from_env({"HOCVU_ATTACHMENTS_STORE": "s3"})


@pytest.fixture(scope="module")
def s3_app(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The LRS (SQLite) with its attachments in a moto bucket, configured only through settings."""
    bucket = f"hocvu-app-{uuid.uuid4().hex[:8]}"
    settings = Settings.of(database_url=f"sqlite:///{tmp_path_factory.mktemp('s3db') / 'hocvu.db'}",
                           secret_key="test-secret", instance_dir=tmp_path_factory.mktemp("s3instance"),
                           attachments_store="s3", attachments_s3_bucket=bucket, attachments_s3_prefix="att/",
                           attachments_s3_endpoint_url=endpoint, attachments_s3_region="us-east-1",
                           attachments_s3_access_key_id=CREDENTIALS["access_key_id"],
                           attachments_s3_secret_access_key=CREDENTIALS["secret_access_key"])
    database = Database(settings.database_url)
    dbops.upgrade(database)
    app = create_app(settings, db=database)
    app.extensions["hocvu.blobs"].client.create_bucket(Bucket=bucket)
    return app


def test_part_three_1_5_2_attachment_round_trip_through_s3(s3_app: Flask) -> None:
    """xAPI 1.0.3 Part Three §1.5.2 with the S3 store: the part's bytes are an object in the
    bucket, the row holds none, GET attachments=true returns them."""
    _, key, secret = new_credential(s3_app, ["all"])
    xapi = Xapi(s3_app.test_client(), key, secret)
    body = content()
    st = with_attachment(body)
    assert post(xapi, st, [part(body)]).status_code == 200
    store: S3BlobStore = s3_app.extensions["hocvu.blobs"]
    sha2 = hashlib.sha256(body).hexdigest()
    obj = store.client.get_object(Bucket=store.bucket, Key=f"att/{sha2[:2]}/{sha2}")
    assert obj["Body"].read() == body
    database: Database = s3_app.extensions["hocvu.db"]
    with database.session() as s:
        assert s.scalar(select(Attachment.content).where(Attachment.sha2 == sha2)) is None
    assert [p.body for p in get_parts(xapi, st["id"])[1]] == [body]


def test_an_object_altered_in_the_bucket_is_not_served(s3_app: Flask) -> None:
    """xAPI 1.0.3 Part Three §1.5.2: bytes that no longer hash to the sha2 are a 500
    (attachment_corrupt), never served."""
    _, key, secret = new_credential(s3_app, ["all"])
    xapi = Xapi(s3_app.test_client(), key, secret)
    body = content()
    st = with_attachment(body)
    assert post(xapi, st, [part(body)]).status_code == 200
    store: S3BlobStore = s3_app.extensions["hocvu.blobs"]
    store.client.put_object(Bucket=store.bucket, Key=store.object_key(hashlib.sha256(body).hexdigest()),
                            Body=b"swapped in the bucket")
    res = xapi.get("statements", statementId=st["id"], attachments="true")
    assert res.status_code == 500 and res.get_json()["error"]["code"] == "attachment_corrupt"
    assert b"swapped" not in res.get_data()


def test_secrets_are_not_in_the_settings_shown(tmp_path: Path) -> None:
    """`hocvu settings show` prints (set) for the S3 secret, never its value."""
    from click.testing import CliRunner

    from hocvu.cli import main

    env = {"HOCVU_ATTACHMENTS_STORE": "s3", "HOCVU_ATTACHMENTS_S3_BUCKET": "b",
           "HOCVU_ATTACHMENTS_S3_SECRET_ACCESS_KEY": "very-secret-value", "HOCVU_INSTANCE_DIR": str(tmp_path)}
    out = CliRunner().invoke(main, ["settings", "show"], env=env)
    assert out.exit_code == 0, out.output
    assert "very-secret-value" not in out.output
    assert "HOCVU_ATTACHMENTS_S3_SECRET_ACCESS_KEY=(set)" in out.output


def test_the_embedded_store_does_not_import_boto3(tmp_path: Path) -> None:
    """The composition root imports lrs.blobs.s3 (and boto3) only when HOCVU_ATTACHMENTS_STORE=s3."""
    import subprocess
    import sys

    code = ("import sys; from hocvu.app import create_app; from hocvu.settings import Settings; "
            f"from pathlib import Path; create_app(Settings.of(instance_dir=Path({str(tmp_path)!r}), secret_key='t')); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore') or m == 'lrs.blobs.s3'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_an_unreachable_endpoint_is_blob_store_unavailable_without_secrets() -> None:
    from lrs.blobs import BlobStoreUnavailable

    store = S3BlobStore.connect(bucket="b", endpoint_url=f"http://127.0.0.1:{_free_port()}", region="us-east-1",
                                **CREDENTIALS)
    body = content()
    with pytest.raises(BlobStoreUnavailable) as caught:
        store.put(hashlib.sha256(body).hexdigest(), body)
    assert CREDENTIALS["secret_access_key"] not in str(caught.value)
    assert CREDENTIALS["access_key_id"] not in str(caught.value)
