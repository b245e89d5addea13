"""The body limit holds on the bytes received, chunked or not (issue 13 case 5): through a real
gunicorn, which passes a chunked body (RFC 9112 §7.1) on without Content-Length. A statement padded
past the limit with whitespace (its first HOCVU_MAX_BODY_BYTES bytes still parse) was stored with
a 200 when chunked, refused with a 413 when sent with Content-Length; now 413 both ways and nothing
stored (xAPI 1.0.3 Part Three §3.2.s3.b11, RFC 9110 §15.5.14)."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hocvu.body_limit import BodyLimit
from tests.conftest import statement
from tests.gunicorn_support import Hub, gunicorn

LIMIT = 256 * 1024
HEADERS = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder = tmp_path_factory.mktemp("body-limit")
    with gunicorn(f"sqlite:///{folder / 'hocvu.db'}", folder, extra_env={"HOCVU_MAX_BODY_BYTES": str(LIMIT)}) as h:
        yield h


def padded(size: int) -> tuple[str, bytes]:
    """A statement followed by whitespace up to ``size`` bytes: any prefix past the statement parses."""
    sid = str(uuid.uuid4())
    text = json.dumps(statement(id=sid)).encode()
    return sid, text + b" " * (size - len(text))


def chunks(body: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i:i + size]


def stored(hub: Hub, sid: str) -> int:
    return requests.get(f"{hub.base}/xapi/statements", params={"statementId": sid}, auth=hub.auth,
                        headers=HEADERS, timeout=30).status_code


def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_stored(hub: Hub) -> None:
    sid, body = padded(LIMIT + 100_000)
    res = requests.post(f"{hub.base}/xapi/statements", data=chunks(body), auth=hub.auth, headers=HEADERS, timeout=60)
    assert res.request.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in res.request.headers
    assert res.status_code == 413, res.text[:300]
    assert res.json()["error"]["code"] == "payload_too_large"
    assert res.headers["X-Experience-API-Version"] == "1.0.3"
    assert res.headers.get("Connection", "").lower() == "close"  # the rest of the body is never read
    assert stored(hub, sid) == 404


def test_the_same_bytes_with_content_length_are_413_too(hub: Hub) -> None:
    sid, body = padded(LIMIT + 100_000)
    res = requests.post(f"{hub.base}/xapi/statements", data=body, auth=hub.auth, headers=HEADERS, timeout=60)
    assert res.status_code == 413 and res.json()["error"]["code"] == "payload_too_large"
    assert stored(hub, sid) == 404


def test_a_chunked_body_within_the_limit_is_read_whole(hub: Hub) -> None:
    """Exactly the limit, chunked: stored (the limit is inclusive); documents too."""
    sid, body = padded(LIMIT)
    res = requests.post(f"{hub.base}/xapi/statements", data=chunks(body), auth=hub.auth, headers=HEADERS, timeout=60)
    assert res.status_code == 200, res.text[:300]
    assert stored(hub, sid) == 200
    params = {"activityId": "https://hocvu.vn/a", "profileId": "chunked"}
    doc = {**HEADERS, "If-None-Match": "*"}
    url = f"{hub.base}/xapi/activities/profile"
    assert requests.put(url, params=params, data=chunks(b'{"a": 1}' + b" " * 70_000), auth=hub.auth, headers=doc,
                        timeout=60).status_code == 204
    too_big = chunks(b'{"a": 2}' + b" " * LIMIT)
    assert requests.put(url, params={**params, "profileId": "big"}, data=too_big, auth=hub.auth, headers=doc,
                        timeout=60).status_code == 413
    assert requests.get(url, params=params, auth=hub.auth, headers=HEADERS, timeout=30).json() == {"a": 1}


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def inner(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(length=env["CONTENT_LENGTH"], body=env["wsgi.input"].read())
        start_response("413 Content Too Large" if int(env["CONTENT_LENGTH"]) > 10 else "200 OK", [])
        return []

    status: list[str] = []
    list(BodyLimit(inner, 10)(environ, lambda s, h, *a: status.append(s) or (lambda b: None)))
    return status[0], seen


def test_body_limit_middleware_judges_bytes_not_headers() -> None:
    """RFC 9112 §7.1: a chunked body has no length up front; it is counted as it arrives, at most
    one byte past the limit is read, and a body with Content-Length is left to the app."""
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b"x" * 10)}
    assert _call(None, chunked) == ("200 OK", {"length": "10", "body": b"x" * 10})
    over = io.BytesIO(b"y" * 1000)
    status, seen = _call(None, {"wsgi.input_terminated": True, "REQUEST_METHOD": "POST", "wsgi.input": over})
    assert status.startswith("413") and seen == {"length": "11", "body": b""} and over.tell() == 11
    sized = {"CONTENT_LENGTH": "5", "wsgi.input": io.BytesIO(b"12345")}
    assert _call(None, sized) == ("200 OK", {"length": "5", "body": b"12345"})
