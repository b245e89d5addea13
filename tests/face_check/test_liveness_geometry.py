"""What the landmarks say (face_check/geometry.py), on single renders of the shared photos: turns and
nods move the pose indices the right way and past their thresholds, a blink drops the eye aspect ratio,
and a flat picture tilted in space stays planar while a turned head does not — the measurements the
thresholds of ``LivenessParams`` rest on ([ISO/IEC 30107-3: PAI species] print and screen)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from face_check.geometry import eye_aspect_ratio, head_pose, planar_residual
from face_check.landmarks import Points, detect, load_dlib, shape
from face_check.steps import DEFAULT_PARAMS as P
from tests.face_check.conftest import Bursts
from tests.face_check.synthetic import decode, jpeg, on_screen, printed, tilt

PHOTOS = ["A_img2.jpg", "B_img26.jpg", "C_img8.jpg", "D_img3.jpg", "D_img12.jpg"]


def _marks(image: np.ndarray) -> Points:
    models = load_dlib()
    gray = cv2.cvtColor(decode(jpeg(image)), cv2.COLOR_BGR2GRAY)
    found = detect(models, gray)
    assert found, "no face in the render"
    return shape(models, gray, found[0].box)


@pytest.mark.parametrize("name", PHOTOS)
def test_turns_nods_and_blinks_read_from_the_landmarks(bursts: Bursts, name: str) -> None:
    scene = bursts.scene(name)
    front = _marks(scene.render())
    base, ear = head_pose(front), eye_aspect_ratio(front)
    left = head_pose(_marks(scene.render(yaw=24))).minus(base)
    right = head_pose(_marks(scene.render(yaw=-24))).minus(base)
    up = head_pose(_marks(scene.render(pitch=16))).minus(base)
    closed = eye_aspect_ratio(_marks(scene.render(blink=1.0)))
    assert left.yaw > P.turn_yaw and left.nose > P.turn_nose  # the nose to the right of the picture
    assert right.yaw < -P.turn_yaw and right.nose < -P.turn_nose
    assert up.pitch > P.look_up_pitch and abs(up.yaw) < P.quiet_pose
    assert closed < P.blink_closed * ear


@pytest.mark.parametrize("name", PHOTOS)
def test_a_turned_head_is_not_planar_and_a_tilted_picture_is(bursts: Bursts, name: str) -> None:
    scene = bursts.scene(name)
    front = _marks(scene.render())
    for yaw, pitch in ((20, 0), (-20, 0), (0, 16)):
        assert planar_residual(front, _marks(scene.render(yaw, pitch))) > P.planar_residual, (yaw, pitch)
    photo = decode(bursts.photos[name])
    for picture in (printed(photo, np.random.default_rng(0)), on_screen(photo)):
        still = _marks(picture)
        for yaw, pitch in ((30, 0), (-30, 0), (0, -20), (20, 10)):
            moved = _marks(tilt(picture, yaw, pitch))
            assert planar_residual(still, moved) < P.planar_residual, (yaw, pitch)
            turn = head_pose(moved).minus(head_pose(still))
            assert abs(turn.yaw) < P.turn_yaw and abs(turn.pitch) < P.look_up_pitch  # no step from a tilt
