"""Readers defend themselves (issue 13, case 2 and the readers of cases 1 and 3): rows the store
refuses today but holds from before (written here straight into the table, bypassing validation, as
legacy data or a restore would be) never fail a page, an export, a report, `hocvu report` or the
national dashboard, and one tenant's rows never fail another tenant's view. Both databases (what
each can hold: PostgreSQL's jsonb has no Infinity, NaN or lone surrogate; SQLite's text has).

RFC 8259 §6 (numbers a reader can represent), xAPI 1.0.3 Part Three §2.1.3 (GET Statements answers
with the statements: a page is JSON).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import insert, select

from connectors.frames import read_csv, read_parquet
from hocvu.cli import main
from lrs.storage import Activity, Credential, Statement
from tests.conftest import Xapi, new_credential, statement
from tests.connectors.export_support import database, post_statements, representative, tenant_slug
from tests.connectors.test_reports_http import basic, get, national

COURSE = "https://hocvu.vn/courses/legacy"
PASSED = "http://adlnet.gov/expapi/verbs/passed"


def _deep(depth: int) -> Any:
    value: Any = {"end": 1}
    for _ in range(depth):
        value = {"x": value}
    return value


def poisons(dialect: str) -> dict[str, Any]:
    """Values of a legacy statement's result, by what each database can hold."""
    found: dict[str, Any] = {"score": {"raw": 1, "min": 0, "max": 10**309}, "duration": "P" + "9" * 400 + "Y",
                             "extensions": {"https://hocvu.vn/x/deep": _deep(600)}}
    if dialect == "sqlite":  # what SQLite kept before the rule: 1e400 as Infinity, NaN, lone surrogates
        found["score"]["scaled"] = float("inf")
        found["extensions"]["https://hocvu.vn/x/nan"] = float("nan")
        found["response"] = "bad \ud800 text"
    return found


def insert_legacy(app: Flask, x: Xapi) -> str:
    """One statement row written behind the store's back (no validation, no chain entry)."""
    db = database(app)
    sid = str(uuid.uuid4())
    now = datetime.now(UTC)
    full = {**statement(verb={"id": PASSED}, object={"id": COURSE, "definition": {"name": {"vi": "Khoá \ud800 cũ"}}
                                                     if db.dialect == "sqlite" else {"name": {"vi": "Khoá cũ"}}}),
            "id": sid, "result": poisons(db.dialect), "stored": now.isoformat(), "timestamp": now.isoformat()}
    with db.session() as s:
        cred = s.scalar(select(Credential).where(Credential.key == x.key))
        assert cred is not None
        s.execute(insert(Statement.__table__), [{
            "tenant_id": cred.tenant_id, "statement_id": sid, "verb_id": PASSED,
            "actor_key": "agent|mbox:mailto:an@x.vn",
            "object_type": "Activity", "object_activity_id": COURSE, "timestamp": now, "stored": now,
            "voided": False, "is_voiding": False, "credential_id": cred.id, "full": full}])
        # The Activity's stored definition, which the canonical format shows, is legacy too.
        s.merge(Activity(tenant_id=cred.tenant_id, activity_id=COURSE, definition={
            "name": {"vi": "Khoá cũ"}, "extensions": {"https://hocvu.vn/x/deep": _deep(600),
                                                      "https://hocvu.vn/x/n": poisons(db.dialect)["score"]}}))
        s.commit()
    return sid


@pytest.fixture
def legacy(app: Flask, xapi: Xapi) -> tuple[Xapi, str]:
    assert post_statements(xapi, representative()).status_code == 200
    return xapi, insert_legacy(app, xapi)


@pytest.mark.parametrize("fmt", ["exact", "ids", "canonical"])
def test_a_page_holding_a_legacy_row_is_valid_json(legacy: tuple[Xapi, str], fmt: str) -> None:
    """xAPI 1.0.3 Part Three §2.1.3: the page is answered, as JSON (RFC 8259 §6: no Infinity), with
    the legacy row's unrepresentable values clamped and every other statement as stored."""
    x, sid = legacy
    for params in ({"format": fmt}, {"format": fmt, "statementId": sid}):
        res = x.get("statements", **params)
        assert res.status_code == 200, res.get_data(as_text=True)[:300]
        body = json.loads(res.get_data(as_text=True), parse_constant=lambda c: pytest.fail(f"{c} in a page"))
        found = body if "statementId" in params else next(s for s in body["statements"] if s["id"] == sid)
        assert found["id"] == sid
        if "statementId" not in params:
            assert len(body["statements"]) == 5  # the four representative statements too


def test_the_activities_resource_serves_a_legacy_definition(legacy: tuple[Xapi, str]) -> None:
    """xAPI 1.0.3 Part Three §2.5: GET /activities answers the stored definition, as JSON."""
    x, _ = legacy
    res = x.get("activities", activityId=COURSE)
    assert res.status_code == 200
    body = json.loads(res.get_data(as_text=True), parse_constant=lambda c: pytest.fail(f"{c} in the answer"))
    assert body["id"] == COURSE and body["definition"]["name"] == {"vi": "Khoá cũ"}


def test_exports_skip_what_they_cannot_represent(app: Flask, legacy: tuple[Xapi, str], tmp_path: Path) -> None:
    """CSV, JSON Lines and Parquet exports (HTTP and CLI) hold the legacy row, its unrepresentable
    values left empty (a clamped score would skew every rate), the other rows intact."""
    x, sid = legacy
    r = get(app, "export.csv", basic(x.key, x.secret), settle="0")
    assert r.status_code == 200
    rows = {row["statement_id"]: row for row in csv.DictReader(io.StringIO(r.get_data(as_text=True)))}
    assert len(rows) == 5 and rows[sid]["score_max"] == "" and rows[sid]["duration_seconds"] == ""
    assert rows[sid]["course_id"] == COURSE and rows[sid]["score_raw"] == "1.0"
    jsonl = get(app, "export.jsonl", basic(x.key, x.secret), settle="0")
    assert jsonl.status_code == 200 and len(jsonl.get_data(as_text=True).splitlines()) == 5
    env = {"HOCVU_DATABASE_URL": database(app).url, "HOCVU_SECRET_KEY": "test-secret"}
    slug = tenant_slug(app, x)
    for fmt, out in (("csv", tmp_path / "s.csv"), ("parquet", tmp_path / "lake")):
        result = CliRunner().invoke(main, ["export", "statements", "--tenant", slug, "--format", fmt, "--out",
                                           str(out), "--settle", "0"], env=env)
        assert result.exit_code == 0, result.output
    frame = read_parquet(tmp_path / "lake")
    assert len(frame) == 5 and frame.loc[frame["statement_id"] == sid, "score_max"].isna().all()
    assert len(read_csv(tmp_path / "s.csv")) == 5


def test_reports_and_the_national_dashboard_survive_one_tenants_legacy_rows(
        app: Flask, legacy: tuple[Xapi, str], xapi2: Xapi, tmp_path: Path) -> None:
    """Issue 13 case 2: a tenant's `result.score.max = 10**309` answered 500 on its own /reports/,
    on the national analyst dashboard for every tenant, and killed `hocvu report`. Now all answer."""
    x, _ = legacy
    assert post_statements(xapi2, representative()).status_code == 200
    for headers in (basic(x.key, x.secret), basic(xapi2.key, xapi2.secret), national(app, "analyst")):
        page = get(app, "", headers)
        assert page.status_code == 200, page.get_data(as_text=True)[:300]
        figures = get(app, "report.json", headers)
        assert figures.status_code == 200
        json.loads(figures.get_data(as_text=True), parse_constant=lambda c: pytest.fail(f"{c} in report.json"))
    env = {"HOCVU_DATABASE_URL": database(app).url, "HOCVU_SECRET_KEY": "test-secret", "HOCVU_REPORT_MIN_GROUP": "1"}
    result = CliRunner().invoke(main, ["report", "--out", str(tmp_path / "r.html"), "--json", str(tmp_path / "r.json")],
                                env=env)
    assert result.exit_code == 0, result.output
    json.loads((tmp_path / "r.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the report"))


def test_a_dollar_sign_in_a_course_id_does_not_break_the_charts(app: Flask) -> None:
    """matplotlib reads "$...$" in a label as TeX; a course id (a valid IRI) such as "…/$a_$" made the chart (and
    with it every dashboard showing that course, the national one included) fail."""
    _, key, secret = new_credential(app, ["all"])
    x = Xapi(app.test_client(), key, secret)
    body = [statement(actor={"mbox": f"mailto:hv{i}@hocvu.vn"}, object={"id": "https://hocvu.vn/c/$a_$"})
            for i in range(6)]
    assert x.post("statements", json_body=body).status_code == 200
    assert get(app, "", basic(key, secret)).status_code == 200
