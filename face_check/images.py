"""Decoding pictures from bytes, in memory only, within limits.

Only JPEG and PNG are accepted (what cameras, phones and a browser canvas produce): OpenCV decodes
both straight from a buffer, whereas for a format whose decoder cannot read a buffer it writes the
bytes to a temporary file first, and raw face images are never written to disk (DESIGN.md).
The size is read from the header before decoding, so a small file claiming a huge picture is
refused without allocating it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from face_check.errors import BadParameter, ImageUnreadable

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
# JPEG start-of-frame markers carry the picture's size; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


@dataclass(frozen=True)
class ImageLimits:
    """Bounds on what a check decodes. ``max_side`` scales larger pictures down (in memory) before
    detection: the dlib detector works on the picture padded to twice its size and upsampled twice
    again, so its cost grows with the area; the reference photos and webcam frames are 640 px."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 50_000_000
    max_side: int = 640

    def __post_init__(self) -> None:
        if min(self.max_bytes, self.max_pixels, self.max_side) <= 0:
            raise BadParameter("image limits must be positive")


DEFAULT_LIMITS = ImageLimits()


def image_format(data: bytes) -> str | None:
    if data.startswith(JPEG_SIGNATURE):
        return "jpeg"
    if data.startswith(PNG_SIGNATURE):
        return "png"
    return None


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from a JPEG or PNG header, or None if the header is not well formed."""
    fmt = image_format(data)
    if fmt == "png":
        # The IHDR chunk must come first: length (4), type (4), then width and height.
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if fmt == "jpeg":
        i = 2
        while i + 9 <= len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
                i += 2
                continue
            if marker in _SOF_MARKERS:
                return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
            i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def decode_image(data: bytes, limits: ImageLimits = DEFAULT_LIMITS, *, grey: bool = False) -> NDArray[np.uint8]:
    """A BGR picture (OpenCV's order, which DeepFace expects) from JPEG or PNG bytes, scaled down to at
    most ``limits.max_side``; with ``grey``, one channel (what landmarks need, decoded in half the time).
    EXIF orientation is applied. Raises ``ImageUnreadable``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ImageUnreadable(f"expected image bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ImageUnreadable("empty image")
    if len(data) > limits.max_bytes:
        raise ImageUnreadable(f"image of {len(data)} bytes is over the limit of {limits.max_bytes}")
    if image_format(data) is None:
        raise ImageUnreadable("not a JPEG or PNG image")
    size = header_size(data)
    if size is None or min(size) <= 0:
        raise ImageUnreadable("image header is damaged")
    if size[0] * size[1] > limits.max_pixels:
        raise ImageUnreadable(f"image of {size[0]}×{size[1]} pixels is over the limit of {limits.max_pixels}")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
    if image is None or image.ndim != (2 if grey else 3) or (not grey and image.shape[2] != 3) or image.size == 0:
        raise ImageUnreadable("image data cannot be decoded")
    height, width = image.shape[:2]
    if max(height, width) > limits.max_side:
        scale = limits.max_side / max(height, width)
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image, dtype=np.uint8)
