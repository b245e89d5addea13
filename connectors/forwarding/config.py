"""Forwarding's configuration (the sealing key, timings, limits), its errors, and the pure rules every
part of it shares: sealing target secrets, the backoff schedule, the clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class ForwardError(Exception):
    """An operator's request that cannot be done; carries a code and a status like the wire errors."""

    status = 400
    code = "forward_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidTarget(ForwardError):
    code = "invalid_target"


class TargetNotFound(ForwardError):
    status = 404
    code = "target_not_found"


class SecretUnreadable(ForwardError):
    status = 500
    code = "secret_unreadable"


@dataclass(frozen=True)
class ForwardConfig:
    """How delivery behaves. ``seal_key`` comes from the app secret (``from_secret``)."""

    seal_key: bytes
    # forward_horizon: how long a missing seq below a visible one holds delivery back, and how
    # long it is watched for a late commit after that.
    gap_timeout: float = 10.0
    gap_memory: float = 24 * 3600.0
    # Backoff per target (consecutive failed rounds) and per rejected statement.
    backoff_base: float = 1.0
    backoff_cap: float = 600.0
    # A statement the target rejects this many times becomes a dead letter.
    max_attempts: int = 5
    http_timeout: float = 30.0
    # One round of one target stops starting requests after this long (then the next round goes on).
    round_seconds: float = 60.0
    lease_seconds: float = 300.0
    horizon_chunk: int = 100_000
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @classmethod
    def from_secret(cls, app_secret: str, **overrides: Any) -> ForwardConfig:
        # A key of its own, derived from the app secret, so target secrets are unreadable in a
        # database dump and rotating other derived keys does not touch them.
        digest = hmac.new(app_secret.encode(), b"hocvu/forward-target-secret", hashlib.sha256).digest()
        return cls(seal_key=base64.urlsafe_b64encode(digest), **overrides)


def seal(config: ForwardConfig, secret: str) -> str:
    return Fernet(config.seal_key).encrypt(secret.encode()).decode()


def unseal(config: ForwardConfig, sealed: str) -> str:
    try:
        return Fernet(config.seal_key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("the target's secret cannot be decrypted (was HOCVU_SECRET_KEY changed?); "
                               "remove and add the target again") from None


def backoff_delay(failures: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``failures`` consecutive failures: exponential, capped, with "equal
    jitter" — half the step is fixed, half random — so targets that failed together spread out
    while the wait still grows: failure n waits between d/2 and d, d = min(cap, base * 2**(n-1))."""
    if failures <= 0:
        return 0.0
    step: float = min(cap, base * 2 ** min(failures - 1, 62))   # int ** int is Any to mypy (a float if negative)
    return step / 2 + (rng or random).uniform(0, step / 2)


def now_utc() -> datetime:
    return datetime.now(UTC)
