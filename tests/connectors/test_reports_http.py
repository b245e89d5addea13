"""The reports blueprint's access rules (issue 5: "Analyst credentials can read across tenants only
through pseudonymised exports") and its endpoints: dashboard, report.json, export.csv/.jsonl."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import uuid
from typing import Any

import pytest
from flask import Flask

from connectors.export import Pseudonymiser, pseudonym_key
from connectors.export_schema import NAMES
from lrs import credentials
from lrs.identifiers import actor_key
from tests.conftest import Xapi, new_credential
from tests.connectors.export_support import database, learner, post_statements, representative, tenant_slug


def basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


def national(app: Flask, role: str) -> dict[str, str]:
    with database(app).session() as s:
        cred, secret = credentials.create_national_credential(s, role, f"test {role}")
        s.commit()
        return basic(cred.key, secret)


def get(app: Flask, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
    return app.test_client().get(f"/reports/{path}", headers=headers or {}, query_string=params)


def rows(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture
def data(app: Flask, xapi: Xapi, xapi2: Xapi) -> tuple[Xapi, Xapi]:
    for client in (xapi, xapi2):
        assert post_statements(client, representative()).status_code == 200
    return xapi, xapi2


def test_a_tenant_credential_sees_its_own_tenant_with_real_learner_keys(app: Flask, data: tuple[Xapi, Xapi]) -> None:
    own, _ = data
    slug = tenant_slug(app, own)
    headers = basic(own.key, own.secret)
    r = get(app, "export.csv", headers, settle="0")
    assert r.status_code == 200 and r.content_type == "text/csv; charset=utf-8"
    got = rows(r)
    assert list(got[0]) == list(NAMES) and len(got) == 4 and {g["tenant"] for g in got} == {slug}
    assert actor_key(learner("hv-001")) in {g["actor_key"] for g in got}
    assert r.headers["Cache-Control"] == "no-store" and r.headers["X-Hocvu-Export-Cursor"].startswith("stored:")

    report = get(app, "report.json", headers).get_json()
    assert report["tenants"] == [slug] and report["pseudonymised"] is False
    assert report["breakdowns"]["tenant"]["total"]["suppressed"] == "small"  # 3 learners < k = 5

    page = get(app, "", headers)
    assert page.status_code == 200 and page.content_type == "text/html; charset=utf-8"
    assert len(re.findall(r"<svg\b", page.get_data(as_text=True))) == 5
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert '<select name="tenant">' not in page.get_data(as_text=True)  # no other tenant to choose


def test_all_read_scope_is_enough_and_other_tenants_are_refused(app: Flask, data: tuple[Xapi, Xapi]) -> None:
    own, other = data
    _, key, secret = new_credential(app, ["all/read"], tenant_slug(app, own))
    assert get(app, "export.jsonl", basic(key, secret), settle="0").status_code == 200
    r = get(app, "export.csv", basic(key, secret), tenant=tenant_slug(app, other))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("scopes", [["statements/read"], ["statements/write", "state"]])
def test_a_tenant_credential_without_read_all_is_forbidden(app: Flask, scopes: list[str]) -> None:
    _, key, secret = new_credential(app, scopes)
    r = get(app, "export.csv", basic(key, secret))
    assert r.status_code == 403 and r.get_json() == {"error": {"code": "forbidden", "message": r.get_json()[
        "error"]["message"]}}
    page = get(app, "", basic(key, secret))
    assert page.status_code == 403 and page.content_type.startswith("text/html")
    assert "Không được phép / Not allowed" in page.get_data(as_text=True)


def test_no_or_wrong_credentials_are_401_with_a_challenge(app: Flask, xapi: Xapi) -> None:
    for headers in ({}, basic(xapi.key, "wrong"), basic("hvan_nobody", "x"), {"Authorization": "Bearer abc"}):
        r = get(app, "export.csv", headers)
        assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
        assert r.headers["WWW-Authenticate"].startswith('Basic realm="hocvu reports"')
        page = get(app, "", headers)
        assert page.status_code == 401 and "<h1>Cần đăng nhập / Sign-in required</h1>" in page.get_data(as_text=True)
        assert page.headers["WWW-Authenticate"].startswith("Basic")


def test_a_national_analyst_sees_every_tenant_only_pseudonymised(app: Flask, data: tuple[Xapi, Xapi]) -> None:
    one, two = (tenant_slug(app, x) for x in data)
    headers = national(app, "analyst")
    r = get(app, "export.csv", headers, settle="0", pseudonymise="false")  # asking for real keys changes nothing
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    got = rows(r)
    assert {one, two} <= {g["tenant"] for g in got}
    assert all(g["actor_key"].startswith("pseudo:") for g in got)
    assert "hv-001" not in text and "lms.bo-gddt.gov.vn" not in text
    # The pseudonym is the hub's (HMAC keyed from the app secret): stable, so files join.
    expected = Pseudonymiser(pseudonym_key("test-secret")).agent(actor_key(learner("hv-001")))
    assert expected in {g["actor_key"] for g in got if g["tenant"] == one}

    only_one = rows(get(app, "export.csv", headers, settle="0", tenant=one))
    assert {g["tenant"] for g in only_one} == {one} and len(only_one) == 4
    report = get(app, "report.json", headers, tenant=two).get_json()
    assert report["pseudonymised"] is True and report["tenants"] == [two]
    page = get(app, "", headers).get_data(as_text=True)
    assert '<select name="tenant">' in page and 'id="pseudonymised"' in page


def test_a_national_auditor_and_a_revoked_analyst_are_refused(app: Flask) -> None:
    r = get(app, "export.csv", national(app, "auditor"))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert get(app, "", national(app, "auditor")).status_code == 403
    headers = national(app, "analyst")
    key = base64.b64decode(headers["Authorization"].split()[1]).decode().split(":")[0]
    with database(app).session() as s:
        credentials.revoke_national_credential(s, key)
        s.commit()
    assert get(app, "report.json", headers).status_code == 401


def test_bad_parameters_are_400_in_the_error_shape(app: Flask, xapi: Xapi) -> None:
    headers = basic(xapi.key, xapi.secret)
    for params in ({"since": "last tuesday"}, {"until": "2026-13-01"}, {"after": "yesterday"},
                   {"settle": "-1"}):
        r = get(app, "export.csv", headers, **params)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_request", params
    assert get(app, "export.parquet", headers).status_code == 400
    assert get(app, "export.csv", national(app, "analyst"), tenant="no-such-tenant").status_code == 404
    page = get(app, "", headers, since="nope")
    assert page.status_code == 400 and "since must be an ISO 8601 date" in page.get_data(as_text=True)


def test_incremental_export_over_http(app: Flask, xapi: Xapi) -> None:
    headers = basic(xapi.key, xapi.secret)
    assert post_statements(xapi, representative()).status_code == 200
    first = get(app, "export.jsonl", headers, settle="0")
    assert len(first.get_data(as_text=True).splitlines()) == 4
    new_id = str(uuid.uuid4())
    assert post_statements(xapi, [{**representative()[2], "id": new_id}]).status_code == 200
    second = get(app, "export.jsonl", headers, settle="0", after=first.headers["X-Hocvu-Export-Cursor"])
    lines = [json.loads(line) for line in second.get_data(as_text=True).splitlines()]
    assert [line["statement_id"] for line in lines] == [new_id] and list(lines[0]) == list(NAMES)


def test_until_as_a_date_includes_that_whole_day(app: Flask, xapi: Xapi) -> None:
    from datetime import UTC, datetime

    headers = basic(xapi.key, xapi.secret)
    assert post_statements(xapi, representative()[:1]).status_code == 200
    today = datetime.now(UTC).date().isoformat()
    assert len(rows(get(app, "export.csv", headers, settle="0", until=today))) == 1
    assert len(rows(get(app, "export.csv", headers, settle="0", since=today, until=today))) == 1
