"""An adversary against the hub's verifier (``credentials.verify``, behind the employer's page and
API): each forgery fails, and says which check failed, with the clause it enforces.

Threats: a tampered credential; a credential signed by a forged key naming the hub's key, or by the
attacker's own key and DID; a proof moved onto another credential; a revoked or retired-key
credential presented again; a forged status list; contexts or properties the hub never issues.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from credentials.issuing import find, ring_of
from credentials.keys import retire_key, rotate_key
from credentials.multikey import new_private_key, public_multikey
from credentials.proof import add_proof
from credentials.status_list import encode_bits
from credentials.storage import CredentialStatusList
from tests.credentials.support import cfg, completed


def verdict(client: Any, credential: Any) -> dict[str, Any]:
    res = client.post("/credentials/api/verify", json=credential)
    assert res.status_code == 200, res.get_data(as_text=True)
    body: dict[str, Any] = res.get_json()
    return body


def failed(body: dict[str, Any]) -> tuple[str, str]:
    bad = [c for c in body["checks"] if not c["ok"]]
    assert body["verified"] is False and len(bad) == 1, body
    return body["outcome"], bad[0]["name"]


def unsigned(credential: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in credential.items() if k != "proof"}


@pytest.fixture
def issued(sqlite_app: Flask) -> tuple[Any, dict[str, Any]]:
    who, credential = completed(sqlite_app)
    return who, credential


@pytest.mark.parametrize(("change", "why"), [
    (lambda c: c["credentialSubject"]["achievement"].update(name="Kỹ sư an ninh mạng"), "another course name"),
    (lambda c: c["credentialSubject"]["result"][0].update(value="vneid-level-2-face-verified"), "identity claimed"),
    (lambda c: c.update(validFrom="2020-01-01T00:00:00Z"), "backdated"),
    (lambda c: c["credentialSubject"].update(id="urn:hocvu:learner:0000"), "another learner"),
    (lambda c: c["credentialSubject"].update(identifier=[{"type": "IdentityObject", "identityType": "name",
                                                          "hashed": False, "identityHash": "Người khác"}]),
     "a name added"),
    (lambda c: c["evidence"].append(copy.deepcopy(c["evidence"][0]) | {"id": "urn:uuid:00000000-0000-4000-8000-"
                                                                             "000000000000"}), "evidence added"),
    (lambda c: c["credentialStatus"].update(statusListIndex="0", id=c["credentialStatus"]["statusListCredential"]
                                            + "#0"), "moved to another status bit"),
])
def test_a_tampered_credential_fails_the_proof(issued: tuple[Any, dict[str, Any]], change: Any, why: str) -> None:
    """VC Data Integrity EdDSA Cryptosuites v1.0 §3.3.2: any change to what was signed breaks the proof."""
    who, credential = issued
    forged = copy.deepcopy(credential)
    change(forged)
    assert failed(verdict(who.client, forged)) == ("invalid", "proof"), why


def test_a_forged_key_naming_the_hubs_key_fails(issued: tuple[Any, dict[str, Any]]) -> None:
    """VC Data Integrity 1.0 §4.3: the key comes from the issuer's DID document, never from the
    credential: a signature by another key under the hub's verification method id does not verify."""
    who, credential = issued
    attacker = new_private_key()
    forged = unsigned(credential)
    forged["credentialSubject"]["achievement"]["name"] = "Chứng chỉ giả"
    signed = add_proof(forged, attacker, credential["proof"][0]["verificationMethod"], datetime.now(UTC))
    assert failed(verdict(who.client, signed)) == ("invalid", "proof")


def test_the_attackers_own_did_is_not_the_hub(issued: tuple[Any, dict[str, Any]]) -> None:
    """VC Data Model 2.0 §4.7: the hub vouches only for its own issuers: did:key or another did:web
    is "unknown issuer", and a hub issuer name over an attacker's key fails the proof."""
    who, credential = issued
    attacker = new_private_key()
    did = "did:key:" + public_multikey(attacker.public_key())
    foreign = unsigned(credential)
    foreign["issuer"] = {**foreign["issuer"], "id": did}
    signed = add_proof(foreign, attacker, f"{did}#{did.removeprefix('did:key:')}", datetime.now(UTC))
    assert failed(verdict(who.client, signed)) == ("unknown_issuer", "issuer")
    hub_named = add_proof(unsigned(credential), attacker, f"{did}#{did.removeprefix('did:key:')}", datetime.now(UTC))
    assert failed(verdict(who.client, hub_named)) == ("invalid", "proof")


def test_a_proof_moved_to_another_credential_fails(sqlite_app: Flask) -> None:
    """A valid proof of one credential copied onto another learner's credential."""
    who, mine = completed(sqlite_app)
    _, theirs = completed(sqlite_app)
    moved = {**unsigned(mine), "proof": copy.deepcopy(theirs["proof"])}
    assert failed(verdict(who.client, moved)) == ("invalid", "proof")


def test_a_revoked_credential_presented_again_reads_revoked(issued: tuple[Any, dict[str, Any]],
                                                            sqlite_app: Flask) -> None:
    """Bitstring Status List v1.0 §3.2: the copy a learner kept is still signed, and still revoked."""
    from credentials.revocation import revoke

    who, credential = issued
    slug, public_id = credential["id"].rsplit("/", 2)[1:]
    with sqlite_app.extensions["hocvu.db"].session() as s:
        revoke(s, cfg(sqlite_app), [find(s, slug, public_id)[1]], "fraud", datetime.now(UTC))
        s.commit()
    for _ in range(2):  # the second time from the verified-list cache
        assert failed(verdict(who.client, credential)) == ("revoked", "status")
    page = who.client.get(credential["id"].split("127.0.0.1:8000", 1)[1]).get_data(as_text=True)
    assert 'data-outcome="revoked"' in page and "fraud" not in page  # why is the hub's business, not the page's


def test_a_retired_key_no_longer_verifies(sqlite_app: Flask) -> None:
    """After ``hocvu credentials retire-key`` (a compromise), credentials that key signed fail."""
    who, credential = completed(sqlite_app)
    kid = credential["proof"][0]["verificationMethod"].rsplit("#", 1)[1]
    with sqlite_app.extensions["hocvu.db"].session() as s:
        rotate_key(s, ring_of(cfg(sqlite_app)))
        retire_key(s, kid)
        s.commit()
    try:
        assert failed(verdict(who.client, credential)) == ("invalid", "proof")
        assert kid not in str(who.client.get("/.well-known/did.json").get_json())
    finally:
        with sqlite_app.extensions["hocvu.db"].session() as s:  # the other tests' credentials
            from credentials.storage import CredentialIssuerKey

            s.query(CredentialIssuerKey).filter_by(kid=kid).update({"retired": None})
            s.commit()


def test_a_status_list_not_signed_by_the_hub_is_refused(issued: tuple[Any, dict[str, Any]],
                                                        sqlite_app: Flask) -> None:
    """Bitstring Status List v1.0 §3.2: the list's own proof is verified before its bits are read."""
    who, credential = issued
    slug = credential["id"].rsplit("/", 2)[1]
    number = int(credential["credentialStatus"]["statusListCredential"].rsplit("/", 1)[1])
    with sqlite_app.extensions["hocvu.db"].session() as s:
        from credentials.issuer import tenant_by_slug

        tenant = tenant_by_slug(s, slug)
        assert tenant is not None
        row = s.get(CredentialStatusList, (tenant.id, number))
        assert row is not None
        doc = copy.deepcopy(row.document)
        doc["credentialSubject"]["encodedList"] = encode_bits({1, 2, 3}, row.size)  # changed, proof kept
        row.document, row.version = doc, row.version + 1
        s.commit()
    assert failed(verdict(who.client, credential)) == ("invalid", "status")


@pytest.mark.parametrize(("change", "outcome"), [
    (lambda c: c.update({"@context": ["https://www.w3.org/ns/credentials/v2", "https://evil.example/ctx.json"]}),
     "malformed"),
    (lambda c: c.update(extra="Hạng xuất sắc"), "malformed"),
    (lambda c: c["credentialSubject"].update(grade="A+"), "malformed"),
    (lambda c: c.update(type=["VerifiableCredential"]), "malformed"),
    (lambda c: c.pop("proof"), "invalid"),
])
def test_what_the_hub_never_issues_is_refused(issued: tuple[Any, dict[str, Any]], change: Any, outcome: str) -> None:
    """VC Data Model 2.0 §4.3 (contexts: nothing fetched) and the hub's own shape: unknown properties
    are refused outright rather than shown unsigned beside signed ones."""
    who, credential = issued
    forged = copy.deepcopy(credential)
    change(forged)
    assert verdict(who.client, forged)["outcome"] == outcome


def test_what_is_not_json_is_a_clear_error(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    res = client.post("/credentials/api/verify", data=b"{not json", content_type="application/json")
    assert res.status_code == 400 and res.get_json()["error"]["code"] == "bad_credential_input"
    res = client.post("/credentials/api/verify", data=b"[" * 300_000, content_type="application/json")
    assert res.status_code == 400
