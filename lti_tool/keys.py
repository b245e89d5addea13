"""The tool's own RSA keys: generated and kept in the database, private halves sealed at rest,
public halves published as a JWKS (1EdTech Security Framework 1.0 §6.3 "Key Set URL"), rotated
without downtime.

Rotation (Security Framework §6.1 "RSA Key"/§6.3): ``rotate_key`` adds a key that signs from
then on; the previous key stays in the JWKS, so a platform still verifies what it signed (and
a platform that cached our keyset keeps working), until an operator ``retire_key``s it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwcrypto.jwk import JWK
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.errors import ToolKeyError
from lti_tool.storage import LtiToolKey

# Security Framework §6.1: RSA keys of at least 2048 bits, signing with RS256.
KEY_BITS = 2048
ALG = "RS256"


@dataclass(frozen=True)
class KeyRing:
    """Seals and opens private keys with AES-256-GCM under a key derived from the app secret.
    The kid is the associated data, so a sealed key cannot be swapped onto another row.
    Changing HOCVU_SECRET_KEY makes the stored keys unreadable: rotate before changing it."""

    _key: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, app_secret: str) -> KeyRing:
        if not app_secret:
            raise ToolKeyError("an app secret is needed to protect the tool's private keys")
        derived = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"hocvu/lti-tool-keys/v1").derive(
            app_secret.encode())
        return cls(derived)

    def seal(self, kid: str, private_pem: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self._key).encrypt(nonce, private_pem, kid.encode())

    def open(self, kid: str, sealed: bytes) -> bytes:
        try:
            return AESGCM(self._key).decrypt(sealed[:12], sealed[12:], kid.encode())
        except Exception:
            # Never echo key material; say what to do instead.
            raise ToolKeyError(f"tool key {kid} cannot be opened with this app secret "
                               "(was HOCVU_SECRET_KEY changed? rotate the key)") from None


@dataclass(frozen=True)
class SigningKey:
    """The key that signs now: its kid (sent as the JWS `kid` header) and its PEM (never printed)."""

    kid: str
    private_pem: str = field(repr=False)


def _now() -> datetime:
    return datetime.now(UTC)


def public_jwk(private_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk = JWK.from_pyca(private_key.public_key())
    data: dict[str, Any] = jwk.export_public(as_dict=True)
    # RFC 7638 thumbprint as kid: stable, unique per key, and derivable by anyone holding the key.
    data.update(kid=jwk.thumbprint(), alg=ALG, use="sig")
    return data


def rotate_key(session: Session, ring: KeyRing, *, now: datetime | None = None) -> LtiToolKey:
    """Adds a fresh key, which signs from now on; older keys stay published until retired."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    jwk = public_jwk(private_key)
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    row = LtiToolKey(kid=jwk["kid"], public_jwk=jwk, private_key_sealed=ring.seal(jwk["kid"], pem),
                     created=now or _now())
    session.add(row)
    session.flush()
    return row


def active_keys(session: Session) -> list[LtiToolKey]:
    """Published keys, newest first (the first one signs)."""
    return list(session.scalars(select(LtiToolKey).where(LtiToolKey.retired.is_(None))
                                .order_by(LtiToolKey.created.desc(), LtiToolKey.id.desc())))


def all_keys(session: Session) -> list[LtiToolKey]:
    return list(session.scalars(select(LtiToolKey).order_by(LtiToolKey.created, LtiToolKey.id)))


def ensure_key(session: Session, ring: KeyRing) -> LtiToolKey:
    """The signing key, made on first use so the embedded mode needs no set-up. Two processes
    racing here each add one: harmless, both are published."""
    keys = active_keys(session)
    if keys:
        return keys[0]
    row = rotate_key(session, ring)
    session.commit()
    return row


def retire_key(session: Session, kid: str, *, now: datetime | None = None) -> LtiToolKey:
    """Stops publishing (and using) key ``kid``. The last published key cannot be retired: the
    tool would have nothing to sign with (rotate first)."""
    row = session.scalar(select(LtiToolKey).where(LtiToolKey.kid == kid))
    if row is None:
        raise ToolKeyError(f"no tool key with kid {kid}")
    if row.retired is not None:
        return row
    if [k.kid for k in active_keys(session)] == [kid]:
        raise ToolKeyError(f"{kid} is the only published key; run rotate-key first")
    row.retired = now or _now()
    session.flush()
    return row


def jwks(session: Session) -> dict[str, list[dict[str, Any]]]:
    """The JWKS served at /lti/jwks: every key not retired (Security Framework §6.3)."""
    return {"keys": [dict(k.public_jwk) for k in active_keys(session)]}


def signing_key(session: Session, ring: KeyRing) -> SigningKey:
    row = ensure_key(session, ring)
    return SigningKey(row.kid, ring.open(row.kid, row.private_key_sealed).decode())

