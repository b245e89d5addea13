"""A burst of camera frames, checked against its limits before any decoding, then followed face by face.

The limits bound the work a hostile burst can cause: the frame count, each frame's bytes and picture
size (read from its header, see ``images.header_size``), the burst's bytes and its length in time.
Everything is checked before the first frame is decoded. Frames are decoded in grey, one at a time,
and dropped once their landmarks are read; only the few frames chosen for embedding are decoded again
in colour, later.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from face_check.errors import BadParameter, ImageUnreadable
from face_check.images import ImageLimits, decode_image, header_size, image_format
from face_check.landmarks import Dlib, Points, Tracker, detect, interocular


@dataclass(frozen=True)
class BurstLimits:
    """What one burst may hold. The defaults fit 2–6 s of 640×480 JPEG frames at 8–10 fps."""

    min_frames: int = 10
    max_frames: int = 80
    max_frame_bytes: int = 300_000
    max_total_bytes: int = 8_000_000
    max_duration_ms: int = 12_000
    image: ImageLimits = field(default_factory=lambda: ImageLimits(max_bytes=300_000, max_pixels=1280 * 960,
                                                                   max_side=640))
    redetect_ms: int = 1000  # how often the detector re-checks the tracked face (and counts faces)

    def __post_init__(self) -> None:
        if not 2 <= self.min_frames <= self.max_frames or min(self.max_frame_bytes, self.max_total_bytes,
                                                              self.max_duration_ms, self.redetect_ms) <= 0:
            raise BadParameter("burst limits must be positive, with min_frames ≤ max_frames")


DEFAULT_BURST_LIMITS = BurstLimits()


class BurstRefused(Exception):
    """The burst breaks a limit or holds a frame that is not a picture; ``reason`` is the result's code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def check_frames(frames: object, limits: BurstLimits) -> list[tuple[int, bytes]]:
    """The frames as ``(t_ms, bytes)``, after every limit has been checked; ``BurstRefused`` otherwise."""
    if not isinstance(frames, Sequence) or isinstance(frames, bytes | str):
        raise BurstRefused("unreadable", "frames must be a list of (t_ms, image bytes)")
    if len(frames) > limits.max_frames:
        raise BurstRefused("over_limits", f"{len(frames)} frames; at most {limits.max_frames}")
    if len(frames) < limits.min_frames:
        raise BurstRefused("too_few_frames", f"{len(frames)} frames; at least {limits.min_frames}")
    checked: list[tuple[int, bytes]] = []
    total = 0
    for item in frames:
        if not (isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], int)
                and not isinstance(item[0], bool) and isinstance(item[1], bytes | bytearray)):
            raise BurstRefused("unreadable", "each frame is (t_ms: int, image bytes)")
        t, data = int(item[0]), bytes(item[1])
        if t < 0 or (checked and t <= checked[-1][0]):
            raise BurstRefused("unreadable", "frame times must start at 0 or later and increase")
        total += len(data)
        if len(data) > limits.max_frame_bytes or total > limits.max_total_bytes:
            raise BurstRefused("over_limits", f"a frame or the burst is over its byte limit ({limits.max_frame_bytes}"
                                              f" a frame, {limits.max_total_bytes} in all)")
        size = header_size(data) if image_format(data) else None
        if size is None or min(size) <= 0:
            raise BurstRefused("unreadable", f"the frame at {t} ms is not a JPEG or PNG picture")
        if size[0] * size[1] > limits.image.max_pixels:
            raise BurstRefused("over_limits", f"the frame at {t} ms is {size[0]}×{size[1]} pixels")
        checked.append((t, data))
    if checked[-1][0] - checked[0][0] > limits.max_duration_ms:
        raise BurstRefused("over_limits", f"the burst lasts more than {limits.max_duration_ms} ms")
    return checked


@dataclass(frozen=True)
class Tracked:
    """The landmarks of every frame (None where no face was followed) and what the detector counted."""

    times: list[int]
    points: list[Points | None]
    sizes: list[tuple[int, int]]  # (width, height) of each decoded frame
    boxes: list[tuple[int, int, int, int] | None]  # the predictor's box, for cutting a face chip later
    most_faces: int
    detections: int
    decode_ms: float
    landmarks_ms: float


def track(frames: list[tuple[int, bytes]], models: Dlib, limits: BurstLimits) -> Tracked:
    """Follow the face through the burst: detect, then track, re-detecting every ``redetect_ms``."""
    tracker = Tracker(models)
    points: list[Points | None] = []
    boxes: list[tuple[int, int, int, int] | None] = []
    sizes: list[tuple[int, int]] = []
    most, detections, last_detect = 0, 0, -limits.redetect_ms
    decode_s = mark_s = 0.0
    for t, data in frames:
        started = time.perf_counter()
        try:
            gray = decode_image(data, limits.image, grey=True)
        except ImageUnreadable as err:
            raise BurstRefused("unreadable", f"the frame at {t} ms: {err.message}") from None
        decoded = time.perf_counter()
        sizes.append((gray.shape[1], gray.shape[0]))
        found = tracker.follow(gray)
        if found is None or t - last_detect >= limits.redetect_ms:
            # While a face is followed, the re-check scans the frame at half size (a quarter of the cost):
            # it confirms the face and counts faces as large as it; the first scan looks for small ones too.
            faces = detect(models, gray, small=found is None, coarse=found is not None)
            detections += 1
            last_detect = t
            most = max(most, len(faces))
            if faces and found is None:
                found = tracker.seed(gray, faces[0])
            elif found is not None and not any(_overlaps(f.box, found) for f in faces) and faces:
                # The detector sees a face, but not where the followed one is: follow the detector's.
                found = tracker.seed(gray, faces[0])
        points.append(found)
        boxes.append(tracker.box() if found is not None else None)
        del gray
        decode_s += decoded - started
        mark_s += time.perf_counter() - decoded
    return Tracked([t for t, _ in frames], points, sizes, boxes, most, detections, decode_s * 1000, mark_s * 1000)


def _overlaps(box: tuple[int, int, int, int], points: Points) -> bool:
    """Whether a detection is the tracked face (its box holds the tracked eyes), not another one."""
    eyes = (points[36:42].mean(axis=0) + points[42:48].mean(axis=0)) / 2
    return bool(box[0] <= eyes[0] <= box[2] and box[1] <= eyes[1] <= box[3] and interocular(points) > 0
                and np.isfinite(points).all())
