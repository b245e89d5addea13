"""Ed25519 public keys as Multikey (Controlled Identifiers 1.0 §2.2.2 "Multikey"; VC Data Integrity
EdDSA Cryptosuites v1.0 §2.1.1): ``publicKeyMultibase`` is the multibase base58-btc ("z") encoding of
the multicodec ``ed25519-pub`` header (0xed 0x01) followed by the 32 raw key bytes, so it always
starts with "z6Mk". Signatures (``proofValue``) are multibase base58-btc of the 64 signature bytes.

Base58 is the ``base58`` package's; keys and signatures are ``cryptography``'s Ed25519.
"""

from __future__ import annotations

from typing import Final

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519_PUB_HEADER: Final = b"\xed\x01"  # multicodec ed25519-pub, as an unsigned varint
BASE58BTC: Final = "z"                   # multibase prefix


def encode_multibase(data: bytes) -> str:
    return BASE58BTC + base58.b58encode(data).decode("ascii")


def decode_multibase(value: str) -> bytes:
    """Bytes of a base58-btc multibase string; ValueError for anything else."""
    if not isinstance(value, str) or not value.startswith(BASE58BTC) or len(value) < 2:
        raise ValueError("not a base58-btc multibase value (it must start with 'z')")
    return base58.b58decode(value[1:].encode("ascii"))


def public_multikey(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return encode_multibase(ED25519_PUB_HEADER + raw)


def public_key_from_multikey(value: str) -> Ed25519PublicKey:
    """The Ed25519 key of a ``publicKeyMultibase``; ValueError when it is not exactly one."""
    data = decode_multibase(value)
    if len(data) != 34 or not data.startswith(ED25519_PUB_HEADER):
        raise ValueError("not an Ed25519 Multikey (multicodec 0xed01 and 32 key bytes)")
    return Ed25519PublicKey.from_public_bytes(data[2:])


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def private_key_from_bytes(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)
