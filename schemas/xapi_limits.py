"""What the store accepts of any JSON value in a statement or parameter, whatever its place: one
rule, checked before the xAPI schemas, so both databases give the same answer to the same request.

* **Numbers** (RFC 8259 §6: "implementations may set limits on the range and precision of numbers
  accepted"): finite, within the IEEE-754 double range (±1.7976931348623157e308). Python reads
  ``1e400`` as ``inf`` and ``10**309`` as an exact integer; neither has a place in canonical JSON
  (RFC 8785 §3.2.2.3), a report column or a JSON answer (JSON has no Infinity), so they are refused
  where they are sent, never stored for a later reader to trip on.
* **Nesting**: at most ``MAX_DEPTH`` objects and arrays deep. Deeper values defeat recursive
  readers (canonical format, copies, serialisers) long before they mean anything in a statement.
* **Strings** (keys included): no NUL (U+0000), which PostgreSQL cannot keep in ``text`` or ``jsonb``
  (SQLite can: the two databases would disagree), and no lone surrogates (RFC 8259 §8.2: not
  Unicode text; UTF-8 cannot encode them).

Per-field lengths (IRIs) are the fields' own rule (``xapi_fields.Iri``); the size of a whole
statement is the LRS's (``lrs.statements``), since it answers 413 for it (xAPI 1.0.3 Part Three
§3.2.s3.b11).
"""

from __future__ import annotations

import sys
from typing import Any, Final

import orjson
from marshmallow import ValidationError

MAX_DEPTH: Final = 64  # levels of objects/arrays, the statement itself being level 1
DOUBLE_MAX: Final = sys.float_info.max  # 1.7976931348623157e308
NUMBER_MESSAGE: Final = ("must be a finite number within ±1.7976931348623157e308 (an IEEE-754 double; "
                         "JSON overflow such as 1e400, NaN and Infinity cannot be stored, RFC 8259 §6)")
DEPTH_MESSAGE: Final = f"nests objects and arrays deeper than {MAX_DEPTH} levels (this LRS's limit)"
NUL_MESSAGE: Final = "must not contain the NUL character (U+0000)"
SURROGATE_MESSAGE: Final = "must be Unicode text: a lone surrogate (e.g. \\ud800) is not (RFC 8259 §8.2)"

Path = tuple[str | int, ...]


def string_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as a JSON string by both databases, or None."""
    if "\x00" in text:
        return NUL_MESSAGE
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE_MESSAGE
    return None


def number_problem(value: int | float) -> str | None:
    """Why ``value`` (a JSON number as Python reads it) cannot be stored, or None."""
    if isinstance(value, float):
        return None if value - value == 0 else NUMBER_MESSAGE  # inf - inf and nan - nan are nan
    return None if -DOUBLE_MAX <= value <= DOUBLE_MAX else NUMBER_MESSAGE


def _plainly_fine(value: Any, max_depth: int) -> bool:
    """A proof in C-speed steps that ``value`` keeps the rule, for the common case (ingest's hot
    path: ~2 µs against ~20 µs for the walk). orjson refuses lone surrogates, integers beyond 64
    bits and nesting past 255; it writes NUL as ``\\u0000`` and a non-finite float as ``null``; and
    nesting cannot be deeper than the number of brackets. A False only means "walk it"."""
    try:
        data = orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError
        return False
    return (b"\\u0000" not in data and b"null" not in data
            and data.count(b"{") + data.count(b"[") <= max_depth)


def json_problem(value: Any, max_depth: int = MAX_DEPTH) -> tuple[Path, str] | None:
    """The first place in ``value`` (parsed JSON) that breaks the rule above, as (path, why); None
    when nothing does. Iterative, so a value nested thousands deep is judged, not recursed into."""
    if _plainly_fine(value, max_depth):
        return None
    stack: list[tuple[Any, Path]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        kind = type(node)
        if kind is str:
            found = string_problem(node)
        elif kind is dict or kind is list:
            if len(path) >= max_depth:
                return path, DEPTH_MESSAGE
            if kind is dict:
                for key, sub in node.items():
                    if not isinstance(key, str):
                        continue
                    if (found := string_problem(key)) is not None:
                        return (*path, key), f"(the key) {found}"
                    stack.append((sub, (*path, key)))
            else:
                stack.extend((sub, (*path, i)) for i, sub in enumerate(node))
            continue
        elif kind is int or kind is float:
            found = number_problem(node)
        else:
            continue  # None, booleans; other Python types never come out of a JSON parser
        if found is not None:
            return path, found
    return None


def shown(part: str | int) -> str | int:
    """A path part as an error message can show it (NUL and surrogates escaped)."""
    if isinstance(part, int):
        return part
    return part.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def check_json(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise ``marshmallow.ValidationError`` naming the property that breaks the rule above, nested
    as marshmallow nests messages (``{"result": {"extensions": {"http://…": ["must be …"]}}}``)."""
    found = json_problem(value, max_depth)
    if found is None:
        return
    path, why = found
    messages: Any = [why]
    for part in reversed(path):
        messages = {shown(part): messages}
    raise ValidationError(messages)
