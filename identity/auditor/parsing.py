"""Small parsers the auditor's HTTP layer and CLI share: date bounds and page cursors (errors are the
LRS's BadRequest, so they answer 400 with the xAPI error shape)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import schemas
from lrs.errors import BadRequest


def parse_bound(text: str, name: str, *, upper: bool = False) -> datetime:
    """An ISO 8601 date (midnight UTC; as an upper bound, the whole day) or date-time (UTC when it
    names no offset)."""
    text = text.strip()
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            return moment + timedelta(days=1) if upper else moment
        return schemas.parse_timestamp(text).astimezone(UTC)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date or date-time, not {text!r}") from None


def encode_cursor(cursor: tuple[int, int] | None) -> str:
    return f"{cursor[0]}.{cursor[1]}" if cursor else ""


def decode_cursor(text: str) -> tuple[int, int]:
    tenant, sep, seq = text.partition(".")
    if not (sep and tenant.isdigit() and seq.isdigit()):
        raise BadRequest(f"the page cursor looks like '3.1042', not {text!r}")
    return int(tenant), int(seq)
