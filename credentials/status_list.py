"""Revocation status: W3C Bitstring Status List v1.0, one list (or more) per tenant.

- Each credential gets a random free index of its tenant's current list (§6.1 "Privacy": random
  assignment, so an index says nothing of when or to whom it was issued); a list takes indexes
  until half full, then the next list opens, so a random pick rarely collides.
- The bitstring (§2.1): bit ``i`` is the ``i``-th bit from the left, first byte first; GZIP
  compressed, base64url without padding, multibase prefix "u" (§2.1 ``encodedList``). Size:
  131,072 bits at least (§2.1 "minimum ... 16KB", group privacy).
- The list is published as a ``BitstringStatusListCredential`` (§2.2), signed like the credentials
  (eddsa-rdfc-2022), by the same issuer (§3.2 step 9 "the issuer of the status list credential
  MUST match the issuer of the credential" as verifiers check it).

The bits are the revoked credentials' indexes; ``rebuild`` recomputes the list credential from them
under the list row's lock, so concurrent revocations each leave a list that includes theirs.
"""

from __future__ import annotations

import base64
import gzip
import secrets
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from credentials.config import CredentialsConfig
from credentials.errors import StatusListFull
from credentials.issuer import issuer_for
from credentials.jsonld import VC_V2
from credentials.keys import KeyRing, signing_key
from credentials.proof import add_proof, xml_datetime
from credentials.storage import CredentialStatusList, IssuedCredential
from lrs.storage import Tenant

PURPOSE: Final = "revocation"
ENTRY_TYPE: Final = "BitstringStatusListEntry"
PICKS: Final = 32  # random tries for a free index before giving up (a half-full list fails 32 in 2^32)


def list_url(cfg: CredentialsConfig, tenant_slug: str, number: int) -> str:
    return f"{cfg.base}/credentials/status/{tenant_slug}/{number}"


def encode_bits(indexes: set[int] | list[int], size: int) -> str:
    bits = bytearray(size // 8)
    for i in indexes:
        bits[i // 8] |= 0x80 >> (i % 8)
    # mtime=0: the same bits always give the same bytes (and the same signed list).
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_bits(encoded: str) -> bytes:
    """The raw bitstring of an ``encodedList``; ValueError when it is not one."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("encodedList is not base64url multibase ('u')")
    raw = encoded[1:]
    try:
        return gzip.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(f"encodedList does not decompress: {err}") from None


def bit_set(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise ValueError(f"status index {index} is outside the list ({len(bits) * 8} entries)")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def _list_credential(cfg: CredentialsConfig, session: Session, ring: KeyRing, tenant: Tenant, number: int,
                     revoked: set[int], size: int, now: datetime) -> dict[str, Any]:
    url = list_url(cfg, tenant.slug, number)
    issuer = issuer_for(cfg, tenant)
    document = {"@context": [VC_V2], "id": url, "type": ["VerifiableCredential", "BitstringStatusListCredential"],
                "issuer": issuer.did, "validFrom": xml_datetime(now),
                "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList", "statusPurpose": PURPOSE,
                                      "encodedList": encode_bits(revoked, size)}}
    key = signing_key(session, ring)
    return add_proof(document, key.private_key, issuer.method(key.kid), now)


def _open_list(session: Session, cfg: CredentialsConfig, ring: KeyRing, tenant: Tenant, now: datetime
               ) -> CredentialStatusList:
    latest = session.scalar(select(func.max(CredentialStatusList.number)).where(
        CredentialStatusList.tenant_id == tenant.id)) or 0
    size = cfg.status_list_size
    row = CredentialStatusList(tenant_id=tenant.id, number=latest + 1, size=size, allocated=0, version=1,
                               document=_list_credential(cfg, session, ring, tenant, latest + 1, set(), size, now),
                               updated=now)
    session.add(row)
    session.flush()
    return row


def current_list(session: Session, cfg: CredentialsConfig, ring: KeyRing, tenant: Tenant,
                 now: datetime) -> CredentialStatusList:
    """The list new credentials take indexes from: the newest one under half full, or a new one."""
    row = session.scalar(select(CredentialStatusList).where(CredentialStatusList.tenant_id == tenant.id)
                         .order_by(CredentialStatusList.number.desc()).limit(1))
    if row is None or row.allocated >= row.size // 2:
        row = _open_list(session, cfg, ring, tenant, now)
    return row


def allocate(session: Session, row: CredentialStatusList) -> int:
    """A random index of ``row`` no credential uses yet. The caller inserts the credential in a
    savepoint: the unique (tenant, list, index) key decides a race with a concurrent issuer."""
    for _ in range(PICKS):
        index = secrets.randbelow(row.size)
        taken = session.scalar(select(IssuedCredential.public_id).where(
            IssuedCredential.tenant_id == row.tenant_id, IssuedCredential.status_list == row.number,
            IssuedCredential.status_index == index))
        if taken is None:
            # Counted atomically: the count only decides when the next list opens.
            session.execute(update(CredentialStatusList).where(
                CredentialStatusList.tenant_id == row.tenant_id, CredentialStatusList.number == row.number)
                .values(allocated=CredentialStatusList.allocated + 1))
            return index
    raise StatusListFull(f"no free index found in status list {row.number} of tenant {row.tenant_id}")


def status_entry(cfg: CredentialsConfig, tenant_slug: str, number: int, index: int) -> dict[str, Any]:
    """The credential's ``credentialStatus`` (§2.1 BitstringStatusListEntry)."""
    url = list_url(cfg, tenant_slug, number)
    return {"id": f"{url}#{index}", "type": ENTRY_TYPE, "statusPurpose": PURPOSE, "statusListIndex": str(index),
            "statusListCredential": url}


def rebuild(session: Session, cfg: CredentialsConfig, ring: KeyRing, tenant: Tenant, number: int,
            now: datetime) -> CredentialStatusList:
    """Re-sign list ``number`` from the revoked credentials' indexes, holding the list's row lock
    (FOR UPDATE on PostgreSQL; SQLite has one writer at a time)."""
    row = session.scalar(select(CredentialStatusList).where(
        CredentialStatusList.tenant_id == tenant.id, CredentialStatusList.number == number).with_for_update())
    if row is None:
        raise StatusListFull(f"tenant {tenant.slug} has no status list {number}")
    revoked = set(session.scalars(select(IssuedCredential.status_index).where(
        IssuedCredential.tenant_id == tenant.id, IssuedCredential.status_list == number,
        IssuedCredential.revoked.is_not(None))))
    row.document = _list_credential(cfg, session, ring, tenant, number, revoked, row.size, now)
    row.version, row.updated = row.version + 1, now
    session.flush()
    return row
