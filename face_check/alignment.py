"""Aligned embeddings: the face is cut out the way dlib's recognition model was trained to see it, at
enrolment and at every check, so where the face sits in the frame does not move the embedding.

DeepFace's pipeline (``verification.py``) crops the detector's box and resizes it; the box sits on the
HOG grid, so black bars, a border or a few columns cropped moved one embedding by up to 0.36
(euclidean_l2) against a threshold of 0.40. Here five landmarks (eye corners, under the nose) are found
in the detector's box and ``dlib.get_face_chip`` maps them by a similarity transform onto dlib's
canonical 150×150 chip with 25 % padding; the ResNet embeds that chip. Measured on the shared photos
(re-encoded as JPEG, which alone moves an embedding by about 0.03): 27-pixel black bars 0.040, a
10-pixel border 0.045, 4 columns cropped 0.047, the photo placed in a 640×480 frame 0.047 — under
0.12 × the threshold (tests/face_check/test_alignment_framing.py).

Embeddings made here carry the model name ``ALIGNED_MODEL``; they are not comparable with DeepFace's
(``MODEL_NAME``), and ``calibration.aligned_distance`` refuses to mix them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from face_check.calibration import ALIGNED_DETECTOR, ALIGNED_MODEL, DEFAULT_BAND, Band, aligned_distance
from face_check.errors import ImageUnreadable, NoUsableFace
from face_check.images import DEFAULT_LIMITS, ImageLimits, decode_image
from face_check.landmarks import Box, Dlib, detect, load_dlib
from face_check.verification import CheckResult, Embedding, Outcome, Timing

CHIP_SIZE = 150  # dlib_face_recognition_resnet_model_v1's input
CHIP_PADDING = 0.25  # what dlib's own examples (and the model's training) use


def face_chip(models: Dlib, rgb: NDArray[np.uint8], box: Box) -> NDArray[np.uint8]:
    """The canonical chip of the face in ``box``: five landmarks mapped onto dlib's template."""
    with models.lock:
        found = models.shape5(rgb, models.rectangle(box))
        chip = models.module.get_face_chip(rgb, found, size=CHIP_SIZE, padding=CHIP_PADDING)
    return np.ascontiguousarray(chip, dtype=np.uint8)


def embed_chip(models: Dlib, chip: NDArray[np.uint8]) -> Embedding:
    with models.lock:
        vector = models.resnet.compute_face_descriptor(chip)
    return Embedding(tuple(float(v) for v in vector), ALIGNED_MODEL, ALIGNED_DETECTOR)


def mean_embedding(embeddings: list[Embedding]) -> Embedding:
    """The direction the embeddings agree on: the mean of their unit vectors (frames of one burst)."""
    units = [e.array() / (np.linalg.norm(e.array()) + 1e-10) for e in embeddings]
    mean = np.mean(units, axis=0)
    return Embedding(tuple(float(v) for v in mean), ALIGNED_MODEL, ALIGNED_DETECTOR)


@dataclass(frozen=True)
class AlignedLook:
    """What one picture holds for the aligned pipeline: the single face's embedding, or why not."""

    outcome: Outcome | None  # None: exactly one face
    embedding: Embedding | None
    faces: int
    timing: Timing
    detail: str = ""


def look(image_bytes: bytes, *, models: Dlib | None = None, limits: ImageLimits = DEFAULT_LIMITS) -> AlignedLook:
    started = time.perf_counter()
    try:
        bgr = decode_image(image_bytes, limits)
    except ImageUnreadable as err:
        ms = (time.perf_counter() - started) * 1000
        return AlignedLook(Outcome.UNREADABLE, None, 0, Timing(ms, 0.0, ms), err.message)
    decoded = time.perf_counter()
    models = models or load_dlib()
    gray = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    faces = detect(models, gray)
    embedding = None
    if len(faces) == 1:
        rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        embedding = embed_chip(models, face_chip(models, rgb, faces[0].box))
    del bgr, gray  # the decoded picture is not kept past this call (nor its colour copy)
    done = time.perf_counter()
    timing = Timing((decoded - started) * 1000, (done - decoded) * 1000, (done - started) * 1000)
    if not faces:
        return AlignedLook(Outcome.NO_FACE, None, 0, timing, "no face found")
    if len(faces) > 1:
        return AlignedLook(Outcome.SEVERAL_FACES, None, len(faces), timing, "more than one face; exactly one is needed")
    return AlignedLook(None, embedding, 1, timing)


def embed_aligned(image_bytes: bytes, *, models: Dlib | None = None,
                  limits: ImageLimits = DEFAULT_LIMITS) -> Embedding:
    """The aligned embedding of the one face in a picture; ``NoUsableFace`` (with ``outcome``) otherwise."""
    seen = look(image_bytes, models=models, limits=limits)
    if seen.embedding is None:
        assert seen.outcome is not None
        raise NoUsableFace(f"cannot use this picture: {seen.detail}", seen.outcome.value)
    return seen.embedding


def verify_aligned(reference: Embedding, frame_bytes: bytes, *, band: Band = DEFAULT_BAND,
                   models: Dlib | None = None, limits: ImageLimits = DEFAULT_LIMITS) -> CheckResult:
    """One frame against an aligned reference: ``match`` at or under ``band.accept``, ``no_match`` at or
    over ``band.reject``, ``retry`` in between (take another picture; no decision). No liveness: the web
    layer offers this only as the single-photo fallback, at a lower assurance level."""
    aligned_distance(reference, reference)  # refuse a reference of another model before any work
    seen = look(frame_bytes, models=models, limits=limits)
    if seen.embedding is None:
        assert seen.outcome is not None
        return CheckResult(seen.outcome, None, band.accept, band.metric, ALIGNED_MODEL, ALIGNED_DETECTOR,
                           seen.faces, seen.timing, seen.detail, reject_threshold=band.reject)
    d = aligned_distance(reference, seen.embedding)
    outcome = band.decide(d)
    return CheckResult(outcome, d, band.accept, band.metric, ALIGNED_MODEL, ALIGNED_DETECTOR, 1, seen.timing,
                       band.explain(d), reject_threshold=band.reject)
