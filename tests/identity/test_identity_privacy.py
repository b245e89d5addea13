"""Privacy (DESIGN.md, Identity assurance): the citizen ID is kept only as a keyed hash. After real
sign-ins, no column of any table, no log record and no session cookie holds it in clear — nor
inside a JWT someone logged, nor as an unkeyed SHA-256 that could be brute-forced."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import MetaData, select

from identity.claims import citizen_id_hmac
from identity.demo_provider import DEMO_CITIZENS
from tests.identity.conftest import PEPPER, Browser, Demo, OidcProvider

CITIZEN_ID = "003192123456"  # cong-dan-1 at the provider
JWT_LIKE = re.compile(r"eyJ[\w-]+\.([\w-]+)\.[\w-]*")


def _forms(value: str) -> list[str]:
    """The clear ID and the ways it could leak: grouped digits, an unkeyed SHA-256."""
    return [value, f"{value[:3]} {value[3:6]} {value[6:]}", hashlib.sha256(value.encode()).hexdigest()]


def _leaks(text: str, value: str) -> list[str]:
    found = [f for f in _forms(value) if f in text]
    for payload in JWT_LIKE.findall(text):  # a token in a log carries its claims base64url-encoded
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode(errors="replace")
        found += [f"JWT:{f}" for f in _forms(value) if f in decoded]
    return found


def _dump_database(app: Flask) -> str:
    """Every column of every row of every table, as text."""
    database = app.extensions["hocvu.db"]
    meta = MetaData()
    meta.reflect(database.engine)
    parts: list[str] = []
    with database.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    parts.append(value.decode(errors="replace") if isinstance(value, bytes)
                                 else json.dumps(value, ensure_ascii=False, default=str))
    return "\n".join(parts)


def test_no_citizen_id_in_database_logs_or_cookie(oidc_provider: OidcProvider, make_app: Callable[..., Flask],
                                                  browser_for: Callable[[Flask], Browser],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(oidc_provider.settings())
    browser = browser_for(app)
    with caplog.at_level(logging.DEBUG):  # every logger, at its most talkative
        assert browser.sign_in("cong-dan-1").status_code == 303
        browser.client.get("/identity/")
    assert caplog.records, "the sign-in should have logged something to inspect"
    assert _leaks(caplog.text, CITIZEN_ID) == []

    dump = _dump_database(app)
    assert citizen_id_hmac(CITIZEN_ID, PEPPER) in dump  # the keyed hash is what is kept
    assert _leaks(dump, CITIZEN_ID) == []

    cookie = browser.client.get_cookie("session")
    assert cookie is not None
    raw = cookie.value.lstrip(".").split(".")[0]  # "[.]payload.timestamp.signature"
    session_text = _decode_session(raw)
    assert "identity.account" in session_text  # the decoder sees the session's contents
    assert _leaks(cookie.value, CITIZEN_ID) == [] and _leaks(session_text, CITIZEN_ID) == []


def test_the_leak_detector_detects() -> None:
    """The checks above would notice a leak in each form they look for."""
    token = "eyJhbGciOiJub25lIn0." + base64.urlsafe_b64encode(json.dumps({"SoDinhDanh": CITIZEN_ID}).encode()
                                                               ).decode().rstrip("=") + "."
    assert _leaks(f"id={CITIZEN_ID}", CITIZEN_ID) and _leaks(token, CITIZEN_ID)
    assert _leaks(hashlib.sha256(CITIZEN_ID.encode()).hexdigest(), CITIZEN_ID)


def test_invalid_citizen_id_is_not_echoed(make_app: Callable[..., Flask], oidc_provider: OidcProvider,
                                          browser_for: Callable[[Flask], Browser],
                                          caplog: pytest.LogCaptureFixture) -> None:
    """A refused ID (here: the mapping points the citizen ID at the date of birth claim) is named
    by its claim in errors and logs, never by its value."""
    from identity.claims import ClaimMapping

    mapping = ClaimMapping(citizen_id=("NgayThangNamSinh",), birthdate=())
    app = make_app(oidc_provider.settings(claims=mapping))
    browser = browser_for(app)
    with caplog.at_level(logging.DEBUG):
        answer = browser.sign_in("cong-dan-1")
    assert answer.status_code == 422
    assert "17/04/1992" not in answer.get_data(as_text=True) and "17/04/1992" not in caplog.text


def _decode_session(payload: str) -> str:
    """Flask's session cookie payload: base64url JSON, zlib-compressed when prefixed by '.'."""
    import zlib

    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    with contextlib.suppress(zlib.error):  # compressed when the cookie starts with "."
        data = zlib.decompress(data)
    return data.decode(errors="replace")


def test_demo_sign_in_keeps_no_citizen_id(demo: Demo, caplog: pytest.LogCaptureFixture) -> None:
    """The same checks on the demo provider's path (runs without node): database, logs of the hub
    and of the in-process provider, session cookie."""
    citizen = DEMO_CITIZENS[1]
    with caplog.at_level(logging.DEBUG):
        assert demo.client.get(demo.authorize(citizen.sub)).status_code == 303
    assert _leaks(caplog.text, citizen.citizen_id) == []
    assert _leaks(_dump_database(demo.app), citizen.citizen_id) == []
    cookie = demo.client.get_cookie("session")
    assert cookie is not None and _leaks(_decode_session(cookie.value.lstrip(".").split(".")[0]),
                                         citizen.citizen_id) == []
