"""Privacy (DESIGN.md, Identity assurance): the citizen ID is kept only as a keyed hash. After real
sign-ins, no column of any table, no log record and no session cookie holds it in clear — nor
inside a JWT someone logged, nor as an unkeyed SHA-256 that could be brute-forced."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable

import pytest
from flask import Flask

from identity.claims import citizen_id_hmac
from identity.demo_provider import DEMO_CITIZENS
from tests.identity.conftest import PEPPER, Browser, Demo, OidcProvider
from tests.identity.leaks import decode_session, dump_database, leaks

CITIZEN_ID = "003192123456"  # cong-dan-1 at the provider


def test_no_citizen_id_in_database_logs_or_cookie(oidc_provider: OidcProvider, make_app: Callable[..., Flask],
                                                  browser_for: Callable[[Flask], Browser],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(oidc_provider.settings())
    browser = browser_for(app)
    with caplog.at_level(logging.DEBUG):  # every logger, at its most talkative
        assert browser.sign_in("cong-dan-1").status_code == 303
        browser.client.get("/identity/")
    assert caplog.records, "the sign-in should have logged something to inspect"
    assert leaks(caplog.text, CITIZEN_ID) == []

    dump = dump_database(app.extensions["hocvu.db"])
    assert citizen_id_hmac(CITIZEN_ID, PEPPER) in dump  # the keyed hash is what is kept
    assert leaks(dump, CITIZEN_ID) == []

    cookie = browser.client.get_cookie("session")
    assert cookie is not None
    raw = cookie.value.lstrip(".").split(".")[0]  # "[.]payload.timestamp.signature"
    session_text = decode_session(raw)
    assert "identity.account" in session_text  # the decoder sees the session's contents
    assert leaks(cookie.value, CITIZEN_ID) == [] and leaks(session_text, CITIZEN_ID) == []


def test_the_leak_detector_detects() -> None:
    """The checks above would notice a leak in each form they look for."""
    token = "eyJhbGciOiJub25lIn0." + base64.urlsafe_b64encode(json.dumps({"SoDinhDanh": CITIZEN_ID}).encode()
                                                               ).decode().rstrip("=") + "."
    assert leaks(f"id={CITIZEN_ID}", CITIZEN_ID) and leaks(token, CITIZEN_ID)
    assert leaks(hashlib.sha256(CITIZEN_ID.encode()).hexdigest(), CITIZEN_ID)


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


def test_demo_sign_in_keeps_no_citizen_id(demo: Demo, caplog: pytest.LogCaptureFixture) -> None:
    """The same checks on the demo provider's path (runs without node): database, logs of the hub
    and of the in-process provider, session cookie."""
    citizen = DEMO_CITIZENS[1]
    with caplog.at_level(logging.DEBUG):
        assert demo.client.get(demo.authorize(citizen.sub)).status_code == 303
    assert leaks(caplog.text, citizen.citizen_id) == []
    assert leaks(dump_database(demo.app.extensions["hocvu.db"]), citizen.citizen_id) == []
    cookie = demo.client.get_cookie("session")
    assert cookie is not None and leaks(decode_session(cookie.value.lstrip(".").split(".")[0]),
                                         citizen.citizen_id) == []
