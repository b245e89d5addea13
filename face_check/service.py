"""Enrol, verify, withdraw: the face check as the identity package uses it. No storage here.

- ``enrol`` needs the learner's explicit consent and returns the embedding encrypted (AES-256-GCM
  with the key the caller passes); the caller stores that ciphertext and nothing else.
- ``verify`` checks a live frame against such a ciphertext.
- ``withdraw`` is the consent withdrawal: it returns a receipt telling the caller to delete the
  ciphertext (this package keeps no copy to delete).

The ciphertext is bound to the subject (its pseudonymous identifier is the AES-GCM associated data),
so one learner's stored embedding cannot be replayed for another. Pictures are dropped once embedded
unless the service was built with ``retain=True``; only then do results carry them back to the caller.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from face_check.errors import BadParameter, ConsentRequired, EmbeddingInvalid
from face_check.images import DEFAULT_LIMITS, ImageLimits
from face_check.models import DETECTOR_NAME, MODEL_NAME, FaceEngine, load_models
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


class FaceService:
    """Face enrolment and verification with one key, one metric and threshold, one retention rule.

    The model is loaded on first use (about a second), or at once with ``load()`` to fail fast at start
    when it is missing.
    """

    def __init__(self, key: bytes, *, home: Path | None = None, engine: FaceEngine | None = None,
                 metric: str = DEFAULT_METRIC, threshold: float | None = None,
                 limits: ImageLimits = DEFAULT_LIMITS, retain: bool = False) -> None:
        _cipher(key)  # refuse a bad key now, not at the first enrolment
        self._key = key
        self._home = home
        self._engine = engine
        self.metric = metric
        self.threshold = resolve_threshold(metric, threshold)
        self.limits = limits
        self.retain = retain

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
