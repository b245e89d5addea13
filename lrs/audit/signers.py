"""Who signs the audit chain's checkpoints (``lrs.audit.chain``): the protocol the composition root
fills with the hub's key (``lrs`` never imports ``identity``: DESIGN.md, one-way imports), the
RS256 JWS signer, and a signer that loads the key only on first use."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Final, Protocol

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM: Final = "RS256"


class CheckpointSigner(Protocol):
    """What signs checkpoints: the hub's key, supplied by the composition root."""

    def sign(self, payload: bytes) -> str:
        """A compact JWS over ``payload`` (RS256, ``x5c`` header)."""
        ...

    @property
    def certificate_pem(self) -> bytes:
        """The certificate an auditor checks the signatures with."""
        ...


class JwsSigner:
    """RS256 compact JWS (RFC 7515 §7.1) with the certificate in ``x5c`` (§4.1.6: standard base64
    DER), by PyJWT; the same shape as the hub's statement signatures."""

    def __init__(self, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> None:
        self._key, self._cert = key, cert
        self._x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")]

    def sign(self, payload: bytes) -> str:
        # typ None: PyJWS would otherwise label the token a JWT, which a checkpoint is not.
        return jwt.PyJWS().encode(payload, self._key, algorithm=ALGORITHM,
                                  headers={"typ": None, "x5c": self._x5c})

    @property
    def certificate_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)


class LazySigner:
    """Loads the real signer on first use, so processes that never checkpoint never read the key."""

    def __init__(self, load: Callable[[], CheckpointSigner]) -> None:
        self._load, self._lock = load, threading.Lock()
        self._signer: CheckpointSigner | None = None

    def _get(self) -> CheckpointSigner:
        with self._lock:
            if self._signer is None:
                self._signer = self._load()
            return self._signer

    def sign(self, payload: bytes) -> str:
        return self._get().sign(payload)

    @property
    def certificate_pem(self) -> bytes:
        return self._get().certificate_pem
