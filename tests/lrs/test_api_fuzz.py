"""Property-based tests over the HTTP API: random and mutated input never yields a 5xx, every
error has the JSON error shape, and a rejected write stores nothing (xAPI 1.0.3 Part Three §3.2;
DESIGN.md, Errors)."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Xapi, json_paths, new_credential, statement

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from(["id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
                        "version", "attachments", "mbox", "objectType", "definition", "display", "member",
                        "registration", "score", "scaled", "contextActivities", "account", "name", "homePage"])




@st.composite
def mutated_statements(draw: st.DrawFn) -> Any:
    """A valid, richly filled statement with one to three random edits deep inside it."""
    doc: Any = statement(
        result={"score": {"scaled": 0.8, "raw": 8, "min": 0, "max": 10}, "success": True, "duration": "PT5M"},
        context={"registration": "6a7b5f0e-6a2c-4d9c-9b7f-0f5a2c6d1e11",
                 "contextActivities": {"parent": [{"id": "https://hocvu.vn/courses/a"}]},
                 "instructor": {"account": {"homePage": "https://vneid.gov.vn", "name": "gv-1"}}},
    )
    for _ in range(draw(st.integers(1, 3))):
        paths = json_paths(doc)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            doc = draw(JSON) if action == "replace" else doc
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if action == "replace":
            parent[last] = draw(JSON)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent[last], dict):
            parent[last][draw(KEYS)] = draw(JSON)
    return doc


def _check(res: Any) -> None:
    assert res.status_code < 500, res.data[:500]
    if res.status_code >= 400:
        err = res.get_json()["error"]
        assert isinstance(err["code"], str) and isinstance(err["message"], str)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=mutated_statements(), version=st.sampled_from(["1.0.3", "2.0.0"]))
def test_mutated_statements_never_5xx(sqlite_only_app: Flask, body: Any, version: str) -> None:
    _, key, secret = new_credential(sqlite_only_app, ["all"])
    x = Xapi(sqlite_only_app.test_client(), key, secret, version)
    res = x.post("statements", data=json.dumps(body), headers={"Content-Type": "application/json"})
    _check(res)
    stored = x.get("statements").get_json()["statements"]
    # Either it was a valid statement and is stored once, or it was rejected and nothing is stored.
    assert len(stored) == (1 if res.status_code == 200 else 0)


@FUZZ
@given(body=st.one_of(JSON, st.lists(mutated_statements(), max_size=3)))
def test_random_json_bodies_never_5xx(sqlite_only_app: Flask, body: Any) -> None:
    _, key, secret = new_credential(sqlite_only_app, ["all"])
    _check(Xapi(sqlite_only_app.test_client(), key, secret).post(
        "statements", data=json.dumps(body), headers={"Content-Type": "application/json"}))


@FUZZ
@given(raw=st.binary(max_size=200), ctype=st.sampled_from(["application/json", "multipart/mixed; boundary=x",
                                                            "multipart/mixed", "text/plain", ""]))
def test_random_bytes_never_5xx(sqlite_only_app: Flask, raw: bytes, ctype: str) -> None:
    _, key, secret = new_credential(sqlite_only_app, ["all"])
    _check(Xapi(sqlite_only_app.test_client(), key, secret).post("statements", data=raw,
                                                                 headers={"Content-Type": ctype}))


PARAMS = st.dictionaries(
    st.sampled_from(["agent", "verb", "activity", "registration", "since", "until", "limit", "format", "ascending",
                     "attachments", "related_agents", "related_activities", "statementId", "voidedStatementId",
                     "more", "stateId", "activityId", "profileId", "colour"]),
    st.text(max_size=30) | st.sampled_from(['{"mbox":"mailto:a@b.vn"}', "true", "2026-01-01T00:00:00Z", "-1",
                                            "6a7b5f0e-6a2c-4d9c-9b7f-0f5a2c6d1e11"]),
    max_size=4,
)


@FUZZ
@given(params=PARAMS, path=st.sampled_from(["statements", "activities", "agents", "activities/state",
                                            "activities/profile", "agents/profile", "about"]),
       method=st.sampled_from(["GET", "HEAD", "DELETE", "PUT", "POST"]))
def test_random_queries_never_5xx(sqlite_only_app: Flask, params: dict[str, str], path: str, method: str) -> None:
    _, key, secret = new_credential(sqlite_only_app, ["all"])
    x = Xapi(sqlite_only_app.test_client(), key, secret)
    res = x.request(method, path, data=b"{}", headers={"Content-Type": "application/json"}, **params)
    assert res.status_code < 500, (method, path, params, res.data[:300])
