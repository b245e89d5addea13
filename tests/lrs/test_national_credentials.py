"""National (cross-tenant) credentials for auditors and analysts (DESIGN.md "Data": cross-tenant
read is a separate role). They never stand in for a tenant credential, nor the reverse."""

from __future__ import annotations

import base64

import pytest
from flask import Flask

from lrs import credentials
from lrs.errors import BadRequest, Forbidden, Unauthorized
from lrs.storage import Database
from tests.conftest import new_credential


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def make(app: Flask, role: str) -> tuple[str, str]:
    database: Database = app.extensions["hocvu.db"]
    with database.session() as session:
        cred, secret = credentials.create_national_credential(session, role, f"test {role}")
        session.commit()
        return cred.key, secret


def authenticate(app: Flask, header: str | None) -> credentials.NationalPrincipal:
    database: Database = app.extensions["hocvu.db"]
    with database.session() as session:
        return credentials.authenticate_national(session, header)


@pytest.mark.parametrize("role", credentials.NATIONAL_ROLES)
def test_a_national_credential_authenticates_with_its_role(app: Flask, role: str) -> None:
    key, secret = make(app, role)
    principal = authenticate(app, basic(key, secret))
    assert principal.role == role and principal.key == key
    principal.require_role(role)
    with pytest.raises(Forbidden):
        principal.require_role(*(r for r in credentials.NATIONAL_ROLES if r != role))


def test_unknown_role_is_refused(app: Flask) -> None:
    database: Database = app.extensions["hocvu.db"]
    with database.session() as session, pytest.raises(BadRequest, match="unknown role"):
        credentials.create_national_credential(session, "superuser", "x")


@pytest.mark.parametrize("header", [None, "", "Bearer abc", "Basic !!!",
                                    "Basic " + base64.b64encode(b"nocolon").decode()])
def test_malformed_authorization_is_401(app: Flask, header: str | None) -> None:
    # RFC 7617 Basic; a 401 carries a challenge (RFC 7235 §3.1).
    with pytest.raises(Unauthorized) as err:
        authenticate(app, header)
    assert err.value.status == 401 and "WWW-Authenticate" in err.value.headers


def test_wrong_secret_and_revoked_are_401(app: Flask) -> None:
    key, secret = make(app, "auditor")
    with pytest.raises(Unauthorized):
        authenticate(app, basic(key, secret + "x"))
    database: Database = app.extensions["hocvu.db"]
    with database.session() as session:
        credentials.revoke_national_credential(session, key)
        session.commit()
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate(app, basic(key, secret))


def test_tenant_and_national_credentials_never_stand_in_for_each_other(app: Flask) -> None:
    _, tkey, tsecret = new_credential(app, ["all"])
    with pytest.raises(Unauthorized):
        authenticate(app, basic(tkey, tsecret))
    nkey, nsecret = make(app, "auditor")
    # xAPI 1.0.3 Part Three §4.1: the xAPI resources know only tenant credentials.
    r = app.test_client().get("/xapi/statements", headers={"Authorization": basic(nkey, nsecret),
                                                          "X-Experience-API-Version": "1.0.3"})
    assert r.status_code == 401
