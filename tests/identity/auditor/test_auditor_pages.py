"""The auditor's pages at /audit over HTTP (identity.auditor.http): who gets in, what an attempt
shows, the filters, the CSV, and the access log in each audited tenant's chain (issue 5, item 2)."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from identity.auditor.http import CSV_COLUMNS
from lrs.audit.chain import policy_of
from lrs.audit.verify import verify_tenant
from lrs.storage import Statement
from tests.conftest import new_credential
from tests.identity.auditor.auditor_support import (
    MATCH,
    NO_MATCH,
    Written,
    access_entries,
    basic,
    database,
    national,
    new_tenant,
    write_attempt,
)


def course() -> str:
    return f"https://hocvu.vn/activities/course/audit-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def auditor(app: Flask) -> dict[str, str]:
    return basic(*national(app, "auditor"))


def listing(app: Flask, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    res = app.test_client().get("/audit/attempts.json", query_string=params, headers=headers)
    assert res.status_code == 200, res.get_data(as_text=True)
    data: dict[str, Any] = res.get_json()
    return data


def sessions(data: dict[str, Any]) -> set[str]:
    return {a["session_id"] for a in data["attempts"]}


def corrupt(app: Flask, w: Written, statement_id: str) -> None:
    """Edit a stored statement's JSON in the database: the stamp's distance is changed."""
    with database(app).session() as s:
        full = dict(s.scalar(select(Statement.full).where(Statement.tenant_id == w.tenant_id,
                                                          Statement.statement_id == statement_id)))
        ctx = dict(full["context"])
        ext = dict(ctx["extensions"])
        stamp = dict(ext["https://hocvu.vn/xapi/extensions/identity-verification"])
        stamp["faceDistance"] = 0.05
        ext["https://hocvu.vn/xapi/extensions/identity-verification"] = stamp
        ctx["extensions"] = ext
        full["context"] = ctx
        s.execute(update(Statement).where(Statement.tenant_id == w.tenant_id, Statement.statement_id == statement_id)
                  .values(full=full))
        s.commit()


def test_an_auditor_sees_attempts_across_tenants(app: Flask, auditor: dict[str, str]) -> None:
    where = course()
    a = write_attempt(app, new_tenant(app), course=where, checks=[MATCH, MATCH])
    b = write_attempt(app, new_tenant(app), course=where, checks=[MATCH])
    data = listing(app, auditor, course=where)
    assert sessions(data) == {a.session_id, b.session_id}
    first = next(x for x in data["attempts"] if x["session_id"] == a.session_id)
    assert first["tenant"] == a.tenant and first["registration"] == a.registration
    assert first["subject"] == a.subject and first["subject"].startswith("hocvu-subject:")
    assert first["level"] == 2 and first["outcome"] == "verified" and first["problems"] == []
    assert first["activity"] == a.quiz and first["course"] == where
    assert [(c["outcome"], c["distance"], c["threshold"], c["success"]) for c in first["checks"]] == [
        ("match", 0.31, 0.40, True)] * 2
    assert all(s["signature"] == "valid" and s["chain"] == "included" for s in first["statements"])
    assert len(first["statements"]) == 4
    # The learner appears only by pseudonym: no LMS account name, no actor at all.
    text = str(first)
    assert "lms.example.vn" not in text and "actor" not in text


def test_the_problem_filters(app: Flask, auditor: dict[str, str]) -> None:
    where = course()
    tenant = new_tenant(app)
    clean = write_attempt(app, tenant, course=where, checks=[MATCH])
    # A recheck during the attempt failed: the stamp says unverified from then on.
    failed = write_attempt(app, tenant, course=where, checks=[MATCH, NO_MATCH])
    # A bad photo at the gate, then a good one: verified, but with a failed check.
    retried = write_attempt(app, tenant, course=where, checks=[NO_MATCH, MATCH])
    tampered = write_attempt(app, tenant, course=where, checks=[MATCH])
    corrupt(app, tampered, tampered.ids[1])

    assert sessions(listing(app, auditor, course=where)) == {x.session_id for x in (clean, failed, retried, tampered)}
    assert sessions(listing(app, auditor, course=where, problem="unverified")) == {failed.session_id}
    assert sessions(listing(app, auditor, course=where, problem="failed_checks")) == {failed.session_id,
                                                                                      retried.session_id}
    invalid = listing(app, auditor, course=where, problem="signature_invalid")
    assert sessions(invalid) == {tampered.session_id}
    bad = next(s for s in invalid["attempts"][0]["statements"] if s["statement_id"] == tampered.ids[1])
    assert bad["signature"] == "invalid" and bad["chain"] == "altered"
    # Ticked together, a filter keeps attempts with any of the problems.
    both = listing(app, auditor, course=where, problem=["unverified", "signature_invalid"])
    assert sessions(both) == {failed.session_id, tampered.session_id}
    res = app.test_client().get("/audit/attempts.json", query_string={"problem": "late"}, headers=auditor)
    assert res.status_code == 400 and "unknown problem filter" in res.get_json()["error"]["message"]


def test_tenant_and_period_filters_and_paging(app: Flask, auditor: dict[str, str]) -> None:
    where = course()
    one, other = new_tenant(app), new_tenant(app)
    written = [write_attempt(app, one, course=where, checks=[MATCH, MATCH]) for _ in range(3)]
    write_attempt(app, other, course=where, checks=[MATCH])
    assert sessions(listing(app, auditor, course=where, tenant=one[0])) == {w.session_id for w in written}
    # Paging: one attempt per page, each listed once although it has two checks.
    seen: list[str] = []
    params: dict[str, Any] = {"course": where, "limit": 1}
    while True:
        data = listing(app, auditor, **params)
        seen += [a["session_id"] for a in data["attempts"]]
        if not data["more"]:
            break
        params = {"after": data["more"].split("after=")[1], "course": where, "limit": 1}
    assert len(seen) == 4 and len(set(seen)) == 4
    # The period is when the hub stored the checks: all of them today, none in 2020.
    assert listing(app, auditor, course=where, since="2020-01-01", until="2020-12-31")["attempts"] == []
    assert len(listing(app, auditor, course=where, since="2020-01-01")["attempts"]) == 4
    res = app.test_client().get("/audit/attempts.json", query_string={"tenant": "no-such-tenant"}, headers=auditor)
    assert res.status_code == 404


def test_the_html_pages_show_the_table_and_the_attempt(app: Flask, auditor: dict[str, str]) -> None:
    where = course()
    w = write_attempt(app, new_tenant(app), course=where, checks=[MATCH, NO_MATCH])
    page = app.test_client().get("/audit/", query_string={"course": where}, headers=auditor)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    assert f'data-session="{w.session_id}"' in html and 'data-outcome="unverified"' in html
    assert "0.5200 / 0.4000" in html  # the failed check's distance against its threshold
    assert "<script" not in html and "http://" not in html.replace("http://adlnet.gov", "")
    detail = app.test_client().get("/audit/attempt", query_string={
        "tenant": w.tenant, "registration": w.registration, "session": w.session_id}, headers=auditor)
    assert detail.status_code == 200
    text = detail.get_data(as_text=True)
    assert w.subject in text and text.count('data-signature="valid"') == 4 and 'id="bundle"' in text
    missing = app.test_client().get("/audit/attempt", query_string={
        "tenant": w.tenant, "registration": w.registration, "session": str(uuid.uuid4())}, headers=auditor)
    assert missing.status_code == 404 and "text/html" in missing.headers["Content-Type"]


def test_who_gets_in(app: Flask) -> None:
    client = app.test_client()
    res = client.get("/audit/attempts.json")
    assert res.status_code == 401 and res.headers["WWW-Authenticate"].startswith("Basic realm=\"hocvu audit\"")
    key, _ = national(app, "auditor")
    assert client.get("/audit/attempts.json", headers=basic(key, "wrong")).status_code == 401
    # An analyst reaches every tenant only through pseudonymised exports, not these pages.
    analyst = client.get("/audit/attempts.json", headers=basic(*national(app, "analyst")))
    assert analyst.status_code == 403 and "auditor" in analyst.get_json()["error"]["message"]
    # A tenant's credential, even with every scope, is not an auditor's.
    _, tkey, tsecret = new_credential(app, ["all"])
    tenant = client.get("/audit/", headers=basic(tkey, tsecret))
    assert tenant.status_code == 403 and "text/html" in tenant.headers["Content-Type"]
    assert client.get("/audit/attempts.csv", headers=basic(tkey, tsecret)).status_code == 403


def test_every_access_is_recorded_in_the_audited_tenants_chain(app: Flask) -> None:
    key, secret = national(app, "auditor")
    headers = basic(key, secret)
    where = course()
    tenant = new_tenant(app)
    w = write_attempt(app, tenant, course=where, checks=[MATCH])
    client = app.test_client()
    attempt = {"tenant": w.tenant, "registration": w.registration, "session": w.session_id}
    views = [("/audit/", {"course": where}, "attempts.html"),
             ("/audit/attempts.json", {"course": where}, "attempts.json"),
             ("/audit/attempts.csv", {"tenant": w.tenant}, "attempts.csv"),
             ("/audit/attempt", attempt, "attempt.html"),
             ("/audit/attempt.json", attempt, "attempt.json"),
             ("/audit/bundle", attempt, "bundle")]
    for n, (path, params, view) in enumerate(views, start=1):
        res = client.get(path, query_string=params, headers=headers)
        assert res.status_code == 200, (path, res.get_data(as_text=True))
        res.get_data()  # a streamed CSV is produced to the end
        entries = access_entries(app, w.tenant_id)
        assert len(entries) == n, view
        assert entries[-1]["actor"] == f"auditor:{key}" and entries[-1]["detail"]["view"] == view
    assert w.session_id in entries[0]["detail"]["shown"]
    # A refused request shows nothing and logs nothing.
    client.get("/audit/attempts.json", query_string={"course": where}, headers=basic(key, "wrong"))
    assert len(access_entries(app, w.tenant_id)) == len(views)
    # The access entries (and the checkpoint the bundle asked for) keep the chain whole.
    with database(app).session() as s:
        report = verify_tenant(s, w.tenant_id, [policy_of(s).signer.certificate_pem])  # type: ignore[union-attr]
    assert report.ok and report.checkpoints == 1, report.as_dict()


def test_the_csv_has_one_row_per_attempt_with_the_documented_columns(app: Flask, auditor: dict[str, str]) -> None:
    where = course()
    tenant = new_tenant(app)
    w = write_attempt(app, tenant, course=where, checks=[MATCH, NO_MATCH])
    write_attempt(app, tenant, course=where, checks=[MATCH])
    res = app.test_client().get("/audit/attempts.csv", query_string={"tenant": tenant[0], "course": where},
                                headers=auditor)
    assert res.status_code == 200 and res.headers["X-Hocvu-Export-Schema"] == "hocvu.audit.attempts.v4"
    assert res.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(res.get_data(as_text=True))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 3
    row = dict(zip(CSV_COLUMNS, next(r for r in rows[1:] if r[2] == w.session_id), strict=True))
    assert row["tenant"] == w.tenant and row["registration"] == w.registration
    assert row["learner_pseudonym"] == w.subject and row["level"] == "2" and row["outcome"] == "unverified"
    assert row["checks"] == "2" and row["failed_checks"] == "1"
    assert row["check_outcomes"] == "match;no_match" and row["check_distances"] == "0.31;0.52"
    assert row["check_thresholds"] == "0.4;0.4" and row["signatures_valid"] == "4" and row["signatures_invalid"] == "0"
    assert row["chain_included"] == "4" and row["chain_problems"] == "0"
    assert row["problems"] == "failed_checks;unverified"
    # v3: the assurance level and liveness of the latest stamp, and each check's liveness.
    assert (row["assurance"], row["liveness"], row["liveness_result"]) == ("none", "active-challenge-v1", "no_match")
