"""Forged ID tokens are rejected: OpenID Connect Core 1.0 §3.1.3.7 (ID Token Validation), one test
per rule. Tokens are signed with real RSA keys; the keys are published by a loopback JWKS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from joserfc import jwe
from joserfc.jwk import OctKey

from identity.claims import subject_hmac
from identity.errors import InvalidIdToken, LoginRejected
from identity.oidc_client import OidcClient, PendingLogin
from tests.identity.conftest import PEPPER, Forge

NONCE = "n-0S6_WzA2Mj"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _validate(forge: Forge, token: str, **kw: Any) -> dict[str, Any]:
    return OidcClient(forge.settings(**kw)).validate_id_token(token, nonce=NONCE)


def test_a_valid_token_is_accepted(forge: Forge) -> None:
    """§3.1.3.7: the baseline every forgery below differs from in exactly one way."""
    claims = _validate(forge, forge.sign(forge.claims(NONCE)))
    assert claims["sub"] == "citizen-42"


@pytest.mark.parametrize("overrides", [
    # §3.1.3.7 (11): the nonce MUST be present and equal to the value sent.
    pytest.param({"nonce": "someone-elses-nonce"}, id="wrong-nonce"),
    pytest.param({"nonce": None}, id="missing-nonce"),
    # §3.1.3.7 (9): the current time MUST be before exp.
    pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
    # §3.1.3.7 (10): iat in the future, or too far in the past, is refused.
    pytest.param({"iat": int(time.time()) + 3600}, id="iat-in-future"),
    pytest.param({"iat": int(time.time()) - 7200}, id="iat-too-old"),
    # §3.1.3.7 (3): aud MUST contain our client_id and no audience we do not trust.
    pytest.param({"aud": "another-client"}, id="wrong-audience"),
    pytest.param({"aud": ["hocvu", "another-client"], "azp": "hocvu"}, id="untrusted-extra-audience"),
    # §3.1.3.7 (3)-(5): azp naming us does not make another client's token ours (authlib pitfall).
    pytest.param({"aud": "another-client", "azp": "hocvu"}, id="other-audience-azp-us"),
    # §3.1.3.7 (5): azp, when present, MUST be our client_id.
    pytest.param({"azp": "another-client"}, id="wrong-azp"),
    # §3.1.3.7 (2): iss MUST exactly match the issuer (no normalisation, no trailing slash).
    pytest.param({"iss": "https://evil.example"}, id="wrong-issuer"),
    pytest.param({"iss": "__issuer__/"}, id="issuer-trailing-slash"),
    # §2: sub, exp and iat are REQUIRED.
    pytest.param({"sub": None}, id="missing-sub"),
    pytest.param({"exp": None}, id="missing-exp"),
    pytest.param({"iat": None}, id="missing-iat"),
])
def test_forged_claims_are_rejected(forge: Forge, overrides: dict[str, Any]) -> None:
    if overrides.get("iss") == "__issuer__/":
        overrides["iss"] = forge.issuer + "/"
    with pytest.raises(InvalidIdToken):
        _validate(forge, forge.sign(forge.claims(NONCE, **overrides)))


def test_unknown_kid_is_rejected_after_one_jwks_refresh(forge: Forge) -> None:
    """§3.1.3.7 (6) + §10.1.1: a kid the provider does not publish is refused; we refetch the JWKS
    once (it may be a rotation) and not again on the next forgery (no amplification)."""
    client = OidcClient(forge.settings(), clock=lambda: time.time() - 40)  # last fetch "40 s ago"
    client.validate_id_token(forge.sign(forge.claims(NONCE)), nonce=NONCE)
    assert forge.jwks_fetches == 1
    client.clock = time.time
    token = forge.sign(forge.claims(NONCE), key=forge.other)
    with pytest.raises(InvalidIdToken, match="key"):
        client.validate_id_token(token, nonce=NONCE)
    assert forge.jwks_fetches == 2
    with pytest.raises(InvalidIdToken, match="key"):
        client.validate_id_token(token, nonce=NONCE)
    assert forge.jwks_fetches == 2


def test_rotated_key_is_found_by_refetching_the_jwks(forge: Forge) -> None:
    """§10.1.1: the provider rotates its signing key; the new kid is fetched, then accepted."""
    client = OidcClient(forge.settings(), clock=lambda: time.time() - 40)  # last fetch "40 s ago"
    client.validate_id_token(forge.sign(forge.claims(NONCE)), nonce=NONCE)
    forge.jwks = {"keys": [forge.key.as_dict(private=False), forge.other.as_dict(private=False)]}
    client.clock = time.time
    assert client.validate_id_token(forge.sign(forge.claims(NONCE), key=forge.other), nonce=NONCE)


def test_wrong_signature_is_rejected(forge: Forge) -> None:
    """§3.1.3.7 (6): signed by another key under the published kid: the signature fails."""
    token = forge.sign(forge.claims(NONCE), key=forge.other, header={"kid": forge.key.kid})
    with pytest.raises(InvalidIdToken, match="signature"):
        _validate(forge, token)


def test_tampered_payload_is_rejected(forge: Forge) -> None:
    """§3.1.3.7 (6): a claim changed after signing (another subject) breaks the signature."""
    header, _, signature = forge.sign(forge.claims(NONCE)).split(".")
    forged = f"{header}.{_b64(forge.claims(NONCE, sub='someone-else'))}.{signature}"
    with pytest.raises(InvalidIdToken):
        _validate(forge, forged)


def test_alg_none_is_rejected(forge: Forge) -> None:
    """§3.1.3.7 (7) / RFC 8725 §2.1: an unsigned token (alg=none) is never accepted."""
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(forge.claims(NONCE))}."
    with pytest.raises(InvalidIdToken, match="alg"):
        _validate(forge, token)


def test_alg_none_is_rejected_even_if_configured(forge: Forge) -> None:
    """RFC 8725 §3.1: the allow-list can never be made to contain "none" or HMAC algorithms."""
    with pytest.raises(ValueError):
        forge.settings(id_token_algs=("RS256", "none")).validate()
    with pytest.raises(ValueError):
        forge.settings(id_token_algs=("HS256",)).validate()


def test_hmac_with_the_public_key_is_rejected(forge: Forge) -> None:
    """RFC 8725 §2.1 algorithm confusion: HS256 keyed by the provider's public key bytes (a
    verifier that let the token pick the algorithm would accept it)."""
    signing_input = f"{_b64({'alg': 'HS256', 'kid': forge.key.kid})}.{_b64(forge.claims(NONCE))}"
    mac = hmac.new(forge.key.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(InvalidIdToken, match="alg"):
        _validate(forge, token)


def test_alg_not_matching_the_key_type_is_rejected(forge: Forge) -> None:
    """§3.1.3.7 (6)/(7): ES256 is allowed, but the kid names an RSA key: no key fits."""
    header = _b64({"alg": "ES256", "kid": forge.key.kid})
    with pytest.raises(InvalidIdToken):
        _validate(forge, f"{header}.{_b64(forge.claims(NONCE))}.AAAA")


def test_encrypted_token_is_rejected(forge: Forge) -> None:
    """§3.1.3.7 (1): we registered for no ID token encryption, so a JWE is refused."""
    token = jwe.encrypt_compact({"alg": "dir", "enc": "A128GCM"}, b"{}", OctKey.generate_key(128))
    with pytest.raises(InvalidIdToken, match="compact"):
        _validate(forge, token)


def test_at_hash_must_match_the_access_token(forge: Forge) -> None:
    """§3.1.3.8: an at_hash that does not match the access token it came with is refused."""
    token = forge.sign(forge.claims(NONCE, at_hash="AAAAAAAAAAAAAAAAAAAAAA"))
    with pytest.raises(InvalidIdToken, match="at_hash"):
        OidcClient(forge.settings()).validate_id_token(token, nonce=NONCE, access_token="real-access-token")


def _pending(client: OidcClient) -> PendingLogin:
    return client.begin().pending


def test_token_response_with_a_forged_token_fails_the_whole_callback(forge: Forge) -> None:
    """§3.1.3.5-§3.1.3.7 end to end: a provider (or a man in the middle) answering the token
    request with an ID token for another audience does not sign anyone in."""
    client = OidcClient(forge.settings())
    pending = _pending(client)
    forge.token_response = {"access_token": "at", "token_type": "Bearer",
                            "id_token": forge.sign(forge.claims(pending.nonce, aud="another-client"))}
    with pytest.raises(InvalidIdToken):
        client.complete(pending, {"code": "c", "state": pending.state})
    forge.token_response["id_token"] = forge.sign(forge.claims(pending.nonce))
    signed_in = client.complete(pending, {"code": "c", "state": pending.state})
    assert signed_in.subject_hmac == subject_hmac(PEPPER, forge.issuer, "citizen-42")


def test_token_response_without_id_token_is_refused(forge: Forge) -> None:
    """§3.1.3.3: a successful token response MUST contain an ID token (plain OAuth is not login)."""
    client = OidcClient(forge.settings())
    pending = _pending(client)
    forge.token_response = {"access_token": "at", "token_type": "Bearer"}
    with pytest.raises(InvalidIdToken, match="no ID token"):
        client.complete(pending, {"code": "c", "state": pending.state})


def test_authorization_response_from_another_issuer_is_refused(forge: Forge) -> None:
    """RFC 9207 §2.4 (mix-up defence): an iss parameter naming another provider is refused before
    the code is sent anywhere."""
    client = OidcClient(forge.settings())
    pending = _pending(client)
    with pytest.raises(LoginRejected, match="9207"):
        client.complete(pending, {"code": "c", "state": pending.state, "iss": "https://evil.example"})


def test_discovery_naming_another_issuer_is_refused(forge: Forge) -> None:
    """OpenID Connect Discovery 1.0 §4.3: the issuer in the document MUST equal the expected one."""
    from identity.errors import ProviderMisconfigured

    client = OidcClient(forge.settings(issuer="https://vneid.example"))
    with pytest.raises(ProviderMisconfigured):
        client.begin()
