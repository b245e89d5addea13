"""Face enrolment and verification (issue 4): DeepFace 0.0.103, model Dlib, detector dlib, offline.

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
}

__all__ = [
    "DEEPFACE_VERSION", "DETECTOR_NAME", "MODEL_NAME", "BadParameter", "CheckResult", "ConsentRequired",
    "DependencyMismatch", "Embedding", "EmbeddingInvalid", "Enrolment", "FaceCheckError", "FaceEngine", "FaceService",
    "ImageLimits", "ImageUnreadable", "ModelMissing", "NoUsableFace", "Outcome", "Timing", "Verification",
    "WeightPackageMissing", "Withdrawal", "compare", "default_home", "distance", "embed", "generate_key",
    "load_models", "missing_weights", "setup_weights", "verify",
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
    from face_check.service import Enrolment, FaceService, Verification, Withdrawal, generate_key
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
