"""ETag concurrency on the three Document Resources, per version: xAPI 1.0.3 Part Three §3.1 /
IEEE 9274.1.1 §4.1.4.

Where the versions differ:
* 1.0.3 §3.1.s3 exempts the State Resource: a PUT without If-Match/If-None-Match overwrites it.
  2.0 §4.1.4 lists State with the profiles, so such a PUT to an existing state document is 409.
* 1.0.3 §3.1.s3.b1 makes a profile PUT without either header a client error even for a new
  document (400, ADL XAPI-00273); 2.0 only forbids it for an existing document (409).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Xapi, new_credential

AGENT = json.dumps({"mbox": "mailto:an@example.vn"})
ACTIVITY = "https://hocvu.vn/courses/ky-nang-so"
RESOURCES: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "state": ("activities/state", lambda i: {"activityId": ACTIVITY, "agent": AGENT, "stateId": i}),
    "activity_profile": ("activities/profile", lambda i: {"activityId": ACTIVITY, "profileId": i}),
    "agent_profile": ("agents/profile", lambda i: {"agent": AGENT, "profileId": i}),
}
VERSIONS = ["1.0.3", "2.0.0"]
BAD_TAG = '"1111111111111111111111111111111111111111"'


class Doc:
    """One document of one resource, through one client."""

    def __init__(self, x: Xapi, resource: str, doc_id: str = "doc") -> None:
        self.x = x
        self.path, build = RESOURCES[resource]
        self.params = build(doc_id)

    def create(self, body: dict[str, Any]) -> str:
        assert self.put(body, {"If-None-Match": "*"}).status_code == 204
        return str(self.get().headers["ETag"])

    def get(self, headers: dict[str, str] | None = None) -> Any:
        return self.x.get(self.path, headers=headers, **self.params)

    def put(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return self.x.put(self.path, json_body=body, headers=headers, **self.params)

    def post(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return self.x.post(self.path, json_body=body, headers=headers, **self.params)

    def delete(self, headers: dict[str, str] | None = None) -> Any:
        return self.x.delete(self.path, headers=headers, **self.params)

    def ids(self, **extra: str) -> list[str]:
        scope = {k: v for k, v in self.params.items() if k not in ("stateId", "profileId")}
        got = self.x.get(self.path, **scope, **extra)
        assert got.status_code == 200, got.data
        return list(got.get_json())


@pytest.fixture(params=VERSIONS)
def client(app: Flask, request: pytest.FixtureRequest) -> Xapi:
    _, key, secret = new_credential(app, ["all"])
    return Xapi(app.test_client(), key, secret, version=request.param)


@pytest.fixture(params=list(RESOURCES))
def doc(client: Xapi, request: pytest.FixtureRequest) -> Doc:
    return Doc(client, request.param)


def test_get_etag_is_the_quoted_sha1_of_the_body(doc: Doc) -> None:
    """Part Three §3.1.s4.b1, b2, b4 (ADL XAPI-00322) / IEEE §4.1.4: GET carries an ETag, the
    quoted lowercase hex SHA-1 of the contents."""
    doc.create({"b": 1, "a": "ă"})
    got = doc.get()
    assert re.fullmatch(r'"[0-9a-f]{40}"', got.headers["ETag"])
    assert got.headers["ETag"] == f'"{hashlib.sha1(got.data).hexdigest()}"'


def test_put_with_matching_if_match_replaces(doc: Doc) -> None:
    """Part Three §3.1.s4.b5 / IEEE §4.1.4: If-Match with the current ETag lets the PUT through."""
    etag = doc.create({"v": 1})
    put = doc.put({"v": 2}, {"If-Match": etag})
    assert put.status_code == 204
    assert doc.get().get_json() == {"v": 2}
    assert put.headers["ETag"] != etag


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_stale_if_match_is_412_and_changes_nothing(doc: Doc, method: str) -> None:
    """Part Three §3.1.s4.b5, b7, b9-b12 / IEEE §4.1.4: a failed If-Match on PUT, POST or DELETE
    is 412 Precondition Failed and the document stays as it was."""
    etag = doc.create({"v": 1})
    headers = {"If-Match": BAD_TAG}
    got = {"PUT": lambda: doc.put({"v": 2}, headers), "POST": lambda: doc.post({"v": 2}, headers),
           "DELETE": lambda: doc.delete(headers)}[method]()
    assert got.status_code == 412
    after = doc.get()
    assert after.get_json() == {"v": 1} and after.headers["ETag"] == etag


def test_post_and_delete_with_matching_if_match(doc: Doc) -> None:
    """IEEE §4.1.4 (the 2.0 suite's "properly handles POST/DELETE with If-Match"), Part Three §3.1.s4.b7."""
    etag = doc.create({"name": "old", "keep": 1})
    assert doc.post({"name": "new"}, {"If-Match": etag}).status_code == 204
    assert doc.get().get_json() == {"name": "new", "keep": 1}
    assert doc.delete({"If-Match": doc.get().headers["ETag"]}).status_code == 204
    assert doc.get().status_code == 404


def test_if_none_match_star(doc: Doc) -> None:
    """Part Three §3.1.s4.b6, b8: If-None-Match: * succeeds only when no document exists."""
    doc.create({"v": 1})
    assert doc.put({"v": 2}, {"If-None-Match": "*"}).status_code == 412
    assert doc.post({"v": 2}, {"If-None-Match": "*"}).status_code == 412
    assert doc.get().get_json() == {"v": 1}


def test_if_match_on_a_missing_document_is_412(doc: Doc) -> None:
    """RFC 7232 §3.1 as Part Three §3.1.s4.b5 cites it: If-Match fails when nothing is stored."""
    assert doc.put({"v": 1}, {"If-Match": "*"}).status_code == 412
    assert doc.delete({"If-Match": BAD_TAG}).status_code == 412
    assert doc.get().status_code == 404


def test_if_match_star_and_lists(doc: Doc) -> None:
    """RFC 7232 §3.1: `*` matches any current document; a list matches if one tag is current;
    a weak tag never matches If-Match (strong comparison)."""
    etag = doc.create({"v": 1})
    assert doc.put({"v": 2}, {"If-Match": f"W/{etag}"}).status_code == 412
    assert doc.put({"v": 2}, {"If-Match": f"{BAD_TAG}, {etag}"}).status_code == 204
    assert doc.put({"v": 3}, {"If-Match": "*"}).status_code == 204
    assert doc.get().get_json() == {"v": 3}


def test_conditional_get(doc: Doc) -> None:
    """RFC 7232 §3.1-§3.2 on GET: a current If-None-Match is 304; a stale If-Match is 412."""
    etag = doc.create({"v": 1})
    assert doc.get({"If-None-Match": etag}).status_code == 304
    assert doc.get({"If-None-Match": BAD_TAG}).status_code == 200
    assert doc.get({"If-Match": BAD_TAG}).status_code == 412


@pytest.mark.parametrize("resource", ["activity_profile", "agent_profile"])
def test_profile_put_without_headers_on_existing_is_409(client: Xapi, resource: str) -> None:
    """Part Three §3.1.s4.b13-b15 / IEEE §4.1.4 (ADL 1.0.3 and 2.0 suites): 409 Conflict, a message
    telling the client to check the document and use If-Match, and no change."""
    d = Doc(client, resource)
    d.create({"v": 1})
    got = d.put({"v": 2})
    assert got.status_code == 409
    assert "If-Match" in got.get_json()["error"]["message"]
    assert d.get().get_json() == {"v": 1}


@pytest.mark.parametrize(("version", "status", "stored"), [("1.0.3", 204, {"v": 2}), ("2.0.0", 409, {"v": 1})])
def test_state_put_without_headers_on_existing(app: Flask, version: str, status: int, stored: dict[str, int]) -> None:
    """1.0.3 Part Three §3.1.s3: State permits writes without concurrency headers (overwrite, 204).
    IEEE §4.1.4 names State among the controlled resources (the 2.0 suite expects 409)."""
    _, key, secret = new_credential(app, ["all"])
    d = Doc(Xapi(app.test_client(), key, secret, version=version), "state")
    d.create({"v": 1})
    assert d.put({"v": 2}).status_code == status
    assert d.get().get_json() == stored


@pytest.mark.parametrize(("version", "resource", "status"), [
    ("1.0.3", "state", 204), ("1.0.3", "activity_profile", 400), ("1.0.3", "agent_profile", 400),
    ("2.0.0", "state", 204), ("2.0.0", "activity_profile", 204), ("2.0.0", "agent_profile", 204),
])
def test_put_without_headers_on_a_new_document(app: Flask, version: str, resource: str, status: int) -> None:
    """1.0.3 Part Three §3.1.s3.b1 (ADL XAPI-00273: a profile PUT MUST carry If-Match or
    If-None-Match, so 400 without) vs IEEE §4.1.4 (only an existing document needs them)."""
    _, key, secret = new_credential(app, ["all"])
    d = Doc(Xapi(app.test_client(), key, secret, version=version), resource)
    assert d.put({"v": 1}).status_code == status
    assert d.get().status_code == (200 if status == 204 else 404)


def test_post_and_delete_need_no_headers(doc: Doc) -> None:
    """Part Three §3.1.s3.b2-b3 (SHOULD*, not MUST) / IEEE §4.1.4 (409 only for PUT): POST and DELETE
    without concurrency headers are accepted."""
    assert doc.post({"a": 1}).status_code == 204
    assert doc.post({"b": 2}).status_code == 204
    assert doc.delete().status_code == 204


def test_a_write_moves_the_etag_and_the_updated_time(doc: Doc) -> None:
    """Part Three §2.2.s2 ("updated"), §2.3.s4/§2.6.s4/§2.7.s4 (`since`): a POST merge changes the
    ETag and moves the document past a `since` taken before it; the write's response names the new ETag."""
    etag = doc.create({"a": 1})
    time.sleep(0.02)
    cut = datetime.now(UTC).isoformat()
    time.sleep(0.02)
    assert doc.ids(since=cut) == []
    posted = doc.post({"b": 2})
    assert doc.ids(since=cut) == ["doc"]
    assert doc.get().headers["ETag"] == posted.headers["ETag"] != etag


def test_another_tenants_etag_does_not_unlock_a_document(app: Flask) -> None:
    """DESIGN.md Tenancy with Part Three §3.1: a tenant that learns another's ETag still cannot
    overwrite or delete that tenant's document."""
    _, k1, s1 = new_credential(app, ["all"])
    _, k2, s2 = new_credential(app, ["all"])
    mine = Doc(Xapi(app.test_client(), k1, s1, "2.0.0"), "state")
    theirs = Doc(Xapi(app.test_client(), k2, s2, "2.0.0"), "state")
    etag = mine.create({"owner": 1})
    assert theirs.put({"owner": 2}, {"If-Match": etag}).status_code == 412
    assert theirs.delete({"If-Match": etag}).status_code == 412
    assert mine.get().get_json() == {"owner": 1}


def _race(n: int, action: Callable[[int], int]) -> list[tuple[int, int]]:
    """Run ``action(i)`` for i in range(n) on n threads released together; (i, status) pairs."""
    barrier, results = threading.Barrier(n), []

    def run(i: int) -> None:
        barrier.wait()
        results.append((i, action(i)))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == n
    return results


def test_racing_writers_holding_one_etag_only_one_wins(app: Flask) -> None:
    """Part Three §3.1.s1, §3.1.s4.b5, b9-b10 / IEEE §4.1.4: optimistic concurrency holds under real
    concurrency: of several PUTs sent with the same If-Match, one succeeds and the others get 412."""
    _, key, secret = new_credential(app, ["all"])

    def doc() -> Doc:
        return Doc(Xapi(app.test_client(), key, secret, "2.0.0"), "activity_profile")

    etag = doc().create({"v": -1})
    results = _race(6, lambda i: int(doc().put({"v": i}, {"If-Match": etag}).status_code))
    assert sorted(code for _, code in results) == [204] + [412] * 5
    winner = next(i for i, code in results if code == 204)
    assert doc().get().get_json() == {"v": winner}


def test_racing_merges_lose_no_update(app: Flask) -> None:
    """Part Three §2.2.s7: concurrent POST merges without headers each land; none overwrites another's keys."""
    _, key, secret = new_credential(app, ["all"])

    def doc() -> Doc:
        return Doc(Xapi(app.test_client(), key, secret, "1.0.3"), "state")

    doc().create({"start": 0})
    results = _race(6, lambda i: int(doc().post({f"k{i}": i}).status_code))
    assert [code for _, code in results] == [204] * 6
    assert doc().get().get_json() == {"start": 0, **{f"k{i}": i for i in range(6)}}
