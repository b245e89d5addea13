"""Checks on the real model and the shared photos: every pair of pairs.csv, group photos, pictures
without a face, bytes that are no picture, and the guarantees of a check (offline, writes nothing)."""

from __future__ import annotations

import csv
import math
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from face_check import BadParameter, Embedding, EmbeddingInvalid, FaceEngine, Outcome, compare, distance, verify

# shared/ sits beside the repository (CI runs in a fresh clone with shared/ next to it).
FACES = Path(__file__).resolve().parents[2].parent / "shared" / "faces"


def read_pairs() -> list[tuple[str, str, bool]]:
    """pairs.csv as (image a, image b, same person), or [] when the photos are not there (then the
    pair tests are skipped, like every test needing the photos)."""
    path = FACES / "pairs.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [(row["img_a"], row["img_b"], row["same_person"].strip().lower() == "true") for row in rows]


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


PAIRS = read_pairs()
# A reference for checks that never reach the comparison, so they run without the shared photos too.
ANY_REFERENCE = Embedding.from_array(np.linspace(-0.2, 0.2, 128))
_NO_PHOTOS = pytest.param(None, None, marks=pytest.mark.skip(reason="face test photos not found (shared/faces)"))
SAME = [pytest.param(a, b, id=f"{a}-{b}") for a, b, same in PAIRS if same] or [_NO_PHOTOS]
DIFFERENT = [pytest.param(a, b, id=f"{a}-{b}") for a, b, same in PAIRS if not same] or [_NO_PHOTOS]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_same_person_pair_accepted(embeddings: dict[str, Embedding], a: str, b: str) -> None:
    same, d = compare(embeddings[a], embeddings[b])
    assert same, f"{a} and {b} are the same person but their distance is {d:.4f} > 0.40"


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_person_pair_rejected(embeddings: dict[str, Embedding], a: str, b: str) -> None:
    same, d = compare(embeddings[a], embeddings[b])
    assert not same, f"{a} and {b} are different people but their distance is {d:.4f} ≤ 0.40"


def test_pairs_file_is_the_one_described(faces_dir: Path) -> None:
    # Guards the parametrisation above: an empty or truncated pairs.csv would make it pass vacuously.
    assert len(PAIRS) == 78
    assert sum(same for _, _, same in PAIRS) == 15


def test_verify_matches_same_person_and_rejects_another(engine: FaceEngine, photos: dict[str, bytes],
                                                        embeddings: dict[str, Embedding]) -> None:
    reference = embeddings["A_img1.jpg"]
    match = verify(reference, photos["A_img2.jpg"], engine=engine)
    assert match.outcome is Outcome.MATCH and match.matched
    assert (match.model, match.detector, match.metric, match.threshold, match.faces) == ("Dlib", "dlib",
                                                                                         "euclidean_l2", 0.40, 1)
    # verify embeds the frame exactly as embed() did: the model is deterministic.
    assert match.distance == pytest.approx(compare(reference, embeddings["A_img2.jpg"])[1], abs=1e-9)
    assert 0 < match.timing.decode_ms < match.timing.total_ms and match.timing.model_ms > 0

    other = verify(reference, photos["D_img3.jpg"], engine=engine)
    assert other.outcome is Outcome.NO_MATCH and not other.matched
    assert other.distance is not None and other.distance > 0.40
    assert other.to_dict()["outcome"] == "no_match" and other.to_dict()["model"] == "Dlib"


@pytest.mark.parametrize("name", ["extra_couple.jpg", "extra_selfie-many-people.jpg"])
def test_group_photo_refused_as_several_faces(engine: FaceEngine, photos: dict[str, bytes],
                                              embeddings: dict[str, Embedding], name: str) -> None:
    # The couple photo includes person A: even so it must not pass as A.
    result = verify(embeddings["A_img1.jpg"], photos[name], engine=engine)
    assert result.outcome is Outcome.SEVERAL_FACES
    assert result.distance is None and result.faces == 2


def _plain() -> bytes:
    return encode(np.full((480, 640, 3), 128, dtype=np.uint8), ".png")


def _noise() -> bytes:
    return encode(np.random.default_rng(4).integers(0, 256, (480, 640, 3), dtype=np.uint8), ".jpg")


@pytest.mark.parametrize("make", [_plain, _noise], ids=["plain-png", "noise-jpeg"])
def test_picture_without_face_refused_as_no_face(engine: FaceEngine, make: Any) -> None:
    result = verify(ANY_REFERENCE, make(), engine=engine)
    assert result.outcome is Outcome.NO_FACE and result.distance is None and result.faces == 0


def _huge_png_header() -> bytes:
    # A valid PNG signature and IHDR claiming 60000×60000 pixels: refused from the header, never allocated.
    ihdr = (60000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + ihdr + b"\0\0\0\0" + b"\0" * 64


GARBAGE = {
    "empty": b"",
    "text": b"this is not an image",
    "random": np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    "png-signature-only": b"\x89PNG\r\n\x1a\n",
    "jpeg-marker-then-junk": b"\xff\xd8\xff" + b"\x00" * 200,
    "gif": b"GIF89a" + b"\x00" * 100,
    "huge-png": _huge_png_header(),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_bytes_that_are_no_picture_refused_as_unreadable(engine: FaceEngine, name: str) -> None:
    result = verify(ANY_REFERENCE, GARBAGE[name], engine=engine)
    assert result.outcome is Outcome.UNREADABLE and result.distance is None
    assert result.detail and result.timing.model_ms == 0


def test_threshold_and_metric_are_configurable(embeddings: dict[str, Embedding]) -> None:
    a1, a2 = embeddings["A_img1.jpg"], embeddings["A_img2.jpg"]
    assert compare(a1, a2)[0]
    assert not compare(a1, a2, threshold=0.05)[0]  # a stricter threshold turns the same pair away
    assert compare(a1, a2, metric="cosine")[0]  # DeepFace's Dlib threshold for cosine (0.07) applies
    assert compare(a1, a2, metric="euclidean")[0]
    for bad in (0, -0.1, math.nan, math.inf, True):
        with pytest.raises(BadParameter):
            compare(a1, a2, threshold=bad)
    with pytest.raises(BadParameter):
        compare(a1, a2, metric="manhattan")


def test_bad_parameters_refused_before_the_model_runs() -> None:
    with pytest.raises(BadParameter):
        verify(ANY_REFERENCE, b"", metric="hamming")
    with pytest.raises(EmbeddingInvalid):
        verify(Embedding(ANY_REFERENCE.vector, model="ArcFace"), b"")  # embeddings of another model do not compare
    with pytest.raises(EmbeddingInvalid):
        Embedding.from_array(np.ones(64))


def test_distances_are_deepfaces(engine: FaceEngine, embeddings: dict[str, Embedding]) -> None:
    from deepface.modules.verification import find_distance

    a, b = embeddings["A_img1.jpg"].array(), embeddings["B_img26.jpg"].array()
    for metric in ("cosine", "euclidean", "euclidean_l2"):
        assert distance(a, b, metric) == pytest.approx(float(find_distance(a, b, metric)), abs=1e-6)


def test_embedding_bytes_round_trip() -> None:
    assert Embedding.from_bytes(ANY_REFERENCE.to_bytes()) == ANY_REFERENCE
    for junk in (b"", b"[]", b'{"v": 2}', b'{"v": 1, "model": "Dlib", "detector": "dlib", "vector": [1, 2]}'):
        with pytest.raises(EmbeddingInvalid):
            Embedding.from_bytes(junk)


def test_check_runs_with_the_network_blocked(engine: FaceEngine, photos: dict[str, bytes],
                                             embeddings: dict[str, Embedding], no_network: list[Any]) -> None:
    result = verify(embeddings["B_img26.jpg"], photos["B_img27.jpg"], engine=engine)
    assert result.outcome is Outcome.MATCH
    assert engine.last_scan is not None and engine.last_scan.path == "pyramid"  # the fast path, worker thread too
    assert no_network == []


_WRITES: list[str] | None = None
_WRITE_EVENTS = {"os.mkdir", "os.rename", "os.replace", "os.remove", "os.link", "os.symlink", "shutil.copyfile",
                 "os.truncate", "tempfile.mkstemp", "tempfile.mkdtemp"}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WRITES is None:
        return
    if event == "open":
        path, mode, flags = args
        writes = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC) if flags else 0
        if writes or (isinstance(mode, str) and any(c in mode for c in "wax+")):
            _WRITES.append(f"open {path} {mode}")
    elif event in _WRITE_EVENTS:
        _WRITES.append(f"{event} {args[0]}")


sys.addaudithook(_audit)  # hooks cannot be removed; it records only inside _no_python_writes()


@contextmanager
def _no_python_writes() -> Iterator[list[str]]:
    global _WRITES
    _WRITES = []
    try:
        yield _WRITES
    finally:
        _WRITES = None


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_check_writes_no_file(engine: FaceEngine, photos: dict[str, bytes], embeddings: dict[str, Embedding],
                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Native code (OpenCV, dlib) is not seen by the audit hook, so also point every temporary-file
    # location at folders of this test and compare them, the working folder and DEEPFACE_HOME.
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(cwd)
    for var in ("TMPDIR", "TMP", "TEMP", "OPENCV_TEMP_PATH"):
        monkeypatch.setenv(var, str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    before = (_tree(tmp_path), _tree(engine.home))
    with _no_python_writes() as writes:
        result = verify(embeddings["C_img8.jpg"], photos["C_img9.jpg"], engine=engine)
        png = verify(embeddings["C_img8.jpg"], encode(cv2.imdecode(np.frombuffer(photos["C_img47.jpg"], np.uint8),
                                                                     cv2.IMREAD_COLOR), ".png"), engine=engine)
    assert result.outcome is Outcome.MATCH and png.outcome is Outcome.MATCH
    assert writes == []
    assert (_tree(tmp_path), _tree(engine.home)) == before
