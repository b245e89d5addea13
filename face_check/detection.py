"""The dlib face detector DeepFace runs, made cheaper without changing a single detection.

Why it is slow: for ``align=True`` DeepFace 0.0.103 pads the frame with a black border half its size
on every side (``deepface/modules/detection.py``, ``detect_faces``) and its dlib backend then calls
``face_detector.run(img, 1)`` (``deepface/models/face_detection/Dlib.py``), which upsamples that
twice: a 640×480 frame is scanned as a 2562×1921 picture and every level of its pyramid. Most of
the time goes to the first, largest levels, where the 80-pixel detection window matches faces of
36–80 pixels in the frame; a webcam face is 150–300.

Why cropping is not the answer: the Dlib embedding as DeepFace computes it moves with the detector's
box, and the box sits on the HOG grid of the pyramid level that found it. Scanning a crop or a
smaller copy puts the grid elsewhere; on the shared photos a crop around the face (one face width of
margin) moved 12 of 13 boxes by 3–28 pixels and those embeddings by 0.06–0.21 (euclidean_l2), against
a threshold of 0.40 that the closest pairs clear by 0.006.

What this does instead (dlib 20.0.1, ``tools/python/src/simple_object_detector_py.h`` and
``dlib/image_processing/scan_fhog_pyramid.h``): ``run(img, 1)`` is ``pyramid_up`` (a bilinear
``resize_image``), then a scan of the levels 0, 1, 2, … of ``pyramid_down<6>`` built one from the
other, then each box mapped back with ``rect_up``/``rect_down``. Level k of that pyramid is a
picture of its own whose pyramid is levels k, k+1, … of the first one, so ``run(level_k, 0)``
finds exactly the detections of levels ≥ k, with the same scores; only the box arithmetic differs,
and it is redone here with dlib's formulas. A cheap first pass over the frame alone (no border, in
grey, threshold lowered to -0.5) says where faces may be and so which levels can be skipped: k is
kept ``margin`` levels below the smallest candidate, and lowered again if the exact scan finds a face
too close to it. With no candidate at all, or candidates but no face from level k up, the full scan
decides, so "no face" never rests on the cheap pass. The result is what dlib's own ``run(img, 1)``
returns, rectangle for rectangle, and DeepFace does everything else (landmarks, alignment,
embedding) as before.

What it assumes: a face the full scan would find below level k (smaller than about 36·1.2^k pixels
in the frame) shows up in the first pass, or else it would not be counted (a second, small face
turning "several faces" into a match). On 121 frames made from the shared photos (webcam-like,
mirrored, faces down to 40 pixels, a small face behind a large one, groups, noise) every one of the
153 faces of the full scan had a first-pass candidate scoring at least 0.29, against the -0.5
needed, and all 121 results were identical; tests/face_check/test_face_detection.py keeps a sample.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

# The dlib release whose pyramid and box arithmetic is reproduced below (dlib-bin pins it). With any
# other, ``FastDetector`` passes every call through to dlib unchanged.
DLIB_VERSION = "20.0.1"
# pyramid_down<6>: each level is 5/6 of the one before (scan_fhog_pyramid<pyramid_down<6>>).
_UP = 6 / (6 - 1.0)  # pyramid_down<N>::point_up: p*N/(N-1.0) + 0.3
_DOWN = (6 - 1.0) / 6  # pyramid_down<N>::point_down: (p - 0.3)*(N-1.0)/N
# Side of a detection box at the level that found it (dlib's width(): right - left + 1) for the
# frontal face detector's 80×80 window. A box of any other size cannot be mapped back, and the call
# then goes to dlib's full scan, so a wrong value here costs time, never a different answer.
WINDOW = 73
_LOG_RATE = math.log(_UP)
# Levels built while the first pass runs: a face of 150–300 pixels in a 640×480 frame is found at
# level 8–11, so its scan starts at 6–9 and these are needed anyway.
_SPECULATIVE_LEVELS = 6


def _lround(x: float) -> int:
    """C's ``std::lround`` (half away from zero), which dlib uses to turn a drectangle into a rectangle."""
    if x < 0:
        return -_lround(-x)
    whole = math.floor(x)
    return int(whole) + (1 if x - whole >= 0.5 else 0)


def _up(v: float, levels: int) -> float:
    for _ in range(levels):
        v = v * _UP + 0.3
    return v


def _down(v: float, levels: int) -> float:
    for _ in range(levels):
        v = (v - 0.3) * _DOWN
    return v


Box = tuple[int, int, int, int]  # left, top, right, bottom, as dlib.rectangle


def window_at_level(box: Box, max_levels: int = 64) -> tuple[Box, int] | None:
    """The detection window (in the pixels of the level that found it) and how many levels above the
    scanned picture that level is, from a box ``run(picture, 0)`` returned; None if no level fits."""
    for level in range(max_levels):
        window = tuple(_lround(_down(float(v), level)) for v in box)
        if window[2] - window[0] + 1 != WINDOW or window[3] - window[1] + 1 != WINDOW:
            continue
        if tuple(_lround(_up(float(v), level)) for v in window) == box:
            return window, level  # type: ignore[return-value]
    return None


def box_in_frame(window: Box, level: int) -> Box:
    """The box ``run(img, 1)`` reports for ``window`` found ``level`` levels above the upsampled picture:
    ``rect_up`` through the levels, rounded (scan_fhog_pyramid), then pyramid_down<2>'s ``rect_down``
    (p/2 - (1.25, 0.75)), rounded again (simple_object_detector_py.h)."""
    left, top, right, bottom = (_lround(_up(float(v), level)) for v in window)
    return (_lround(left / 2.0 - 1.25), _lround(top / 2.0 - 0.75), _lround(right / 2.0 - 1.25),
            _lround(bottom / 2.0 - 0.75))


def candidate_level(width: int) -> int:
    """The pyramid level (counted from the upsampled picture) at which a face of box width ``width``
    in the frame is found: the window is WINDOW pixels there, and the picture twice the frame."""
    return max(0, math.floor(math.log(max(2.0 * width / WINDOW, 1.0)) / _LOG_RATE + 0.5))


def _content(img: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The frame inside DeepFace's black border (``int(0.5*h)`` rows and ``int(0.5*w)`` columns each side),
    or the whole picture if it does not have that border; in grey, for the first pass.

    Grey because the first pass only proposes where to look: HOG on one channel costs about a third
    less than on three, and on the 121 frames of the module's note every face dlib's full scan found
    had a grey first-pass candidate scoring at least 0.29 (0.36 in colour), well above the -0.5 the
    first pass asks for."""
    ph, pw = img.shape[:2]
    h, w = (ph + 1) // 2, (pw + 1) // 2
    by, bx = h // 2, w // 2
    if (h + 2 * by, w + 2 * bx) == (ph, pw) and h > 0 and w > 0 and not (
            img[:by].any() or img[by + h:].any() or img[:, :bx].any() or img[:, bx + w:].any()):
        img = img[by:by + h, bx:bx + w]
    # uint8 in, uint8 out (OpenCV's stubs widen the dtype).
    return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


@dataclass(frozen=True)
class ScanReport:
    """How the last call was answered, for tests and the benchmark."""

    path: str  # "pyramid": levels ≥ first_level only; "full": dlib's own run; "passthrough": not ours
    first_level: int = 0
    candidates: int = 0
    rescans: int = 0


class FastDetector:
    """Stands in for ``dlib.fhog_object_detector`` inside DeepFace's dlib backend: ``run(img, 1)`` returns
    what dlib's returns, scanning only the pyramid levels that can hold a face. Any other call
    (another upsampling, a threshold, another dlib) goes to the wrapped detector unchanged.

    Not for concurrent use (neither is dlib's detector: the scanner keeps the loaded pyramid); the
    face engine runs one check at a time. The first pass runs on a worker thread while this one builds
    the pyramid (dlib releases the GIL while it scans).
    """

    def __init__(self, detector: Any, dlib_module: Any, *, margin: int = 2, candidate_threshold: float = -0.5,
                 parallel: bool = True) -> None:
        self.detector = detector
        self._dlib = dlib_module
        self.margin = margin
        self.candidate_threshold = candidate_threshold
        self.enabled = getattr(dlib_module, "__version__", None) == DLIB_VERSION
        self.parallel = parallel
        self._pyramid_down = dlib_module.pyramid_down(6)
        self.last = ScanReport("passthrough")
        self._local = threading.local()

    # dlib's fhog_object_detector interface, as DeepFace uses it ------------------------------------

    def run(self, image: NDArray[Any], upsample_num_times: int = 0, adjust_threshold: float = 0.0
            ) -> tuple[Any, ...]:
        if (not self.enabled or upsample_num_times != 1 or adjust_threshold != 0.0
                or getattr(self._local, "full", False) or not _is_rgb8(image)):
            self.last = ScanReport("passthrough" if not getattr(self._local, "full", False) else "full")
            found: tuple[Any, ...] = self.detector.run(image, upsample_num_times, adjust_threshold)
            return found
        return self._run_pyramid(np.ascontiguousarray(image))

    def __getattr__(self, name: str) -> Any:  # detection_window_width, num_detectors, ...
        return getattr(self.__dict__["detector"], name)

    @contextmanager
    def full_scan(self) -> Iterator[None]:
        """``with detector.full_scan(): ...``: calls in this thread take dlib's own path (for comparisons)."""
        self._local.full = True
        try:
            yield
        finally:
            self._local.full = False

    # ------------------------------------------------------------------------------------------------

    def _run_pyramid(self, img: NDArray[np.uint8]) -> tuple[Any, ...]:
        content = _content(img)
        first: list[Any] = []  # the first pass's result, or the exception it raised

        def first_pass() -> None:
            try:
                first.append(self.detector.run(content, 1, self.candidate_threshold))
            except BaseException as err:  # handed to the calling thread below
                first.append(err)

        # A thread per call rather than a pool: nothing to leak, and nothing a fork could leave without
        # its worker (gunicorn forks after the app, and so the models, may have been loaded).
        worker = threading.Thread(target=first_pass, name="face-candidates", daemon=True) if self.parallel else None
        if worker is not None:
            worker.start()
        else:
            first_pass()
        levels = [self._upsample(img)]
        # While the first pass runs, build the levels a webcam face will need anyway.
        while worker is not None and worker.is_alive() and len(levels) <= _SPECULATIVE_LEVELS:
            if not self._grow(levels):
                break
        if worker is not None:
            worker.join()
        if isinstance(first[0], BaseException):
            raise first[0]
        widths = [r.right() - r.left() + 1 for r in first[0][0]]
        if not widths:  # nothing even at the lowered threshold: only the full scan may say "no face"
            return self._full(img, 0)
        k = max(0, min(candidate_level(w) for w in widths) - self.margin)
        rescans = 0
        while True:
            k = self._extend(levels, k)
            found = self.detector.run(levels[k], 0, 0.0)
            mapped = [window_at_level((r.left(), r.top(), r.right(), r.bottom())) for r in found[0]]
            if any(m is None for m in mapped):
                return self._full(img, len(widths))
            if not mapped and k > 0:  # candidates, yet no face from level k up: let the full scan decide
                return self._full(img, len(widths))
            closest = min((m[1] for m in mapped if m is not None), default=self.margin)
            if k == 0 or closest >= self.margin:
                break
            # A face only just above the first scanned level: a window of a skipped level might have
            # won the non-maximum suppression over it. Scan again from lower down.
            k = max(0, k + closest - self.margin)
            rescans += 1
        rects = self._dlib.rectangles()
        for m in mapped:
            assert m is not None
            rects.append(self._dlib.rectangle(*box_in_frame(m[0], k + m[1])))
        self.last = ScanReport("pyramid", k, len(widths), rescans)
        return rects, list(found[1]), list(found[2])

    def _full(self, img: NDArray[np.uint8], candidates: int) -> tuple[Any, ...]:
        self.last = ScanReport("full", 0, candidates)
        found: tuple[Any, ...] = self.detector.run(img, 1, 0.0)
        return found

    def _upsample(self, img: NDArray[np.uint8]) -> NDArray[np.uint8]:
        # pyramid_up with pyramid_down<2>: size from rect_up of the picture's rectangle, p*2 + (2.5, 1.5)
        # rounded, then a bilinear resize_image; dlib.resize_image is that same resize.
        rows = _lround((img.shape[0] - 1 + 0.75) * 2) + 1
        cols = _lround((img.shape[1] - 1 + 1.25) * 2) + 1
        resized: NDArray[np.uint8] = self._dlib.resize_image(img, rows, cols)
        return resized

    def _grow(self, levels: list[NDArray[np.uint8]]) -> bool:
        """Add the next pyramid level, unless the last one is already too small to hold a window."""
        if min(levels[-1].shape[:2]) * _DOWN < WINDOW:
            return False
        levels.append(self._pyramid_down(levels[-1]))
        return True

    def _extend(self, levels: list[NDArray[np.uint8]], k: int) -> int:
        """Build the pyramid up to level k (or the last level big enough for a window); returns that level."""
        while len(levels) <= k:
            if not self._grow(levels):
                return len(levels) - 1
        return k


def _is_rgb8(image: Any) -> bool:
    return isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def install(client: Any, dlib_module: Any, **options: Any) -> FastDetector:
    """Put a ``FastDetector`` in DeepFace's dlib client (``client.model["face_detector"]``), once."""
    current = client.model["face_detector"]
    if isinstance(current, FastDetector):
        return current
    fast = FastDetector(current, dlib_module, **options)
    client.model["face_detector"] = fast
    return fast


