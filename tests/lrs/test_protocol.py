"""Protocol rules common to every resource: versions, errors, HEAD, CORS, alternate syntax
(xAPI 1.0.3 Part Three §1, §3; IEEE 9274.1.1 §4.1)."""

from __future__ import annotations

import json
import urllib.parse

from flask import Flask

from tests.conftest import Xapi, statement


def test_about_needs_no_auth_and_lists_versions(app: Flask) -> None:
    """§2.8 About: no authentication; lists the versions this LRS serves."""
    res = app.test_client().get("/xapi/about")
    assert res.status_code == 200
    assert res.get_json()["version"] == ["1.0.3", "2.0.0"]


def test_version_header_required_and_checked(xapi: Xapi) -> None:
    """§3.3 Versioning: a missing or unsupported X-Experience-API-Version is 400."""
    assert xapi.get("statements", headers={"X-Experience-API-Version": None}).status_code == 400
    res = xapi.get("statements", headers={"X-Experience-API-Version": "0.95"})
    assert res.status_code == 400 and "not supported" in res.get_json()["error"]["message"]
    for v, served in (("1.0", "1.0.3"), ("1.0.1", "1.0.3"), ("2.0.0", "2.0.0")):
        res = xapi.get("statements", headers={"X-Experience-API-Version": v})
        assert res.status_code == 200 and res.headers["X-Experience-API-Version"] == served


def test_version_specific_rules(xapi2: Xapi, xapi: Xapi) -> None:
    """IEEE 9274.1.1 §4.2.2.5 adds context.contextAgents, which 1.0.3 does not know."""
    ctx = {"contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "mailto:a@b.vn"},
                              "relevantTypes": ["https://hocvu.vn/roles/mentor"]}]}
    assert xapi2.post("statements", json_body=statement(context=ctx)).status_code == 200
    assert xapi.post("statements", json_body=statement(context=ctx)).status_code == 400


def test_unknown_route_and_method_are_json_errors(xapi: Xapi) -> None:
    res = xapi.get("nothing-here")
    assert res.status_code == 404 and res.get_json()["error"]["code"] == "not_found"
    res = xapi.request("PATCH", "statements")
    assert res.status_code == 405 and "error" in res.get_json()


def test_cors_preflight(app: Flask) -> None:
    res = app.test_client().options("/xapi/statements")
    assert res.status_code == 204
    assert "X-Experience-API-Version" in res.headers["Access-Control-Allow-Headers"]


def _form(**fields: str) -> str:
    return urllib.parse.urlencode(fields)


def test_alternate_request_syntax_1_0_3(xapi: Xapi) -> None:
    """1.0.3 Part Three §1.3: POST ?method=PUT with headers and content as form fields."""
    sid = "6a7b5f0e-6a2c-4d9c-9b7f-0f5a2c6d1e11"
    form = _form(statementId=sid, content=json.dumps(statement()), **xapi.headers(),
                 **{"Content-Type": "application/json"})
    res = xapi.client.post("/xapi/statements?method=PUT", data=form,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.status_code == 204, res.data
    assert xapi.get("statements", statementId=sid).status_code == 200
    res = xapi.client.post("/xapi/statements?method=GET&statementId=" + sid, data=_form(**xapi.headers()),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.status_code == 400  # only `method` may be in the query string
    res = xapi.client.put("/xapi/statements?method=PUT", data=form,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.status_code == 400  # the syntax must be sent with POST


def test_alternate_request_syntax_rejected_in_2_0(xapi2: Xapi) -> None:
    """IEEE 9274.1.1 dropped the alternate request syntax."""
    form = _form(content=json.dumps(statement()), **xapi2.headers())
    res = xapi2.client.post("/xapi/statements?method=PUT", data=form,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.status_code == 400
