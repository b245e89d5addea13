"""The platforms' key sets (lti_tool.platform_keys), fetched over real HTTP from a loopback server:
kept as long as the platform's caching headers say (RFC 9111 §5.2.2.1 max-age, §5.3 Expires) within
[min, max]; an unknown kid refetched once (1EdTech Security Framework 1.0 §6.3, key rotation), at
most once per interval however many forged kids arrive; revalidated with ETag (RFC 9110 §13.1.2);
the cached set served when the platform is down."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import pytest
import requests
from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

from lti_tool.errors import PlatformUnavailable
from lti_tool.platform_keys import DEFAULT_AGE, PlatformKeys


@dataclass
class KeyServer:
    kids: list[str] = field(default_factory=lambda: ["k1"])
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    etag: str | None = None
    hits: int = 0
    url: str = ""

    def __post_init__(self) -> None:
        app = Flask("keys")

        @app.get("/jwks")
        def jwks() -> Response:
            self.hits += 1
            if self.status != 200:
                return Response(status=self.status)
            if self.etag and request.headers.get("If-None-Match") == self.etag:
                return Response(status=304, headers=self.headers)
            response = jsonify({"keys": [{"kty": "RSA", "kid": k, "n": "AQAB", "e": "AQAB"} for k in self.kids]})
            response.headers.update(self.headers)
            if self.etag:
                response.headers["ETag"] = self.etag
            return response

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/jwks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()


@pytest.fixture
def server() -> Iterator[KeyServer]:
    s = KeyServer()
    yield s
    s.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _keys(clock: Clock, **kw: Any) -> PlatformKeys:
    return PlatformKeys(requests.Session(), clock=clock, **{"min_age": 60, "max_age": 3600, "refetch_interval": 30,
                                                            **kw})


def kids(jwks: dict[str, Any]) -> list[str]:
    return [k["kid"] for k in jwks["keys"]]


def test_max_age_is_honoured(server: KeyServer) -> None:
    server.headers = {"Cache-Control": "public, max-age=600"}
    clock = Clock()
    keys = _keys(clock)
    for _ in range(5):
        assert kids(keys.key_set(server.url, "k1")) == ["k1"]
    assert server.hits == 1
    clock.now += 599
    keys.key_set(server.url, "k1")
    assert server.hits == 1
    clock.now += 2
    keys.key_set(server.url, "k1")
    assert server.hits == 2


@pytest.mark.parametrize(("headers", "age"), [
    ({"Cache-Control": "no-store"}, 60),                 # held for min_age at least
    ({"Cache-Control": "max-age=0"}, 60),
    ({"Cache-Control": "max-age=999999"}, 3600),         # and max_age at most
    ({}, min(DEFAULT_AGE, 3600)),                        # nothing said: the default, within bounds
    ({"Expires": "__in 120 s__"}, 120),
    ({"Expires": "not a date"}, 60),                     # RFC 9111 §5.3: invalid means expired
])
def test_ages_are_clamped(server: KeyServer, headers: dict[str, str], age: float) -> None:
    if headers.get("Expires") == "__in 120 s__":
        import time

        now = time.time()
        headers = {"Expires": formatdate(now + 120, usegmt=True)}   # the server adds its own Date
    server.headers = headers
    clock = Clock()
    keys = _keys(clock)
    keys.key_set(server.url, "k1")
    clock.now += age - 1
    keys.key_set(server.url, "k1")
    assert server.hits == 1
    clock.now += 2
    keys.key_set(server.url, "k1")
    assert server.hits == 2


def test_unknown_kid_is_fetched_once_and_forged_kids_are_rate_limited(server: KeyServer) -> None:
    """Security Framework 1.0 §6.3: the platform rotated its key; the first launch with the new kid
    fetches the set again. A flood of made-up kids costs one fetch per refetch interval."""
    server.headers = {"Cache-Control": "max-age=3600"}
    clock = Clock()
    keys = _keys(clock)
    keys.key_set(server.url, "k1")
    server.kids = ["k2"]                                   # rotated on the platform
    clock.now += 1                                          # right after the first fetch
    assert kids(keys.key_set(server.url, "k2")) == ["k2"]
    assert server.hits == 2
    for i in range(50):                                     # forged kids
        keys.key_set(server.url, f"forged-{i}")
    assert server.hits == 2
    clock.now += 31
    keys.key_set(server.url, "forged-again")
    assert server.hits == 3


def test_revalidated_with_etag(server: KeyServer) -> None:
    server.headers, server.etag = {"Cache-Control": "max-age=60"}, '"v1"'
    clock = Clock()
    keys = _keys(clock, min_age=0)
    keys.key_set(server.url, "k1")
    clock.now += 61
    assert kids(keys.key_set(server.url, "k1")) == ["k1"]   # a 304: the cached set, fresh again
    assert server.hits == 2
    clock.now += 59
    keys.key_set(server.url, "k1")
    assert server.hits == 2


def test_platform_down_serves_the_cached_set_or_says_so(server: KeyServer) -> None:
    clock = Clock()
    keys = _keys(clock)
    server.status = 503
    with pytest.raises(PlatformUnavailable) as refused:
        keys.key_set(server.url, "k1")
    assert refused.value.status == 502 and "503" in refused.value.message
    server.status = 200
    keys.key_set(server.url, "k1")
    clock.now += 7200
    server.status = 503
    assert kids(keys.key_set(server.url, "k1")) == ["k1"]   # stale, but the best there is


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        PlatformKeys(requests.Session(), min_age=100, max_age=10)
