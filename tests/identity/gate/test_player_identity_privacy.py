"""Privacy of the face checks (issue 4, "What it must show"; DESIGN.md Identity assurance): after
enrolment and checks, no picture is in any database column nor in any new file (instance folder,
temporary folder), only the sealed embedding is kept, and withdrawing consent deletes it."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from sqlalchemy import MetaData, select

from identity import storage as identity_storage
from tests.identity.gate.gate_support import QUIZ, IdentityEnv, account_key

JPEG_MAGIC = b"\xff\xd8\xff"
JPEG_MAGIC_B64 = "/9j/"  # base64 of FF D8 FF: a picture embedded in JSON or text
PHOTOS = ("D_img12.jpg", "D_img3.jpg", "D_img53.jpg")


def files_under(root: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime for p in root.rglob("*") if p.is_file()} if root.exists() else {}


@dataclass
class Temporary:
    folder: Path
    spooled: list[Any]  # unnamed temporary files opened (Werkzeug spools large uploads to one)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Temporary]:
    """The process's temporary folder pointed at an empty one (Python's tempfile, and OpenCV's
    OPENCV_TEMP_PATH / TMPDIR), so anything a check writes there shows up; unnamed temporary files,
    which no folder lists, are counted as they are opened."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setenv("OPENCV_TEMP_PATH", str(folder))
    watched = Temporary(folder, [])
    real = tempfile.TemporaryFile

    def counted(*args: Any, **kwargs: Any) -> Any:
        watched.spooled.append(args)
        return real(*args, **kwargs)

    # Werkzeug spools uploads in a SpooledTemporaryFile, which rolls over to tempfile.TemporaryFile.
    monkeypatch.setattr(tempfile, "TemporaryFile", counted)
    yield watched


def large_photo(data: bytes) -> bytes:
    """The same picture as a phone sends it: 2560 px wide, far over Werkzeug's 500 kB in-memory limit."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    big = cv2.resize(image, (2560, 2560 * image.shape[0] // image.shape[1]), interpolation=cv2.INTER_CUBIC)
    ok, out = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 97])
    assert ok and len(out) > 600 * 1024
    return out.tobytes()


def scan_database(env: IdentityEnv, photos: list[bytes]) -> list[str]:
    """Every column of every table: no JPEG (raw, or base64 in text) and no piece of the photos."""
    found: list[str] = []
    pieces = [p[len(p) // 2:len(p) // 2 + 64] for p in photos]
    metadata = MetaData()
    with env.db.engine.connect() as conn:
        metadata.reflect(conn)
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for column, value in row._mapping.items():
                    where = f"{table.name}.{column}"
                    if isinstance(value, memoryview):
                        value = bytes(value)
                    if isinstance(value, bytes):
                        if value.startswith(JPEG_MAGIC) or any(piece in value for piece in pieces):
                            found.append(where)
                    elif isinstance(value, str) and JPEG_MAGIC_B64 in value:
                        found.append(where)
    return found


def test_no_picture_is_kept_and_withdrawal_deletes_the_reference(identity_env: IdentityEnv,
                                                                 private_tmp: Temporary) -> None:
    """Enrolment, a check and a recheck with a phone-sized photo (over Werkzeug's 500 kB in-memory
    limit), then: no JPEG (raw or base64) and no piece of the photos in any column of any table; only
    the sealed embedding kept; no new file in the instance folder or the temporary folder, and no
    unnamed temporary file opened; withdrawal deletes the reference at once."""
    env = identity_env
    learner = env.learner()
    learner.ready("demo-0005")
    try:
        _check_and_withdraw(env, learner, private_tmp)
    finally:  # demo-0005 stays unenrolled for the other tests, whatever happened here
        with env.db.session() as s:
            for account in s.scalars(select(identity_storage.IdentityAccount).where(
                    identity_storage.IdentityAccount.subject_hmac == account_key(env, "demo-0005"))):
                identity_storage.delete_face_enrolment(s, account.id)
            s.commit()


def _check_and_withdraw(env: IdentityEnv, learner: Any, private_tmp: Temporary) -> None:
    before_instance = files_under(env.instance_dir)
    since = time.time()
    big = large_photo(env.photos[PHOTOS[2]])
    assert learner.enrol(PHOTOS[0]).status_code == 303
    assert learner.check(PHOTOS[1]).status_code == 303
    assert learner.start().status_code == 303
    assert learner.recheck(PHOTOS[2]).get_json()["matched"] is True

    photos = [env.photos[PHOTOS[0]], env.photos[PHOTOS[1]], big]
    assert scan_database(env, photos) == []
    # Only the sealed embedding is kept: no picture, and not the embedding in clear either.
    with env.db.session() as s:
        account = s.scalar(select(identity_storage.IdentityAccount).where(
            identity_storage.IdentityAccount.subject_hmac == account_key(env, "demo-0005")))
        assert account is not None
        enrolment = identity_storage.face_enrolment(s, account.id)
        assert enrolment is not None and enrolment.ciphertext.startswith(b"hvfe1")
        assert b"vector" not in enrolment.ciphertext and len(enrolment.ciphertext) < 4096
        assert enrolment.consent_at is not None and enrolment.model == "dlib_resnet_v1/chip150"
        account_id = account.id
    # No new file in the instance folder (the hub's key was made before) but the stamped statements'
    # signatures: JWS attachments in the blob store there, as in production, none of them a picture
    # (the scan of /tmp below covers them too); none in the temporary folder.
    new = [p for p in files_under(env.instance_dir) if p not in before_instance]
    blobs = env.instance_dir / "attachments"
    assert [p for p in new if blobs not in p.parents] == []
    assert all(p.read_bytes().startswith(b"eyJ") for p in new), new
    assert list(private_tmp.folder.rglob("*")) == [] and private_tmp.spooled == []
    assert _recent_files_holding(Path("/tmp"), photos, since) == []

    # Withdrawal: the reference row is deleted at once; the gate asks for a new enrolment.
    res = learner.client.post("/player/identity/withdraw", data={"csrf": "test-form-token", "target": QUIZ})
    assert res.status_code == 303 and "done=withdrawn" in res.headers["Location"]
    with env.db.session() as s:
        assert identity_storage.face_enrolment(s, account_id) is None
    page = learner.client.get(res.headers["Location"]).get_data(as_text=True)
    assert "Đã xoá dữ liệu khuôn mặt" in page and 'data-step="enrol"' in page


def _recent_files_holding(root: Path, photos: list[bytes], since: float) -> list[str]:
    """Files under the system's temporary folder written since ``since`` that contain a piece of a
    photo (other processes share /tmp, so only content counts, never a file's mere presence)."""
    pieces = [p[len(p) // 2:len(p) // 2 + 64] for p in photos]
    hits: list[str] = []
    for dirpath, _dirs, names in os.walk(root, onerror=lambda _e: None):
        for name in names:
            path = os.path.join(dirpath, name)
            try:
                info: Any = os.stat(path, follow_symlinks=False)
                if info.st_mtime < since or info.st_size > 20 * 1024 * 1024 or not os.path.isfile(path):
                    continue
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            if any(piece in data for piece in pieces):
                hits.append(path)
    return hits
