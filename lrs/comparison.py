"""Statement comparison: when is one statement "the same" as another?

xAPI 1.0.3 Part Two §2.3.1 "Statement Comparison Requirements" (IEEE 9274.1.1 keeps the rules):
used for conflicting re-sends (Part Three §2.1.1/§2.1.2) and for a signed statement's payload
(Part Two §2.6). Ignored: what the LRS assigns (authority, stored; id, timestamp and version when
the reference left them out), key order, case of UUIDs/language tags/e-mail domains, timestamp
offsets and sub-millisecond precision, Group member order, a single contextActivities value
versus an array, and signature attachments.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

SIGNATURE_USAGE_TYPE = "http://adlnet.gov/expapi/attachments/signature"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SECONDS = re.compile(r"(\d+)(?:[.,](\d*))?S$")
_LANGUAGE_MAPS = ("display", "name", "description")


def _without_signatures(statement: dict[str, Any]) -> dict[str, Any]:
    # The payload is the statement "before the signature was added" (§2.6.s4.b3), so signature
    # attachments are left out on both sides (the payload may hold earlier ones when countersigned).
    out = dict(statement)
    attachments = out.pop("attachments", None)
    if isinstance(attachments, list):
        kept = [a for a in attachments if not (isinstance(a, dict) and a.get("usageType") == SIGNATURE_USAGE_TYPE)]
        if kept:
            out["attachments"] = kept
    elif attachments is not None:
        out["attachments"] = attachments
    return out


def _instant(value: str) -> Any:
    # §2.3.1.b4: timestamps may come back in another timezone; 2.0 §4.2.7 lets the LRS keep
    # only milliseconds. Compare the point in time, to the millisecond.
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _duration(value: str) -> str:
    # 1.0.3 Part Two §4.6.s1.b5 / 2.0 §4.2.7: precision beyond 0.01 s is not compared; otherwise a
    # duration is compared as a string (§2.3.1.b8), so PT60S and PT1M stay different.
    match = _SECONDS.search(value)
    if match is None:
        return value
    fraction = (match.group(2) or "")[:2].rstrip("0")
    return f"{value[:match.start()]}{match.group(1)}{'.' + fraction if fraction else ''}S"


def _mbox(value: str) -> str:
    # §2.3.1.b7: the domain of an e-mail address (and the scheme) is case-insensitive.
    scheme, colon, address = value.partition(":")
    local, at, domain = address.rpartition("@")
    return f"{scheme.lower()}:{local}@{domain.lower()}" if colon and at else value


def _normalised(node: Any, key: str | None = None) -> Any:
    """``node`` with the differences the comparison rules ignore taken out."""
    if isinstance(node, list):
        return [_normalised(item) for item in node]
    if isinstance(node, str):
        if key in ("id", "registration") and _UUID.fullmatch(node):
            return node.lower()  # §2.3.1.b7: UUIDs are case-insensitive (RFC 4122 §3)
        if key == "timestamp":
            return _instant(node)
        if key == "duration":
            return _duration(node)
        if key == "mbox":
            return _mbox(node)
        return node
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for name, value in node.items():
        if name == "extensions":
            out[name] = value  # extension values are the extension owner's; compared as sent
        elif name in _LANGUAGE_MAPS and isinstance(value, dict):
            # §2.3.1.b7: RFC 5646 language tags are case-insensitive.
            out[name] = {str(tag).lower(): text for tag, text in value.items()}
        elif name == "contextActivities" and isinstance(value, dict):
            # Part Two §2.4.6.2 / 2.0 §4.2.4.2: the LRS returns each value as an array.
            out[name] = {kind: _normalised(v if isinstance(v, list) else [v]) for kind, v in value.items()}
        else:
            out[name] = _normalised(value, name)
    if out.get("objectType") == "Group" and isinstance(out.get("member"), list):
        # §2.3.1.b5: a Group's members are not an ordered list.
        out["member"] = sorted(out["member"], key=lambda m: json.dumps(m, sort_keys=True, default=str))
    return out


def comparable(statement: dict[str, Any], signed: dict[str, Any]) -> dict[str, Any]:
    # §2.3.1.b1: the LRS assigns authority and stored whatever was sent, and id, timestamp and
    # version when they were left out; those differences are ignored (§2.3.1.s9.b1).
    out = {k: v for k, v in _without_signatures(statement).items() if k not in ("authority", "stored")}
    for key in ("id", "timestamp", "version"):
        if key not in signed:
            out.pop(key, None)
    normalised: dict[str, Any] = _normalised(out)
    return normalised


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, datetime) else value.isoformat()
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _double(value: int | float) -> float | int:
    try:
        return float(value)
    except OverflowError:  # beyond a double: compared exactly (the store accepts none)
        return value


def difference(signed: Any, received: Any, path: str = "") -> str | None:
    """Where the two first differ, in words; None when they are equivalent. Key order is ignored."""
    if isinstance(signed, dict) and isinstance(received, dict):
        for key in sorted(set(signed) | set(received)):
            where = f"{path}.{key}" if path else key
            if key not in received:
                return f"{where} is in the signed statement but not in the statement"
            if key not in signed:
                return f"{where} is in the statement but not in the signed statement"
            if (found := difference(signed[key], received[key], where)) is not None:
                return found
        return None
    if isinstance(signed, list) and isinstance(received, list):
        if len(signed) != len(received):
            return f"{path} has {len(signed)} items in the signed statement but {len(received)} in the statement"
        for index, (a, b) in enumerate(zip(signed, received, strict=True)):
            if (found := difference(a, b, f"{path}[{index}]")) is not None:
                return found
        return None
    # RFC 8259 §6: JSON numbers are IEEE-754 doubles to interoperate. PostgreSQL's jsonb gives 1e300
    # back as the integer 10**300, which is the same double (and the same RFC 8785 form).
    if _is_number(signed) and _is_number(received) and _double(signed) == _double(received):
        return None
    # JSON true is not 1 (Python says it is).
    if isinstance(signed, bool) != isinstance(received, bool) or signed != received:
        return f"{path} is {_show(signed)} in the signed statement but {_show(received)} in the statement"
    return None


def equivalent(stored: dict[str, Any], sent: dict[str, Any]) -> bool:
    """True when ``sent`` (a re-send of an id) matches what is ``stored`` under the rules above."""
    return difference(comparable(sent, sent), comparable(stored, sent)) is None
