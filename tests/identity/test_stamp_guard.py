"""Forged stamps: only statements signed by the hub may carry the identity stamp (identity.stamp_guard,
wired into lrs.statements.store through lrs.http.frame.LrsConfig.reserved_extensions).

A stamp makes a statement count as "verified" in reports, so a tenant credential writing one itself
would forge an identity check. xAPI lets an LRS refuse a statement it will not store with 400
(1.0.3 Part Three §2.1.2 / 2.0 §4.1.6.1); signatures are xAPI 1.0.3 Part Two §2.6 / 2.0 §4.2.6.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hocvu import configs
from hocvu.settings import SettingError, Settings
from identity import stamp_guard
from identity.auditor import queries as auditor_queries
from identity.auditor import signals as auditor_signals
from identity.gate import face as player_face
from identity.signing import SigningMaterial, load_signing_material, sign_statement
from identity.stamp import STAMP_IRI, build_stamp, pseudonymous_subject, stamp_statement
from lrs import statements as lrs_statements
from lrs.errors import BadRequest
from player.statements import system_principal
from schemas import cmi5 as player_statements
from tests.conftest import Xapi, statement
from tests.identity.auditor.auditor_support import (
    MATCH,
    PEPPER,
    chain_length,
    database,
    hub_material,
    multipart,
    new_tenant,
)


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> SigningMaterial:
    """A key and self-signed certificate that are not the hub's (a well-formed x5c the LRS accepts)."""
    return load_signing_material(tmp_path_factory.mktemp("stranger"))


def stamped() -> dict[str, Any]:
    now = datetime.now(UTC)
    stamp = build_stamp(subject=pseudonymous_subject(PEPPER, "https://vneid.example", "x"),
                        signed_in_at=now - timedelta(minutes=2), level=2, check=MATCH, checked_at=now,
                        liveness="active-challenge-v1", liveness_result="passed")
    return stamp_statement(statement(id=str(uuid.uuid4())), stamp)


def head(app: Flask, xapi: Xapi) -> int:
    with database(app).session() as s:
        from lrs.storage import Credential

        tenant_id = s.query(Credential.tenant_id).filter(Credential.key == xapi.key).scalar()
    return chain_length(app, tenant_id)


def test_the_guarded_iris_are_the_packages_own() -> None:
    # The auditor's queries read the gate's check statements and the player's cmi5 session ids by the
    # IRIs their writers use; these pins keep them the same.
    assert auditor_queries.CHECK_VERB == player_face.CHECK_VERB
    assert auditor_signals.EXT_FACE_CHECK == player_face.EXT_FACE_CHECK
    assert auditor_queries.EXT_SESSION == player_statements.EXT_SESSION


def test_an_unsigned_stamped_statement_is_refused_and_nothing_is_stored(app: Flask, xapi: Xapi) -> None:
    before = head(app, xapi)
    forged = stamped()
    res = xapi.post("statements", json_body=forged)
    assert res.status_code == 400
    message = res.get_json()["error"]["message"]
    assert STAMP_IRI in message and "not signed" in message
    assert xapi.get("statements", statementId=forged["id"]).status_code == 404
    assert head(app, xapi) == before  # no chain entry either


def test_a_stamped_statement_signed_by_another_key_is_refused(app: Flask, xapi: Xapi,
                                                              stranger: SigningMaterial) -> None:
    # The JWS is well formed and verifies with its own x5c certificate (the LRS's §2.6 checks pass);
    # the guard refuses it because that certificate is not one the hub trusts.
    signed, part = sign_statement(stamped(), stranger.key, stranger.cert)
    content_type, body = multipart([signed], [part.body])
    res = xapi.post("statements", data=body, headers={"Content-Type": content_type})
    assert res.status_code == 400, res.get_data(as_text=True)
    assert "certificate the hub trusts" in res.get_json()["error"]["message"]
    assert xapi.get("statements", statementId=signed["id"]).status_code == 404


def test_a_hub_signed_stamped_statement_is_stored(app: Flask, xapi: Xapi) -> None:
    material = hub_material(app)
    signed, part = sign_statement(stamped(), material.key, material.cert)
    content_type, body = multipart([signed], [part.body])
    res = xapi.post("statements", data=body, headers={"Content-Type": content_type})
    assert res.status_code == 200, res.get_data(as_text=True)
    back = xapi.get("statements", statementId=signed["id"]).get_json()
    assert back["context"]["extensions"][STAMP_IRI]["outcome"] == "verified"


def test_statements_without_the_stamp_are_unaffected(app: Flask, xapi: Xapi, stranger: SigningMaterial) -> None:
    plain = statement(id=str(uuid.uuid4()))
    assert xapi.post("statements", json_body=plain).status_code == 200
    # Signed by anyone: xAPI §2.6 signatures stay open to every client; only the stamp is reserved.
    signed, part = sign_statement(statement(id=str(uuid.uuid4())), stranger.key, stranger.cert)
    content_type, body = multipart([signed], [part.body])
    assert xapi.post("statements", data=body, headers={"Content-Type": content_type}).status_code == 200


@pytest.mark.parametrize("place", ["result", "substatement", "definition"])
def test_the_stamp_is_reserved_wherever_an_extension_may_stand(xapi: Xapi, place: str) -> None:
    stamp = stamped()["context"]["extensions"][STAMP_IRI]
    st = statement(id=str(uuid.uuid4()))
    if place == "result":  # xAPI 1.0.3 Part Two §2.4.5 result extensions
        st["result"] = {"extensions": {STAMP_IRI: stamp}}
    elif place == "substatement":  # §2.4.4.3: a SubStatement has its own context
        st["object"] = {"objectType": "SubStatement", "actor": st["actor"], "verb": st["verb"],
                        "object": dict(st["object"]), "context": {"extensions": {STAMP_IRI: stamp}}}
    else:  # §2.4.4.1 Activity definition extensions
        st["object"]["definition"]["extensions"] = {STAMP_IRI: stamp}
    res = xapi.post("statements", json_body=st)
    assert res.status_code == 400 and STAMP_IRI in res.get_json()["error"]["message"]


def test_a_stamp_key_written_with_json_escapes_is_still_refused(xapi: Xapi) -> None:
    """The store skips the walk for extensions when the statement's text cannot hold a reserved
    IRI (lrs.reserved_extensions.may_carry). A forger writing the key with JSON escapes (RFC 8259
    §7: ``\\u0068`` for "h", ``\\/`` for "/") sends text where the IRI does not appear verbatim;
    the key parsed is the same string, and it is refused as plainly written ones are."""
    forged = stamped()
    text = json.dumps(forged, ensure_ascii=True)
    escaped = STAMP_IRI.replace("h", "\\u0068", 1).replace("/", "\\/")
    assert STAMP_IRI in text and escaped not in text
    body = text.replace(json.dumps(STAMP_IRI), '"' + escaped + '"')
    assert STAMP_IRI not in body and json.loads(body) == forged
    res = xapi.post("statements", data=body, headers={"Content-Type": "application/json"})
    assert res.status_code == 400 and STAMP_IRI in res.get_json()["error"]["message"]
    assert xapi.get("statements", statementId=forged["id"]).status_code == 404


def test_one_forged_statement_rejects_the_whole_batch(app: Flask, xapi: Xapi) -> None:
    # Part Three §2.1.2: a batch is stored whole or not at all.
    material = hub_material(app)
    good, part = sign_statement(stamped(), material.key, material.cert)
    forged = stamped()
    content_type, body = multipart([good, forged], [part.body])
    assert xapi.post("statements", data=body, headers={"Content-Type": content_type}).status_code == 400
    assert xapi.get("statements", statementId=good["id"]).status_code == 404


def test_in_process_writers_meet_the_same_rule(app: Flask) -> None:
    """The course player stores in-process as the hub (credential_id None): its sealer signs every
    stamped statement, so it passes; an unsigned one would not."""
    _, tenant_id = new_tenant(app)
    material = hub_material(app)
    with database(app).session() as s:
        with pytest.raises(BadRequest, match="not signed"):
            lrs_statements.store(s, system_principal(tenant_id), "2.0.0", [stamped()], [])
        s.rollback()
        signed, part = sign_statement(stamped(), material.key, material.cert)
        assert lrs_statements.store(s, system_principal(tenant_id), "2.0.0", [signed], [part]) == [signed["id"]]
        s.commit()


def test_extra_trusted_certificates_come_from_the_settings(tmp_path: Path, stranger: SigningMaterial) -> None:
    pem = tmp_path / "other-hub.pem"
    pem.write_bytes(stranger.cert_pem)
    settings = Settings.from_env({"HOCVU_STAMP_TRUSTED_CERTS": str(pem)})
    assert configs.trusted_certificates(settings) == [stranger.cert_pem]
    signed, part = sign_statement(stamped(), stranger.key, stranger.cert)
    check = stamp_guard.stamp_guard(lambda: [stranger.cert_pem])
    assert check(signed, [part.body]) is None
    with pytest.raises(ValueError, match="not a readable PEM"):
        stamp_guard.extra_certificates([tmp_path / "missing.pem"])
    with pytest.raises(SettingError, match="HOCVU_STAMP_TRUSTED_CERTS"):
        configs.trusted_certificates(Settings.from_env({"HOCVU_STAMP_TRUSTED_CERTS": str(tmp_path / "missing.pem")}))
