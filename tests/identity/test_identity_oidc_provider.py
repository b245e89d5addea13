"""The whole sign-in against an independent certified OpenID provider (panva/oidc-provider, run by
node on loopback): our Flask app is the relying party, a scripted browser does login and consent."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from identity.claims import citizen_id_hmac, subject_hmac
from identity.errors import TokenExchangeFailed
from identity.storage import IdentityAccount
from tests.identity.conftest import PEPPER, Browser, OidcProvider

CongDan1 = {"sub": "cong-dan-1", "name": "Nguyễn Thị Minh Thư", "citizen_id": "003192123456"}


def _account(app: Flask, issuer: str, sub: str) -> IdentityAccount | None:
    with app.extensions["hocvu.db"].session() as s:
        key = subject_hmac(PEPPER, issuer, sub)
        return s.scalar(select(IdentityAccount).where(IdentityAccount.subject_hmac == key))


@pytest.mark.parametrize("client_id", ["hocvu-basic", "hocvu-post", "hocvu-jwt"])
def test_code_flow_with_pkce_signs_in(oidc_provider: OidcProvider, make_app: Callable[..., Flask],
                                      browser_for: Callable[[Flask], Browser], client_id: str) -> None:
    """OIDC Core 1.0 §3.1 (code flow) + RFC 7636 (PKCE S256), with each client authentication of
    OIDC Core §9: client_secret_basic, client_secret_post, private_key_jwt (RFC 7523)."""
    app = make_app(oidc_provider.settings(client_id))
    browser = browser_for(app)
    start = browser.client.get("/identity/login")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    # §3.1.2.1 request: response_type=code, scope has openid, state, nonce; RFC 7636 §4.3 S256.
    assert query["response_type"] == ["code"] and "openid" in query["scope"][0].split()
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["state"][0] and query["nonce"][0] and "code_verifier" not in query

    done = browser.sign_in("cong-dan-1", next_url="/identity/?from=test")
    assert done.status_code == 303 and done.headers["Location"] == "/identity/?from=test"
    page = browser.client.get("/identity/")
    assert CongDan1["name"] in page.get_data(as_text=True) and "Mức định danh" in page.get_data(as_text=True)
    account = _account(app, oidc_provider.issuer, "cong-dan-1")
    assert account is not None and account.level == 2 and account.full_name == CongDan1["name"]
    assert account.citizen_id_hmac == citizen_id_hmac(CongDan1["citizen_id"], PEPPER)
    assert str(account.birthdate) == "1992-04-17"


def test_explicit_endpoints_without_discovery(oidc_provider: OidcProvider, make_app: Callable[..., Flask],
                                              browser_for: Callable[[Flask], Browser]) -> None:
    """VNeID publishes no discovery document: endpoints configured by hand (OIDC Discovery 1.0 is
    optional, OIDC Core §3.1 needs only the endpoints and keys)."""
    iss = oidc_provider.issuer
    app = make_app(oidc_provider.settings(discovery_url=None, authorization_endpoint=iss + "/auth",
                                          token_endpoint=iss + "/token", jwks_uri=iss + "/jwks",
                                          userinfo_endpoint=iss + "/me"))
    browser = browser_for(app)
    assert browser.sign_in("cong-dan-1").status_code == 303
    assert _account(app, iss, "cong-dan-1") is not None


def test_english_page(oidc_provider: OidcProvider, make_app: Callable[..., Flask],
                      browser_for: Callable[[Flask], Browser]) -> None:
    app = make_app(oidc_provider.settings())
    browser = browser_for(app)
    assert "Bạn chưa đăng nhập" in browser.client.get("/identity/").get_data(as_text=True)
    browser.sign_in()
    text = browser.client.get("/identity/?lang=en").get_data(as_text=True)
    assert "Identification level" in text and "Sign out" in text


def test_level_below_minimum_is_refused(oidc_provider: OidcProvider, make_app: Callable[..., Flask],
                                        browser_for: Callable[[Flask], Browser]) -> None:
    """cong-dan-2 is identified at level 1; a service configured for level 2 refuses it (403)."""
    app = make_app(oidc_provider.settings(min_level=2))
    browser = browser_for(app)
    refused = browser.sign_in("cong-dan-2")
    assert refused.status_code == 403 and "insufficient_level" in refused.get_data(as_text=True)
    assert _account(app, oidc_provider.issuer, "cong-dan-2") is None
    assert "Bạn chưa đăng nhập" in browser.client.get("/identity/").get_data(as_text=True)


def test_denied_consent_is_login_rejected(oidc_provider: OidcProvider, make_app: Callable[..., Flask],
                                          browser_for: Callable[[Flask], Browser]) -> None:
    """RFC 6749 §4.1.2.1: error=access_denied comes back with our state and is shown, not trusted."""
    app = make_app(oidc_provider.settings())
    browser = browser_for(app)
    answer = browser.sign_in(deny=True)
    assert answer.status_code == 401 and "login_rejected" in answer.get_data(as_text=True)


def test_replayed_callback_and_code_are_refused(oidc_provider: OidcProvider, make_app: Callable[..., Flask],
                                                browser_for: Callable[[Flask], Browser]) -> None:
    """RFC 6749 §10.5/§4.1.2: a code is used once. Our side: the state is consumed by the first
    callback (§10.12), so replaying the callback URL fails; the provider's side: the code itself
    is refused at the token endpoint (invalid_grant)."""
    app = make_app(oidc_provider.settings())
    browser = browser_for(app)
    callback = browser.authorize("cong-dan-1")
    pending = dict(next(iter(_pending(browser).values())))
    assert browser.client.get(callback).status_code == 303
    replay = browser.client.get(callback)
    assert replay.status_code == 400 and "invalid_state" in replay.get_data(as_text=True)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    with pytest.raises(TokenExchangeFailed) as err:
        app.extensions["identity"].client.exchange_code(code, pending["code_verifier"], pending["redirect_uri"])
    assert err.value.provider_error == "invalid_grant"


def test_wrong_pkce_verifier_is_refused(oidc_provider: OidcProvider, make_app: Callable[..., Flask],
                                        browser_for: Callable[[Flask], Browser]) -> None:
    """RFC 7636 §4.6: the provider compares S256(code_verifier) with the code_challenge and
    answers invalid_grant when they differ; a stolen code is useless without the verifier."""
    app = make_app(oidc_provider.settings())
    browser = browser_for(app)
    callback = browser.authorize("cong-dan-1")
    pending = next(iter(_pending(browser).values()))
    code = parse_qs(urlsplit(callback).query)["code"][0]
    with pytest.raises(TokenExchangeFailed) as err:
        app.extensions["identity"].client.exchange_code(code, "x" * 64, pending["redirect_uri"])
    assert err.value.provider_error == "invalid_grant"


def test_callback_from_another_browser_is_refused(oidc_provider: OidcProvider, make_app: Callable[..., Flask],
                                                  browser_for: Callable[[Flask], Browser]) -> None:
    """RFC 6749 §10.12 (CSRF) / OIDC Core §3.1.2.7: a response is accepted only in the browser
    whose session holds its state — an attacker cannot log a victim into the attacker's account."""
    app = make_app(oidc_provider.settings())
    attacker = browser_for(app)
    callback = attacker.authorize("cong-dan-2")
    victim = app.test_client()
    answer = victim.get(callback)
    assert answer.status_code == 400 and "invalid_state" in answer.get_data(as_text=True)


def _pending(browser: Browser) -> dict[str, dict[str, str]]:
    with browser.client.session_transaction() as sess:
        return dict(sess["identity.pending"])
