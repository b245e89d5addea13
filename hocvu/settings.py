"""Settings from ``HOCVU_*`` environment variables, with safe defaults for the embedded mode."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from identity.settings import instance_secret

INSTANCE_DIR = Path(os.environ.get("HOCVU_INSTANCE_DIR", "instance"))


def _instance_secret(name: str) -> str:
    """A random secret kept in the instance folder, so the embedded mode needs no set-up
    and restarts keep signed cursors and sessions valid. Production sets it in the environment."""
    return instance_secret(INSTANCE_DIR, name)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _env_range(name: str, default: int, low: int, high: int) -> int:
    """An integer setting that must lie in [low, high]: a value outside is a start-up error that
    names the variable, not a limit silently ignored."""
    value = _env_int(name, default)
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high}, not {value}")
    return value


def _env_float(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name)
    value = float(raw) if raw else default
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low:g} to {high:g}, not {value:g}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: f"sqlite:///{(INSTANCE_DIR / 'hocvu.db').resolve()}")
    secret_key: str = ""
    redis_url: str | None = None
    broker_url: str | None = None
    # Largest request body the xAPI endpoint reads (attachments included).
    max_body_bytes: int = 64 * 1024 * 1024
    # Largest single statement kept, in bytes of compact JSON (413 beyond, xAPI 1.0.3 Part Three
    # §3.2.s3.b11). Unit: bytes; default 1 MiB; range 64 KiB to max_body_bytes.
    max_statement_bytes: int = 1024 * 1024
    # Page size when a client asks for limit=0 or more than this (xAPI 1.0.3 Part Three §2.1.3:
    # "the LRS may apply a server-side limit").
    max_page_size: int = 500
    public_url: str = "http://127.0.0.1:8000"
    # Seconds between rounds of AGS score retries in the web process (0: off, e.g. when a cron
    # job or Celery beat runs `hocvu lti retry-scores` instead). On by default from the environment.
    score_retry_seconds: float = 0
    # Statement forwarding (connectors.forwarding.tasks): seconds between delivery kicks in the web process,
    # besides the nudge each stored statement gives (0: off; eager in-process delivery unless
    # HOCVU_BROKER_URL names a broker, then kicks are published for `hocvu forward worker`).
    forward_seconds: float = 0
    # Audit chain checkpoints (lrs.audit.chain): signed every N entries of a tenant's chain, or once
    # T minutes have passed since the last one (checked on append and by `hocvu audit checkpoint`).
    audit_checkpoint_every: int = 1000
    audit_checkpoint_minutes: float = 60.0
    # `hocvu audit verify` holds each chain to that cadence (lrs.audit.cadence): the entries after
    # the latest checkpoint may number every + this many (entries; default 1000, range 0 to 10^9) and
    # the oldest of them be minutes + this many minutes old (minutes; default 60, range 0 to 10080).
    audit_verify_grace_entries: int = 1000
    audit_verify_grace_minutes: float = 60.0
    # The database as a dependency (hocvu.availability): seconds to wait for a PostgreSQL connection
    # (libpq connect_timeout; default 5, range 2-60), for one PostgreSQL statement or lock wait (0:
    # no limit, the default; range 0-3600), and the Retry-After of the 503 answered meanwhile
    # (seconds; default 5, range 1-3600).
    db_connect_timeout: int = 5
    db_statement_timeout: float = 0.0
    unavailable_retry_after: int = 5
    # BENCHMARK ONLY (bench/chain.py measures the chain's cost on ingest): stores statements with no
    # audit chain entry. A store written this way fails `hocvu audit verify`; never set it otherwise.
    bench_no_audit_chain: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        defaults = cls()
        max_body = _env_int("HOCVU_MAX_BODY_BYTES", defaults.max_body_bytes)
        return cls(
            database_url=env.get("HOCVU_DATABASE_URL", defaults.database_url),
            secret_key=env.get("HOCVU_SECRET_KEY") or _instance_secret("secret_key"),
            redis_url=env.get("HOCVU_REDIS_URL") or None,
            broker_url=env.get("HOCVU_BROKER_URL") or None,
            max_body_bytes=max_body,
            max_page_size=_env_int("HOCVU_MAX_PAGE_SIZE", defaults.max_page_size),
            max_statement_bytes=_env_range("HOCVU_MAX_STATEMENT_BYTES", min(defaults.max_statement_bytes, max_body),
                                           64 * 1024, max(max_body, 64 * 1024)),
            public_url=env.get("HOCVU_PUBLIC_URL", defaults.public_url),
            score_retry_seconds=float(env.get("HOCVU_SCORE_RETRY_SECONDS", "60")),
            forward_seconds=float(env.get("HOCVU_FORWARD_SECONDS") or 30),
            audit_checkpoint_every=_env_int("HOCVU_AUDIT_CHECKPOINT_EVERY", defaults.audit_checkpoint_every),
            audit_checkpoint_minutes=float(env.get("HOCVU_AUDIT_CHECKPOINT_MINUTES")
                                           or defaults.audit_checkpoint_minutes),
            audit_verify_grace_entries=_env_range("HOCVU_AUDIT_VERIFY_GRACE_ENTRIES",
                                                  defaults.audit_verify_grace_entries, 0, 10**9),
            audit_verify_grace_minutes=_env_float("HOCVU_AUDIT_VERIFY_GRACE_MINUTES",
                                                  defaults.audit_verify_grace_minutes, 0, 10080),
            bench_no_audit_chain=env.get("HOCVU_BENCH_NO_AUDIT_CHAIN", "") == "1",
            db_connect_timeout=_env_range("HOCVU_DB_CONNECT_TIMEOUT", defaults.db_connect_timeout, 2, 60),
            db_statement_timeout=_env_float("HOCVU_DB_STATEMENT_TIMEOUT", defaults.db_statement_timeout, 0, 3600),
            unavailable_retry_after=_env_range("HOCVU_UNAVAILABLE_RETRY_AFTER", defaults.unavailable_retry_after,
                                               1, 3600),
        )
