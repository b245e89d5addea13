"""State Resource: xAPI 1.0.3 Part Three §2.2, §2.3 / IEEE 9274.1.1 §4.1.6.2.

Concurrency headers are in test_documents_concurrency.py.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask

from tests.conftest import Xapi, new_credential

PATH = "activities/state"
ACTIVITY = "https://hocvu.vn/courses/ky-nang-so/lesson-1"
AGENT = {"objectType": "Agent", "name": "Nguyễn Văn An", "mbox": "mailto:an@example.vn"}


def params(**overrides: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"activityId": ACTIVITY, "agent": json.dumps(AGENT), "stateId": "bookmark"}
    p.update(overrides)
    return {k: v for k, v in p.items() if v is not None}


def stamp() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


# --- single document: PUT / GET / HEAD / DELETE (Part Three §2.3.s3) ---------------------------

def test_put_then_get_returns_the_document_with_its_headers(xapi: Xapi) -> None:
    """Part Three §2.3.s3 (PUT 204, GET 200 the document), §3.1.s4.b1-b4 (quoted SHA-1 ETag),
    §2.2.s6.b1 (Last-Modified)."""
    put = xapi.put(PATH, json_body={"page": 3, "tên": "Bài 1"}, **params())
    assert put.status_code == 204, put.data
    got = xapi.get(PATH, **params())
    assert got.status_code == 200
    assert got.get_json() == {"page": 3, "tên": "Bài 1"}
    assert got.headers["Content-Type"].startswith("application/json")
    assert got.headers["ETag"] == f'"{hashlib.sha1(got.data).hexdigest()}"'
    assert got.headers["Last-Modified"].endswith("GMT")
    assert put.headers["ETag"] == got.headers["ETag"]  # the write tells the client the new ETag


def test_any_content_type_is_stored_and_served_as_sent(xapi: Xapi) -> None:
    """Part Three §1.5.b1: documents can have any content type; §2.2.s2: contents are arbitrary binary data."""
    blob = bytes(range(256))
    assert xapi.put(PATH, data=blob, headers={"Content-Type": "image/png"}, **params()).status_code == 204
    got = xapi.get(PATH, **params())
    assert got.status_code == 200
    assert got.data == blob
    assert got.headers["Content-Type"] == "image/png"


def test_head_returns_the_get_headers_without_a_body(xapi: Xapi) -> None:
    """Part Three §1.1.s3.b1: HEAD answers as GET would, without the message body."""
    xapi.put(PATH, json_body={"a": 1}, **params())
    head = xapi.request("HEAD", PATH, **params())
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["ETag"] == xapi.get(PATH, **params()).headers["ETag"]


def test_get_of_a_missing_document_is_404(xapi: Xapi) -> None:
    """Part Three §3.2 / IEEE §4.1.6 error codes: 404 for a single document that does not exist."""
    assert xapi.get(PATH, **params(stateId="never-written")).status_code == 404


def test_delete_one_document(xapi: Xapi) -> None:
    """Part Three §2.3.s3: DELETE with stateId removes that document and answers 204."""
    xapi.put(PATH, json_body={"a": 1}, **params())
    xapi.put(PATH, json_body={"b": 2}, **params(stateId="other"))
    assert xapi.delete(PATH, **params()).status_code == 204
    assert xapi.get(PATH, **params()).status_code == 404
    assert xapi.get(PATH, **params(stateId="other")).status_code == 200
    assert xapi.delete(PATH, **params()).status_code == 204  # deleting an absent document is still 204


def test_the_agent_is_matched_by_its_identifier_not_its_json(xapi: Xapi) -> None:
    """Part Three §2.3.s3.table1.row2: the Agent is identified by its IFI; name and key order do not matter."""
    xapi.put(PATH, json_body={"a": 1}, **params())
    same = json.dumps({"mbox": "mailto:an@example.vn", "name": "An"})
    assert xapi.get(PATH, **params(agent=same)).get_json() == {"a": 1}
    other = json.dumps({"mbox": "mailto:binh@example.vn"})
    assert xapi.get(PATH, **params(agent=other)).status_code == 404


@pytest.mark.parametrize("version", ["1.0.3", "2.0.0"])
def test_registration_keeps_documents_apart(app: Flask, version: str) -> None:
    """Part Three §2.3.s3.table1.row3 / IEEE §4.1.6.2: the registration is part of the document's context."""
    _, key, secret = new_credential(app, ["all"])
    x = Xapi(app.test_client(), key, secret, version=version)
    reg = str(uuid.uuid4())
    assert x.put(PATH, json_body={"with": True}, **params(registration=reg)).status_code == 204
    assert x.get(PATH, **params()).status_code == 404
    assert x.get(PATH, **params(registration=reg.upper())).get_json() == {"with": True}


# --- POST: JSON merge (Part Three §2.2.s7, §2.2.s8) ------------------------------------------

def test_post_of_a_new_document_stores_it(xapi: Xapi) -> None:
    """Part Three §2.2.s7 (ADL XAPI-00233): a POST with no document stored stores it as a PUT would."""
    assert xapi.post(PATH, json_body={"x": "foo"}, **params()).status_code == 204
    assert xapi.get(PATH, **params()).get_json() == {"x": "foo"}


def test_post_merges_top_level_properties_only(xapi2: Xapi) -> None:
    """Part Three §2.2.s7.b1-b3, §2.2.s8.b2 (ADL XAPI-00183/00184): posted properties replace the
    stored ones whole, one level deep; the rest are kept; 204."""
    xapi2.post(PATH, json_body={"x": "foo", "y": "bar", "car": {"make": "Ford", "model": "Escape"}}, **params())
    merged = xapi2.post(PATH, json_body={"x": "bash", "z": "faz", "car": {"make": "Dodge"}}, **params())
    assert merged.status_code == 204
    assert xapi2.get(PATH, **params()).get_json() == {"x": "bash", "y": "bar", "z": "faz",
                                                      "car": {"make": "Dodge"}}


@pytest.mark.parametrize(("body", "content_type"), [
    (b"abcdefg", "not/json"),                       # posted document is not application/json
    (b'{"a": 1', "application/json"),               # ... is application/json but not JSON
    (b"[1, 2]", "application/json"),                # ... is JSON but not an object
    (b'{"a": 1}', None),                            # ... has no content type at all
])
def test_post_that_cannot_merge_is_400_and_changes_nothing(xapi: Xapi, body: bytes, content_type: str | None) -> None:
    """Part Three §2.2.s8.b1 (ADL XAPI-00229, XAPI-00232): a posted document that is not a JSON
    object sent as application/json is 400, and the stored document is not updated."""
    xapi.post(PATH, json_body={"kept": True}, **params())
    headers = {"Content-Type": content_type} if content_type else {}
    assert xapi.post(PATH, data=body, headers=headers, **params()).status_code == 400
    assert xapi.get(PATH, **params()).get_json() == {"kept": True}


def test_post_json_onto_a_stored_non_json_document_is_400(xapi: Xapi) -> None:
    """Part Three §2.2.s8.b1 (ADL XAPI-00229 case 2): the stored document is not application/json."""
    xapi.put(PATH, data=b"/ asdf / undefined", headers={"Content-Type": "application/octet-stream"}, **params())
    assert xapi.post(PATH, json_body={"a": 1}, **params()).status_code == 400
    assert xapi.get(PATH, **params()).data == b"/ asdf / undefined"


def test_an_oversized_content_type_is_400(xapi: Xapi) -> None:
    """Part Three §1.5.b1 allows any content type; one longer than the LRS keeps is refused, not a 500."""
    got = xapi.put(PATH, data=b"x", headers={"Content-Type": "text/plain; x=" + "y" * 300}, **params())
    assert got.status_code == 400


def test_put_labelled_json_must_be_json(xapi: Xapi) -> None:
    """Part Three §3.0.s2.b1 (the LRS enforces structure): a document sent as application/json that
    does not parse is refused, so later merges (§2.2.s7) never meet a broken stored document."""
    bad = xapi.put(PATH, data=b'{"a":', headers={"Content-Type": "application/json"}, **params())
    assert bad.status_code == 400
    assert xapi.get(PATH, **params()).status_code == 404


# --- multiple documents: GET ids, DELETE all (Part Three §2.3.s4, §2.3.s5) ---------------------

def test_get_without_state_id_lists_ids(xapi: Xapi) -> None:
    """Part Three §2.3.s4 (ADL XAPI-00193): an array of the state ids of the Activity + Agent,
    with Last-Modified of the latest one (§2.2.s6.b2) and an ETag (§3.1.s4.b1)."""
    for sid in ("b", "a", "c"):
        xapi.put(PATH, json_body={"id": sid}, **params(stateId=sid))
    xapi.put(PATH, json_body={}, **params(stateId="elsewhere", activityId=ACTIVITY + "/other"))
    listed = xapi.get(PATH, **params(stateId=None))
    assert listed.status_code == 200
    assert sorted(listed.get_json()) == ["a", "b", "c"]
    assert listed.headers["Last-Modified"] == xapi.get(PATH, **params(stateId="c")).headers["Last-Modified"]
    assert listed.headers["ETag"].startswith('"')
    empty = xapi.get(PATH, **params(stateId=None, activityId=ACTIVITY + "/nothing"))
    assert empty.status_code == 200 and empty.get_json() == []


def test_since_returns_only_documents_updated_after_it(xapi2: Xapi) -> None:
    """Part Three §2.3.s4.table1.row4 (ADL XAPI-00195) / IEEE §4.1.6.2: `since` is exclusive."""
    xapi2.put(PATH, json_body={}, **params(stateId="old"))
    time.sleep(0.02)
    cut = datetime.now(timezone(timedelta(hours=7))).isoformat()  # Hà Nội time: compared as an instant
    time.sleep(0.02)
    xapi2.put(PATH, json_body={}, **params(stateId="new"))
    assert xapi2.get(PATH, **params(stateId=None, since=cut)).get_json() == ["new"]
    assert sorted(xapi2.get(PATH, **params(stateId=None, since="2000-01-01T00:00:00+07:00")).get_json()) == [
        "new", "old"]
    # Updating the old one moves it after the cut.
    xapi2.post(PATH, json_body={"touched": 1}, **params(stateId="old"))
    assert sorted(xapi2.get(PATH, **params(stateId=None, since=cut)).get_json()) == ["new", "old"]


def test_list_without_registration_spans_registrations(xapi: Xapi) -> None:
    """Part Three §2.3.s4: the context is Activity + Agent [+ registration if specified]."""
    reg = str(uuid.uuid4())
    xapi.put(PATH, json_body={}, **params(stateId="plain"))
    xapi.put(PATH, json_body={}, **params(stateId="registered", registration=reg))
    assert sorted(xapi.get(PATH, **params(stateId=None)).get_json()) == ["plain", "registered"]
    assert xapi.get(PATH, **params(stateId=None, registration=reg)).get_json() == ["registered"]


def test_delete_without_state_id_deletes_the_context(xapi: Xapi) -> None:
    """Part Three §2.3.s5 (ADL XAPI-00194): DELETE without stateId removes every state of the
    Activity + Agent (+ registration when given), nothing else; 204."""
    reg = str(uuid.uuid4())
    other_agent = json.dumps({"mbox": "mailto:binh@example.vn"})
    xapi.put(PATH, json_body={}, **params(stateId="s1"))
    xapi.put(PATH, json_body={}, **params(stateId="s2", registration=reg))
    xapi.put(PATH, json_body={}, **params(stateId="s3"))
    xapi.put(PATH, json_body={}, **params(stateId="s1", agent=other_agent))

    assert xapi.delete(PATH, **params(stateId=None, registration=reg)).status_code == 204
    assert sorted(xapi.get(PATH, **params(stateId=None)).get_json()) == ["s1", "s3"]
    assert xapi.delete(PATH, **params(stateId=None)).status_code == 204
    assert xapi.get(PATH, **params(stateId=None)).get_json() == []
    assert xapi.get(PATH, **params(stateId="s1", agent=other_agent)).status_code == 200


# --- parameters (Part Three §2.3.s3-s5 tables) -------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE"])
@pytest.mark.parametrize("missing", ["activityId", "agent"])
def test_required_parameters(xapi: Xapi, method: str, missing: str) -> None:
    """Part Three §2.3.s3.table1.row1-row2 (ADL XAPI-00207..00215): activityId and agent are required."""
    body = {"json_body": {"a": 1}} if method in ("PUT", "POST") else {}
    assert xapi.request(method, PATH, **body, **params(**{missing: None})).status_code == 400


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_state_id_is_required_to_write(xapi: Xapi, method: str) -> None:
    """Part Three §2.3.s3.table1.row4 (ADL XAPI-00206, XAPI-00211)."""
    assert xapi.request(method, PATH, json_body={"a": 1}, **params(stateId=None)).status_code == 400


@pytest.mark.parametrize(("name", "value"), [
    ("agent", "not json"),                                                   # ADL XAPI-00196..00199
    ("agent", json.dumps({"objectType": "Agent"})),                          # no identifier
    ("agent", json.dumps({"objectType": "Group", "mbox": "mailto:g@example.vn"})),  # a Group
    ("activityId", "not an iri"),
    ("activityId", "https://hocvu.vn/" + "a" * 2100),                       # longer than the key column
    ("registration", "not-a-uuid"),                                          # ADL XAPI-00200..00203
    ("since", "not a timestamp"),                                            # ADL XAPI-00204
    ("stateId", ""),
    ("unknown", "1"),
])
def test_bad_parameters_are_400(xapi: Xapi, name: str, value: str) -> None:
    """Part Three §2.3.s3-s4 tables: each parameter's type; parameters the resource does not
    define are rejected (§3.2)."""
    p = params(**{name: value})
    if name == "since":
        p.pop("stateId")
    assert xapi.get(PATH, **p).status_code == 400


def test_since_is_not_a_delete_or_write_parameter(xapi: Xapi) -> None:
    """Part Three §2.3.s5 table (ADL XAPI-00205): `since` belongs to the multiple-document GET only."""
    assert xapi.delete(PATH, **params(stateId=None, since=stamp())).status_code == 400
    assert xapi.put(PATH, json_body={}, **params(since=stamp())).status_code == 400


def test_a_parameter_given_twice_is_400(xapi: Xapi) -> None:
    """Part Three §2.3.s3 table: one value per parameter; two stateIds name no single document."""
    query = urlencode([("activityId", ACTIVITY), ("agent", json.dumps(AGENT)), ("stateId", "a"), ("stateId", "b")])
    got = xapi.client.get(f"/xapi/{PATH}?{query}", headers=xapi.headers())
    assert got.status_code == 400


def test_other_methods_are_405(xapi: Xapi) -> None:
    """Part Three §2.3: the State Resource takes PUT, POST, GET, DELETE (and HEAD)."""
    assert xapi.request("PATCH", PATH, json_body={}, **params()).status_code == 405


# --- scopes and tenancy (Part Three §4.2; DESIGN.md Tenancy) ----------------------------------

def test_scopes(app: Flask) -> None:
    """Part Three §4.2 table "OAuth Scope": `state` reads and writes state; `all/read` reads it;
    neither `statements/read` nor `profile` touches it."""
    slug, key, secret = new_credential(app, ["state"])
    writer = Xapi(app.test_client(), key, secret)
    assert writer.put(PATH, json_body={"a": 1}, **params()).status_code == 204
    assert writer.get(PATH, **params()).status_code == 200

    for scopes in (["statements/read"], ["profile"]):
        _, k, s = new_credential(app, scopes, tenant_slug=slug)
        outsider = Xapi(app.test_client(), k, s)
        assert outsider.get(PATH, **params()).status_code == 403
        assert outsider.put(PATH, json_body={"b": 2}, **params()).status_code == 403
        assert outsider.delete(PATH, **params(stateId=None)).status_code == 403

    _, k, s = new_credential(app, ["all/read"], tenant_slug=slug)
    reader = Xapi(app.test_client(), k, s)
    assert reader.get(PATH, **params()).get_json() == {"a": 1}
    assert reader.post(PATH, json_body={"b": 2}, **params()).status_code == 403
    assert writer.get(PATH, **params()).get_json() == {"a": 1}


def test_tenants_never_see_each_others_state(app: Flask) -> None:
    """DESIGN.md Tenancy: a second tenant cannot read, overwrite or delete the first's documents."""
    _, k1, s1 = new_credential(app, ["all"])
    _, k2, s2 = new_credential(app, ["all"])
    first, second = Xapi(app.test_client(), k1, s1), Xapi(app.test_client(), k2, s2)
    first.put(PATH, json_body={"owner": "first"}, **params())

    assert second.get(PATH, **params()).status_code == 404
    assert second.get(PATH, **params(stateId=None)).get_json() == []
    assert second.put(PATH, json_body={"owner": "second"}, **params()).status_code == 204
    assert second.delete(PATH, **params()).status_code == 204
    assert second.delete(PATH, **params(stateId=None)).status_code == 204
    assert first.get(PATH, **params()).get_json() == {"owner": "first"}
