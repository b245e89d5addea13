"""Bounded work (issue 12, 'a hostile burst cannot exhaust CPU/memory'): frame count, bytes per frame,
bytes in all, picture size from the header and the burst's length are all checked before the first
frame is decoded, and the refusal is a result with its reason, never an exception."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np
import pytest

import face_check.burst
import face_check.images
from face_check import BurstLimits, Reason, evaluate_burst, new_challenge

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHALLENGE = new_challenge(random.Random(1), now=NOW)
LATER = NOW + timedelta(seconds=20)


def _jpeg(width: int = 64, height: int = 48) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((height, width, 3), 100, np.uint8))
    assert ok
    return buf.tobytes()


def _huge_png() -> bytes:
    ihdr = (60000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + ihdr + b"\0\0\0\0" + b"\0" * 64


def _frames(n: int, data: bytes | None = None, step: int = 100) -> list[tuple[int, bytes]]:
    return [(i * step, data or _jpeg()) for i in range(n)]


CASES: dict[str, tuple[Any, Reason]] = {
    "too-few-frames": (_frames(5), Reason.TOO_FEW_FRAMES),
    "too-many-frames": (_frames(81), Reason.OVER_LIMITS),
    "frame-over-its-byte-limit": ([*_frames(11), (1200, b"\xff\xd8\xff" + b"\x00" * 300001)], Reason.OVER_LIMITS),
    "burst-over-its-byte-limit": (_frames(40, _jpeg() + b"\0" * 250_000), Reason.OVER_LIMITS),
    "picture-too-large-by-its-header": ([*_frames(11), (1200, _huge_png())], Reason.OVER_LIMITS),
    "burst-too-long": (_frames(11, step=1300), Reason.OVER_LIMITS),
    "times-not-increasing": ([(0, _jpeg())] * 12, Reason.UNREADABLE),
    "negative-time": ([(-100 + i * 100, _jpeg()) for i in range(12)], Reason.UNREADABLE),
    "not-a-picture": ([*_frames(11), (1200, b"GIF89a" + b"\x00" * 100)], Reason.UNREADABLE),
    "not-frame-pairs": ([b"\xff\xd8\xff"] * 12, Reason.UNREADABLE),
    "time-not-an-int": ([(float(i), _jpeg()) for i in range(12)], Reason.UNREADABLE),
    "bytes-not-a-list": (b"\xff\xd8\xff" * 20, Reason.UNREADABLE),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_bursts_refused_before_decoding(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    decoded: list[int] = []
    real = face_check.images.decode_image

    def counting(*args: Any, **kwargs: Any) -> Any:
        decoded.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(face_check.burst, "decode_image", counting)
    frames, reason = CASES[case]
    result = evaluate_burst(CHALLENGE, frames, None, now=LATER)
    assert not result.passed and result.reason is reason, result.detail
    assert decoded == []


def test_a_damaged_frame_behind_a_good_header_is_unreadable() -> None:
    good = _jpeg(640, 480)
    damaged = good[:200] + b"\0" * (len(good) - 200)
    result = evaluate_burst(CHALLENGE, [*_frames(11, good), (1200, damaged)], None, now=LATER)
    assert not result.passed and result.reason in {Reason.UNREADABLE, Reason.NO_FACE}


def test_limits_are_configurable_and_checked() -> None:
    frames = _frames(12)
    assert evaluate_burst(CHALLENGE, frames, None, now=LATER,
                          limits=BurstLimits(max_frames=11)).reason is Reason.OVER_LIMITS
    with pytest.raises(face_check.BadParameter):
        BurstLimits(min_frames=20, max_frames=10)
