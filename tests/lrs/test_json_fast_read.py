"""lrs.json_text reads request bodies with orjson when that is provably the strict reader's answer
(xAPI 1.0.3 Part Two §2.2: each property at most once; RFC 8259: no NaN or Infinity; Part Three
§1.4: UTF-8): the same value, or the same refusal with the same message, for any text."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lrs.errors import BadRequest
from lrs.json_text import loads_strict

sys.path.insert(0, str(Path(__file__).parents[1] / "schemas"))  # the schemas' fuzz strategies
from test_statement_fuzz import SCALARS

KEYS = st.sampled_from(["a", "b", "id", "actor", "x:y", ":", "é", "a\\u003a"]) | st.text(max_size=4)
# Objects as lists of pairs, so a key may come twice, as a client may send it.
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4).map(lambda v: ("list", v))
                      | st.lists(st.tuples(KEYS, inner), max_size=4).map(lambda v: ("object", v)), max_leaves=20)


def _text(value: Any, ascii_only: bool, space: str) -> str:
    if isinstance(value, tuple) and value[0] == "list":
        return "[" + ("," + space).join(_text(v, ascii_only, space) for v in value[1]) + "]"
    if isinstance(value, tuple):
        return "{" + ("," + space).join(json.dumps(k, ensure_ascii=ascii_only) + space + ":" + space
                                        + _text(v, ascii_only, space) for k, v in value[1]) + "}"
    return json.dumps(value, ensure_ascii=ascii_only)


def _read(data: bytes | str) -> tuple[str, str]:
    try:
        return "value", repr(loads_strict(data))
    except BadRequest as err:
        return "refused", err.message


@settings(max_examples=1500, deadline=None)
@given(value=VALUES, ascii_only=st.booleans(), space=st.sampled_from(["", " ", "\n\t"]),
       extra=st.sampled_from(["", " ", "x", ",", "\ufeff"]))
def test_fast_read_is_the_strict_read_xapi_1_0_3_part2_s2_2(value, ascii_only, space, extra):
    text = _text(value, ascii_only, space)
    text = extra + text if extra == "\ufeff" else text + extra
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate written raw: not UTF-8, both refuse it (bytes only)
        return
    slow = _read(text.removeprefix("\ufeff"))  # a str is always read by the strict reader
    assert _read(data) == slow


def test_deep_nesting_reads_as_the_strict_reader_reads_it():
    """orjson reads 1,024 levels but writes 255: past that, the strict reader answers."""
    for depth in (254, 300, 990, 5000):
        body = "[" * depth + "1" + "]" * depth
        assert _read(body.encode()) == _read(body)


def test_a_key_twice_is_refused_even_when_colons_hide_it():
    for body in (b'{"a":1,"a":2}', b'{"a":"x","a":"\\u003a"}', b'[{"k":{"a":1}},{"k":1,"k":{"b":":"}}]'):
        kind, message = _read(body)
        assert kind == "refused" and "appears twice" in message, body
