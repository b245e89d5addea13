"""The fast detector (face_check/detection.py) against dlib's own full scan: the same boxes, scores and
detector indices on every frame, hence the same embeddings and the same verdicts, only sooner."""

from __future__ import annotations

import csv
import types
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from face_check import Embedding, FaceEngine, Outcome, compare, distance, verify
from face_check.detection import DLIB_VERSION, WINDOW, FastDetector, _lround, _up, box_in_frame, window_at_level
from face_check.images import decode_image

FACES = Path(__file__).resolve().parents[2].parent / "shared" / "faces"


def deepface_border(image: np.ndarray) -> np.ndarray:
    """The picture as DeepFace 0.0.103 hands it to the detector when aligning (modules/detection.py)."""
    h, w = image.shape[:2]
    return cv2.copyMakeBorder(image, int(0.5 * h), int(0.5 * h), int(0.5 * w), int(0.5 * w), cv2.BORDER_CONSTANT,
                              value=[0, 0, 0])


def on_grey(image: np.ndarray, scale: float, at: tuple[float, float]) -> np.ndarray:
    """``image`` scaled by ``scale`` on a grey 640×480 frame, its corner at fraction ``at`` of the free room:
    the small, off-centre face of a phone held at arm's length."""
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)[:480, :640]
    frame = np.full((480, 640, 3), 110, np.uint8)
    y, x = int((480 - small.shape[0]) * at[1]), int((640 - small.shape[1]) * at[0])
    frame[y:y + small.shape[0], x:x + small.shape[1]] = small
    return frame


def as_tuple(result: tuple) -> tuple[list[tuple[int, int, int, int]], list[float], list[int]]:
    rects, scores, indices = result
    return [(r.left(), r.top(), r.right(), r.bottom()) for r in rects], list(scores), list(indices)


@pytest.fixture(scope="module")
def detector(engine: FaceEngine) -> FastDetector:
    assert engine.detector is not None
    return engine.detector


@pytest.fixture(scope="module")
def frames(photos: dict[str, bytes]) -> dict[str, np.ndarray]:
    """Frames of every kind a check meets, built from the shared photos: webcam-like, mirrored, small faces
    (down to ~40 px, the smallest dlib's upsampled scan finds), a small second face behind a large one,
    groups, and none."""
    image = {name: decode_image(data) for name, data in photos.items()}
    made = {name: image[name] for name in ("A_img1.jpg", "B_img27.jpg", "D_img12.jpg", "extra_couple.jpg",
                                           "extra_selfie-many-people.jpg")}
    made["C_img47 mirrored"] = np.ascontiguousarray(image["C_img47.jpg"][:, ::-1])
    for name, scale, at in (("A_img2.jpg", 0.6, (0.9, 0.1)), ("B_img26.jpg", 0.4, (0.1, 0.8)),
                            ("D_img3.jpg", 0.3, (0.4, 0.0)), ("C_img9.jpg", 0.22, (0.8, 0.9)),
                            ("extra_couple.jpg", 0.4, (0.5, 0.2))):
        made[f"{name} at {scale}"] = on_grey(image[name], scale, at)
    behind = on_grey(image["A_img5.jpg"], 0.9, (0.1, 0.5))
    small = cv2.resize(image["B_img42.jpg"], None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    behind[20:20 + small.shape[0], 620 - small.shape[1]:620] = small
    made["A_img5 with B_img42 small behind"] = behind
    made["noise"] = np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    return made


def test_fast_detector_is_what_deepface_runs(engine: FaceEngine, detector: FastDetector) -> None:
    from deepface import DeepFace

    client = DeepFace.build_model("dlib", task="face_detector")
    assert client.model["face_detector"] is detector
    assert detector.enabled  # the installed dlib is the one whose arithmetic detection.py reproduces
    import dlib

    assert dlib.__version__ == DLIB_VERSION


def test_same_detections_as_dlib_on_every_kind_of_frame(detector: FastDetector, frames: dict[str, np.ndarray]) -> None:
    paths = {}
    for name, frame in frames.items():
        padded = deepface_border(frame)
        with detector.full_scan():
            expected = as_tuple(detector.run(padded, 1))
        got = as_tuple(detector.run(padded, 1))
        assert got == expected, f"{name}: {detector.last}"
        paths[name] = detector.last.path
    # The frames exercise both ways out: a pyramid scan from a higher level, and the full scan for no face.
    assert paths["noise"] == "full"
    assert paths["A_img1.jpg"] == "pyramid" and paths["extra_selfie-many-people.jpg"] == "pyramid"


def test_same_detections_without_the_worker_thread(engine: FaceEngine, frames: dict[str, np.ndarray]) -> None:
    import dlib

    sequential = FastDetector(dlib.get_frontal_face_detector(), dlib, parallel=False)
    for name in ("A_img2.jpg at 0.6", "A_img5 with B_img42 small behind"):
        padded = deepface_border(frames[name])
        assert as_tuple(sequential.run(padded, 1)) == as_tuple(sequential.detector.run(padded, 1)), name
        assert sequential.last.path == "pyramid"


def test_same_faces_and_embeddings_on_every_photo(engine: FaceEngine, photos: dict[str, bytes]) -> None:
    worst = 0.0
    for name, data in photos.items():
        image = decode_image(data)
        with engine.full_scan():
            before = engine.faces(image)
        now = engine.faces(image)
        assert engine.last_scan is not None and engine.last_scan.path == "pyramid", name
        assert [f.box for f in now] == [f.box for f in before], name
        worst = max([worst] + [distance(a.embedding, b.embedding) for a, b in zip(now, before, strict=True)])
    # Measured: 0.0 on all 15 photos. The same box and landmarks go through the same DeepFace code and the
    # same dlib network, so the embeddings are bit for bit the same; any difference means a changed box.
    assert worst <= 1e-12


def test_same_verdict_and_distance_on_every_pair(embeddings: dict[str, Embedding],
                                                 full_scan_embeddings: dict[str, Embedding]) -> None:
    with (FACES / "pairs.csv").open(newline="") as fh:
        pairs = [(r["img_a"], r["img_b"], r["same_person"] == "true") for r in csv.DictReader(fh)]
    assert len(pairs) == 78
    for a, b, same_person in pairs:
        now, before = compare(embeddings[a], embeddings[b]), compare(full_scan_embeddings[a], full_scan_embeddings[b])
        assert now == before, f"{a} {b}: {now} now, {before} before"
        assert now[0] is same_person  # every same-person pair accepted, every other rejected (threshold 0.40)


@pytest.mark.parametrize(("name", "outcome"), [("extra_couple.jpg", Outcome.SEVERAL_FACES),
                                                ("extra_selfie-many-people.jpg", Outcome.SEVERAL_FACES)])
def test_refusals_unchanged(engine: FaceEngine, photos: dict[str, bytes], embeddings: dict[str, Embedding],
                            name: str, outcome: Outcome) -> None:
    with engine.full_scan():
        before = verify(embeddings["A_img1.jpg"], photos[name], engine=engine)
    now = verify(embeddings["A_img1.jpg"], photos[name], engine=engine)
    assert now.outcome is before.outcome is outcome and now.faces == before.faces == 2


def test_no_face_is_decided_by_the_full_scan(engine: FaceEngine) -> None:
    ok, png = cv2.imencode(".png", np.full((480, 640, 3), 128, np.uint8))
    assert ok
    result = verify(Embedding.from_array(np.linspace(-0.2, 0.2, 128)), png.tobytes(), engine=engine)
    assert result.outcome is Outcome.NO_FACE
    assert engine.last_scan is not None and engine.last_scan.path == "full"


def test_other_calls_go_to_dlib_unchanged(detector: FastDetector, frames: dict[str, np.ndarray]) -> None:
    padded = deepface_border(frames["A_img1.jpg"])
    for args in ((padded, 0), (padded, 1, -0.5), (padded, 2), (cv2.cvtColor(padded, cv2.COLOR_BGR2GRAY), 1)):
        assert as_tuple(detector.run(*args)) == as_tuple(detector.detector.run(*args))
        assert detector.last.path == "passthrough"
    assert (detector.detection_window_width, detector.num_detectors) == (80, 5)  # the wrapped detector's


def test_another_dlib_is_not_second_guessed(frames: dict[str, np.ndarray]) -> None:
    import dlib

    # The box arithmetic is dlib 20.0.1's; with another release every call goes to dlib's own scan.
    other: Any = types.SimpleNamespace(**{n: getattr(dlib, n) for n in ("pyramid_down", "resize_image", "rectangle",
                                                                        "rectangles")}, __version__="19.24.6")
    fast = FastDetector(dlib.get_frontal_face_detector(), other)
    assert not fast.enabled
    padded = deepface_border(frames["D_img12.jpg"])
    assert as_tuple(fast.run(padded, 1)) == as_tuple(fast.detector.run(padded, 1))
    assert fast.last.path == "passthrough"


def test_box_arithmetic_is_dlibs() -> None:
    # std::lround: halves away from zero; no double rounding just below one half.
    assert [_lround(v) for v in (2.5, 3.5, -2.5, 0.49999999999999994, 1e6 + 0.5)] == [3, 4, -3, 0, 1000001]
    # A box found some levels above the scanned picture maps back to its window and level, and only that.
    window = (100, 40, 100 + WINDOW - 1, 40 + WINDOW - 1)
    for levels in range(12):
        box = tuple(_lround(_up(float(v), levels)) for v in window)
        assert window_at_level(box) == (window, levels)  # type: ignore[arg-type]
    assert window_at_level((0, 0, 10, 10)) is None
    # Level 0 of the upsampled picture: pyramid_down<2>'s rect_down, p/2 - (1.25, 0.75), rounded.
    assert box_in_frame(window, 0) == (49, 19, 85, 55)
