"""Activity Profile Resource: xAPI 1.0.3 Part Three §2.7 / IEEE 9274.1.1 §4.1.6.6.

Concurrency headers are in test_documents_concurrency.py; here 1.0.3 PUTs send
If-None-Match: * to create, as §3.1.s3.b1 requires of clients.
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

PATH = "activities/profile"
ACTIVITY = "https://hocvu.vn/courses/ky-nang-so"
CREATE = {"If-None-Match": "*"}


def params(**overrides: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"activityId": ACTIVITY, "profileId": "syllabus"}
    p.update(overrides)
    return {k: v for k, v in p.items() if v is not None}


def test_put_then_get(xapi: Xapi) -> None:
    """Part Three §2.7.s3 (ADL XAPI-00287, XAPI-00288): PUT 204, GET 200 with the document,
    its quoted SHA-1 ETag (§3.1.s4.b2, b4) and Last-Modified (§2.2.s6.b1)."""
    assert xapi.put(PATH, json_body={"lessons": 12}, headers=CREATE, **params()).status_code == 204
    got = xapi.get(PATH, **params())
    assert got.status_code == 200
    assert got.get_json() == {"lessons": 12}
    assert got.headers["ETag"] == f'"{hashlib.sha1(got.data).hexdigest()}"'
    assert "Last-Modified" in got.headers


def test_any_content_type_is_kept(xapi2: Xapi) -> None:
    """Part Three §1.5.b1 / IEEE §4.1.3: a document can have any content type."""
    text = "Kỹ năng số cơ bản".encode()
    put = xapi2.put(PATH, data=text, headers={"Content-Type": "text/plain; charset=utf-8"}, **params())
    assert put.status_code == 204
    got = xapi2.get(PATH, **params())
    assert got.data == text
    assert got.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_head(xapi: Xapi) -> None:
    """Part Three §1.1.s3.b1: HEAD is GET without the body."""
    xapi.put(PATH, json_body={"a": 1}, headers=CREATE, **params())
    head = xapi.request("HEAD", PATH, **params())
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"]


def test_post_creates_then_merges(xapi: Xapi) -> None:
    """Part Three §2.2.s7 (ADL XAPI-00308, XAPI-00310): POST stores a new document, then merges top level."""
    assert xapi.post(PATH, json_body={"a": 1, "b": {"c": 1}}, **params()).status_code == 204
    assert xapi.post(PATH, json_body={"b": {"d": 2}, "e": 3}, **params()).status_code == 204
    assert xapi.get(PATH, **params()).get_json() == {"a": 1, "b": {"d": 2}, "e": 3}


def test_post_onto_non_json_is_400_and_changes_nothing(xapi: Xapi) -> None:
    """Part Three §2.2.s8.b1 (ADL XAPI-00309): either document not a JSON object is 400, nothing updated."""
    xapi.put(PATH, data=b"raw", headers={"Content-Type": "application/octet-stream", **CREATE}, **params())
    assert xapi.post(PATH, json_body={"a": 1}, **params()).status_code == 400
    assert xapi.post(PATH, data=b"abc", headers={"Content-Type": "application/octet-stream"},
                     **params(profileId="fresh")).status_code == 400
    assert xapi.get(PATH, **params()).data == b"raw"
    assert xapi.get(PATH, **params(profileId="fresh")).status_code == 404


def test_delete(xapi: Xapi) -> None:
    """Part Three §2.7.s3 (ADL XAPI-00285): DELETE 204; the document is gone; an absent one is 204 too."""
    xapi.put(PATH, json_body={"a": 1}, headers=CREATE, **params())
    assert xapi.delete(PATH, **params()).status_code == 204
    assert xapi.get(PATH, **params()).status_code == 404
    assert xapi.delete(PATH, **params(profileId="never")).status_code == 204


def test_list_ids_and_since(xapi: Xapi) -> None:
    """Part Three §2.7.s4 (ADL XAPI-00289, XAPI-00294, XAPI-00303): ids of the Activity's profiles,
    only those updated after `since` (exclusive) when given."""
    xapi.put(PATH, json_body={}, headers=CREATE, **params(profileId="p1"))
    time.sleep(0.02)
    cut = datetime.now(UTC).isoformat()
    time.sleep(0.02)
    xapi.put(PATH, json_body={}, headers=CREATE, **params(profileId="p2"))
    xapi.put(PATH, json_body={}, headers=CREATE, **params(profileId="p3", activityId=ACTIVITY + "/other"))
    assert sorted(xapi.get(PATH, **params(profileId=None)).get_json()) == ["p1", "p2"]
    assert xapi.get(PATH, **params(profileId=None, since=cut)).get_json() == ["p2"]


@pytest.mark.parametrize(("method", "missing"), [
    ("GET", "activityId"), ("PUT", "activityId"), ("POST", "activityId"), ("DELETE", "activityId"),
    ("PUT", "profileId"), ("POST", "profileId"), ("DELETE", "profileId"),
])
def test_required_parameters(xapi: Xapi, method: str, missing: str) -> None:
    """Part Three §2.7.s3.table1 (ADL XAPI-00296..00302): activityId always; profileId except for the list GET."""
    body = {"json_body": {"a": 1}} if method in ("PUT", "POST") else {}
    got = xapi.request(method, PATH, headers=CREATE, **body, **params(**{missing: None}))
    assert got.status_code == 400


@pytest.mark.parametrize(("name", "value"), [
    ("activityId", "no scheme"),
    ("since", "yesterday"),
    ("agent", json.dumps({"mbox": "mailto:an@example.vn"})),  # not a parameter of this resource
    ("registration", "0c8f6f7a-9a5e-4f5e-8a43-0d7cf1a8d5b0"),  # nor this
])
def test_bad_parameters_are_400(xapi: Xapi, name: str, value: str) -> None:
    """Part Three §2.7.s3-s4 tables: parameter types, and no parameters the resource does not define."""
    assert xapi.get(PATH, **params(profileId=None, **{name: value})).status_code == 400


def test_scopes(app: Flask) -> None:
    """Part Three §4.2: `profile` reads and writes profiles; `all/read` only reads; `state` and
    `statements/read` cannot touch them."""
    slug, key, secret = new_credential(app, ["profile"])
    owner = Xapi(app.test_client(), key, secret)
    assert owner.put(PATH, json_body={"a": 1}, headers=CREATE, **params()).status_code == 204
    for scopes in (["state"], ["statements/read"]):
        _, k, s = new_credential(app, scopes, tenant_slug=slug)
        other = Xapi(app.test_client(), k, s)
        assert other.get(PATH, **params()).status_code == 403
        assert other.delete(PATH, **params()).status_code == 403
    _, k, s = new_credential(app, ["all/read"], tenant_slug=slug)
    reader = Xapi(app.test_client(), k, s)
    assert reader.get(PATH, **params()).get_json() == {"a": 1}
    assert reader.put(PATH, json_body={}, headers={"If-Match": "*"}, **params()).status_code == 403
    assert owner.get(PATH, **params()).get_json() == {"a": 1}


def test_tenants_are_isolated(app: Flask) -> None:
    """DESIGN.md Tenancy: another tenant neither reads, lists, overwrites nor deletes the profile."""
    _, k1, s1 = new_credential(app, ["all"])
    _, k2, s2 = new_credential(app, ["all"])
    first, second = Xapi(app.test_client(), k1, s1, "2.0.0"), Xapi(app.test_client(), k2, s2, "2.0.0")
    first.put(PATH, json_body={"owner": 1}, **params())
    etag = first.get(PATH, **params()).headers["ETag"]

    assert second.get(PATH, **params()).status_code == 404
    assert second.get(PATH, **params(profileId=None)).get_json() == []
    # The first tenant's ETag means nothing to the second: there is no such document there.
    assert second.put(PATH, json_body={"owner": 2}, headers={"If-Match": etag}, **params()).status_code == 412
    assert second.delete(PATH, headers={"If-Match": etag}, **params()).status_code == 412
    assert second.put(PATH, json_body={"owner": 2}, **params()).status_code == 204
    assert second.delete(PATH, **params()).status_code == 204
    assert first.get(PATH, **params()).get_json() == {"owner": 1}
