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
import logging
import os
import re
import secrets
import select as io_select
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lrs.errors import BadRequest, Forbidden, NotFound, Unauthorized
from lrs.storage import Credential, NationalCredential, Tenant

C = TypeVar("C", Credential, NationalCredential)
log = logging.getLogger(__name__)
# PostgreSQL's channel on which a revocation tells every web process (lrs.credentials.CredentialCache).
REVOKED_CHANNEL: Final = "hocvu_credential_revoked"

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
    if session.get_bind().dialect.name == "postgresql":
        # Delivered at commit, to every web process listening (CredentialCache): they forget it.
        session.execute(text("SELECT pg_notify(:channel, :key)"), {"channel": REVOKED_CHANNEL, "key": key})
    for cache in list(_CACHES):
        cache.forget(key)  # this process's caches at once (SQLite's only way: see CredentialCache)
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


def authenticate(session: Session, key: str, secret: str, cache: CredentialCache | None = None) -> Principal:
    """The principal of a tenant's credential; with ``cache``, a verified credential is not looked
    up again while the cache may trust it (its docstring says how long)."""
    found = cache.get(key, secret) if cache is not None else None
    if found is not None:
        return found
    cred = _checked(session, Credential, key, secret)
    principal = Principal(credential_id=cred.id, tenant_id=cred.tenant_id, key=cred.key,
                          scopes=frozenset(cred.scopes), authority=cred.authority)
    if cache is not None:
        cache.put(key, secret, principal)
    return principal


_CACHES: weakref.WeakSet[CredentialCache] = weakref.WeakSet()
_SHARED: dict[tuple[str, float], CredentialCache] = {}
_SHARED_LOCK = threading.Lock()


def credential_cache_for(url: str, seconds: float) -> CredentialCache:
    """The process's one cache (and one LISTEN connection) for the database at ``url``, however
    many apps a process builds on it (tests build dozens: one connection each would be dozens)."""
    with _SHARED_LOCK:
        found = _SHARED.get((url, seconds))
        if found is None:
            found = _SHARED[(url, seconds)] = CredentialCache(url, seconds)
        return found


class CredentialCache:
    """Credentials a web process has verified, so a request need not look its credential up again
    (a round trip and an ORM load on every request, the single POST's largest share after the
    store itself). Only successes are kept, by key and a hash of the secret (never the secret).

    Revocation: ``revoke_credential`` forgets the key in this process at once, and on PostgreSQL
    it also sends a NOTIFY that every other process receives on a connection of its own that
    LISTENs (checked without blocking before each use of the cache): a revoked credential is
    refused by every worker from the first request that starts after the notification arrives,
    milliseconds after the revocation commits. When that connection cannot be kept (lost, or a
    forked process that has not opened its own yet) the cache trusts nothing. On SQLite (one
    machine, embedded; the CLI revokes from another process) the cache is off. ``seconds``
    (HOCVU_CREDENTIAL_CACHE_SECONDS) bounds an entry's life in any case; 0 turns the cache off."""

    def __init__(self, url: str, seconds: float, *, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = 10_000) -> None:
        self._url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._on = seconds > 0 and self._url.startswith("postgresql://")
        self._seconds, self._clock, self._max = seconds, clock, max_entries
        self._entries: dict[tuple[str, bytes], tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        self._listener: Any = None
        self._pid, self._retry_at = 0, 0.0
        _CACHES.add(self)

    @staticmethod
    def _id(key: str, secret: str) -> tuple[str, bytes]:
        return key, hashlib.sha256(secret.encode()).digest()

    def get(self, key: str, secret: str) -> Principal | None:
        if not self._on or not self._listening():
            return None
        with self._lock:
            found = self._entries.get(self._id(key, secret))
        if found is None or found[0] < self._clock():
            return None
        return found[1]

    def put(self, key: str, secret: str, principal: Principal) -> None:
        if not self._on or not self._listening():
            return
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[self._id(key, secret)] = (self._clock() + self._seconds, principal)

    def forget(self, key: str | None = None) -> None:
        """Forget ``key``'s entries (every entry when None)."""
        with self._lock:
            for found in [k for k in self._entries if key is None or k[0] == key]:
                del self._entries[found]

    def _listening(self) -> bool:
        """True when this process's LISTEN connection is up and its notifications are read (and
        acted on); False, with every entry forgotten, when it is not."""
        with self._lock:
            if self._listener is None and self._clock() < self._retry_at:
                return False
            try:
                if self._listener is None or self._pid != os.getpid():
                    self._listener, self._pid = self._listen(), os.getpid()
                    self._entries.clear()  # nothing learnt before listening is trusted
                conn = self._listener
                ready, _, _ = io_select.select([conn.fileno()], [], [], 0)
                if ready:
                    conn.pgconn.consume_input()
                    while (note := conn.pgconn.notifies()) is not None:
                        revoked = note.extra.decode()
                        for found in [k for k in self._entries if k[0] == revoked]:
                            del self._entries[found]
                if conn.pgconn.status != 0:  # CONNECTION_OK
                    raise OSError("the LISTEN connection is gone")
                return True
            except Exception as err:  # any failure: trust nothing, and try again after a while
                log.warning("credential cache off for now: %s", err)
                self._entries.clear()
                self._listener, self._retry_at = None, self._clock() + 1.0  # no connect storm while away
                return False

    def _listen(self) -> Any:
        import psycopg

        conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
        conn.execute(f"LISTEN {REVOKED_CHANNEL}")
        return conn


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
