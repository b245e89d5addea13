"""Which frames of a burst are embedded, and embedding them.

The same identity must hold through the whole burst, so the frames that did the challenge are the
frames that are matched: a frontal frame from each half of the burst (their mean is what is compared
with the reference) and a frame of the strongest turn (or nod). An attacker who does the turns with
their own face and shows the victim's photo for the frontal frames, or who swaps faces half way,
gives embeddings that disagree (0.65 from the frontal mean in the test of that attack). Three frames,
so the cost stays bounded (about 100 ms each on the project's 2-core machine).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from face_check.alignment import embed_chip, face_chip
from face_check.burst import BurstLimits, Tracked
from face_check.challenge import POSE_ACTIONS, TURNS
from face_check.geometry import Pose
from face_check.images import decode_image
from face_check.landmarks import Dlib
from face_check.steps import Look, StepSeen
from face_check.verification import Embedding

MAX_TURNED = 1  # turned frames embedded (the strongest turn): with the two frontal ones, three a burst


@dataclass(frozen=True)
class Chosen:
    frontal: tuple[int, ...]  # frame indices whose mean embedding is matched
    turned: tuple[int, ...]  # peak frames of the pose steps


def pick_frames(looks: list[Look], base: tuple[Pose, float], steps: tuple[StepSeen, ...], quiet: float) -> Chosen:
    """The most frontal open-eyed frame of each half of the burst, and, from the strongest turn (else
    the nod) among ``steps``, its least turned frame that still counts as the turn: part of the action,
    yet as close to frontal as the action allows, so the embedding moves with identity, not pose (on
    the genuine test bursts 0.11–0.20 from the frontal mean, against 0.18–0.26 for the peak frame)."""
    def off_front(look: Look) -> float:
        d = look.pose.minus(base[0])
        return abs(d.yaw) + 2 * abs(d.pitch) + (1.0 if look.ear < 0.85 * base[1] else 0.0)

    middle = (looks[0].t_ms + looks[-1].t_ms) / 2
    halves = [[lk for lk in looks if lk.t_ms <= middle], [lk for lk in looks if lk.t_ms > middle]]
    frontal = tuple(min(half, key=off_front).index for half in halves if half)
    poses = sorted((s for s in steps if s.action in POSE_ACTIONS and s.peak_index not in frontal),
                   key=lambda s: (s.action not in TURNS, -s.strength))
    return Chosen(frontal, tuple(s.mild_index for s in poses[:MAX_TURNED]))


def embed_frames(models: Dlib, frames: list[tuple[int, bytes]], tracked: Tracked, chosen: Chosen,
                 limits: BurstLimits | None = None) -> list[tuple[int, Embedding]]:
    """(frame index, aligned embedding) for the chosen frames, each decoded again in colour for the
    moment it takes to cut its chip."""
    image_limits = (limits or BurstLimits()).image
    embedded = []
    for index in (*chosen.frontal, *chosen.turned):
        box = tracked.boxes[index]
        if box is None:
            continue
        bgr = decode_image(frames[index][1], image_limits)
        chip = face_chip(models, np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8), box)
        del bgr
        embedded.append((index, embed_chip(models, chip)))
    return embedded
