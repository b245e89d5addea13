"""A credential's revocation status, checked the way Bitstring Status List v1.0 §3.2 "Validate
Algorithm" says: the entry's list credential is obtained (here: this hub's published list, read from
the database, never fetched), its own proof verified, its issuer compared with the credential's, its
``encodedList`` expanded, and the entry's bit read.

Verifying a list's proof costs a canonicalisation; the result is kept per process for each
published version of a list (a cache only: a new version is verified afresh).
"""

from __future__ import annotations

import json
import threading
from typing import Any, Final

from sqlalchemy.orm import Session

from credentials.config import CredentialsConfig
from credentials.errors import CredentialError
from credentials.issuer import key_resolver, tenant_by_slug
from credentials.proof import ProofInvalid, verify_proof
from credentials.status_list import ENTRY_TYPE, PURPOSE, bit_set, decode_bits
from credentials.storage import CredentialStatusList

_CLAUSE: Final = "Bitstring Status List v1.0 §3.2"
_CACHE_MAX: Final = 256
_verified: dict[tuple[int, int, int, str], bytes] = {}
_lock = threading.Lock()


class StatusUnknown(CredentialError):
    """The status cannot be established: the credential then does not verify."""

    status, code = 400, "status_unknown"

    def __init__(self, message: str, clause: str = _CLAUSE) -> None:
        super().__init__(message)
        self.clause = clause


def _list_of(session: Session, cfg: CredentialsConfig, url: str) -> CredentialStatusList:
    prefix = f"{cfg.base}/credentials/status/"
    slug, _, number = url.removeprefix(prefix).partition("/") if url.startswith(prefix) else ("", "", "")
    tenant = tenant_by_slug(session, slug) if slug else None
    row = session.get(CredentialStatusList, (tenant.id, int(number))) if tenant and number.isdigit() else None
    if row is None:
        raise StatusUnknown("the status list is not one this hub publishes")
    return row


def _bits(session: Session, cfg: CredentialsConfig, row: CredentialStatusList, issuer: str) -> bytes:
    doc = row.document
    key = (row.tenant_id, row.number, row.version, json.dumps(doc.get("proof"), sort_keys=True))
    with _lock:
        cached = _verified.get(key)
    if cached is not None and doc.get("issuer") == issuer:
        return cached
    try:
        verify_proof(doc, key_resolver(session, cfg))
    except (ProofInvalid, CredentialError) as err:
        raise StatusUnknown(f"the status list's proof does not verify: {err.message}") from None
    if doc.get("issuer") != issuer:
        raise StatusUnknown("the status list was issued by another issuer than the credential",
                            f"{_CLAUSE} step 9")
    subject = doc.get("credentialSubject") or {}
    if subject.get("statusPurpose") != PURPOSE:
        raise StatusUnknown("the status list is not a revocation list", f"{_CLAUSE} step 8")
    try:
        bits = decode_bits(str(subject.get("encodedList", "")))
    except ValueError as err:
        raise StatusUnknown(str(err)) from None
    with _lock:
        if len(_verified) >= _CACHE_MAX:
            _verified.clear()
        _verified[key] = bits
    return bits


def revoked(session: Session, cfg: CredentialsConfig, entry: Any, issuer: str) -> bool:
    """True when the entry's bit is set; ``StatusUnknown`` when it cannot be read."""
    if not isinstance(entry, dict) or entry.get("type") != ENTRY_TYPE or entry.get("statusPurpose") != PURPOSE:
        raise StatusUnknown("the credential has no revocation status entry (BitstringStatusListEntry)",
                            "Bitstring Status List v1.0 §2.1")
    url, index = entry.get("statusListCredential"), entry.get("statusListIndex")
    if not isinstance(url, str) or not isinstance(index, str) or not index.isdigit():
        raise StatusUnknown("statusListCredential and statusListIndex are required", "Bitstring Status List v1.0 §2.1")
    if entry.get("id") not in (None, f"{url}#{index}"):
        raise StatusUnknown("the entry's id does not match its list and index", "Bitstring Status List v1.0 §2.1")
    bits = _bits(session, cfg, _list_of(session, cfg, url), issuer)
    try:
        return bit_set(bits, int(index))
    except ValueError as err:
        raise StatusUnknown(str(err), f"{_CLAUSE} step 10") from None
