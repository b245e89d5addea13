"""Enrol, verify, withdraw: the face check as the identity package uses it. No storage here.

- ``enrol`` needs the learner's explicit consent and returns the embedding encrypted (AES-256-GCM
  with the key the caller passes); the caller stores that ciphertext and nothing else.
- ``verify`` checks a live frame against such a ciphertext.
- ``withdraw`` is the consent withdrawal: it returns a receipt telling the caller to delete the
  ciphertext (this package keeps no copy to delete).
- ``enrol_burst`` / ``verify_burst`` do the same from a burst of camera frames answering a liveness
  challenge (``liveness.evaluate_burst``): the reference is sealed only when the burst passed, and is
  the aligned embedding (``alignment``), which ``verify`` cannot read and ``verify_burst`` /
  ``verify_frame`` can. ``verify_frame`` is the single-picture fallback against an aligned reference
  (no liveness: a lower assurance level, for learners who cannot do the challenge).

The ciphertext is bound to the subject (its pseudonymous identifier is the AES-GCM associated data),
so one learner's stored embedding cannot be replayed for another. Pictures are dropped once embedded
unless the service was built with ``retain=True``; only then do results carry them back to the caller.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from face_check.alignment import embed_aligned, verify_aligned
from face_check.burst import DEFAULT_BURST_LIMITS, BurstLimits
from face_check.calibration import DEFAULT_BAND, Band
from face_check.challenge import Challenge
from face_check.errors import BadParameter, ConsentRequired, EmbeddingInvalid
from face_check.images import DEFAULT_LIMITS, ImageLimits
from face_check.liveness import LivenessResult, evaluate_burst
from face_check.models import DETECTOR_NAME, MODEL_NAME, FaceEngine, load_models
from face_check.steps import DEFAULT_PARAMS, LivenessParams
from face_check.verification import DEFAULT_METRIC, CheckResult, Embedding, embed, resolve_threshold, verify

# Version tag at the front of every ciphertext, so a later format or key scheme can tell old ones apart.
FORMAT_TAG = b"hvfe1"
_NONCE_BYTES = 12
_AAD_PREFIX = b"hocvu face embedding\x00"


def generate_key() -> bytes:
    """A new random 256-bit key for ``FaceService`` (keep it in the secret store, not beside the data)."""
    return AESGCM.generate_key(bit_length=256)


def seal_embedding(key: bytes, subject: str, embedding: Embedding) -> bytes:
    """Encrypt an embedding for ``subject``."""
    nonce = os.urandom(_NONCE_BYTES)
    return FORMAT_TAG + nonce + _cipher(key).encrypt(nonce, embedding.to_bytes(), _aad(subject))


def open_embedding(key: bytes, subject: str, ciphertext: bytes) -> Embedding:
    """Decrypt an embedding sealed for ``subject``; ``EmbeddingInvalid`` if the key, the subject or a
    single byte differs."""
    data = bytes(ciphertext)
    if not data.startswith(FORMAT_TAG) or len(data) <= len(FORMAT_TAG) + _NONCE_BYTES:
        raise EmbeddingInvalid("not a sealed face embedding")
    nonce = data[len(FORMAT_TAG):len(FORMAT_TAG) + _NONCE_BYTES]
    try:
        plain = _cipher(key).decrypt(nonce, data[len(FORMAT_TAG) + _NONCE_BYTES:], _aad(subject))
    except InvalidTag:
        raise EmbeddingInvalid("the stored embedding does not open with this key for this subject") from None
    return Embedding.from_bytes(plain)


def _cipher(key: bytes) -> AESGCM:
    if not isinstance(key, bytes) or len(key) not in (16, 24, 32):
        raise BadParameter("the face embedding key is 16, 24 or 32 random bytes (see generate_key)")
    return AESGCM(key)


def _aad(subject: str) -> bytes:
    if not subject:
        raise BadParameter("a subject identifier is required")
    return _AAD_PREFIX + subject.encode()


@dataclass(frozen=True)
class Enrolment:
    subject: str
    ciphertext: bytes  # the only thing the caller stores
    model: str
    detector: str
    enrolled_at: datetime
    image: bytes | None = None  # the enrolment picture, only when the service retains pictures


@dataclass(frozen=True)
class Verification:
    subject: str
    result: CheckResult
    checked_at: datetime
    image: bytes | None = None  # the frame, only when the service retains pictures

    @property
    def matched(self) -> bool:
        return self.result.matched


@dataclass(frozen=True)
class Withdrawal:
    """Receipt of a consent withdrawal. The caller must now delete every copy of the ciphertext whose
    SHA-256 is ``ciphertext_sha256``; the receipt itself holds nothing biometric and may be kept."""

    subject: str
    ciphertext_sha256: str
    withdrawn_at: datetime
    opened: bool  # whether the ciphertext opened as this subject's with the current key


Frames = Sequence[tuple[int, bytes]]


@dataclass(frozen=True)
class BurstEnrolment:
    subject: str
    liveness: LivenessResult  # passed or not, and why: ``liveness.to_dict()`` is safe to log
    ciphertext: bytes | None  # the only thing the caller stores; None when the burst did not pass
    enrolled_at: datetime
    frames: tuple[tuple[int, bytes], ...] | None = None  # only when the service retains pictures

    @property
    def enrolled(self) -> bool:
        return self.ciphertext is not None


@dataclass(frozen=True)
class BurstVerification:
    subject: str
    liveness: LivenessResult  # ``passed``: live, the challenge done, and the enrolled person
    checked_at: datetime
    frames: tuple[tuple[int, bytes], ...] | None = None

    @property
    def matched(self) -> bool:
        return self.liveness.passed


class FaceService:
    """Face enrolment and verification with one key, one metric and threshold, one retention rule.

    The model is loaded on first use (about a second), or at once with ``load()`` to fail fast at start
    when it is missing.
    """

    def __init__(self, key: bytes, *, home: Path | None = None, engine: FaceEngine | None = None,
                 metric: str = DEFAULT_METRIC, threshold: float | None = None,
                 limits: ImageLimits = DEFAULT_LIMITS, retain: bool = False, band: Band = DEFAULT_BAND,
                 burst_limits: BurstLimits = DEFAULT_BURST_LIMITS,
                 liveness: LivenessParams = DEFAULT_PARAMS) -> None:
        _cipher(key)  # refuse a bad key now, not at the first enrolment
        self._key = key
        self._home = home
        self._engine = engine
        self.metric = metric
        self.threshold = resolve_threshold(metric, threshold)
        self.limits = limits
        self.retain = retain
        self.band = band  # the aligned pipeline's accept/refuse edges (``calibration``)
        self.burst_limits = burst_limits
        self.liveness = liveness

    def load(self) -> FaceEngine:
        if self._engine is None:
            self._engine = load_models(self._home)
        return self._engine

    def enrol(self, subject: str, image_bytes: bytes, *, consent: bool) -> Enrolment:
        """Embed the one face of ``image_bytes`` and seal it for ``subject``.

        ``consent`` must be ``True``: the learner agreed, for this purpose, to a biometric reference being
        kept. Raises ``ConsentRequired``, ``NoUsableFace`` (see its ``outcome``) or ``ModelMissing``.
        """
        if consent is not True:
            raise ConsentRequired("face enrolment needs the learner's explicit consent")
        _aad(subject)
        embedding = embed(image_bytes, engine=self.load(), limits=self.limits)
        return Enrolment(subject, seal_embedding(self._key, subject, embedding), embedding.model,
                         embedding.detector, datetime.now(UTC), image_bytes if self.retain else None)

    def verify(self, subject: str, ciphertext: bytes, frame_bytes: bytes) -> Verification:
        """Check a live frame against the subject's sealed reference."""
        reference = open_embedding(self._key, subject, ciphertext)
        result = verify(reference, frame_bytes, metric=self.metric, threshold=self.threshold, engine=self.load(),
                        limits=self.limits)
        return Verification(subject, result, datetime.now(UTC), frame_bytes if self.retain else None)

    def enrol_burst(self, subject: str, challenge: Challenge, frames: Frames, *, consent: bool,
                    now: datetime | None = None) -> BurstEnrolment:
        """Enrol from a burst answering ``challenge``: sealed only if the burst is live (``passed``).

        Raises ``ConsentRequired`` or ``ModelMissing``; a burst that fails is a result, not an error.
        """
        if consent is not True:
            raise ConsentRequired("face enrolment needs the learner's explicit consent")
        _aad(subject)
        when = now or datetime.now(UTC)
        result = evaluate_burst(challenge, frames, None, now=when, band=self.band, limits=self.burst_limits,
                                params=self.liveness)
        sealed = seal_embedding(self._key, subject, result.embedding) if result.passed and result.embedding else None
        return BurstEnrolment(subject, result, sealed, when, self._kept(frames))

    def verify_burst(self, subject: str, ciphertext: bytes, challenge: Challenge, frames: Frames, *,
                     now: datetime | None = None) -> BurstVerification:
        """Check a burst answering ``challenge`` against the subject's sealed aligned reference."""
        reference = open_embedding(self._key, subject, ciphertext)
        when = now or datetime.now(UTC)
        result = evaluate_burst(challenge, frames, reference, now=when, band=self.band, limits=self.burst_limits,
                                params=self.liveness)
        return BurstVerification(subject, result, when, self._kept(frames))

    def enrol_frame(self, subject: str, image_bytes: bytes, *, consent: bool) -> tuple[bytes, str, str]:
        """The single-photo fallback's enrolment: the picture's aligned embedding sealed for ``subject``
        (what ``verify_frame`` and ``verify_burst`` read), with its model and detector. No liveness.
        Raises ``ConsentRequired``, ``NoUsableFace`` or ``ModelMissing``."""
        if consent is not True:
            raise ConsentRequired("face enrolment needs the learner's explicit consent")
        _aad(subject)
        embedding = embed_aligned(image_bytes, limits=self.limits)
        return seal_embedding(self._key, subject, embedding), embedding.model, embedding.detector

    def verify_frame(self, subject: str, ciphertext: bytes, frame_bytes: bytes) -> Verification:
        """One picture against the subject's sealed aligned reference (from ``enrol_burst``): ``match``,
        ``no_match`` or ``retry`` (the grey band). No liveness: the fallback at a lower assurance level."""
        reference = open_embedding(self._key, subject, ciphertext)
        result = verify_aligned(reference, frame_bytes, band=self.band, limits=self.limits)
        return Verification(subject, result, datetime.now(UTC), frame_bytes if self.retain else None)

    def _kept(self, frames: Frames) -> tuple[tuple[int, bytes], ...] | None:
        return tuple((int(t), bytes(b)) for t, b in frames) if self.retain else None

    def withdraw(self, subject: str, ciphertext: bytes) -> Withdrawal:
        """Withdraw consent: the deletion receipt for ``subject``'s ciphertext.

        Never refuses: deleting a biometric reference must not depend on it still decrypting (a rotated
        key, a damaged row). ``opened`` tells whether it was this subject's under the current key. The
        caller deletes the ciphertext (and any retained pictures) and may keep the receipt as proof.
        """
        _aad(subject)
        try:
            open_embedding(self._key, subject, ciphertext)
            opened = True
        except EmbeddingInvalid:
            opened = False
        return Withdrawal(subject, hashlib.sha256(bytes(ciphertext)).hexdigest(), datetime.now(UTC), opened)

    @property
    def model(self) -> tuple[str, str]:
        return MODEL_NAME, DETECTOR_NAME
