"""The platforms' public keys (1EdTech Security Framework 1.0 §6.3 "Key Set URL"), cached per
keyset URL so a launch does not wait for the LMS's JWKS each time.

How long a key set is kept: what the platform says in ``Cache-Control: max-age`` (RFC 9111
§5.2.2.1) or ``Expires`` (§5.3), held within [min_age, max_age]; without either header,
``DEFAULT_AGE``. An id_token signed with a kid the cached set lacks forces one refetch (the LMS
rotated its key, Security Framework §6.3), but at most once per ``refetch_interval`` per URL: a
stream of forged kids cannot make the hub hammer the platform, while the first launch after a real
rotation is never the one refused.
A platform that cannot be reached while a stale set is at hand is answered from that set.

The cache is per process: it holds public data only and a miss costs one fetch, so it needs no
shared store (DESIGN.md, Scale asks that no *state* a later request needs lives in one worker).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from lti_tool.errors import PlatformUnavailable

log = logging.getLogger(__name__)
DEFAULT_AGE = 3600.0   # seconds, when the platform sends no caching headers at all


@dataclass
class _Entry:
    jwks: dict[str, Any]
    kids: frozenset[str]
    fetched: float        # monotonic time of the last fetch
    expires: float        # monotonic time after which the set is fetched again
    forced: float = float("-inf")   # monotonic time of the last refetch for an unknown kid
    etag: str | None = None
    last_modified: str | None = None


def _max_age(headers: Any) -> float | None:
    """Seconds the response may be reused for, from Cache-Control or Expires; None if unsaid."""
    directives = {}
    for part in str(headers.get("Cache-Control") or "").split(","):
        name, _, value = part.strip().partition("=")
        directives[name.lower()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for name in ("s-maxage", "max-age"):
        if directives.get(name, "").isdigit():
            return float(directives[name])
    expires = headers.get("Expires")
    if expires:
        try:
            end = parsedate_to_datetime(expires).timestamp()
        except (TypeError, ValueError):
            return 0.0   # RFC 9111 §5.3: an invalid Expires means "already expired"
        try:   # relative to the platform's own clock when it says the time (§4.2.1)
            base = parsedate_to_datetime(headers.get("Date")).timestamp()
        except (TypeError, ValueError):
            base = time.time()
        return max(0.0, end - base)
    return None


@dataclass
class PlatformKeys:
    """Key sets by keyset URL; thread-safe (gunicorn's gthread workers share one instance)."""

    http: requests.Session
    min_age: float = 300.0
    max_age: float = 86400.0
    refetch_interval: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not 0 <= self.min_age <= self.max_age:
            raise ValueError("the JWKS cache needs 0 <= min_age <= max_age")

    def key_set(self, url: str, kid: str | None) -> dict[str, Any]:
        """The platform's JWKS, fetched again when stale, or once when ``kid`` is not in it."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(url)
        forced = False
        if entry is not None and now < entry.expires:
            if kid is None or kid in entry.kids or now - entry.forced < self.refetch_interval:
                return entry.jwks
            log.info("platform key %s not in the cached key set of %s: fetching it again", kid, url)
            forced = True
        fresh = self._refresh(url, entry, now)
        if forced:
            with self._lock:
                current = self._entries.get(url)
                if current is not None:
                    current.forced = now
        return fresh.jwks

    def forget(self, url: str) -> None:
        with self._lock:
            self._entries.pop(url, None)

    def _refresh(self, url: str, entry: _Entry | None, now: float) -> _Entry:
        headers = {"Accept": "application/json"}
        if entry is not None and entry.etag:
            headers["If-None-Match"] = entry.etag
        elif entry is not None and entry.last_modified:
            headers["If-Modified-Since"] = entry.last_modified
        try:
            response = self.http.get(url, headers=headers)
            if response.status_code == 304 and entry is not None:
                return self._store(url, entry.jwks, response, now, entry)
            if not response.ok:
                raise PlatformUnavailable(f"the platform's key set answered HTTP {response.status_code}",
                                          http_status=response.status_code)
            jwks = response.json()
            if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
                raise PlatformUnavailable("the platform's key set is not a JWKS (no keys list)")
        except (requests.RequestException, ValueError, PlatformUnavailable) as exc:
            if entry is not None:
                # stale-if-error: the keys we had are still the best evidence available.
                log.warning("platform key set %s could not be refreshed (%s); using the cached one", url,
                            type(exc).__name__)
                return entry
            if isinstance(exc, PlatformUnavailable):
                raise
            raise PlatformUnavailable(f"the platform's key set could not be fetched: {type(exc).__name__}") from exc
        return self._store(url, jwks, response, now, entry)

    def _store(self, url: str, jwks: dict[str, Any], response: requests.Response, now: float,
               previous: _Entry | None) -> _Entry:
        said = _max_age(response.headers)
        age = min(max(DEFAULT_AGE if said is None else said, self.min_age), self.max_age)
        # The same representation, revalidated: its validators stay.
        kept = previous if previous is not None and response.status_code == 304 else None
        kids = frozenset(str(k.get("kid")) for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kid"))
        fresh = _Entry(jwks=jwks, kids=kids, fetched=now, expires=now + age,
                       forced=previous.forced if previous else float("-inf"),
                       etag=response.headers.get("ETag") or (kept.etag if kept else None),
                       last_modified=response.headers.get("Last-Modified") or (kept.last_modified if kept else None))
        with self._lock:
            self._entries[url] = fresh
        return fresh
