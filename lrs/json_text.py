"""Strict JSON for everything the LRS reads: RFC 8259 only (no NaN/Infinity), UTF-8
(xAPI 1.0.3 Part Three §1.4), and no object with the same key twice (Part Two §2.2: a
statement has each property at most once, and JSON parsers disagree on which duplicate wins)."""

from __future__ import annotations

import json
from typing import Any, Final

import orjson

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


_SLOW: Final = object()
_DIGITS_AS_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")  # a run of digits is a run of "0"s


def _fast(data: bytes) -> Any:
    """orjson's reading of ``data`` when it is provably the strict reader's below (``_SLOW`` when
    not proved: then that reader answers, with its messages). About half its time on a batch (its
    Python hook per object was 12 % of ingest's CPU). The two agree on every RFC 8259 text except
    where orjson is lenient or lossy, each ruled out here: a key sent twice (orjson keeps the last
    silently; a ':' is never escaped by orjson's writer, so unless the input spells one as the
    escape u003a, it has more ':' than the re-written value exactly when a pair was dropped),
    integers past 64 bits (orjson makes them floats; a 19-digit run sends them to the slow
    reader), a BOM, NaN and the like (orjson refuses them: the slow reader says why)."""
    if b"\\u003a" in data or b"\\u003A" in data or b"0" * 19 in data.translate(_DIGITS_AS_ZERO):
        return _SLOW  # (memchr-speed scans: a regular expression for the digit run cost more than the read)
    try:
        value = orjson.loads(data)
        written = orjson.dumps(value)
    except (orjson.JSONDecodeError, TypeError):  # TypeError: orjson writes at most 255 levels
        return _SLOW
    return value if written.count(b":") == data.count(b":") else _SLOW


def loads_strict(data: bytes | str, what: str = "the request body") -> Any:
    """Parse ``data`` or raise BadRequest saying what is wrong and where."""
    if isinstance(data, bytes) and (found := _fast(data)) is not _SLOW:
        return found
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
