"""The issuer's Ed25519 keys: made and kept in the database (private halves sealed with AES-GCM under
a key derived from the app secret), published in the issuer's DID documents, rotated without
breaking what was issued.

Rotation: ``rotate_key`` adds a key that signs from then on; older keys stay published, so every
credential they signed still verifies. ``retire_key`` stops publishing one (after a compromise):
credentials it signed then fail verification, which is the point. Kept apart from the hub's RSA
statement-signing key (``identity.signing.HubKey``): eddsa-rdfc-2022 needs Ed25519, and a key per
use limits what one compromise can forge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from credentials.errors import IssuerKeyError
from credentials.multikey import (
    new_private_key,
    private_key_bytes,
    private_key_from_bytes,
    public_key_from_multikey,
    public_multikey,
)
from credentials.storage import CredentialIssuerKey


@dataclass(frozen=True)
class KeyRing:
    """Seals private keys; the kid is the associated data, so a sealed key cannot move to another row.
    Changing HOCVU_SECRET_KEY makes stored keys unreadable: rotate after changing it."""

    _key: bytes = field(repr=False)

    def seal(self, kid: str, raw: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self._key).encrypt(nonce, raw, kid.encode())

    def open(self, kid: str, sealed: bytes) -> bytes:
        try:
            return AESGCM(self._key).decrypt(sealed[:12], sealed[12:], kid.encode())
        except Exception:
            raise IssuerKeyError(f"issuer key {kid} cannot be opened with this app secret "
                                 "(was HOCVU_SECRET_KEY changed? run `hocvu credentials rotate-key`)") from None


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey = field(repr=False)


def rotate_key(session: Session, ring: KeyRing, *, now: datetime | None = None) -> CredentialIssuerKey:
    """A fresh key that signs from now on; older keys stay published."""
    private = new_private_key()
    kid = public_multikey(private.public_key())
    row = CredentialIssuerKey(kid=kid, private_key_sealed=ring.seal(kid, private_key_bytes(private)),
                              created=now or datetime.now(UTC))
    session.add(row)
    session.flush()
    return row


def published_keys(session: Session) -> list[CredentialIssuerKey]:
    """Keys not retired, newest first (the first one signs)."""
    return list(session.scalars(select(CredentialIssuerKey).where(CredentialIssuerKey.retired.is_(None))
                                .order_by(CredentialIssuerKey.created.desc(), CredentialIssuerKey.id.desc())))


def all_keys(session: Session) -> list[CredentialIssuerKey]:
    return list(session.scalars(select(CredentialIssuerKey).order_by(CredentialIssuerKey.created,
                                                                     CredentialIssuerKey.id)))


def signing_key(session: Session, ring: KeyRing) -> SigningKey:
    """The newest published key, made on first use (the embedded mode needs no set-up; two
    processes racing here each add one, and both are published)."""
    keys = published_keys(session)
    row = keys[0] if keys else rotate_key(session, ring)
    return SigningKey(row.kid, private_key_from_bytes(ring.open(row.kid, row.private_key_sealed)))


def published_public_key(session: Session, kid: str) -> CredentialIssuerKey | None:
    """The published key ``kid`` (None when unknown or retired): the only keys a proof may name."""
    row = session.scalar(select(CredentialIssuerKey).where(CredentialIssuerKey.kid == kid))
    if row is None or row.retired is not None:
        return None
    public_key_from_multikey(row.kid)  # a stored kid is always a valid Multikey; fail loudly if not
    return row


def retire_key(session: Session, kid: str, *, now: datetime | None = None) -> CredentialIssuerKey:
    """Stop publishing ``kid``. The last published key cannot be retired (rotate first)."""
    row = session.scalar(select(CredentialIssuerKey).where(CredentialIssuerKey.kid == kid))
    if row is None:
        raise IssuerKeyError(f"no issuer key {kid}")
    if row.retired is None:
        if [k.kid for k in published_keys(session)] == [kid]:
            raise IssuerKeyError(f"{kid} is the only published issuer key; run rotate-key first")
        row.retired = now or datetime.now(UTC)
        session.flush()
    return row
