"""JSON Canonicalization Scheme (RFC 8785, "JCS"): the one byte form of a JSON value that the
audit chain hashes (``lrs.audit.chain``).

JCS: object keys sorted by UTF-16 code units (§3.2.3), no whitespace, strings escaped only where
JSON must (§3.2.2.2), numbers as ECMAScript writes IEEE-754 doubles (§3.2.2.3), UTF-8 (§3.2.4).
The reference is the ``rfc8785`` package (pure Python); orjson's sorted output is used instead when
it is provably the same bytes, which is most statements, at a third of the cost. A property test
(tests/lrs/audit/test_audit_chain.py) compares the two on arbitrary JSON.

JCS cannot express a few values a JSON parser may hand us (integers beyond ±(2^53-1), non-finite
numbers, lone surrogates); for those, and only those, ``_jcs_safe`` first turns integers into the
double every JCS implementation in JavaScript would see, and anything still unrepresentable into a
marker string (``"<number inf>"``, the surrogate as ``\\ud800`` text).
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

import orjson
import rfc8785

_SAFE_INT: Final = 2**53 - 1


def _jcs_safe(value: Any) -> Any:
    """The value with what JCS cannot express made expressible (see the module docstring)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if -_SAFE_INT <= value <= _SAFE_INT:
            return value
        try:
            return float(value)  # RFC 8785 §3.2.2.3: every JSON number is an IEEE-754 double
        except OverflowError:
            return f"<number {value}>"
    if isinstance(value, float):
        return value if math.isfinite(value) else f"<number {value!r}>"
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_jcs_safe(str(k)): _jcs_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jcs_safe(v) for v in value]
    return value


# orjson: sorted keys, compact, and integers past 2^53 refused (JCS has none, §3.2.2.3).
_ORJSON = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
# A number in compact JSON follows ':', '[' or ','. One ECMAScript writes otherwise has an exponent
# or is an integral float ending '.0' (then followed by ',', ']' or '}'). One search, stopping at the
# first; matches inside strings only send a value down the slow road, never to a wrong answer.
_INEXACT_NUMBER = re.compile(rb"[:\[,]-?\d+(?:\.\d+)?(?:[eE]|(?<=\.0)(?=[,\]}]))")
_BEYOND_BMP = re.compile(rb"[\xf0-\xf4]")  # lead byte of a 4-byte UTF-8 sequence


def _fast_is_jcs(data: bytes) -> bool:
    """True when orjson's output ``data`` (an object or array) is already the JCS form. Both escape
    strings alike (RFC 8785 §3.2.2.2: only ``"``, ``\\`` and U+0000-U+001F, with the short forms);
    they differ on numbers ECMAScript writes otherwise (§3.2.2.3: integral floats such as ``1.0``,
    exponents), on key order when a key goes beyond U+FFFF (§3.2.3 sorts UTF-16 units, orjson
    UTF-8 bytes), and where orjson writes ``null`` for a non-finite float. Those take the slow road."""
    if data[:1] not in (b"{", b"[") or b"null" in data or _BEYOND_BMP.search(data):
        return False
    return _INEXACT_NUMBER.search(data) is None


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes of ``value``: orjson's when they are provably the same (the hot path
    of ingest), else the ``rfc8785`` reference implementation's."""
    try:
        data = orjson.dumps(value, option=_ORJSON)
        if _fast_is_jcs(data):
            return data
    except TypeError:  # orjson.JSONEncodeError: a big integer, a lone surrogate, an odd key
        pass
    try:
        return rfc8785.dumps(value)
    except ValueError:  # CanonicalizationError, or UnicodeEncodeError for a lone surrogate in a key
        return rfc8785.dumps(_jcs_safe(value))


def canonical_flat(value: dict[str, str | int | None]) -> bytes:
    """JCS of a flat object whose keys are ASCII and whose values are only strings, integers and
    nulls (an audit entry's fields): orjson's bytes are then always the JCS bytes, no check needed
    (no floats, no key beyond U+FFFF; integers past 2^53 and lone surrogates make orjson refuse)."""
    try:
        return orjson.dumps(value, option=_ORJSON)
    except TypeError:
        return canonical_json(value)
