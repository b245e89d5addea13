"""Credentials the hub issues, checked by an independent, well-known verifier run here: Digital Bazaar's
npm @digitalbazaar/vc with the eddsa-rdfc-2022 cryptosuite and the Bitstring Status List checker, the
VC 2.0 and OB 3.0 contexts from npm packages, and nothing loaded from the network
(tests/credentials/verifier/verify.mjs). The hub's own verifier must agree with it every time.

Clauses: VC Data Integrity EdDSA Cryptosuites v1.0 §3.3 (eddsa-rdfc-2022); VC Data Integrity 1.0 §4.3
(verify proof); Bitstring Status List v1.0 §3.2 (validate); VC Data Model 2.0 §4.9 (validity).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from credentials.issuing import ring_of
from credentials.keys import rotate_key
from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs.storage import Database
from tests.conftest import run_instance
from tests.credentials.support import cfg, completed, independent_verifier, served_documents


def ours(client: Any, credential: dict[str, Any]) -> str:
    res = client.post("/credentials/api/verify", json=credential)
    assert res.status_code == 200, res.get_data(as_text=True)
    return str(res.get_json()["outcome"])


def one_byte_changed(credential: dict[str, Any]) -> dict[str, Any]:
    """The credential as bytes with one byte of the course's name changed ("A" -> "B")."""
    raw = json.dumps(credential, ensure_ascii=False).encode()
    at = raw.index('"name": "An toàn'.encode()) + len(b'"name": "')
    return json.loads(raw[:at] + b"B" + raw[at + 1:])  # type: ignore[no-any-return]


def test_an_issued_credential_verifies_with_digital_bazaar_and_ours(app: Flask) -> None:
    who, credential = completed(app, name="Nguyễn Thị Hoa")
    [result] = independent_verifier([credential], served_documents(who.client, credential))
    assert result == {"verified": True, "checks": True, "errors": [],
                      "status": {"checked": True, "verified": True, "revoked": False}}
    assert ours(who.client, credential) == "valid"


def test_one_byte_changed_fails_verification(app: Flask) -> None:
    """VC Data Integrity EdDSA §3.3.2: a changed credential no longer matches its signature."""
    who, credential = completed(app)
    changed = one_byte_changed(credential)
    assert changed["name"].startswith("Bn toàn")
    docs = served_documents(who.client, credential)
    [result] = independent_verifier([changed], docs)
    assert result["verified"] is False and result["errors"]
    assert ours(who.client, changed) == "invalid"
    # ... and the proof itself: one character of proofValue
    forged = copy.deepcopy(credential)
    value = forged["proof"][0]["proofValue"]
    forged["proof"][0]["proofValue"] = value[:-1] + ("2" if value[-1] != "2" else "3")
    assert independent_verifier([forged], docs)[0]["verified"] is False
    assert ours(who.client, forged) == "invalid"


def test_a_revoked_credential_reports_revoked(app: Flask) -> None:
    """Bitstring Status List v1.0 §3.2: the list the hub republishes has the credential's bit set."""
    who, credential = completed(app)
    public_id = credential["id"].rsplit("/", 1)[1]
    slug = credential["id"].rsplit("/", 2)[1]
    from credentials.issuing import find
    from credentials.revocation import revoke

    with app.extensions["hocvu.db"].session() as s:
        revoke(s, cfg(app), [find(s, slug, public_id)[1]], "fraud", datetime.now(UTC))
        s.commit()
    [result] = independent_verifier([credential], served_documents(who.client, credential))
    assert result["verified"] is False and result["checks"] is True  # the proof holds; the bit is set
    assert result["status"] == {"checked": True, "verified": True, "revoked": True}
    assert ours(who.client, credential) == "revoked"
    assert who.mine()[0]["status"] == "revoked"


def test_after_a_key_rotation_old_and_new_credentials_verify(app: Flask) -> None:
    """Rotation keeps older keys published (did:web document), so what they signed still verifies."""
    who, before = completed(app)
    with app.extensions["hocvu.db"].session() as s:
        rotate_key(s, ring_of(cfg(app)))
        s.commit()
    other, after = completed(app, course="ky-nang-so-vneid")
    methods = {before["proof"][0]["verificationMethod"], after["proof"][0]["verificationMethod"]}
    assert len(methods) == 2
    assert methods <= set(who.client.get("/.well-known/did.json").get_json()["assertionMethod"])
    results = independent_verifier([before, after], served_documents(who.client, before, after))
    assert [r["verified"] for r in results] == [True, True], results
    assert ours(who.client, before) == ours(other.client, after) == "valid"


def test_expired_credentials_fail_in_both(tmp_path: Any) -> None:
    """VC Data Model 2.0 §4.9: past ``validUntil`` a credential is not valid (HOCVU_CREDENTIALS_VALID_DAYS)."""
    url = f"sqlite:///{tmp_path / 'hocvu.db'}"
    database = Database(url)
    dbops.upgrade(database)
    app = create_app(Settings.of(instance_dir=run_instance(),
                                 database_url=url, secret_key="test-secret", credentials_valid_days=30), db=database)
    who, credential = completed(app)
    assert credential["validUntil"] > credential["validFrom"]
    docs = served_documents(who.client, credential)
    assert independent_verifier([credential], docs)[0]["verified"] is True
    later = (datetime.now(UTC) + timedelta(days=31)).isoformat()
    [result] = independent_verifier([credential], docs, now=later)
    assert result["verified"] is False
    from credentials.verify import verify_document

    with database.session() as s:
        assert verify_document(s, cfg(app), credential, datetime.now(UTC) + timedelta(days=31)).outcome == "expired"


def test_a_tenant_issues_on_the_hubs_behalf(tmp_path: Any) -> None:
    """HOCVU_CREDENTIALS_ISSUER=tenant: the ministry's own did:web (hosted by the hub) is the issuer of
    the credential and of its status list; the profile names the hub as its parent organisation."""
    url = f"sqlite:///{tmp_path / 'hocvu.db'}"
    database = Database(url)
    dbops.upgrade(database)
    app = create_app(Settings.of(instance_dir=run_instance(),
                                 database_url=url, secret_key="test-secret", credentials_issuer="tenant"),
                     db=database)
    who, credential = completed(app)
    issuer = credential["issuer"]
    assert issuer["id"].startswith("did:web:127.0.0.1%3A8000:credentials:issuers:t-")
    assert issuer["name"].startswith("Test tenant") and issuer["parentOrg"]["name"] == "Bình dân học vụ số"
    docs = served_documents(who.client, credential)
    assert docs[credential["credentialStatus"]["statusListCredential"]]["issuer"] == issuer["id"]
    assert independent_verifier([credential], docs)[0]["verified"] is True
    assert ours(who.client, credential) == "valid"
