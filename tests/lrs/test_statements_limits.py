"""What the store accepts (issue 13, cases 1, 3 and 4): one rule on both databases, at the schema.
Every test runs on SQLite and on PostgreSQL (the ``app`` fixture) and checks the same answer.

* numbers: RFC 8259 §6 lets an implementation limit range and precision; the store keeps IEEE-754
  doubles (finite), so ``1e400``, ``10**309``, NaN and Infinity are 400s naming the property;
* nesting: at most 64 levels (xAPI 1.0.3 Part Three §3.2.s2.b1: "invalid arguments" is a 400);
* strings: no NUL, no lone surrogate (RFC 8259 §8.2), IRIs at most 2048 bytes of UTF-8;
* size: a statement over HOCVU_MAX_STATEMENT_BYTES is 413 (xAPI 1.0.3 Part Three §3.2.s3.b11).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Xapi, statement

EXT = "https://hocvu.vn/xapi/extensions/x"


def post_text(x: Xapi, text: str) -> Any:
    return x.post("statements", data=text, headers={"Content-Type": "application/json"})


def count(x: Xapi) -> int:
    return len(x.get("statements", limit=0).get_json()["statements"])


def assert_rejected(x: Xapi, res: Any, *words: str, status: int = 400) -> str:
    assert res.status_code == status, res.get_data(as_text=True)[:400]
    error = res.get_json()["error"]
    assert set(error) == {"code", "message"}
    for word in words:
        assert word in error["message"], error["message"]
    assert count(x) == 0  # nothing stored
    return str(error["message"])


def nested(depth: int) -> Any:
    """A JSON value ``depth`` levels of arrays deep."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


# --- case 1/2: numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1E+999"])
def test_json_overflow_is_400_naming_the_property(xapi: Xapi, number: str) -> None:
    """RFC 8259 §6 (number range); issue 13 case 1: `1e400` was stored as Infinity on SQLite (every
    later page invalid JSON) and a 500 on PostgreSQL. Now one answer: 400, the property named."""
    text = json.dumps(statement(result={"extensions": {EXT: {"n": 0}}})).replace('"n": 0', f'"n": {number}')
    message = assert_rejected(xapi, post_text(xapi, text), f"result.extensions.{EXT}.n", "finite number")
    assert "RFC 8259" in message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_literals_are_400(xapi2: Xapi, literal: str) -> None:
    """RFC 8259 §6: NaN and Infinity are not JSON numbers (xAPI 2.0 Part 2 §2.2 JSON only)."""
    text = json.dumps(statement(result={"extensions": {EXT: 0}})).replace(f'"{EXT}": 0', f'"{EXT}": {literal}')
    assert_rejected(xapi2, post_text(xapi2, text), "not valid JSON")


def test_integer_beyond_a_double_is_400(xapi: Xapi) -> None:
    """RFC 8259 §6; issue 13 case 2: `result.score.max = 10**309` took the national dashboard down."""
    body = statement(result={"score": {"raw": 1, "min": 0, "max": 10**309}})
    assert_rejected(xapi, xapi.post("statements", json_body=body), "result.score.max", "finite number")


def test_largest_double_and_big_integers_are_kept(xapi: Xapi) -> None:
    """The edge of the rule: ±1.7976931348623157e308 and integers up to it are accepted and read
    back as the same numbers (as doubles: RFC 8259 §6 interoperability) on both databases."""
    values = {"max": 1.7976931348623157e308, "min": -1.7976931348623157e308, "big": 10**300, "tiny": 5e-324,
              "i64": 2**63 + 1}
    [sid] = xapi.post("statements", json_body=statement(result={"extensions": {EXT: values}})).get_json()
    for fmt in ("exact", "ids", "canonical"):
        got = xapi.get("statements", statementId=sid, format=fmt).get_json()["result"]["extensions"][EXT]
        assert {k: float(v) for k, v in got.items()} == {k: float(v) for k, v in values.items()}
    # A re-send compares numbers as doubles (PostgreSQL gives 10**300 back as an integer), so it is
    # still idempotent (xAPI 1.0.3 Part Three §2.1.2), not a 409.
    again = statement(id=sid, result={"extensions": {EXT: values}})
    assert xapi.put("statements", json_body=again, statementId=sid).status_code == 204


# --- case 3: nesting -----------------------------------------------------------------------------


def test_nesting_at_the_limit_is_kept_and_reads_back_in_every_format(xapi: Xapi) -> None:
    """64 levels in all (statement, result, extensions, then the value): accepted, and GET in
    every format answers 200 with valid JSON (issue 13 case 3: canonical answered 500 for good)."""
    body = statement(result={"extensions": {EXT: nested(64 - 3)}})
    res = xapi.post("statements", json_body=body)
    assert res.status_code == 200, res.get_json()
    for fmt in ("exact", "ids", "canonical"):
        page = xapi.get("statements", format=fmt)
        assert page.status_code == 200
        json.loads(page.get_data(as_text=True))


@pytest.mark.parametrize("depth", [62, 600, 990, 5000])
def test_nesting_past_the_limit_is_400(xapi2: Xapi, depth: int) -> None:
    """Issue 13 case 3: ~1,000 levels answered 500, 600-990 were stored and broke canonical GETs.
    xAPI 2.0 Part 3 §3.2 (400 for invalid arguments): now one 400 at any depth past 64."""
    text = json.dumps(statement(result={"extensions": {EXT: 0}}))
    text = text.replace(f'"{EXT}": 0', f'"{EXT}": ' + "[" * depth + "1" + "]" * depth)  # past json.dumps' reach
    assert_rejected(xapi2, post_text(xapi2, text), "deeper than")


# --- case 4: strings and IRIs --------------------------------------------------------------------


@pytest.mark.parametrize("where", ["actor.name", "result.response", "extension value", "extension key"])
def test_nul_in_any_string_is_400(xapi: Xapi, where: str) -> None:
    """Issue 13 case 4: "\\u0000" was a PostgreSQL-only 500 (its text cannot hold NUL), stored on
    SQLite. xAPI 1.0.3 Part Three §3.2.s2.b1: the same 400 on both databases."""
    body = statement()
    if where == "actor.name":
        body["actor"]["name"] = "An\u0000"
    elif where == "result.response":
        body["result"] = {"response": "x\u0000y"}
    elif where == "extension value":
        body["result"] = {"extensions": {EXT: ["ok", "n\u0000"]}}
    else:
        body["result"] = {"extensions": {EXT: {"k\u0000": 1}}}
    assert_rejected(xapi, xapi.post("statements", json_body=body), "NUL")


def test_lone_surrogate_is_400(xapi: Xapi) -> None:
    """RFC 8259 §8.2: a lone surrogate is not Unicode text; PostgreSQL's jsonb refuses it."""
    text = json.dumps(statement(result={"response": "PLACEHOLDER"})).replace("PLACEHOLDER", "\\ud800")
    assert_rejected(xapi, post_text(xapi, text), "result.response", "surrogate")


def _iri(size: int, letter: str = "a") -> str:
    prefix = "https://hocvu.vn/"
    return prefix + letter * ((size - len(prefix)) // len(letter.encode()))


@pytest.mark.parametrize("where", ["verb.id", "object.id", "object.definition.type", "extension key",
                                   "context parent", "actor.mbox"])
def test_iri_over_2048_bytes_is_400(xapi2: Xapi, where: str) -> None:
    """Issue 13 case 4: IRIs over 2,048 characters were a PostgreSQL-only 500. The limit is in
    bytes of UTF-8 (IRIs may hold any letter, RFC 3987 §2.2): a B-tree entry holds 2704 bytes."""
    long = _iri(2049)
    body = statement()
    if where == "verb.id":
        body["verb"]["id"] = long
    elif where == "object.id":
        body["object"]["id"] = long
    elif where == "object.definition.type":
        body["object"]["definition"]["type"] = long
    elif where == "extension key":
        body["result"] = {"extensions": {long: 1}}
    elif where == "context parent":
        body["context"] = {"contextActivities": {"parent": [{"id": long}]}}
    else:
        body["actor"] = {"mbox": "mailto:" + "a" * 2040 + "@hocvu.vn"}
    assert_rejected(xapi2, xapi2.post("statements", json_body=body), "longer than this LRS keeps")


def test_iri_of_2048_bytes_is_kept_in_any_script(xapi: Xapi) -> None:
    """The edge: 2048 bytes of ASCII, and of Vietnamese letters (3 bytes each in UTF-8), are kept
    and found again by the activity filter on both databases."""
    for letter in ("a", "ệ"):
        iri = _iri(2048, letter)
        assert len(iri.encode()) <= 2048
        body = statement(object={"id": iri}, verb={"id": _iri(2048, letter)})
        res = xapi.post("statements", json_body=body)
        assert res.status_code == 200, res.get_json()
        assert len(xapi.get("statements", activity=iri).get_json()["statements"]) == 1
    res = xapi.post("statements", json_body=statement(object={"id": _iri(2052, "ệ")}))
    assert res.status_code == 400  # 2050 bytes: over, however few characters


def test_agent_key_over_the_column_is_400(xapi: Xapi) -> None:
    """An account's homePage and name together make the Agent's key: past 2048 bytes it is a 400."""
    actor = {"account": {"homePage": _iri(1500), "name": "n" * 1000}}
    assert_rejected(xapi, xapi.post("statements", json_body=statement(actor=actor)), "identifier")


def test_a_large_anonymous_team_is_kept(xapi2: Xapi) -> None:
    """An anonymous Group of 200 members (its key would outgrow the column) is kept: its key is
    then a hash (lrs.identifiers.anonymous_group_key)."""
    team = {"objectType": "Group", "member": [{"mbox": f"mailto:hoc-vien-{i:03d}@hocvu.vn"} for i in range(200)]}
    res = xapi2.post("statements", json_body=statement(actor=team))
    assert res.status_code == 200, res.get_json()
    assert count(xapi2) == 1


# --- size ----------------------------------------------------------------------------------------


def test_statement_over_the_size_limit_is_413(xapi: Xapi) -> None:
    """xAPI 1.0.3 Part Three §3.2.s3.b11: a Statement larger than the LRS allows is 413 (the
    default limit: 1 MiB of compact JSON), even in a request well under the body limit."""
    body = statement(result={"response": "x" * (1024 * 1024)})
    assert_rejected(xapi, xapi.post("statements", json_body=[statement(), body]), "1048576 bytes",
                    status=413)
    ok = statement(result={"response": "x" * (1024 * 1024 - 2000)})
    assert xapi.post("statements", json_body=ok).status_code == 200


# --- query parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {"agent": json.dumps({"mbox": "mailto:an@hocvu.vn", "name": "A\u0000"})},
    {"verb": _iri(3000)},
    {"activity": _iri(2049)},
    {"agent": json.dumps({"account": {"homePage": "https://hocvu.vn", "name": "x\u0000"}})},
])
def test_statement_query_parameters_follow_the_rule(xapi: Xapi, params: dict[str, str]) -> None:
    """xAPI 1.0.3 Part Three §2.1.3: a parameter the store could not compare with is a 400 on both
    databases, not a PostgreSQL-only 500."""
    res = xapi.get("statements", **params)
    assert res.status_code == 400, res.get_data(as_text=True)[:300]
    assert set(res.get_json()["error"]) == {"code", "message"}
