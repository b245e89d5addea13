"""Embedding a picture and checking a frame against a reference embedding.

Functions of bytes in, values out: nothing is stored and no picture is written anywhere. A check
wants exactly one face in the frame; anything else is an outcome, not an exception, so the caller
can tell the learner what to fix (step into the light, be alone in the picture, ...).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from face_check.errors import BadParameter, EmbeddingInvalid, ImageUnreadable, NoUsableFace
from face_check.images import DEFAULT_LIMITS, ImageLimits, decode_image
from face_check.models import DETECTOR_NAME, EMBEDDING_SIZE, MODEL_NAME, FaceEngine, load_models

# DeepFace 0.0.103's thresholds for Dlib (deepface/config/threshold.py). The README of the test photos
# shows the euclidean_l2 margins are thin (0.395 worst same person, 0.406 closest different), so
# every entry point takes the threshold as a parameter.
DEFAULT_THRESHOLDS: dict[str, float] = {"cosine": 0.07, "euclidean": 0.6, "euclidean_l2": 0.40}
DEFAULT_METRIC = "euclidean_l2"
METRICS = tuple(DEFAULT_THRESHOLDS)


class Outcome(StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    UNREADABLE = "unreadable"
    # The distance fell in the grey band between the accept and refuse edges (``calibration.Band``):
    # no decision, take another capture. Only the aligned pipeline has a band.
    RETRY = "retry"


@dataclass(frozen=True)
class Embedding:
    """A face embedding with the model and detector that made it (embeddings of different models are
    not comparable). ``to_bytes`` is what the service encrypts; it holds no picture."""

    vector: tuple[float, ...]
    model: str = MODEL_NAME
    detector: str = DETECTOR_NAME

    def __post_init__(self) -> None:
        if len(self.vector) != EMBEDDING_SIZE or not all(math.isfinite(v) for v in self.vector):
            raise EmbeddingInvalid(f"an embedding has {EMBEDDING_SIZE} finite numbers")

    @classmethod
    def from_array(cls, values: ArrayLike) -> Embedding:
        return cls(tuple(float(v) for v in np.asarray(values, dtype=np.float64).ravel()))

    def array(self) -> NDArray[np.float64]:
        return np.asarray(self.vector, dtype=np.float64)

    def to_bytes(self) -> bytes:
        # JSON keeps every float exactly (repr round-trips) and says what it is when decrypted years later.
        return json.dumps({"v": 1, "model": self.model, "detector": self.detector, "vector": list(self.vector)},
                          separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Embedding:
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("v") != 1:
                raise ValueError("unknown embedding format")
            return cls(tuple(float(v) for v in doc["vector"]), str(doc["model"]), str(doc["detector"]))
        except (ValueError, TypeError, KeyError) as err:
            raise EmbeddingInvalid(f"not a stored embedding: {err}") from None


@dataclass(frozen=True)
class Timing:
    """Milliseconds spent decoding, in the model (detection, alignment, embedding), and in total."""

    decode_ms: float
    model_ms: float
    total_ms: float


@dataclass(frozen=True)
class CheckResult:
    outcome: Outcome
    distance: float | None  # None when there was no single face to compare
    threshold: float
    metric: str
    model: str = MODEL_NAME
    detector: str = DETECTOR_NAME
    faces: int = 0  # faces seen, counted up to 2: a check stops counting once it knows there are several
    timing: Timing = field(default_factory=lambda: Timing(0.0, 0.0, 0.0))
    detail: str = ""
    reject_threshold: float | None = None  # the grey band's refuse edge (``threshold`` is its accept edge)

    @property
    def matched(self) -> bool:
        return self.outcome is Outcome.MATCH

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a log or the statement's verification extension."""
        return {"outcome": self.outcome.value, "distance": self.distance, "threshold": self.threshold,
                "metric": self.metric, "model": self.model, "detector": self.detector, "faces": self.faces,
                "timing_ms": {"decode": round(self.timing.decode_ms, 1), "model": round(self.timing.model_ms, 1),
                              "total": round(self.timing.total_ms, 1)},
                "detail": self.detail,
                **({"reject_threshold": self.reject_threshold} if self.reject_threshold is not None else {})}


def resolve_threshold(metric: str, threshold: float | None) -> float:
    """The threshold to use: the caller's, else DeepFace's for Dlib and ``metric``."""
    if metric not in DEFAULT_THRESHOLDS:
        raise BadParameter(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
    if threshold is None:
        return DEFAULT_THRESHOLDS[metric]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold < math.inf:
        raise BadParameter(f"threshold must be a positive number, not {threshold!r}")
    return float(threshold)


def distance(a: ArrayLike, b: ArrayLike, metric: str = DEFAULT_METRIC) -> float:
    """Distance between two embeddings, with DeepFace's definitions of the metrics."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if metric == "euclidean":
        return float(np.linalg.norm(x - y))
    if metric == "euclidean_l2":
        return float(np.linalg.norm(x / (np.linalg.norm(x) + 1e-10) - y / (np.linalg.norm(y) + 1e-10)))
    if metric == "cosine":
        return float(1.0 - np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y)))
    raise BadParameter(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")


def compare(reference: Embedding, probe: Embedding, *, metric: str = DEFAULT_METRIC,
            threshold: float | None = None) -> tuple[bool, float]:
    """(same person?, distance). Same person when the distance is at most the threshold, as in DeepFace."""
    limit = resolve_threshold(metric, threshold)
    _same_model(reference, probe)
    d = distance(reference.vector, probe.vector, metric)
    return d <= limit, d


def _same_model(*embeddings: Embedding) -> None:
    for e in embeddings:
        if (e.model, e.detector) != (MODEL_NAME, DETECTOR_NAME):
            raise EmbeddingInvalid(f"embedding made by {e.model}/{e.detector}, not {MODEL_NAME}/{DETECTOR_NAME}: "
                                   "embeddings of different models cannot be compared; enrol again")


@dataclass(frozen=True)
class _Look:
    """What one picture holds: the single face's embedding, or why there is none."""

    outcome: Outcome | None  # None: exactly one face
    embedding: Embedding | None
    faces: int
    timing: Timing
    detail: str = ""


def _look(image_bytes: bytes, engine: FaceEngine | None, limits: ImageLimits) -> _Look:
    started = time.perf_counter()
    try:
        image = decode_image(image_bytes, limits)
    except ImageUnreadable as err:
        ms = (time.perf_counter() - started) * 1000
        return _Look(Outcome.UNREADABLE, None, 0, Timing(ms, 0.0, ms), err.message)
    decoded = time.perf_counter()
    found = (engine or load_models()).faces(image, limit=2)
    done = time.perf_counter()
    del image  # the decoded picture is not kept past this call
    timing = Timing((decoded - started) * 1000, (done - decoded) * 1000, (done - started) * 1000)
    if not found:
        return _Look(Outcome.NO_FACE, None, 0, timing, "no face found")
    if len(found) > 1:
        return _Look(Outcome.SEVERAL_FACES, None, len(found), timing, "more than one face; exactly one is needed")
    return _Look(None, Embedding.from_array(found[0].embedding), 1, timing)


def embed(image_bytes: bytes, *, engine: FaceEngine | None = None, limits: ImageLimits = DEFAULT_LIMITS) -> Embedding:
    """The embedding of the one face in a picture. Raises ``NoUsableFace`` (with ``outcome``) when the
    picture cannot be read or holds no face or several, ``ModelMissing`` when the model is not set up."""
    look = _look(image_bytes, engine, limits)
    if look.embedding is None:
        assert look.outcome is not None
        raise NoUsableFace(f"cannot enrol this picture: {look.detail}", look.outcome.value)
    return look.embedding


def verify(reference: Embedding, frame_bytes: bytes, *, metric: str = DEFAULT_METRIC, threshold: float | None = None,
           engine: FaceEngine | None = None, limits: ImageLimits = DEFAULT_LIMITS) -> CheckResult:
    """Check a frame against a reference embedding. ``threshold`` defaults to DeepFace's for ``metric``
    (0.40 for euclidean_l2). The frame must show exactly one face."""
    limit = resolve_threshold(metric, threshold)  # refuse bad parameters before spending time on the model
    _same_model(reference)
    look = _look(frame_bytes, engine, limits)
    if look.embedding is None:
        assert look.outcome is not None
        return CheckResult(look.outcome, None, limit, metric, faces=look.faces, timing=look.timing, detail=look.detail)
    same, d = compare(reference, look.embedding, metric=metric, threshold=limit)
    outcome = Outcome.MATCH if same else Outcome.NO_MATCH
    detail = f"distance {d:.4f} {'≤' if same else '>'} threshold {limit:.4f} ({metric})"
    return CheckResult(outcome, d, limit, metric, faces=1, timing=look.timing, detail=detail)
