"""Issue 17 items 3 and 2 from the command line, as an operator runs them (a real process on a real
SQLite file): `hocvu tenant set` gives a tenant its ministry and province, `hocvu rollups refresh`
rolls statements up, and the report groups the tenant's learners under its province; bad input is
refused with nothing changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.export_support import COURSE_TYPE


def hocvu(tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOCVU_DATABASE_URL": f"sqlite:///{tmp / 'cli.db'}", "HOCVU_INSTANCE_DIR": str(tmp),
           "HOCVU_SECRET_KEY": "test-secret"}
    return subprocess.run([sys.executable, "-m", "hocvu.cli", *args], env=env, text=True, capture_output=True,
                          check=check)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("rollups-cli")
    hocvu(tmp, "db", "upgrade")
    hocvu(tmp, "tenant", "create", "bo-tc", "--name", "Bộ Tài chính")
    return tmp


def seed(tmp: Path, learners: int) -> None:
    from flask import Flask

    from hocvu.app import create_app
    from hocvu.settings import Settings
    from tests.conftest import Xapi, new_credential

    app: Flask = create_app(Settings.of(database_url=f"sqlite:///{tmp / 'cli.db'}", secret_key="test-secret",
                                        instance_dir=tmp / "instance"))
    _, key, secret = new_credential(app, ["all"], "bo-tc")
    xapi = Xapi(app.test_client(), key, secret)
    course = "https://hocvu.vn/courses/tai-chinh-so"
    body: list[dict[str, Any]] = [{
        "id": str(uuid.uuid4()), "actor": {"account": {"homePage": "https://lms.mof.gov.vn", "name": f"u{i}"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": course, "definition": {"type": COURSE_TYPE}}} for i in range(learners)]
    assert xapi.post("statements", json_body=body).status_code == 200


def test_tenant_metadata_and_refresh_from_the_command_line(workdir: Path, tmp_path: Path) -> None:
    seed(workdir, 6)
    done = json.loads(hocvu(workdir, "rollups", "refresh", "--settle", "0", "--json").stdout)
    assert done["statements"] == 6 and done["tenants"] >= 1
    again = json.loads(hocvu(workdir, "rollups", "refresh", "--settle", "0", "--json").stdout)
    assert again["statements"] == 0  # idempotent: nothing twice
    out = json.loads(hocvu(workdir, "tenant", "set", "bo-tc", "--ministry", "Bộ Tài chính",
                           "--province", "Hà Nội", "--json").stdout)
    assert out == {"slug": "bo-tc", "name": "Bộ Tài chính", "ministry": "Bộ Tài chính", "province": "Hà Nội",
                   "enrolments_moved": 6}
    listed = json.loads(hocvu(workdir, "tenant", "list", "--json").stdout)
    assert {"slug": "bo-tc", "name": "Bộ Tài chính", "ministry": "Bộ Tài chính", "province": "Hà Nội"} in listed
    report = tmp_path / "r.json"
    hocvu(workdir, "report", "--out", str(tmp_path / "r.html"), "--json", str(report), "--tenant", "bo-tc")
    figures = json.loads(report.read_text(encoding="utf-8"))
    assert [g["key"] for g in figures["breakdowns"]["province"]["groups"]] == ["Hà Nội"]
    assert figures["source"] == "rollups"
    status = json.loads(hocvu(workdir, "rollups", "status", "--json").stdout)
    assert any(s["tenant"] == "bo-tc" and s["statements"] == 6 for s in status)


def test_bad_tenant_metadata_is_refused_and_nothing_changes(workdir: Path) -> None:
    before = hocvu(workdir, "tenant", "list", "--json").stdout
    r = hocvu(workdir, "tenant", "set", "bo-tc", "--province", "x" * 129, check=False)
    assert r.returncode == 2 and "at most 128 characters" in r.stderr
    r = hocvu(workdir, "tenant", "set", "no-such-tenant", "--province", "Huế", check=False)
    assert r.returncode == 1 and "no-such-tenant" in r.stderr
    assert hocvu(workdir, "tenant", "list", "--json").stdout == before


def test_lake_figures_from_the_command_line(workdir: Path, tmp_path: Path) -> None:
    """`hocvu lake figures` recomputes the dashboard's figures from a Parquet export with DuckDB and
    prints what report.json would (issue 17 item 5a); an engine that is not installed is a clear error."""
    pytest.importorskip("duckdb")
    seed(workdir, 6)  # the same six learners again: the test stands alone or after the others
    hocvu(workdir, "tenant", "set", "bo-tc", "--province", "Hà Nội")
    lake = tmp_path / "lake"
    hocvu(workdir, "export", "statements", "--format", "parquet", "--out", str(lake), "--settle", "0",
          "--pseudonymise", "--tenant", "bo-tc")
    out = json.loads(hocvu(workdir, "lake", "figures", "--lake", str(lake), "--pseudonymised", "--min-group",
                           "1").stdout)
    assert out["source"] == "lake" and out["pseudonymised"] is True
    assert out["breakdowns"]["tenant"]["total"]["learners"] == 6
    assert [g["key"] for g in out["breakdowns"]["province"]["groups"]] == ["Hà Nội"]  # the tenant's province
    r = hocvu(workdir, "lake", "figures", "--lake", str(tmp_path / "absent"), check=False)
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_refresh_with_jobs_from_the_command_line(tmp_path: Path) -> None:
    """`hocvu rollups refresh --jobs 2` (issue 17 item 3, a catch-up after a bulk load): tenants in two
    processes, every statement once; `--max-seconds 0` starts no batch, the next run goes on."""
    hocvu(tmp_path, "db", "upgrade")
    hocvu(tmp_path, "tenant", "create", "bo-tc", "--name", "Bộ Tài chính")
    hocvu(tmp_path, "tenant", "create", "bo-yt", "--name", "Bộ Y tế")
    seed(tmp_path, 5)
    waited = json.loads(hocvu(tmp_path, "rollups", "refresh", "--settle", "0", "--max-seconds", "0",
                              "--json").stdout)
    assert waited["statements"] == 0
    done = json.loads(hocvu(tmp_path, "rollups", "refresh", "--settle", "0", "--jobs", "2", "--json").stdout)
    assert done["statements"] == 5 and done["tenants"] >= 2 and {"bo-tc", "bo-yt"} <= set(done["behind_seconds"])
    status = json.loads(hocvu(tmp_path, "rollups", "status", "--json").stdout)
    assert any(s["tenant"] == "bo-tc" and s["statements"] == 5 for s in status)
