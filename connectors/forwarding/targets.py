"""Statement forwarding: each tenant's copy of its statements kept flowing to other LRSs.

This module holds what an operator manages — targets, their filters and sealed secrets, the
status, dead-letter retry and replay — plus the pure rules shared by delivery (the backoff
schedule, which statements a target takes). Delivery itself is ``connectors.forwarding.delivery``;
the ordering guarantee against out-of-order commits is ``connectors.forwarding.horizon``; the
tincan adapter is ``connectors.forwarding.client``; Celery tasks are ``connectors.forwarding.tasks``.

Flask-free; callers pass a session and commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, true, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, aliased

from connectors.forwarding.config import (
    ForwardConfig,
    ForwardError,
    InvalidTarget,
    SecretUnreadable,
    TargetNotFound,
    backoff_delay,
    now_utc,
    seal,
    unseal,
)
from connectors.forwarding.horizon import advance_horizon
from connectors.storage import ForwardHorizon, ForwardItem, ForwardTarget
from lrs.storage import Statement, Tenant, as_utc

# The configuration and the errors are config's; named here too, as operators' code reads them here.
__all__ = ["XAPI_VERSIONS", "ForwardConfig", "ForwardError", "InvalidTarget", "SecretUnreadable", "TargetNotFound",
           "TargetSpec", "add_target", "backlog", "backoff_delay", "dead_letters", "describe", "filter_condition",
           "get_target", "list_targets", "now_utc", "remove_target", "replay", "retry_dead", "seal",
           "set_enabled", "status", "unseal"]
XAPI_VERSIONS = ("1.0.3", "2.0.0")
NAME_MAX = 64


# --- which statements a target takes -----------------------------------------------------------


def _prefix(column: Any, prefix: str) -> ColumnElement[bool]:
    # substr rather than LIKE: IRIs hold '_' and '%', and SQLite's LIKE ignores case.
    return func.substr(column, 1, len(prefix)) == prefix


def _own_match(s: Any, verb_prefix: str | None, activity_prefix: str | None) -> ColumnElement[bool]:
    conds = []
    if verb_prefix:
        conds.append(_prefix(s.verb_id, verb_prefix))
    if activity_prefix:
        conds.append(_prefix(s.object_activity_id, activity_prefix))
    return and_(*conds) if conds else true()


def items_of(target: ForwardTarget) -> ColumnElement[bool]:
    """The target's rows of ``forward_items``, by the leading columns of their primary key
    (tenant_id, target_id, seq), so a look-up by seq walks it (migration 0213)."""
    return and_(ForwardItem.tenant_id == target.tenant_id, ForwardItem.target_id == target.id)


def filter_condition(target: ForwardTarget) -> ColumnElement[bool]:
    """The target's filters as SQL over ``Statement``. The activity filter looks at the object
    Activity. A voiding statement goes wherever the statement it voids went (its verb is
    "voided" and its object a StatementRef, so it would never match by itself), so that a
    target never keeps a statement the source has voided (xAPI 1.0.3 Part Two §2.3.2)."""
    if not target.verb_prefix and not target.activity_prefix:
        return true()
    s, t = Statement, aliased(Statement)
    voids_a_match = exists(select(t.seq).where(t.tenant_id == s.tenant_id, t.statement_id == s.object_statement_id,
                                               _own_match(t, target.verb_prefix, target.activity_prefix)))
    return or_(_own_match(s, target.verb_prefix, target.activity_prefix),
               and_(s.is_voiding.is_(True), voids_a_match))


# --- targets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetSpec:
    name: str
    endpoint: str
    key: str
    secret: str
    xapi_version: str = "1.0.3"
    verb_prefix: str | None = None
    activity_prefix: str | None = None
    batch_size: int = 100
    enabled: bool = True
    from_now: bool = False  # start after what is stored now instead of the tenant's whole history


def _check(spec: TargetSpec) -> None:
    if not spec.name or len(spec.name) > NAME_MAX or any(c.isspace() for c in spec.name):
        raise InvalidTarget(f"a target name is 1-{NAME_MAX} characters without spaces")
    parts = urlsplit(spec.endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidTarget(f"endpoint {spec.endpoint!r} is not an http(s) URL (e.g. https://lrs.example.vn/xapi/)")
    if parts.username or parts.password:
        # Credentials in the URL would be shown by `list` and written to logs.
        raise InvalidTarget("put the target's credentials in --key/--secret, not in the endpoint URL")
    if parts.query or parts.fragment:
        raise InvalidTarget("the endpoint must not carry a query or fragment")
    if spec.xapi_version not in XAPI_VERSIONS:
        raise InvalidTarget(f"xAPI version must be one of {', '.join(XAPI_VERSIONS)}")
    if not spec.key or not spec.secret:
        raise InvalidTarget("a target needs the key and secret of a credential with statements/write")
    if not 1 <= spec.batch_size <= 1000:
        raise InvalidTarget("batch size must be between 1 and 1000")


def add_target(session: Session, config: ForwardConfig, tenant: Tenant, spec: TargetSpec,
               *, now: datetime | None = None) -> ForwardTarget:
    _check(spec)
    if session.scalar(select(ForwardTarget.id).where(ForwardTarget.tenant_id == tenant.id,
                                                     ForwardTarget.name == spec.name)):
        raise InvalidTarget(f"tenant {tenant.slug!r} already has a target named {spec.name!r}")
    cursor = 0
    if spec.from_now:

        cursor = advance_horizon(session, config, now or now_utc())
    endpoint = spec.endpoint if spec.endpoint.endswith("/") else spec.endpoint + "/"
    target = ForwardTarget(
        tenant_id=tenant.id, name=spec.name, endpoint=endpoint, auth_key=spec.key,
        secret_sealed=seal(config, spec.secret), xapi_version=spec.xapi_version,
        verb_prefix=spec.verb_prefix or None, activity_prefix=spec.activity_prefix or None,
        enabled=spec.enabled, batch_size=spec.batch_size, cursor_seq=cursor, delivered=0, failures=0,
        created=now or now_utc())
    session.add(target)
    session.flush()
    return target


def get_target(session: Session, tenant: Tenant, name: str) -> ForwardTarget:
    target = session.scalar(select(ForwardTarget).where(ForwardTarget.tenant_id == tenant.id,
                                                        ForwardTarget.name == name))
    if target is None:
        raise TargetNotFound(f"tenant {tenant.slug!r} has no forwarding target {name!r}")
    return target


def list_targets(session: Session, tenant: Tenant | None = None) -> list[ForwardTarget]:
    q = select(ForwardTarget).order_by(ForwardTarget.tenant_id, ForwardTarget.name)
    if tenant is not None:
        q = q.where(ForwardTarget.tenant_id == tenant.id)
    return list(session.scalars(q))


def remove_target(session: Session, target: ForwardTarget) -> None:
    session.execute(delete(ForwardItem).where(items_of(target)))
    session.delete(target)
    session.flush()


def set_enabled(session: Session, target: ForwardTarget, enabled: bool) -> None:
    target.enabled = enabled
    if enabled:
        target.next_attempt = None


def describe(target: ForwardTarget) -> dict[str, Any]:
    """A target as shown to operators: never the secret."""
    return {"id": target.id, "name": target.name, "endpoint": target.endpoint, "key": target.auth_key,
            "xapi_version": target.xapi_version, "verb_prefix": target.verb_prefix,
            "activity_prefix": target.activity_prefix, "enabled": target.enabled, "batch_size": target.batch_size}


# --- status, retry, replay ---------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def backlog(session: Session, target: ForwardTarget) -> int:
    """Statements the target has still to receive: the stream past its cursor, plus queued items."""
    stream = session.scalar(select(func.count()).select_from(Statement).where(
        Statement.tenant_id == target.tenant_id, Statement.seq > target.cursor_seq, filter_condition(target))) or 0
    queued = session.scalar(select(func.count()).select_from(ForwardItem).where(
        items_of(target), ForwardItem.state == "queued")) or 0
    return int(stream) + int(queued)


def status(session: Session, tenant: Tenant | None = None) -> list[dict[str, Any]]:
    safe = session.scalar(select(ForwardHorizon.safe_seq).where(ForwardHorizon.id == 1)) or 0
    out = []
    for target in list_targets(session, tenant):
        dead = session.scalar(select(func.count()).select_from(ForwardItem).where(
            items_of(target), ForwardItem.state == "dead")) or 0
        slug = session.scalar(select(Tenant.slug).where(Tenant.id == target.tenant_id))
        out.append({**describe(target), "tenant": slug, "cursor": target.cursor_seq, "safe_seq": safe,
                    "backlog": backlog(session, target), "delivered": target.delivered,
                    "failures": target.failures, "last_error": target.last_error,
                    "last_error_at": _iso(target.last_error_at), "last_success": _iso(target.last_success),
                    "next_attempt": _iso(target.next_attempt), "dead_letters": int(dead)})
    return out


def dead_letters(session: Session, target: ForwardTarget) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ForwardItem, Statement.statement_id)
        .join(Statement, and_(Statement.tenant_id == ForwardItem.tenant_id, Statement.seq == ForwardItem.seq))
        .where(items_of(target), ForwardItem.state == "dead").order_by(ForwardItem.seq))
    return [{"seq": item.seq, "statement_id": sid, "attempts": item.attempts, "reason": item.reason,
             "updated": _iso(item.updated)} for item, sid in rows]


def retry_dead(session: Session, target: ForwardTarget, statement_id: str | None = None,
               *, now: datetime | None = None) -> int:
    """Put dead letters back in the queue with a fresh count of attempts; returns how many."""
    conds = [items_of(target), ForwardItem.state == "dead"]
    if statement_id is not None:
        conds.append(ForwardItem.seq.in_(select(Statement.seq).where(
            Statement.tenant_id == target.tenant_id, Statement.statement_id == statement_id.lower())))
    count = cast("CursorResult[Any]", session.execute(update(ForwardItem).where(*conds).values(
        state="queued", attempts=0, next_attempt=now or now_utc(), updated=now or now_utc()))).rowcount
    target.next_attempt = None
    session.flush()
    return int(count or 0)


def replay(session: Session, target: ForwardTarget, since: datetime) -> int:
    """Rewind the cursor so every statement stored at or after ``since`` is sent again. The
    target drops what it already holds (same id, same content: xAPI 1.0.3 Part Three §2.1.2), so
    a replay is safe to repeat; it never moves the cursor forward. Returns the new cursor."""
    first = session.scalar(select(func.min(Statement.seq)).where(
        Statement.tenant_id == target.tenant_id, Statement.stored >= since))
    if first is not None and first - 1 < target.cursor_seq:
        target.cursor_seq = first - 1
    target.next_attempt = None
    session.flush()
    return target.cursor_seq
