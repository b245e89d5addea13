"""Where OIDC nonces, launch state, cached launches and access tokens live between requests:
in process memory by default, in Redis when ``HOCVU_REDIS_URL`` is set (DESIGN.md, Scale: web
processes are stateless, so several processes need a shared store).

pylti1p3 reads and writes through ``CacheDataStorage``; what it lacks is an atomic take-once,
which replay protection needs (Security Framework 1.0 §5.1.3 step 9: the tool SHOULD check it
has not yet received the nonce). ``LaunchCache.take`` deletes a key and says whether it was there,
in one step on either backend.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Protocol

from pylti1p3.contrib.flask import FlaskCacheDataStorage


class LaunchCache(Protocol):
    def get(self, key: str) -> Any: ...
    def set(self, key: str, value: Any, exp: int | None = None) -> None: ...
    def take(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...


class MemoryCache:
    """A dict with expiry for one process (the embedded mode and tests)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._data: dict[str, tuple[float | None, Any]] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def _sweep(self, now: float) -> None:
        for key in [k for k, (exp, _) in self._data.items() if exp is not None and exp <= now]:
            del self._data[key]
        while len(self._data) >= self._max:  # still full: drop the oldest entries first
            del self._data[next(iter(self._data))]

    def get(self, key: str) -> Any:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            exp, value = item
            if exp is not None and exp <= time.monotonic():
                del self._data[key]
                return None
            return value

    def set(self, key: str, value: Any, exp: int | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._data) >= self._max:
                self._sweep(now)
            self._data[key] = (now + exp if exp else None, value)

    def take(self, key: str) -> bool:
        with self._lock:
            item = self._data.pop(key, None)
        return item is not None and (item[0] is None or item[0] > time.monotonic())

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def live_keys(self) -> list[str]:
        """For tests and diagnostics: the live keys."""
        now = time.monotonic()
        with self._lock:
            return [k for k, (exp, _) in self._data.items() if exp is None or exp > now]


class RedisCache:
    """The same over Redis; values are JSON (pylti1p3 stores booleans, strings and claim dicts)."""

    def __init__(self, url: str, prefix: str = "hocvu:lti:") -> None:
        import redis  # optional dependency: only needed when HOCVU_REDIS_URL is set

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = prefix

    def get(self, key: str) -> Any:
        raw = self._redis.get(self._prefix + key)
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, exp: int | None = None) -> None:
        self._redis.set(self._prefix + key, json.dumps(value), ex=exp or None)

    def take(self, key: str) -> bool:
        # DEL is atomic and answers how many keys it removed: exactly one caller wins.
        return bool(self._redis.delete(self._prefix + key))

    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def ping(self) -> bool:
        return bool(self._redis.ping())


def make_cache(redis_url: str | None) -> LaunchCache:
    return RedisCache(redis_url) if redis_url else MemoryCache()


class HubLaunchDataStorage(FlaskCacheDataStorage):
    """pylti1p3's cache-backed launch storage plus take-once and delete, under its own key scheme
    (so a nonce taken here is the very key pylti1p3 saved at login)."""

    def __init__(self, cache: LaunchCache) -> None:
        super().__init__(cache)

    def take(self, key: str) -> bool:
        return self._get_cache().take(self._prepare_key(key))

    def delete(self, key: str) -> None:
        self._get_cache().delete(self._prepare_key(key))
