"""Active liveness from a burst of camera frames (ISO/IEC 30107-1 presentation attack detection, at
the data-capture subsystem, by challenge and response).

    challenge = new_challenge()                       # kept server-side by the web layer, used once
    result = evaluate_burst(challenge, frames, reference, now=datetime.now(UTC))
    result.passed, result.reason, result.to_dict()    # the stamp takes method, steps, distance, model

``frames`` are ``(t_ms, jpeg_or_png_bytes)`` as the browser captured them (t_ms from the start of the
capture, the camera picture as delivered, not mirrored), about 8–10 per second for the challenge's
``duration_ms``. ``reference`` is the learner's aligned embedding (``alignment``), or None at enrolment.
The decision, from the frames alone, in this order (the first failure is the ``reason``):

1. ``expired``: ``now`` is outside the challenge's window.
2. ``too_few_frames`` / ``over_limits`` / ``unreadable``: the burst's limits (``burst.BurstLimits``).
3. ``several_faces``: the detector, run every ``redetect_ms``, ever saw two faces; ``no_face``: fewer
   than ``min_face_fraction`` of the frames had a face to follow; ``too_small``: the eyes closer
   than ``min_interocular`` pixels (the embedding is not stable under that).
4. ``static``: the landmarks did not move (a photo or a replayed file, with or without noise).
5. ``planar``: the face changed pose, but every landmark still maps from the frontal frame by one
   homography: a picture moved, tilted or turned in front of the camera (``geometry``).
6. ``identity_changed``: the aligned embeddings of a frontal frame from each half of the burst are
   farther apart than ``identity_frontal``, or a frame of the strongest turn (or nod) is farther than
   ``identity_turned`` from their mean (``identity_frames``). Checked before the steps: a face
   swapped half way spoils the steps too, and this is the more telling reason.
7. ``step_missing`` / ``wrong_order``: each asked action must be seen (pose indices past their
   thresholds, or an eye aspect ratio dip that recovers) with its peak inside its own time slot
   (plus ``slack_ms`` for reaction). ``wrong_order`` when every action was done but not each in its
   slot; ``step_missing`` when one was never done.
8. ``no_match`` / ``retry``: the mean frontal embedding against ``reference`` (``calibration.Band``).

Work is bounded by the limits: every frame is decoded in grey once and its landmarks read (about 3 ms
a frame), the detector runs every ``redetect_ms`` (25 ms), and three frames are embedded (100 ms
each on the project's 2-core machine).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

from face_check.alignment import mean_embedding
from face_check.burst import DEFAULT_BURST_LIMITS, BurstLimits, BurstRefused, Tracked, check_frames, track
from face_check.calibration import ALIGNED_DETECTOR, ALIGNED_MODEL, DEFAULT_BAND, Band, aligned_distance
from face_check.challenge import LIVENESS_METHOD, POSE_ACTIONS, Action, Challenge
from face_check.geometry import Pose, eye_aspect_ratio, head_pose, motion, planar_residual
from face_check.identity_frames import embed_frames, pick_frames
from face_check.landmarks import LANDMARKER_NAME, Dlib, interocular, load_dlib
from face_check.steps import DEFAULT_PARAMS, LivenessParams, Look, StepSeen, find_events, match_steps
from face_check.verification import Embedding, Outcome


class Reason(StrEnum):
    PASSED = "passed"
    EXPIRED = "expired"
    TOO_FEW_FRAMES = "too_few_frames"
    OVER_LIMITS = "over_limits"
    UNREADABLE = "unreadable"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    TOO_SMALL = "too_small"
    STATIC = "static"
    PLANAR = "planar"
    STEP_MISSING = "step_missing"
    WRONG_ORDER = "wrong_order"
    IDENTITY_CHANGED = "identity_changed"
    NO_MATCH = "no_match"
    RETRY = "retry"


@dataclass(frozen=True)
class BurstTiming:
    decode_ms: float = 0.0
    landmarks_ms: float = 0.0
    embed_ms: float = 0.0
    total_ms: float = 0.0


@dataclass(frozen=True)
class LivenessResult:
    passed: bool
    reason: Reason
    detail: str
    nonce: str
    accept_threshold: float
    reject_threshold: float
    metric: str
    steps: tuple[StepSeen, ...] = ()
    distance: float | None = None  # to the reference; None at enrolment or when not reached
    frontal_gap: float | None = None  # between the frontal frames of the two halves of the burst
    turned_gap: float | None = None  # the farthest turned frame from the frontal frames' mean
    planar_residual: float | None = None
    motion: float | None = None
    frames: int = 0
    frames_with_face: int = 0
    embedded_ms: tuple[int, ...] = ()  # the times of the frames that were embedded
    method: str = LIVENESS_METHOD
    model: str = ALIGNED_MODEL
    detector: str = ALIGNED_DETECTOR
    landmarks: str = LANDMARKER_NAME
    timing: BurstTiming = field(default_factory=BurstTiming)
    # The burst's mean frontal embedding: what enrolment seals. Biometric: never in ``to_dict``.
    embedding: Embedding | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a log or the verification stamp (no picture, no embedding)."""
        return {"passed": self.passed, "reason": self.reason.value, "detail": self.detail, "nonce": self.nonce,
                "method": self.method, "model": self.model, "detector": self.detector, "landmarks": self.landmarks,
                "distance": self.distance, "accept_threshold": self.accept_threshold,
                "reject_threshold": self.reject_threshold, "metric": self.metric,
                "steps": [s.to_dict() for s in self.steps], "frontal_gap": self.frontal_gap,
                "turned_gap": self.turned_gap,
                "planar_residual": self.planar_residual, "motion": self.motion, "frames": self.frames,
                "frames_with_face": self.frames_with_face, "embedded_ms": list(self.embedded_ms),
                "timing_ms": {k: round(v, 1) for k, v in vars(self.timing).items()}}


class _Refused(Exception):
    def __init__(self, reason: Reason, detail: str, **found: Any) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.found = reason, detail, found


def evaluate_burst(challenge: Challenge, frames: Sequence[tuple[int, bytes]], reference: Embedding | None, *,
                   now: datetime, band: Band = DEFAULT_BAND, limits: BurstLimits = DEFAULT_BURST_LIMITS,
                   params: LivenessParams = DEFAULT_PARAMS, models: Dlib | None = None) -> LivenessResult:
    """Decide whether ``frames`` show a live person doing ``challenge`` (and, with ``reference``, the
    enrolled one). Never raises for a bad burst: every refusal is a result with its ``reason``.
    ``EmbeddingInvalid`` for a reference of another model, ``ModelMissing`` without the model."""
    started = time.perf_counter()
    common: dict[str, Any] = {"nonce": challenge.nonce, "accept_threshold": band.accept,
                              "reject_threshold": band.reject, "metric": band.metric}
    if reference is not None:
        aligned_distance(reference, reference)  # a reference of another model is an error, not a refusal
    if not challenge.valid_at(now):
        return LivenessResult(False, Reason.EXPIRED, "the challenge is not valid at this time", **common)
    tracked: Tracked | None = None
    sent: object = frames   # what the caller sent, whatever its annotation says: the count in a refusal
    count = len(sent) if isinstance(sent, Sequence) and not isinstance(sent, bytes | str) else 0
    try:
        checked = check_frames(frames, limits)
        tracked = track(checked, models or load_dlib(), limits)
        return _decide(challenge, checked, tracked, reference, band, params, limits, models or load_dlib(), started,
                       common)
    except BurstRefused as refused:
        return LivenessResult(False, Reason(refused.reason), refused.detail, frames=count, **common,
                              timing=_timing(started, tracked))
    except _Refused as refused:
        embed_ms = refused.found.pop("_embed_ms", 0.0)
        return LivenessResult(False, refused.reason, refused.detail, frames=count, **common,
                              **refused.found, timing=_timing(started, tracked, embed_ms))


def _timing(started: float, tracked: Tracked | None, embed_ms: float = 0.0) -> BurstTiming:
    total = (time.perf_counter() - started) * 1000
    if tracked is None:
        return BurstTiming(total_ms=total)
    return BurstTiming(tracked.decode_ms, tracked.landmarks_ms, embed_ms, total)


def _decide(challenge: Challenge, checked: list[tuple[int, bytes]], tracked: Tracked, reference: Embedding | None,
            band: Band, params: LivenessParams, limits: BurstLimits, models: Dlib, started: float,
            common: dict[str, Any]) -> LivenessResult:
    looks = _looks(tracked, params)
    base = _baseline(looks, challenge, params)
    found = _depth(looks, base, params)
    events = find_events(looks, base, params)
    # Identity before the steps: a face swapped half way also spoils the steps, and "another person"
    # is the more telling reason.
    strongest = tuple(max(events[a], key=lambda e: e.strength) for a in sorted(POSE_ACTIONS) if events[a])
    chosen = pick_frames(looks, base, strongest, params.quiet_pose)
    embed_started = time.perf_counter()
    embedded = embed_frames(models, checked, tracked, chosen, limits)
    found["_embed_ms"] = (time.perf_counter() - embed_started) * 1000
    mean = _same_person(embedded, chosen.frontal, params, found)
    found["embedded_ms"] = tuple(tracked.times[i] for i, _ in embedded)
    found["steps"] = _steps(challenge, events, params, found)
    timing = _timing(started, tracked, found.pop("_embed_ms"))
    if reference is None:
        return LivenessResult(True, Reason.PASSED, "live, challenge done", frames=len(checked), embedding=mean,
                              timing=timing, **common, **found)
    d = aligned_distance(reference, mean)
    outcome = band.decide(d)
    reason = {Outcome.MATCH: Reason.PASSED, Outcome.NO_MATCH: Reason.NO_MATCH, Outcome.RETRY: Reason.RETRY}[outcome]
    return LivenessResult(outcome is Outcome.MATCH, reason, band.explain(d), frames=len(checked), distance=d,
                          embedding=mean, timing=timing, **common, **found)


def _depth(looks: list[Look], base: tuple[Pose, float], params: LivenessParams) -> dict[str, Any]:
    """Refuse a face that did not move (``static``) or moved like a flat picture (``planar``)."""
    moved = max(motion(looks[0].points, look.points) for look in looks)
    if moved < params.static_motion:
        raise _Refused(Reason.STATIC, f"the face did not move (landmarks moved {moved:.3f} eye distances)",
                       motion=moved, frames_with_face=len(looks))
    residual = _planarity(looks, base, params)
    found = {"motion": moved, "planar_residual": residual, "frames_with_face": len(looks)}
    if residual is not None and residual < params.planar_residual:
        raise _Refused(Reason.PLANAR, f"the face moved like a flat picture (homography residual {residual:.3f} < "
                                      f"{params.planar_residual})", **found)
    return found


def _same_person(embedded: list[tuple[int, Embedding]], frontal_frames: tuple[int, ...], params: LivenessParams,
                 found: dict[str, Any]) -> Embedding:
    """The frontal frames' mean embedding, once the embedded frames agree on one person."""
    frontal = [e for (i, e) in embedded if i in frontal_frames]
    turned = [e for (i, e) in embedded if i not in frontal_frames]
    if not frontal:
        raise _Refused(Reason.NO_FACE, "no frontal frame to match", **found)
    mean = mean_embedding(frontal)
    found["frontal_gap"] = aligned_distance(frontal[0], frontal[-1])
    found["turned_gap"] = max((aligned_distance(mean, e) for e in turned), default=0.0)
    if found["frontal_gap"] > params.identity_frontal or found["turned_gap"] > params.identity_turned:
        raise _Refused(Reason.IDENTITY_CHANGED, f"the frames do not all show one person (frontal frames "
                                                f"{found['frontal_gap']:.3f} apart, turned ones up to "
                                                f"{found['turned_gap']:.3f})", **found)
    return mean


def _looks(tracked: Tracked, params: LivenessParams) -> list[Look]:
    if tracked.most_faces > 1:
        raise _Refused(Reason.SEVERAL_FACES, "more than one face in the frames; the learner must be alone")
    looks = [Look(i, tracked.times[i], p, head_pose(p), eye_aspect_ratio(p))
             for i, p in enumerate(tracked.points) if p is not None]
    if len(looks) < params.min_face_fraction * len(tracked.points):
        raise _Refused(Reason.NO_FACE, f"a face was seen in {len(looks)} of {len(tracked.points)} frames",
                       frames_with_face=len(looks))
    eyes = float(np.median([interocular(look.points) for look in looks]))
    if eyes < params.min_interocular:
        raise _Refused(Reason.TOO_SMALL, f"the face is too small (eyes {eyes:.0f} px apart; at least "
                                         f"{params.min_interocular:.0f})", frames_with_face=len(looks))
    return looks


def _baseline(looks: list[Look], challenge: Challenge, params: LivenessParams) -> tuple[Pose, float]:
    """The frontal pose and open-eye aspect ratio: medians over the lead-in before the first prompt,
    or over the whole burst when the lead-in has too few frames."""
    lead = [look for look in looks if look.t_ms < challenge.steps[0].at_ms] or looks
    if len(lead) < 3:
        lead = looks
    pose = Pose(*(float(np.median([getattr(look.pose, k) for look in lead])) for k in ("yaw", "nose", "pitch")))
    return pose, float(np.median([look.ear for look in lead]))


def _planarity(looks: list[Look], base: tuple[Pose, float], params: LivenessParams) -> float | None:
    """The homography residual between the most frontal frame and the three most turned ones (median),
    or None when the head hardly changed pose (then the steps decide)."""
    def change(look: Look) -> float:
        d = look.pose.minus(base[0])
        return abs(d.yaw) + abs(d.pitch) * 2

    ranked = sorted(looks, key=change)
    if change(ranked[-1]) < params.planar_min_pose:
        return None
    reference = ranked[0].points
    return float(np.median([planar_residual(reference, look.points) for look in ranked[-3:]]))


def _steps(challenge: Challenge, events: dict[Action, list[StepSeen]], params: LivenessParams,
           found: dict[str, Any]) -> tuple[StepSeen, ...]:
    seen, missing, misplaced = match_steps(challenge, events, params.slack_ms)
    if missing:
        raise _Refused(Reason.STEP_MISSING, f"not seen: {', '.join(a.value for a in missing)}", **found, steps=seen)
    if misplaced:
        raise _Refused(Reason.WRONG_ORDER, f"not in their time slots: {', '.join(a.value for a in misplaced)}",
                       **found, steps=seen)
    return seen
