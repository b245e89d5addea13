"""What the Document Resources accept (issue 13, case 4): the same answer on SQLite and PostgreSQL.

xAPI 1.0.3 Part Three §2.3.s3.table1 / §2.6.s3 / §2.7.s3 (stateId, profileId: any string;
activityId an IRI; agent an Agent; registration a UUID) and §3.2.s2.b1 (invalid arguments: 400).
NUL in a key parameter was a PostgreSQL-only 500 (its text cannot hold one); keys too long for one
index entry were another. JSON documents keep the statements' rule (RFC 8259 §6 numbers, nesting),
so a POST can always merge them (Part Three §2.2.s7-s8).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Xapi

ACTIVITY = "https://hocvu.vn/courses/ky-nang-so/lesson-1"
AGENT = {"objectType": "Agent", "mbox": "mailto:an@hocvu.vn"}
RESOURCES = {
    "activities/state": {"activityId": ACTIVITY, "agent": json.dumps(AGENT), "stateId": "s"},
    "activities/profile": {"activityId": ACTIVITY, "profileId": "p"},
    "agents/profile": {"agent": json.dumps(AGENT), "profileId": "p"},
}
CREATE = {"If-None-Match": "*", "Content-Type": "application/json"}


def put(x: Xapi, path: str, params: dict[str, str], body: str = '{"a": 1}') -> Any:
    return x.put(path, data=body, headers=CREATE, **params)


def assert_400(res: Any, *words: str) -> None:
    assert res.status_code == 400, res.get_data(as_text=True)[:300]
    error = res.get_json()["error"]
    assert set(error) == {"code", "message"}
    for word in words:
        assert word in error["message"], error["message"]


@pytest.mark.parametrize("path", list(RESOURCES))
def test_nul_in_the_document_id_is_400(xapi: Xapi, path: str) -> None:
    """Issue 13 case 4: NUL in stateId/profileId: one 400 for every method on both databases."""
    params = dict(RESOURCES[path])
    name = "stateId" if "stateId" in params else "profileId"
    params[name] = "bad\u0000id"
    for method in ("PUT", "POST", "GET", "DELETE"):
        res = x_request(xapi, method, path, params)
        assert_400(res, name, "NUL")
    assert xapi.get(path, **{k: v for k, v in RESOURCES[path].items() if k not in ("stateId", "profileId")}
                    ).get_json() == []


def x_request(x: Xapi, method: str, path: str, params: dict[str, str]) -> Any:
    return x.request(method, path, data=b'{"a": 1}', headers=CREATE, **params)


@pytest.mark.parametrize(("path", "name", "value"), [
    ("activities/state", "activityId", ACTIVITY + "\u0000"),
    ("activities/profile", "activityId", "\u0000"),
    ("activities/state", "registration", "6a7b5f0e-6a2c-4d9c-9b7f-0f5a2c6d1e11\u0000"),
    ("activities/state", "agent", json.dumps({"mbox": "mailto:an@hocvu.vn", "name": "A\u0000n"})),
    ("agents/profile", "agent", json.dumps({"account": {"homePage": "https://hocvu.vn", "name": "\u0000"}})),
])
def test_nul_in_a_key_parameter_is_400(xapi: Xapi, path: str, name: str, value: str) -> None:
    """Part Three §2.3.s3.table1 (activityId IRI, agent Agent, registration UUID): NUL makes each
    invalid; the answer is 400 before the database sees it."""
    params = {**RESOURCES[path], name: value}
    assert_400(put(xapi, path, params), name)
    assert_400(xapi.get(path, **params), name)


def test_document_id_length_limit(xapi: Xapi) -> None:
    """stateId is kept up to 1024 bytes of UTF-8 (lrs.documents.DOC_ID_MAX_BYTES), refused beyond."""
    params = dict(RESOURCES["activities/state"])
    assert_400(put(xapi, "activities/state", {**params, "stateId": "ệ" * 342}), "stateId", "1024 bytes")
    ok = {**params, "stateId": "ệ" * 341}
    assert put(xapi, "activities/state", ok).status_code == 204
    assert xapi.get("activities/state", **ok).get_json() == {"a": 1}


def test_longest_keys_fit_on_both_databases(xapi: Xapi) -> None:
    """The longest activityId (2048 bytes), Agent key and stateId together: PostgreSQL's index holds
    at most 2704 bytes an entry, so long key parts are kept as hashes. PUT, GET, the id list, POST
    merge and DELETE all work, and nothing is confused with a document under a shorter key."""
    activity = "https://hocvu.vn/" + "ệ" * 677  # 2048 bytes of UTF-8
    agent = {"account": {"homePage": "https://hocvu.vn/" + "h" * 900, "name": "n" * 1000}}
    params = {"activityId": activity, "agent": json.dumps(agent), "stateId": "s" * 1024}
    assert put(xapi, "activities/state", params).status_code == 204
    assert xapi.post("activities/state", data='{"b": 2}', headers={"Content-Type": "application/json"},
                     **params).status_code == 204
    assert xapi.get("activities/state", **params).get_json() == {"a": 1, "b": 2}
    listing = {k: v for k, v in params.items() if k != "stateId"}
    assert xapi.get("activities/state", **listing).get_json() == ["s" * 1024]
    shorter = {**listing, "activityId": activity[:-1]}
    assert xapi.get("activities/state", **shorter).get_json() == []
    assert xapi.delete("activities/state", **params).status_code == 204
    assert xapi.get("activities/state", **params).status_code == 404
    profile = {"activityId": activity, "profileId": "p" * 1024}
    assert put(xapi, "activities/profile", profile).status_code == 204
    assert xapi.get("activities/profile", **profile).get_json() == {"a": 1}


@pytest.mark.parametrize("body", ['{"n": 1e400}', '{"n": NaN}', '{"n": [' * 1 + "[" * 70 + "]" * 71 + "}",
                                  '{"a": 1, "a": 2}', '{"s": "\\ud800"}'])
@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_json_documents_keep_the_statements_rule(xapi: Xapi, body: str, method: str) -> None:
    """RFC 8259 §6 and §8.2, Part Three §2.2.s8.b1: a document sent as application/json must be JSON
    the store can merge and write back; otherwise 400 and nothing stored."""
    params = RESOURCES["activities/profile"]
    res = xapi.request(method, "activities/profile", data=body, headers=CREATE, **params)
    assert_400(res, "document")
    assert xapi.get("activities/profile", **params).status_code == 404


def test_other_documents_are_kept_byte_for_byte(xapi: Xapi) -> None:
    """Part Three §1.5.b1: a document of another type is opaque: NUL bytes and `1e400` are kept."""
    params = RESOURCES["agents/profile"]
    raw = b"\x00\x01 1e400 NaN"
    headers = {"If-None-Match": "*", "Content-Type": "application/octet-stream"}
    res = xapi.put("agents/profile", data=raw, headers=headers, **params)
    assert res.status_code == 204
    assert xapi.get("agents/profile", **params).get_data() == raw
