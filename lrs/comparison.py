"""Statement comparison: when is a re-sent statement "the same" as the stored one?

xAPI 1.0.3 Part Two §2.3.1 "Statement Comparison Requirements" / IEEE 9274.1.1 §4.2.x: ignore
properties the LRS assigns or may change (authority, stored, version), differences that Statement
formats and immutability allow (case of UUIDs, precision/offset of timestamps), and key order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

LRS_ASSIGNED = ("authority", "stored", "version")


def _instant(value: str) -> Any:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return value


def comparable(statement: dict[str, Any], *, drop: tuple[str, ...] = LRS_ASSIGNED) -> dict[str, Any]:
    out = {k: v for k, v in statement.items() if k not in drop}
    if isinstance(out.get("id"), str):
        out["id"] = out["id"].lower()
    if isinstance(out.get("timestamp"), str):
        out["timestamp"] = _instant(out["timestamp"])
    obj = out.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "StatementRef" and isinstance(obj.get("id"), str):
        out["object"] = {**obj, "id": obj["id"].lower()}
    return out


def equivalent(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when ``a`` and ``b`` differ only in what the comparison rules ignore.
    Statements without an id on one side (signed payloads) compare without it."""
    drop = LRS_ASSIGNED
    for optional in ("id", "timestamp"):  # the LRS fills these in when the sender left them out
        if optional not in a or optional not in b:
            drop = (*drop, optional)
    return comparable(a, drop=drop) == comparable(b, drop=drop)
