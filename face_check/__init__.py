"""Face enrolment and verification (issue 4): DeepFace 0.0.103, model Dlib, detector dlib, offline;
aligned embeddings, a grey band and active liveness from a burst of frames (issue 12,
docs/face-check.md).

Imports nothing of the hub's (DESIGN.md). Importing the package is cheap and needs none of the
``face`` extra: the names below are loaded from their modules on first use (PEP 562), and DeepFace
and dlib only by ``load_models``. So ``hocvu`` starts, and says clearly what is missing, on an
installation without the face check.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(["BadParameter", "ConsentRequired", "DependencyMismatch", "EmbeddingInvalid", "FaceCheckError",
                     "ImageUnreadable", "ModelMissing", "NoUsableFace", "WeightPackageMissing"], "face_check.errors"),
    **dict.fromkeys(["ImageLimits"], "face_check.images"),
    **dict.fromkeys(["DEEPFACE_VERSION", "DETECTOR_NAME", "MODEL_NAME", "FaceEngine", "default_home", "load_models",
                     "missing_weights", "setup_weights"], "face_check.models"),
    **dict.fromkeys(["Enrolment", "FaceService", "Verification", "Withdrawal", "generate_key"], "face_check.service"),
    **dict.fromkeys(["CheckResult", "Embedding", "Outcome", "Timing", "compare", "distance", "embed", "verify"],
                    "face_check.verification"),
    **dict.fromkeys(["ALIGNED_MODEL", "Band", "DEFAULT_BAND", "aligned_distance"], "face_check.calibration"),
    **dict.fromkeys(["embed_aligned", "verify_aligned"], "face_check.alignment"),
    **dict.fromkeys(["Action", "Challenge", "LIVENESS_METHOD", "Step", "new_challenge"], "face_check.challenge"),
    **dict.fromkeys(["LivenessResult", "Reason", "evaluate_burst"], "face_check.liveness"),
    **dict.fromkeys(["LivenessParams", "StepSeen"], "face_check.steps"),
    **dict.fromkeys(["BurstLimits"], "face_check.burst"),
    **dict.fromkeys(["BurstEnrolment", "BurstVerification"], "face_check.service"),
}

__all__ = [
    "ALIGNED_MODEL",
    "DEEPFACE_VERSION",
    "DEFAULT_BAND",
    "DETECTOR_NAME",
    "LIVENESS_METHOD",
    "MODEL_NAME",
    "Action",
    "BadParameter",
    "Band",
    "BurstEnrolment",
    "BurstLimits",
    "BurstVerification",
    "Challenge",
    "CheckResult",
    "ConsentRequired",
    "DependencyMismatch",
    "Embedding",
    "EmbeddingInvalid",
    "Enrolment",
    "FaceCheckError",
    "FaceEngine",
    "FaceService",
    "ImageLimits",
    "ImageUnreadable",
    "LivenessParams",
    "LivenessResult",
    "ModelMissing",
    "NoUsableFace",
    "Outcome",
    "Reason",
    "Step",
    "StepSeen",
    "Timing",
    "Verification",
    "WeightPackageMissing",
    "Withdrawal",
    "aligned_distance",
    "compare",
    "default_home",
    "distance",
    "embed",
    "embed_aligned",
    "evaluate_burst",
    "generate_key",
    "load_models",
    "missing_weights",
    "new_challenge",
    "setup_weights",
    "verify",
    "verify_aligned",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:  # __all__ lists the same names, spelled out for linters
        raise AttributeError(f"module 'face_check' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from face_check.alignment import embed_aligned, verify_aligned
    from face_check.burst import BurstLimits
    from face_check.calibration import ALIGNED_MODEL, DEFAULT_BAND, Band, aligned_distance
    from face_check.challenge import LIVENESS_METHOD, Action, Challenge, Step, new_challenge
    from face_check.errors import (
        BadParameter,
        ConsentRequired,
        DependencyMismatch,
        EmbeddingInvalid,
        FaceCheckError,
        ImageUnreadable,
        ModelMissing,
        NoUsableFace,
        WeightPackageMissing,
    )
    from face_check.images import ImageLimits
    from face_check.liveness import LivenessResult, Reason, evaluate_burst
    from face_check.models import (
        DEEPFACE_VERSION,
        DETECTOR_NAME,
        MODEL_NAME,
        FaceEngine,
        default_home,
        load_models,
        missing_weights,
        setup_weights,
    )
    from face_check.service import (
        BurstEnrolment,
        BurstVerification,
        Enrolment,
        FaceService,
        Verification,
        Withdrawal,
        generate_key,
    )
    from face_check.steps import LivenessParams, StepSeen
    from face_check.verification import (
        CheckResult,
        Embedding,
        Outcome,
        Timing,
        compare,
        distance,
        embed,
        verify,
    )
