"""Attachment bytes in a content-addressed blob store (issue 17 item 2).

xAPI stores an attachment once by its SHA-2 (1.0.3 Part Two §2.4.11, 2.0 §4.2.2.6); the
``attachments`` table keeps per-tenant metadata (``lrs.storage.Attachment``) and the bytes live
here, under their hash. Two implementations: ``filesystem`` (the default) and ``s3`` (boto3,
imported only when the composition root configures it). The store is found through the
sessions' ``info`` (``BLOBS_KEY``), like the audit policy: the composition root registers it on
every database it opens, and lrs imports no implementation itself.

The key is the hash as the client sent it and the LRS verified it (``lrs.multipart``), lower-case
hex. xAPI's "sha2" is any SHA-2 (the LRS accepts 56, 64, 96 or 128 hex digits, SHA-256 being the
usual one), so those four lengths are the only keys there are; ``check_key`` refuses anything else
before it can reach a file path or an object key, so nothing path-like ever does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from sqlalchemy.orm import Session

from lrs.multipart import sha2_matches

BLOBS_KEY: Final = "lrs.blobs"
# Lower-case hex of a SHA-224/256/384/512 (or SHA-512/t) digest, nothing else: no separators,
# no dots, no upper case (two spellings of one key would be two files).
_KEY = re.compile(r"(?:[0-9a-f]{56}|[0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128})")


class BlobKeyError(ValueError):
    """A key that is not a lower-case hex SHA-2 digest."""


class BlobStoreUnavailable(OSError):
    """The store could not be reached or refused the operation (a network or service error); an
    ``OSError`` like the filesystem's own, so callers handle both alike."""


def check_key(key: object) -> str:
    """``key`` itself when it is a lower-case hex SHA-2 digest; BlobKeyError otherwise."""
    if not isinstance(key, str) or _KEY.fullmatch(key) is None:
        shown = repr(key)[:80]
        raise BlobKeyError(f"blob key {shown} is not a lower-case hex SHA-2 digest (56, 64, 96 or 128 digits)")
    return key


def check_put(key: str, data: bytes) -> str:
    """``key``, checked, when ``data`` hashes to it: a content-addressed store never files bytes
    under a hash they do not have, whatever its caller verified before."""
    check_key(key)
    if not sha2_matches(key, data):
        raise BlobKeyError(f"the {len(data)} bytes given do not hash to blob key {key}")
    return key


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    modified: datetime  # UTC, when the blob was last written


class BlobStore(Protocol):
    """Bytes by their hash. ``put`` is idempotent and rewrites the blob (refreshing its time, which
    the sweep's grace period counts from); the rest never raise for a missing blob."""

    name: str  # "filesystem" or "s3", for messages

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def delete(self, key: str) -> None: ...

    def modified(self, key: str) -> datetime | None: ...

    def scan(self) -> Iterator[BlobInfo]: ...


def blob_store(session: Session) -> BlobStore | None:
    """The store registered on this session's database, or None (a bare ``Database`` used as a
    library: the bytes then stay in the row, as before the store existed)."""
    found = session.info.get(BLOBS_KEY)
    return found if found is not None else None
