"""The built-in demo VNeID provider, end to end through our Flask test client (the browser). The
hub's back channel (discovery, token, JWKS) reaches the same app over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from identity.demo_provider import DEMO_CITIZENS, load_signing_key
from identity.errors import TokenExchangeFailed
from identity.settings import IdentitySettings
from tests.identity.conftest import CALLBACK, Demo


def test_sign_in_with_a_demo_citizen(demo: Demo) -> None:
    """OIDC Core §3.1 code flow with PKCE against the demo provider; the page shows the person."""
    callback = demo.authorize("demo-0002")
    params = parse_qs(urlsplit(callback).query)
    assert callback.startswith(CALLBACK) and params["iss"] == [demo.base + "/demo-vneid"]  # RFC 9207 §2
    done = demo.client.get(callback)
    assert done.status_code == 303
    text = demo.client.get("/identity/").get_data(as_text=True)
    assert "Trần Thị Bích Ngọc" in text and "02/11/2001" in text


def test_level_one_citizen_signs_in_at_level_one(demo: Demo) -> None:
    demo.client.get(demo.authorize("demo-0003"))
    text = demo.client.get("/identity/?lang=en").get_data(as_text=True)
    assert "Lê Hoàng Phúc" in text and "<dd>1</dd>" in text


def test_sign_out(demo: Demo) -> None:
    demo.client.get(demo.authorize("demo-0001"))
    assert "Đăng xuất" in demo.client.get("/identity/").get_data(as_text=True)  # the page holds the form
    with demo.client.session_transaction() as sess:
        csrf = sess["csrf"]
    assert demo.client.post("/identity/logout", data={"csrf": "wrong"}).status_code == 400
    assert demo.client.post("/identity/logout", data={"csrf": csrf}).status_code == 303
    assert "Bạn chưa đăng nhập" in demo.client.get("/identity/").get_data(as_text=True)


def test_discovery_and_jwks(demo: Demo) -> None:
    """OpenID Connect Discovery 1.0 §3 and RFC 7517 §5: what a relying party needs, no private parts."""
    meta = demo.client.get("/demo-vneid/.well-known/openid-configuration").get_json()
    assert meta["issuer"] == demo.base + "/demo-vneid"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    keys = demo.client.get("/demo-vneid/jwks").get_json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])


def test_signing_key_is_kept_in_the_instance_folder(tmp_path: Path) -> None:
    first, again = load_signing_key(tmp_path), load_signing_key(tmp_path)
    assert first.kid == again.kid and (tmp_path / "demo_vneid_signing_key.pem").stat().st_mode & 0o077 == 0


def test_pkce_is_required(demo: Demo) -> None:
    """RFC 7636 §4.4.1 / RFC 9700 §2.1.1: an authorization request without an S256 challenge is
    answered with invalid_request (to the registered redirect URI, with the state)."""
    answer = demo.client.get("/demo-vneid/authorize", query_string={
        "response_type": "code", "client_id": "hocvu-demo", "redirect_uri": CALLBACK, "scope": "openid",
        "state": "s1", "nonce": "n1"})
    params = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert params["error"] == ["invalid_request"] and params["state"] == ["s1"]


def test_unregistered_redirect_uri_is_not_followed(demo: Demo) -> None:
    """RFC 6749 §4.1.2.1: with an invalid redirect_uri the provider MUST NOT redirect."""
    answer = demo.client.get("/demo-vneid/authorize", query_string={
        "response_type": "code", "client_id": "hocvu-demo", "redirect_uri": "https://evil.example/cb",
        "scope": "openid", "state": "s1", "nonce": "n1", "code_challenge": "x" * 43,
        "code_challenge_method": "S256"})
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_denied_sign_in(demo: Demo) -> None:
    """RFC 6749 §4.1.2.1 access_denied, shown to the person as a refused sign-in."""
    answer = demo.client.get(demo.authorize(None))
    assert answer.status_code == 401 and "login_rejected" in answer.get_data(as_text=True)


def test_replayed_code_and_wrong_verifier(demo: Demo) -> None:
    """RFC 6749 §4.1.2 (a code works once) and RFC 7636 §4.6 (S256(verifier) must match)."""
    client = demo.app.extensions["identity"].client
    callback = demo.authorize("demo-0001")
    with demo.client.session_transaction() as sess:
        pending = next(iter(sess["identity.pending"].values()))
    code = parse_qs(urlsplit(callback).query)["code"][0]
    with pytest.raises(TokenExchangeFailed) as wrong:
        client.exchange_code(code, "v" * 64, CALLBACK)
    assert wrong.value.provider_error == "invalid_grant"
    # The failed attempt consumed the code: even the right verifier cannot use it now.
    with pytest.raises(TokenExchangeFailed) as replay:
        client.exchange_code(code, pending["code_verifier"], CALLBACK)
    assert replay.value.provider_error == "invalid_grant"
    good = parse_qs(urlsplit(demo.authorize("demo-0001")).query)["code"][0]
    with demo.client.session_transaction() as sess:
        verifier = max(sess["identity.pending"].values(), key=lambda p: p["created"])["code_verifier"]
    assert client.exchange_code(good, verifier, CALLBACK)["id_token"]
    with pytest.raises(TokenExchangeFailed):
        client.exchange_code(good, verifier, CALLBACK)


def test_demo_is_mounted_only_when_enabled(make_app: Callable[[IdentitySettings], Flask]) -> None:
    app = make_app(IdentitySettings())
    assert app.test_client().get("/demo-vneid/jwks").status_code == 404
    answer = app.test_client().get("/identity/login")
    assert answer.status_code == 503 and "identity_not_configured" in answer.get_data(as_text=True)


def test_demo_citizens_are_valid_and_varied() -> None:
    from datetime import date

    from identity.claims import validate_citizen_id

    for c in DEMO_CITIZENS:
        validate_citizen_id(c.citizen_id, date.fromisoformat(c.birthdate))
    assert {c.level for c in DEMO_CITIZENS} == {1, 2}


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "/\t/evil.example", "/\n/evil.example", "/ /evil.example"])
def test_next_cannot_leave_the_site(demo: Demo, target: str) -> None:
    """No open redirect after sign-in (RFC 9700 §4.11.2): only paths on this site are followed."""
    answer = demo.client.get(demo.authorize("demo-0001", next=target))
    assert answer.status_code == 303 and answer.headers["Location"] == "/identity/"


def test_repeated_response_parameters_are_refused(demo: Demo) -> None:
    """RFC 6749 §3.1: parameters MUST NOT be included more than once (a second code smuggled in)."""
    callback = demo.authorize("demo-0001")
    answer = demo.client.get(callback + "&code=another")
    assert answer.status_code == 400 and "invalid_state" in answer.get_data(as_text=True)
