"""``hocvu export statements`` and ``hocvu report`` through click's CliRunner, on the app's database."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from connectors.export import Pseudonymiser, pseudonym_key
from connectors.export_schema import NAMES
from connectors.frames import read_csv, read_jsonl, read_parquet, statements_frame
from hocvu.cli import main
from lrs.identifiers import actor_key
from tests.conftest import Xapi, statement
from tests.connectors.export_support import database, learner, post_statements, representative, tenant_slug


@pytest.fixture
def run(app: Flask) -> Any:
    env = {"HOCVU_DATABASE_URL": database(app).url, "HOCVU_SECRET_KEY": "test-secret", "HOCVU_REPORT_MIN_GROUP": ""}

    def invoke(*args: str, ok: bool = True) -> Any:
        result = CliRunner().invoke(main, list(args), env=env)
        if ok:
            assert result.exit_code == 0, result.output
        return result
    return invoke


def test_export_csv_jsonl_parquet_and_incremental(run: Any, app: Flask, xapi: Xapi, tmp_path: Path) -> None:
    assert post_statements(xapi, representative()).status_code == 200
    slug = tenant_slug(app, xapi)
    common = ["export", "statements", "--tenant", slug, "--settle", "0"]
    out = run(*common, "--format", "csv", "--out", str(tmp_path / "a.csv")).output
    assert "exported 4 statements (hocvu.statements.v1, csv)" in out
    cursor = out.split("cursor: ")[1].strip()
    expected = statements_frame(database(app), tenant=slug)
    assert read_csv(tmp_path / "a.csv").equals(expected)

    summary = json.loads(run(*common, "--format", "parquet", "--out", str(tmp_path / "pq"), "--json").output)
    assert summary["rows"] == 4 and summary["files"] and all(f"tenant={slug}" in f for f in summary["files"])
    assert read_parquet(tmp_path / "pq").equals(expected)

    fresh = statement(id=str(uuid.uuid4()), actor=learner("hv-new"))
    assert post_statements(xapi, [fresh]).status_code == 200
    run(*common, "--format", "jsonl", "--out", str(tmp_path / "b.jsonl"), "--after-cursor", cursor)
    assert list(read_jsonl(tmp_path / "b.jsonl")["statement_id"]) == [fresh["id"]]


def test_export_to_stdout_pseudonymised(run: Any, app: Flask, xapi: Xapi) -> None:
    assert post_statements(xapi, representative()).status_code == 200
    slug = tenant_slug(app, xapi)
    result = run("export", "statements", "--tenant", slug, "--settle", "0", "--out", "-", "--pseudonymise",
                 "--no-progress")
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(NAMES) and len(lines) == 5
    assert "hv-001" not in result.stdout
    assert Pseudonymiser(pseudonym_key("test-secret")).agent(actor_key(learner("hv-001"))) in result.stdout
    assert "cursor: stored:" in result.stderr  # the summary stays off the data stream


def test_export_errors_are_clear(run: Any, tmp_path: Path) -> None:
    bad = run("export", "statements", "--tenant", "no-such-tenant", "--out", str(tmp_path / "x.csv"), ok=False)
    assert bad.exit_code != 0 and "no tenant 'no-such-tenant'" in bad.output
    bad = run("export", "statements", "--since", "soon", "--out", str(tmp_path / "x.csv"), ok=False)
    assert bad.exit_code != 0 and "--since must be an ISO 8601 date" in bad.output
    bad = run("export", "statements", "--after-cursor", "42", "--out", str(tmp_path / "x.csv"), ok=False)
    assert bad.exit_code != 0 and "cursor" in bad.output
    assert not (tmp_path / "x.csv").exists()


def test_report_writes_a_self_contained_html_page(run: Any, app: Flask, xapi: Xapi, tmp_path: Path) -> None:
    sent = [statement(id=str(uuid.uuid4()), actor=learner(f"k-{i}")) for i in range(6)]
    assert post_statements(xapi, sent).status_code == 200
    slug = tenant_slug(app, xapi)
    out = run("report", "--out", str(tmp_path / "r.html"), "--tenant", slug, "--min-group", "5",
              "--json", str(tmp_path / "r.json")).output
    assert "6 learners, k = 5" in out
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 5 and "<script" not in html and slug in html
    figures = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert figures["breakdowns"]["tenant"]["total"]["enrolments"] == 6
    assert figures["breakdowns"]["tenant"]["total"]["completion_rate"] == 1.0
    small = run("report", "--out", str(tmp_path / "s.html"), "--tenant", slug, "--min-group", "7").output
    assert "fewer than 7 learners, k = 7" in small  # the total itself is suppressed
