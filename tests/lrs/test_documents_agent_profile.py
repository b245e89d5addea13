"""Agent Profile Resource: xAPI 1.0.3 Part Three §2.6 / IEEE 9274.1.1 §4.1.6.5.

Concurrency headers are in test_documents_concurrency.py.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Xapi, new_credential

PATH = "agents/profile"
AGENT = {"objectType": "Agent", "account": {"homePage": "https://vneid.gov.vn", "name": "001099012345"}}
CREATE = {"If-None-Match": "*"}


def params(**overrides: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"agent": json.dumps(AGENT), "profileId": "preferences"}
    p.update(overrides)
    return {k: v for k, v in p.items() if v is not None}


def test_put_then_get(xapi: Xapi) -> None:
    """Part Three §2.6.s3 (ADL XAPI-00259, XAPI-00269, XAPI-00273): PUT 204, GET 200 the document
    with a quoted SHA-1 ETag (§3.1.s4.b2, b4)."""
    assert xapi.put(PATH, json_body={"ngôn ngữ": "vi"}, headers=CREATE, **params()).status_code == 204
    got = xapi.get(PATH, **params())
    assert got.status_code == 200
    assert got.get_json() == {"ngôn ngữ": "vi"}
    assert got.headers["ETag"] == f'"{hashlib.sha1(got.data).hexdigest()}"'


def test_agent_is_keyed_by_its_identifier(xapi: Xapi) -> None:
    """Part Three §2.6.s3.table1.row1: the same account with a name added is the same Agent;
    another IFI is another Agent."""
    xapi.put(PATH, json_body={"a": 1}, headers=CREATE, **params())
    named = {**AGENT, "name": "Trần Thị Bình"}
    assert xapi.get(PATH, **params(agent=json.dumps(named))).get_json() == {"a": 1}
    assert xapi.get(PATH, **params(agent=json.dumps({"mbox": "mailto:binh@example.vn"}))).status_code == 404


def test_post_creates_then_merges(xapi2: Xapi) -> None:
    """Part Three §2.2.s7 / IEEE §4.1.6.5 (ADL XAPI-00279, XAPI-00280)."""
    assert xapi2.post(PATH, json_body={"theme": "dark", "font": 14}, **params()).status_code == 204
    assert xapi2.post(PATH, json_body={"font": 16}, **params()).status_code == 204
    assert xapi2.get(PATH, **params()).get_json() == {"theme": "dark", "font": 16}


def test_post_with_bad_json_is_400(xapi: Xapi) -> None:
    """Part Three §2.2.s8.b1 (ADL XAPI-00281, XAPI-00284): nothing is updated."""
    xapi.post(PATH, json_body={"kept": 1}, **params())
    bad = xapi.post(PATH, data=b'{"kept": 2', headers={"Content-Type": "application/json"}, **params())
    assert bad.status_code == 400
    assert xapi.get(PATH, **params()).get_json() == {"kept": 1}


def test_delete(xapi: Xapi) -> None:
    """Part Three §2.6.s3 (ADL XAPI-00271): DELETE 204 and the document is gone."""
    xapi.post(PATH, json_body={"a": 1}, **params())
    assert xapi.delete(PATH, **params()).status_code == 204
    assert xapi.get(PATH, **params()).status_code == 404


def test_list_ids_and_since(xapi2: Xapi) -> None:
    """Part Three §2.6.s4 (ADL XAPI-00268, XAPI-00270, XAPI-00275) / IEEE §4.1.6.5."""
    xapi2.put(PATH, json_body={}, **params(profileId="p1"))
    time.sleep(0.02)
    cut = datetime.now(UTC).isoformat()
    time.sleep(0.02)
    xapi2.put(PATH, json_body={}, **params(profileId="p2"))
    xapi2.put(PATH, json_body={}, **params(profileId="p3", agent=json.dumps({"mbox": "mailto:x@example.vn"})))
    listed = xapi2.get(PATH, **params(profileId=None))
    assert sorted(listed.get_json()) == ["p1", "p2"]
    assert "Last-Modified" in listed.headers
    assert xapi2.get(PATH, **params(profileId=None, since=cut)).get_json() == ["p2"]


@pytest.mark.parametrize(("method", "missing"), [
    ("GET", "agent"), ("PUT", "agent"), ("POST", "agent"), ("DELETE", "agent"),
    ("PUT", "profileId"), ("POST", "profileId"), ("DELETE", "profileId"),
])
def test_required_parameters(xapi: Xapi, method: str, missing: str) -> None:
    """Part Three §2.6.s3.table1, §2.6.s4.table1 (ADL XAPI-00261..00267)."""
    body = {"json_body": {"a": 1}} if method in ("PUT", "POST") else {}
    assert xapi.request(method, PATH, headers=CREATE, **body, **params(**{missing: None})).status_code == 400


@pytest.mark.parametrize("agent", [
    "true",                                                                     # ADL XAPI-00256/00257
    "{not json",
    json.dumps({"objectType": "Agent", "name": "no identifier"}),
    json.dumps({"objectType": "Group", "mbox": "mailto:lop-10a@example.vn"}),   # §2.6.s3 note: not a Group
    json.dumps({"mbox": "an@example.vn"}),                                      # mbox without mailto:
])
def test_agent_must_be_an_identified_agent(xapi: Xapi, agent: str) -> None:
    """Part Three §2.6.s3.table1.row1 and note: an Agent object (JSON), not a Group."""
    assert xapi.put(PATH, json_body={}, headers=CREATE, **params(agent=agent)).status_code == 400
    assert xapi.get(PATH, **params(agent=agent)).status_code == 400


@pytest.mark.parametrize(("name", "value"), [("since", "not a time"), ("activityId", "https://x.vn/a"), ("x", "1")])
def test_bad_parameters_are_400(xapi: Xapi, name: str, value: str) -> None:
    """Part Three §2.6.s4 table: `since` is a Timestamp; other parameters are not defined here."""
    assert xapi.get(PATH, **params(profileId=None, **{name: value})).status_code == 400


def test_scopes(app: Flask) -> None:
    """Part Three §4.2: a credential without `profile` (here `state` or `statements/read`) is refused."""
    slug, key, secret = new_credential(app, ["profile"])
    owner = Xapi(app.test_client(), key, secret)
    assert owner.post(PATH, json_body={"a": 1}, **params()).status_code == 204
    for scopes in (["state"], ["statements/read"]):
        _, k, s = new_credential(app, scopes, tenant_slug=slug)
        other = Xapi(app.test_client(), k, s)
        assert other.get(PATH, **params()).status_code == 403
        assert other.post(PATH, json_body={"b": 2}, **params()).status_code == 403
    assert owner.get(PATH, **params()).get_json() == {"a": 1}


def test_tenants_are_isolated(app: Flask) -> None:
    """DESIGN.md Tenancy: the same Agent's profile in two tenants is two documents."""
    _, k1, s1 = new_credential(app, ["all"])
    _, k2, s2 = new_credential(app, ["all"])
    first, second = Xapi(app.test_client(), k1, s1), Xapi(app.test_client(), k2, s2)
    first.put(PATH, json_body={"owner": 1}, headers=CREATE, **params())

    assert second.get(PATH, **params()).status_code == 404
    assert second.get(PATH, **params(profileId=None)).get_json() == []
    assert second.put(PATH, json_body={"owner": 2}, headers=CREATE, **params()).status_code == 204
    assert second.post(PATH, json_body={"more": 2}, **params()).status_code == 204
    assert second.delete(PATH, **params()).status_code == 204
    assert first.get(PATH, **params()).get_json() == {"owner": 1}
