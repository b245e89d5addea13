"""What the 68 landmarks of a frame say about the head: where it points, whether the eyes are open,
and whether the face moved between frames the way a flat picture moves.

- Head pose as ratios of landmark distances, compared with the same learner's frontal frames of the
  same burst (so no face model and no camera calibration is needed). ``yaw``: how far the nose tip
  sits from the middle of the jaw contour, as a fraction of the jaw's width at the nose, signed
  (> 0: towards the right of the picture, for a camera picture that is not mirrored the learner's
  own left). ``nose``: the nose tip's offset along the eye line over the eye-corner span, the same
  sign. ``pitch``: the nose tip's height between the eye line and the mouth, negated (> 0: up). On
  renders turned 24° the yaw index moves by 0.44–0.59 and the nose index by 0.20–0.29; a print
  tilted 35° about the same axis moves them by at most 0.12 and 0.10, because a flat face keeps its
  nose where it is between the cheeks. (``cv2.solvePnP`` against a generic 3D face was tried first:
  with the predictor's noise it flipped sign or read a turn as a nod on 5 of 6 photos.)
- Eye aspect ratio (Soukupová and Čech, "Real-Time Eye Blink Detection using Facial Landmarks",
  2016): the eyelid distances over the eye width, averaged over both eyes; it falls when the eyes close.
- Planarity: a picture (print, screen) moved or tilted in front of a camera maps every landmark from
  one frame to another by a single homography, whatever its pose; a head that turns does not (the
  nose moves against the cheeks, the jaw contour slides along the silhouette). ``planar_residual`` is
  the RMS distance of the 68 landmarks from the best homography, in eye distances: 0.013–0.050 for
  prints and screens tilted up to 35°, 0.052 and more for renders turned 16° or more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from face_check.landmarks import Points, interocular

# Eye landmarks, each (corner, upper lid, upper lid, corner, lower lid, lower lid), as in the paper.
_EYES = ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47))


@dataclass(frozen=True)
class Pose:
    """Pose indices of one frame (see the module note); compare them with a frontal frame's."""

    yaw: float
    nose: float
    pitch: float

    def minus(self, base: Pose) -> Pose:
        return Pose(self.yaw - base.yaw, self.nose - base.nose, self.pitch - base.pitch)


def head_pose(points: Points) -> Pose:
    left, right = points[36], points[45]
    span = float(np.linalg.norm(right - left)) or 1e-6
    along = (right - left) / span
    down = np.array([-along[1], along[0]])
    middle = (left + right) / 2
    tip = points[30]
    to_left, to_right = float((tip - points[2]) @ along), float((points[14] - tip) @ along)
    yaw = (to_left - to_right) / max(to_left + to_right, 1e-6)
    mouth = (points[48] + points[54]) / 2
    pitch = -float((tip - middle) @ down) / max(float((mouth - middle) @ down), 1e-6)
    return Pose(yaw, float((tip - middle) @ along) / span, pitch)


def eye_aspect_ratio(points: Points) -> float:
    """Mean eye aspect ratio of both eyes (open: about 0.25–0.35; closed: under about half of that)."""
    ratios = []
    for p1, p2, p3, p4, p5, p6 in _EYES:
        width = float(np.linalg.norm(points[p1] - points[p4]))
        lids = float(np.linalg.norm(points[p2] - points[p6]) + np.linalg.norm(points[p3] - points[p5]))
        ratios.append(lids / (2.0 * max(width, 1e-6)))
    return float(np.mean(ratios))


def planar_residual(reference: Points, moved: Points) -> float:
    """RMS distance of ``moved`` from the homography that best maps ``reference`` onto it, in the
    reference's eye distances. Near landmark noise (about 0.01–0.02) for a picture moved in space."""
    # OpenCV's stubs say an array, but a degenerate set of points gives None.
    homography: NDArray[Any] | None = cv2.findHomography(reference.astype(np.float64), moved.astype(np.float64),
                                                         0)[0]
    if homography is None:
        return math.inf
    ones = np.ones((len(reference), 1))
    projected = np.hstack([reference, ones]) @ homography.T
    mapped = projected[:, :2] / projected[:, 2:3]
    return float(np.sqrt(np.mean(np.sum((mapped - moved) ** 2, axis=1))) / max(interocular(reference), 1e-6))


def motion(reference: Points, moved: Points) -> float:
    """RMS landmark displacement between two frames, in the reference's eye distances."""
    return float(np.sqrt(np.mean(np.sum((moved - reference) ** 2, axis=1))) / max(interocular(reference), 1e-6))
