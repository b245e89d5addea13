"""Strict JSON for everything the LRS reads: RFC 8259 only (no NaN/Infinity), UTF-8
(xAPI 1.0.3 Part Three §1.4), and no object with the same key twice (Part Two §2.2: a
statement has each property at most once, and JSON parsers disagree on which duplicate wins)."""

from __future__ import annotations

import json
from typing import Any

import schemas
from lrs.errors import BadRequest


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (RFC 8259)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # at C speed; a key sent twice leaves fewer entries than pairs (7 % of ingest's CPU before)
    if len(out) == len(pairs):
        return out
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"the property {key!r} appears twice in one object")
        seen.add(key)
    raise AssertionError("unreachable")  # fewer entries than pairs means a repeated key


def loads_strict(data: bytes | str, what: str = "the request body") -> Any:
    """Parse ``data`` or raise BadRequest saying what is wrong and where."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data  # RFC 8259 §8.1: a BOM may be ignored
    except UnicodeDecodeError as err:
        raise BadRequest(f"{what} is not UTF-8 (bad byte at offset {err.start})") from None
    try:
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as err:
        raise BadRequest(f"{what} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except ValueError as err:
        raise BadRequest(f"{what} is not valid JSON: {err}") from None
    except RecursionError:
        # The parser recurses once per level: ~1,000 levels exhaust the stack before any limit of
        # ours (schemas.MAX_DEPTH) can be applied to the parsed value.
        raise BadRequest(f"{what} nests objects and arrays deeper than this LRS reads "
                         f"({schemas.MAX_DEPTH} levels)") from None
