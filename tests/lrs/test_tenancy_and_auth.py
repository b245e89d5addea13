"""Tenancy, credentials and scopes (xAPI 1.0.3 Part Three §4; DESIGN.md: Tenancy)."""

from __future__ import annotations

import base64
import uuid

from flask import Flask

from tests.conftest import Xapi, new_credential, statement


def client_with(app: Flask, scopes: list[str], tenant: str | None = None) -> Xapi:
    _, key, secret = new_credential(app, scopes, tenant)
    return Xapi(app.test_client(), key, secret)


def test_other_tenant_cannot_read_write_or_void(app: Flask) -> None:
    """One tenant can never see, overwrite or void another's statements."""
    a, b = client_with(app, ["all"]), client_with(app, ["all"])
    sid = str(uuid.uuid4())
    assert a.put("statements", json_body=statement(id=sid), statementId=sid).status_code == 204
    assert b.get("statements", statementId=sid).status_code == 404
    assert b.get("statements").get_json()["statements"] == []
    # The same id in another tenant is that tenant's own statement, not a conflict or overwrite.
    other = statement(id=sid, verb={"id": "http://adlnet.gov/expapi/verbs/failed"})
    assert b.put("statements", json_body=other, statementId=sid).status_code == 204
    voiding = statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
                        object={"objectType": "StatementRef", "id": sid})
    assert b.post("statements", json_body=voiding).status_code == 200
    got = a.get("statements", statementId=sid)
    assert got.status_code == 200 and got.get_json()["verb"]["id"].endswith("completed")


def test_scopes_are_enforced(app: Flask) -> None:
    """§4.2: a credential may do only what its scopes allow."""
    writer = client_with(app, ["statements/write"])
    assert writer.post("statements", json_body=statement()).status_code == 200
    assert writer.get("statements").status_code == 403
    reader = client_with(app, ["all/read"])
    assert reader.post("statements", json_body=statement()).status_code == 403
    assert reader.get("statements").status_code == 200


def test_read_mine_sees_only_own_statements(app: Flask) -> None:
    """§4.2 statements/read/mine: only statements this credential is the authority of."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    mine = client_with(app, ["statements/write", "statements/read/mine"], tenant)
    other = client_with(app, ["all"], tenant)
    [own] = mine.post("statements", json_body=statement()).get_json()
    [theirs] = other.post("statements", json_body=statement()).get_json()
    assert [s["id"] for s in mine.get("statements").get_json()["statements"]] == [own]
    assert mine.get("statements", statementId=theirs).status_code == 404
    assert len(other.get("statements").get_json()["statements"]) == 2


def test_authentication_required(app: Flask) -> None:
    """§4.1: requests without valid credentials get 401 with a challenge."""
    c = app.test_client()
    res = c.get("/xapi/statements", headers={"X-Experience-API-Version": "1.0.3"})
    assert res.status_code == 401 and "WWW-Authenticate" in res.headers
    assert res.get_json()["error"]["code"] == "unauthorized"
    bad = base64.b64encode(b"hv_nobody:wrong").decode()
    res = c.get("/xapi/statements", headers={"X-Experience-API-Version": "1.0.3", "Authorization": f"Basic {bad}"})
    assert res.status_code == 401
    res = c.get("/xapi/statements", headers={"X-Experience-API-Version": "1.0.3", "Authorization": "Basic %%%"})
    assert res.status_code == 401


def test_revoked_credential_stops_working(app: Flask) -> None:
    from lrs import credentials

    x = client_with(app, ["all"])
    assert x.get("statements").status_code == 200
    with app.extensions["hocvu.db"].session() as session:
        credentials.revoke_credential(session, x.key)
        session.commit()
    assert x.get("statements").status_code == 401
