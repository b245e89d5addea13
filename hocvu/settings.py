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


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: f"sqlite:///{(INSTANCE_DIR / 'hocvu.db').resolve()}")
    secret_key: str = ""
    redis_url: str | None = None
    broker_url: str | None = None
    # Largest request body the xAPI endpoint reads (attachments included).
    max_body_bytes: int = 64 * 1024 * 1024
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
    # BENCHMARK ONLY (bench/chain.py measures the chain's cost on ingest): stores statements with no
    # audit chain entry. A store written this way fails `hocvu audit verify`; never set it otherwise.
    bench_no_audit_chain: bool = False
    # The tenant whose store keeps the records of citizens who learn from the front door with VNeID
    # alone (player.citizen): a tenant slug (2-63 of a-z, 0-9, '-'); default "quoc-gia". `hocvu db
    # upgrade` and `hocvu demo seed` make sure it exists, and the front door makes it on first use.
    national_tenant: str = "quoc-gia"
    # Its display name (1-255 characters), used only when the tenant is created.
    national_tenant_name: str = "Bình dân học vụ số — người học trực tiếp (quốc gia)"

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        defaults = cls()
        return cls(
            database_url=env.get("HOCVU_DATABASE_URL", defaults.database_url),
            secret_key=env.get("HOCVU_SECRET_KEY") or _instance_secret("secret_key"),
            redis_url=env.get("HOCVU_REDIS_URL") or None,
            broker_url=env.get("HOCVU_BROKER_URL") or None,
            max_body_bytes=_env_int("HOCVU_MAX_BODY_BYTES", defaults.max_body_bytes),
            max_page_size=_env_int("HOCVU_MAX_PAGE_SIZE", defaults.max_page_size),
            public_url=env.get("HOCVU_PUBLIC_URL", defaults.public_url),
            score_retry_seconds=float(env.get("HOCVU_SCORE_RETRY_SECONDS", "60")),
            forward_seconds=float(env.get("HOCVU_FORWARD_SECONDS") or 30),
            audit_checkpoint_every=_env_int("HOCVU_AUDIT_CHECKPOINT_EVERY", defaults.audit_checkpoint_every),
            audit_checkpoint_minutes=float(env.get("HOCVU_AUDIT_CHECKPOINT_MINUTES")
                                           or defaults.audit_checkpoint_minutes),
            bench_no_audit_chain=env.get("HOCVU_BENCH_NO_AUDIT_CHAIN", "") == "1",
            national_tenant=env.get("HOCVU_NATIONAL_TENANT") or defaults.national_tenant,
            national_tenant_name=env.get("HOCVU_NATIONAL_TENANT_NAME") or defaults.national_tenant_name,
        )
