"""Stored JSON that breaks today's rule (``schemas.xapi_limits``), made readable for a reader.

The store refuses such values now, but rows written before the rule (or behind the store's back,
as legacy data or a restore would be) may still hold them: ``Infinity`` (SQLite kept ``1e400`` as
one), NaN, integers past a double, nesting hundreds deep, lone surrogates. A reader that meets one
must answer for the rest of its page, not fail it: ``readable`` returns a copy a JSON writer, a
recursive walk and UTF-8 can all take, and says what it changed so the caller can log it.

Clamps (the closest value a reader can represent): ±Infinity → ±1.7976931348623157e308, NaN →
null, an integer past a double → ±1.7976931348623157e308 (JSON has it, nearly every parser turns
it into Infinity), a value nested past ``schemas.MAX_DEPTH`` → null, a lone surrogate → U+FFFD.
"""

from __future__ import annotations

import math
from typing import Any

import schemas

_MAX = schemas.DOUBLE_MAX


def _text(value: str, path: str, notes: list[str]) -> str:
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        notes.append(f"{path or '(root)'}: lone surrogate replaced by U+FFFD")
        # A parser joins a valid pair into one character, so any surrogate left in a str is lone.
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)


def _number(value: int | float, path: str, notes: list[str]) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            notes.append(f"{path}: NaN replaced by null")
            return None
        if math.isinf(value):
            notes.append(f"{path}: {value} clamped to ±{_MAX!r}")
            return math.copysign(_MAX, value)
        return value
    if -_MAX <= value <= _MAX:
        return value
    notes.append(f"{path}: an integer of {len(str(abs(value)))} digits clamped to ±{_MAX!r}")
    return _MAX if value > 0 else -_MAX


def readable(value: Any, max_depth: int = schemas.MAX_DEPTH) -> tuple[Any, list[str]]:
    """(a copy of ``value`` every reader can take, what was changed). Iterative: a value nested
    thousands deep is cut, never recursed into."""
    notes: list[str] = []
    root: list[Any] = [None]
    # (source node, container to write into, key or index there, path, depth of the node)
    stack: list[tuple[Any, Any, Any, str, int]] = [(value, root, 0, "", 1)]
    while stack:
        node, into, slot, path, depth = stack.pop()
        if isinstance(node, dict | list) and depth > max_depth:
            notes.append(f"{path}: nested past {max_depth} levels, replaced by null")
            into[slot] = None
        elif isinstance(node, dict):
            copy: dict[str, Any] = {}
            into[slot] = copy
            for key, sub in node.items():
                name = _text(key, path, notes) if isinstance(key, str) else str(key)
                copy[name] = None
                stack.append((sub, copy, name, f"{path}.{name}" if path else name, depth + 1))
        elif isinstance(node, list):
            items: list[Any] = [None] * len(node)
            into[slot] = items
            stack.extend((sub, items, i, f"{path}[{i}]", depth + 1) for i, sub in enumerate(node))
        elif isinstance(node, str):
            into[slot] = _text(node, path, notes)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            into[slot] = _number(node, path, notes)
        else:
            into[slot] = node
    return root[0], notes
