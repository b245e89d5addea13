"""Finding the challenge's actions in a burst: turns and nods from the pose indices, blinks from the
eye aspect ratio, each compared with the same burst's frontal frames; then each asked action matched
to its own time slot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from face_check.challenge import Action, Challenge
from face_check.geometry import Pose
from face_check.landmarks import Points


@dataclass(frozen=True)
class LivenessParams:
    """Thresholds of the decision; the defaults are what the tests and docs/face-check.md measure."""

    min_face_fraction: float = 0.8
    min_interocular: float = 40.0  # pixels: under it, turned faces embed too far from frontal ones
    static_motion: float = 0.03  # RMS landmark movement, eye distances
    turn_yaw: float = 0.28  # yaw index change for a turn (renders: 0.24–0.27 at 12°, 0.44–0.59 at 24°)
    turn_nose: float = 0.11  # and nose index change (0.09–0.12 at 12°, 0.20–0.29 at 24°)
    look_up_pitch: float = 0.12  # pitch index change (0.20–0.26 at 16°)
    # Eye aspect ratio under ``blink_closed`` of the frontal one: closed; back over ``blink_open`` within
    # ``blink_recover_ms``: a blink. dlib's predictor never reads a rendered closed eye below 0.52–0.79
    # of the open ratio (it is trained on few closed eyes), while open eyes stay over 0.85 in frontal
    # frames but for rare frames at 0.78–0.82: the blink is the weakest step (docs/face-check.md).
    blink_closed: float = 0.80
    blink_open: float = 0.90
    blink_recover_ms: int = 900
    quiet_pose: float = 0.15  # |yaw change| under this: the head counts as frontal
    planar_residual: float = 0.045  # homography residual under this at the turned frames: a picture
    planar_min_pose: float = 0.15  # pose change needed before planarity is judged at all
    slack_ms: int = 400  # an action's peak may come this long after its slot ends (reaction, latency)
    # The same person throughout (euclidean_l2 of aligned embeddings; renders of shared/faces): the two
    # frontal frames of one burst lie 0.057 apart at most, different people 0.445 and more; the turn's
    # embedded frame lies 0.11–0.20 from its burst's frontal mean (0.378 at most for a 24° render),
    # another person's turned face 0.421 and more (0.654 in the attack test).
    identity_frontal: float = 0.30
    identity_turned: float = 0.40


DEFAULT_PARAMS = LivenessParams()


@dataclass(frozen=True)
class Look:
    """One frame with a face: its index in the burst, time, landmarks and what they say."""

    index: int
    t_ms: int
    points: Points
    pose: Pose
    ear: float


@dataclass(frozen=True)
class StepSeen:
    action: Action
    start_ms: int
    peak_ms: int
    end_ms: int
    strength: float  # the pose index change at the peak, or 1 − the eye aspect ratio fraction for a blink
    peak_index: int = -1  # the frame of the peak, in the burst
    mild_index: int = -1  # the frame of the run closest to the threshold: the least turned that counts

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action.value, "start_ms": self.start_ms, "peak_ms": self.peak_ms,
                "end_ms": self.end_ms, "strength": round(self.strength, 3)}


def _strengths(look: Look, base: tuple[Pose, float], params: LivenessParams) -> dict[Action, float]:
    """How far past its threshold each pose action is in this frame (> 0: done), as a fraction."""
    d = look.pose.minus(base[0])
    left = min(d.yaw / params.turn_yaw, d.nose / params.turn_nose)
    right = min(-d.yaw / params.turn_yaw, -d.nose / params.turn_nose)
    up = d.pitch / params.look_up_pitch if abs(d.yaw) < params.quiet_pose * 1.5 else 0.0
    return {Action.TURN_LEFT: left, Action.TURN_RIGHT: right, Action.LOOK_UP: up}


def find_events(looks: list[Look], base: tuple[Pose, float], params: LivenessParams) -> dict[Action, list[StepSeen]]:
    """Every run of frames in which an action is done, per action."""
    events: dict[Action, list[StepSeen]] = {a: [] for a in Action}
    for action in (Action.TURN_LEFT, Action.TURN_RIGHT, Action.LOOK_UP):
        run: list[tuple[Look, float]] = []
        for look in [*looks, None]:
            value = _strengths(look, base, params)[action] if look is not None else 0.0
            if look is not None and value >= 1.0:
                run.append((look, value))
                continue
            if run:
                peak = max(run, key=lambda r: r[1])[0]
                mild = min(run, key=lambda r: r[1])[0]
                pose = peak.pose.minus(base[0])
                index = pose.pitch if action is Action.LOOK_UP else abs(pose.yaw)
                events[action].append(StepSeen(action, run[0][0].t_ms, peak.t_ms, run[-1][0].t_ms, index,
                                               peak.index, mild.index))
                run = []
    events[Action.BLINK] = _blinks(looks, base, params)
    return events


def _blinks(looks: list[Look], base: tuple[Pose, float], params: LivenessParams) -> list[StepSeen]:
    """Eye aspect ratio dips under ``blink_closed`` that recover over ``blink_open`` within
    ``blink_recover_ms``, counted only while the head is frontal (a turn changes the ratio too)."""
    frontal = [look for look in looks if abs(look.pose.minus(base[0]).yaw) < params.quiet_pose]
    open_ear = base[1]
    blinks: list[StepSeen] = []
    i = 0
    while i < len(frontal):
        look = frontal[i]
        if look.ear >= params.blink_closed * open_ear:
            i += 1
            continue
        j = i
        while j < len(frontal) and frontal[j].ear < params.blink_open * open_ear:
            j += 1
        before = [f for f in frontal[:i] if look.t_ms - f.t_ms <= params.blink_recover_ms]
        recovered = j < len(frontal) and frontal[j].t_ms - look.t_ms <= params.blink_recover_ms
        opened_before = any(f.ear >= params.blink_open * open_ear for f in before)
        if recovered and opened_before:
            closed = min(frontal[i:j], key=lambda f: f.ear)
            blinks.append(StepSeen(Action.BLINK, look.t_ms, closed.t_ms, frontal[j].t_ms,
                                   1.0 - closed.ear / open_ear, closed.index))
        i = max(j, i + 1)
    return blinks


def match_steps(challenge: Challenge, events: dict[Action, list[StepSeen]],
                slack_ms: int) -> tuple[tuple[StepSeen, ...], list[Action], list[Action]]:
    """(steps seen in their slots, actions never seen, actions seen but not in their slot)."""
    seen: list[StepSeen] = []
    missing: list[Action] = []
    misplaced: list[Action] = []
    for step in challenge.steps:
        candidates = events[step.action]
        inside = [e for e in candidates if step.at_ms <= e.peak_ms <= step.end_ms + slack_ms]
        if inside:
            seen.append(max(inside, key=lambda e: e.strength))
        elif candidates:
            misplaced.append(step.action)
        else:
            missing.append(step.action)
    return tuple(seen), missing, misplaced
