"""The shortcut of the reserved-extension rule (lrs.reserved_extensions.may_carry): a statement is
walked for reserved extensions unless its compact JSON provably cannot hold one. RFC 8259 §7: a
JSON writer must escape ``"``, ``\\`` and U+0000-U+001F in strings and may escape anything else;
orjson escapes only what it must, so a plain IRI appears verbatim."""

from __future__ import annotations

from typing import Any

import orjson

from lrs.reserved_extensions import may_carry, reserved_needles

RESERVED = "https://hocvu.vn/xapi/extensions/reserved-example"


def _allow(_statement: dict[str, Any], _signatures: list[bytes]) -> None:
    return None


def test_a_statement_with_the_iri_anywhere_is_walked_rfc8259_s7() -> None:
    needles = reserved_needles({RESERVED: _allow})
    assert needles == [RESERVED.encode()]
    for where in ({"context": {"extensions": {RESERVED: 1}}}, {"result": {"extensions": {RESERVED: {"x": "Việt"}}}},
                  {"object": {"definition": {"extensions": {RESERVED: None}}}}):
        assert may_carry(orjson.dumps(where), needles)
    # A longer IRI that contains it is walked too: a false "maybe" costs a walk, never a miss.
    assert may_carry(orjson.dumps({"context": {"extensions": {RESERVED + "/v2": 1}}}), needles)
    assert not may_carry(orjson.dumps({"context": {"extensions": {"https://hocvu.vn/other": 1}}}), needles)


def test_no_text_or_an_iri_a_writer_escapes_always_walks_rfc8259_s7() -> None:
    assert may_carry(None, reserved_needles({RESERVED: _allow}))
    for odd in ('https://hocvu.vn/"quoted"', "https://hocvu.vn/back\\slash", "https://hocvu.vn/\x01"):
        needles = reserved_needles({RESERVED: _allow, odd: _allow})
        assert needles is None
        assert may_carry(b'{"verb":{"id":"x"}}', needles)
