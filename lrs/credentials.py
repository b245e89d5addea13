"""Tenants, credentials and xAPI scopes (xAPI 1.0.3 Part Three §4.2 "OAuth Authorization Scope").

Secrets are 256-bit random tokens, so one SHA-256 pass is enough to keep them unrecoverable from
the database (a slow password hash only matters for guessable, human-chosen secrets) and keeps
authentication off the hot path of statement ingest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.errors import BadRequest, Forbidden, NotFound, Unauthorized
from lrs.storage import Credential, NationalCredential, Tenant

C = TypeVar("C", Credential, NationalCredential)

# xAPI 1.0.3 Part Three §4.2, table "OAuth Scope".
SCOPES = (
    "statements/write",
    "statements/read/mine",
    "statements/read",
    "state",
    "define",
    "profile",
    "all/read",
    "all",
)
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
AUTHORITY_HOME = "https://hocvu.vn/credentials"
# Cross-tenant roles (DESIGN.md "Data": a separate role for national analysts and auditors).
NATIONAL_ROLES = ("auditor", "analyst")


@dataclass(frozen=True)
class Principal:
    """Who is calling: one credential of one tenant, with its scopes."""

    credential_id: int | None  # None for the hub's own writers (the course player), not a credential
    tenant_id: int
    key: str
    scopes: frozenset[str]
    authority: dict[str, Any]

    def has_any(self, *scopes: str) -> bool:
        return "all" in self.scopes or any(s in self.scopes for s in scopes)

    def require(self, *scopes: str) -> None:
        if not self.has_any(*scopes):
            raise Forbidden(f"this credential lacks the scope for this request (needs one of: {', '.join(scopes)})")

    @property
    def reads_only_own_statements(self) -> bool:
        # statements/read/mine: "only Statements where the authority is this credential".
        return not self.has_any("statements/read", "all/read")


def hash_secret(secret: str) -> str:
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def now_utc() -> datetime:
    return datetime.now(UTC)


def create_tenant(session: Session, slug: str, name: str) -> Tenant:
    if not SLUG_RE.match(slug):
        raise BadRequest("tenant slug must be 2-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
    if session.scalar(select(Tenant).where(Tenant.slug == slug)):
        raise BadRequest(f"tenant {slug!r} already exists")
    tenant = Tenant(slug=slug, name=name, created=now_utc())
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(session: Session, slug: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    return tenant


def create_credential(session: Session, tenant: Tenant, name: str, scopes: list[str]) -> tuple[Credential, str]:
    """Make a credential; returns it and its secret, which is shown this once and never stored."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise BadRequest(f"unknown scope(s) {unknown}; choose from {', '.join(SCOPES)}" if unknown
                         else "a credential needs at least one scope")
    key = "hv_" + secrets.token_hex(10)
    secret = secrets.token_urlsafe(32)
    # The authority stored on this credential's statements (xAPI 1.0.3 Part Two §2.4.9):
    # an Agent identified by an account at the hub, so auditors can trace every write.
    authority = {"objectType": "Agent", "name": f"{tenant.name} — {name}",
                 "account": {"homePage": AUTHORITY_HOME, "name": key}}
    cred = Credential(tenant_id=tenant.id, key=key, secret_hash=hash_secret(secret), name=name,
                      scopes=list(scopes), authority=authority, created=now_utc())
    session.add(cred)
    session.flush()
    return cred, secret


def _revoke(session: Session, model: type[C], key: str, what: str) -> C:
    cred = session.scalar(select(model).where(model.key == key))
    if cred is None:
        raise NotFound(f"no {what} {key!r}")
    if cred.revoked is None:
        cred.revoked = now_utc()
    return cred


def _checked(session: Session, model: type[C], key: str, secret: str) -> C:
    """The credential ``key`` names, if ``secret`` is its secret and it is not revoked."""
    cred = session.scalar(select(model).where(model.key == key))
    # Compare even for an unknown key so timing does not tell which keys exist.
    expected = cred.secret_hash if cred else hash_secret(secrets.token_urlsafe(8))
    if not hmac.compare_digest(expected, hash_secret(secret)) or cred is None:
        raise Unauthorized("unknown key or wrong secret")
    if cred.revoked is not None:
        raise Unauthorized("this credential has been revoked")
    return cred


def revoke_credential(session: Session, key: str) -> Credential:
    return _revoke(session, Credential, key, "credential")


def authenticate(session: Session, key: str, secret: str) -> Principal:
    cred = _checked(session, Credential, key, secret)
    return Principal(credential_id=cred.id, tenant_id=cred.tenant_id, key=cred.key,
                     scopes=frozenset(cred.scopes), authority=cred.authority)


def parse_basic(header: str | None) -> tuple[str, str]:
    """(key, secret) from an HTTP Basic Authorization header (RFC 7617), or Unauthorized."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "basic" or not token:
        # xAPI 1.0.3 Part Three §4.1: every request but About needs authentication.
        raise Unauthorized("send HTTP Basic credentials (key:secret) in the Authorization header")
    try:
        key, sep, secret = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("the Authorization header is not valid Basic credentials") from None
    if not sep:
        raise Unauthorized("the Authorization header is not valid Basic credentials")
    return key, secret


@dataclass(frozen=True)
class NationalPrincipal:
    """A national auditor or analyst: reaches every tenant, within what the role allows."""

    credential_id: int
    key: str
    role: str
    name: str

    def require_role(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden(f"this needs the {' or '.join(roles)} role; this credential is {self.role}")


def create_national_credential(session: Session, role: str, name: str) -> tuple[NationalCredential, str]:
    """Make an auditor or analyst credential; the secret is returned this once and never stored."""
    if role not in NATIONAL_ROLES:
        raise BadRequest(f"unknown role {role!r}; choose from {', '.join(NATIONAL_ROLES)}")
    secret = secrets.token_urlsafe(32)
    cred = NationalCredential(key=f"hv{role[:2]}_" + secrets.token_hex(10), secret_hash=hash_secret(secret),
                              role=role, name=name, created=now_utc())
    session.add(cred)
    session.flush()
    return cred, secret


def revoke_national_credential(session: Session, key: str) -> NationalCredential:
    return _revoke(session, NationalCredential, key, "national credential")


def authenticate_national(session: Session, authorization: str | None) -> NationalPrincipal:
    """The national principal behind an HTTP Basic header. A tenant's key is refused here, as a
    national key is refused by the xAPI resources: the two kinds never stand in for each other."""
    key, secret = parse_basic(authorization)
    cred = _checked(session, NationalCredential, key, secret)
    return NationalPrincipal(credential_id=cred.id, key=cred.key, role=cred.role, name=cred.name)
