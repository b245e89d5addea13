"""Where OIDC nonces, cached launches and access tokens live between requests: shared by every web
process of a deployment (DESIGN.md, Scale: a later request may reach any worker on any machine).

- ``DbCache`` (the default): rows of ``lti_launch_state`` in the hub's own database, each with
  an expiry; a read or a take is one primary-key lookup, expired rows are swept now and then.
- ``RedisCache`` when ``HOCVU_REDIS_URL`` is set.
- ``MemoryCache``: one process only; for a single-process test server, never for gunicorn.

pylti1p3 reads and writes through ``CacheDataStorage``; what it lacks is an atomic take-once,
which replay protection needs (Security Framework 1.0 §5.1.3 step 9: the tool SHOULD check it
has not yet received the nonce). ``take`` deletes a key and says whether it was there, in one
step on each backend, so of two requests carrying the same id_token exactly one wins.

A store that cannot be reached is the hub's problem, not the learner's: it raises
``LaunchStateUnavailable`` (503), never a "replayed launch" refusal.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

from pylti1p3.contrib.flask.launch_data_storage.cache import FlaskCacheDataStorage
from sqlalchemy import delete, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from lrs.storage import Database, dialect_insert
from lti_tool.errors import LaunchStateUnavailable
from lti_tool.storage import LtiLaunchState

log = logging.getLogger(__name__)
T = TypeVar("T")
# One set in this many sweeps expired rows: cheap (an indexed range delete) and often enough that
# the table stays about as large as the launches of the last NONCE_LIFETIME.
SWEEP_EVERY = 200
NO_EXPIRY = 30 * 86400   # a value set without expiry still goes, after 30 days


class LaunchCache(Protocol):
    def get(self, key: str) -> Any: ...
    def set(self, key: str, value: Any, exp: int | None = None) -> None: ...
    def take(self, key: str, session: Any = None) -> bool: ...
    def delete(self, key: str) -> None: ...


class DbCache:
    """Launch state in the hub's database: every worker and machine sees the same rows."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._db, self._clock = db, clock
        self._sets = itertools.count(1)

    @staticmethod
    def _key(key: str) -> str:
        # Fixed-length primary key: pylti1p3's keys carry session ids and nonces of any length.
        return hashlib.sha256(key.encode()).hexdigest()

    @contextmanager
    def _session(self, what: str) -> Iterator[Session]:
        try:
            with self._db.session() as session:
                yield session
        except (SQLAlchemyError, OSError) as exc:
            log.error("LTI launch store unavailable (%s): %s", what, type(exc).__name__)
            raise LaunchStateUnavailable("the hub could not reach its launch store; "
                                         "please try again in a moment") from exc

    def get(self, key: str) -> Any:
        with self._session("read") as session:
            return session.scalar(select(LtiLaunchState.value).where(
                LtiLaunchState.key == self._key(key), LtiLaunchState.expires > self._clock()))

    def set(self, key: str, value: Any, exp: int | None = None) -> None:
        now = self._clock()
        expires = now + timedelta(seconds=exp or NO_EXPIRY)
        with self._session("write") as session:
            insert = dialect_insert(session)(LtiLaunchState).values(key=self._key(key), value=value, expires=expires)
            session.execute(insert.on_conflict_do_update(index_elements=["key"],
                                                         set_={"value": value, "expires": expires}))
            if next(self._sets) % SWEEP_EVERY == 0:
                session.execute(delete(LtiLaunchState).where(LtiLaunchState.expires <= now))
            session.commit()

    def take(self, key: str, session: Any = None) -> bool:
        """``session``: the request's own, when it may commit now (a launch: it has read only),
        which saves a second connection and round trip on the launch's path."""
        if session is not None:
            try:
                return self._take(session, key)
            except (SQLAlchemyError, OSError) as exc:
                session.rollback()
                log.error("LTI launch store unavailable (take): %s", type(exc).__name__)
                raise LaunchStateUnavailable("the hub could not reach its launch store; "
                                             "please try again in a moment") from exc
        with self._session("take") as own:
            return self._take(own, key)

    def _take(self, session: Session, key: str) -> bool:
        result = cast("CursorResult[Any]", session.execute(delete(LtiLaunchState).where(
            LtiLaunchState.key == self._key(key), LtiLaunchState.expires > self._clock())))
        session.commit()
        return bool(result.rowcount)

    def delete(self, key: str) -> None:
        with self._session("delete") as session:
            session.execute(delete(LtiLaunchState).where(LtiLaunchState.key == self._key(key)))
            session.commit()

    def sweep(self) -> int:
        """Deletes expired rows now; returns how many."""
        with self._session("sweep") as session:
            result = cast("CursorResult[Any]",
                          session.execute(delete(LtiLaunchState).where(LtiLaunchState.expires <= self._clock())))
            session.commit()
            return int(result.rowcount)


class MemoryCache:
    """A dict with expiry for ONE process: a single-process test server. Under gunicorn each worker
    would have its own, and a launch reaching another worker than its login would be refused."""

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

    def take(self, key: str, session: Any = None) -> bool:
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
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError,)

    def _call(self, what: str, step: Callable[[], T]) -> T:
        try:
            return step()
        except self._errors as exc:
            log.error("LTI launch store (Redis) unavailable (%s): %s", what, type(exc).__name__)
            raise LaunchStateUnavailable("the hub could not reach its launch store; "
                                         "please try again in a moment") from exc

    def get(self, key: str) -> Any:
        raw = self._call("read", lambda: self._redis.get(self._prefix + key))
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, exp: int | None = None) -> None:
        self._call("write", lambda: self._redis.set(self._prefix + key, json.dumps(value), ex=exp or None))

    def take(self, key: str, session: Any = None) -> bool:
        # DEL is atomic and answers how many keys it removed: exactly one caller wins.
        return bool(self._call("take", lambda: self._redis.delete(self._prefix + key)))

    def delete(self, key: str) -> None:
        self._call("delete", lambda: self._redis.delete(self._prefix + key))

    def ping(self) -> bool:
        return bool(self._redis.ping())


def make_cache(redis_url: str | None, db: Database) -> LaunchCache:
    """Redis when configured, else the database every process already shares."""
    return RedisCache(redis_url) if redis_url else DbCache(db)


class HubLaunchDataStorage(FlaskCacheDataStorage):
    """pylti1p3's cache-backed launch storage plus take-once and delete, under its own key scheme
    (so a nonce taken here is the very key pylti1p3 saved at login)."""

    def __init__(self, cache: LaunchCache) -> None:
        # pylti1p3's Flask adapter has no annotations, and pyproject's untyped_calls_exclude cannot
        # match a super() call (mypy gives it no qualified name to match against).
        super().__init__(cache)  # type: ignore[no-untyped-call]
        self._launch_cache = cache  # the same cache, typed (pylti1p3's _get_cache() is not)
        self.session: Any = None   # the request's database session, when a take may commit through it

    def take(self, key: str) -> bool:
        return bool(self._launch_cache.take(self._prepare_key(key), session=self.session))

    def delete(self, key: str) -> None:
        self._launch_cache.delete(self._prepare_key(key))
