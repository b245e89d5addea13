"""Face-check errors. Each class names one reason a face operation cannot give an answer; an image
that simply does not match is not an error but an outcome (``verification.Outcome``)."""

from __future__ import annotations

from pathlib import Path


class FaceCheckError(Exception):
    """Base of every error ``face_check`` raises."""

    code: str = "face_check_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModelMissing(FaceCheckError):
    """The model's weights (or the package that runs them) are not on this machine.

    Raised *before* DeepFace is asked for the model: DeepFace would otherwise try to download the
    weights, and the hub never fetches anything at run time (DESIGN.md, Identity assurance).
    """

    code = "model_missing"

    def __init__(self, message: str, missing: list[Path] | None = None) -> None:
        super().__init__(message)
        self.missing = list(missing or [])


class WeightPackageMissing(ModelMissing):
    """A PyPI package that ships the weights (``face-recognition-models``) or runs them
    (``dlib-bin``, ``deepface``) is not installed, so ``setup_weights`` has nothing to copy from."""

    code = "weight_package_missing"


class DependencyMismatch(FaceCheckError):
    """An installed package is not the version whose weight names and pipeline were checked."""

    code = "dependency_mismatch"


class ImageUnreadable(FaceCheckError):
    """The bytes are not a picture this package reads (JPEG or PNG), or are over the limits. A check
    reports it as the outcome ``unreadable``; enrolment as ``NoUsableFace``."""

    code = "unreadable"


class NoUsableFace(FaceCheckError):
    """Enrolment needs exactly one readable face; ``outcome`` says what was found instead
    (``no_face``, ``several_faces`` or ``unreadable``)."""

    code = "no_usable_face"

    def __init__(self, message: str, outcome: str) -> None:
        super().__init__(message)
        self.outcome = outcome


class ConsentRequired(FaceCheckError):
    """Enrolment was asked for without the learner's explicit consent."""

    code = "consent_required"


class EmbeddingInvalid(FaceCheckError):
    """A stored embedding cannot be used: wrong key, tampered or swapped between subjects, or made by
    another model (embeddings of different models are not comparable)."""

    code = "embedding_invalid"


class BadParameter(FaceCheckError):
    """A metric, threshold or limit the caller passed is not one this package supports."""

    code = "bad_parameter"
