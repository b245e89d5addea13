"""Proof bundles, exports and GET by id once a month is archived to the lake (issue 17 item 2
follow-up; identity.auditor.archived, connectors.archive.reader ``find``, connectors.archive.coverage,
lrs.statement_query).

PostgreSQL only (archiving drops a month's partition): one database of this module's own. Two
tenants' identity-assured attempts are stored, moved to March 2026 and archived, as in
tests/connectors/test_lake_archive.py; each tenant then has a live attempt of this month.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from flask import Flask

from connectors.archive import MANIFEST_FILE, STATEMENTS_FILE, month_dir
from connectors.archive.reader import file_sha256
from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.cli import main
from hocvu.settings import Settings
from identity.auditor.proof_bundle import verify_bundle
from lrs import partitions
from lrs.jcs import canonical_json
from lrs.storage import Database
from schemas.cmi5 import EXT_SESSION
from tests.conftest import Xapi, new_credential, scratch_pg
from tests.conftest import sql_scalar as _sql
from tests.identity.auditor.auditor_support import MATCH, NO_MATCH, Written, basic, national, new_tenant, write_attempt
from tests.lrs.audit.test_audit_chain import _hub

pytestmark = pytest.mark.postgres
MARCH = date(2026, 3, 1)
COURSE = "https://hocvu.vn/activities/course/archived-bundles"


@pytest.fixture(scope="module")
def own_url(pg_url: str) -> Iterator[str]:
    with scratch_pg("bundlearchive") as url:
        yield url


@pytest.fixture(scope="module")
def hub(own_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    database = Database(own_url)
    dbops.upgrade(database)
    _, key, cert = _hub()
    instance = tmp_path_factory.mktemp("instance")
    app = create_app(Settings.of(database_url=own_url, secret_key="test-secret", signing_key_file=key,
                                 signing_cert_file=cert, checkpoint_every=4, instance_dir=instance), db=database)
    a, b = new_tenant(app), new_tenant(app)
    old = {"a": write_attempt(app, a, course=COURSE, checks=[MATCH, NO_MATCH]),
           "b": write_attempt(app, b, course=COURSE, checks=[MATCH])}
    _sql(database, "UPDATE statements SET stored = '2026-03-10T08:00:00+00:00' WHERE statement_id = ANY(:ids)",
         ids=old["a"].ids + old["b"].ids)
    with database.engine.begin() as conn:  # March's partition takes its rows from the default
        partitions.ensure(conn, since=MARCH)
    # Live attempts of this month: their entries bring a signed checkpoint past every March entry.
    live = {"a": write_attempt(app, a, course=COURSE, checks=[MATCH, MATCH]),
            "b": write_attempt(app, b, course=COURSE, checks=[MATCH, MATCH])}
    root = tmp_path_factory.mktemp("lake-archive")
    env = {"HOCVU_SIGNING_KEY_FILE": str(key), "HOCVU_SIGNING_CERT_FILE": str(cert),
           "HOCVU_INSTANCE_DIR": str(instance), "HOCVU_DATABASE_URL": own_url, "HOCVU_SECRET_KEY": "test-secret"}
    result = CliRunner().invoke(main, ["lake", "archive", "2026-03", "--to", str(root), "--cert", str(cert)], env=env)
    assert result.exit_code == 0 and "archived 2026-03: 6 statements of 2 tenant(s)" in result.output, result.output
    return {"app": app, "db": database, "old": old, "live": live, "root": root, "env": env, "cert": cert}


def run(hub: dict[str, Any], *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=hub["env"])


def bundle(hub: dict[str, Any], out: Path, w: Written, *extra: str, attempt: bool = True) -> Any:
    target = ["--registration", w.registration, "--session", w.session_id] if attempt else []
    return run(hub, "audit", "bundle", "--tenant", w.tenant, *target, "-o", str(out), *extra)


def copy(hub: dict[str, Any], tmp_path: Path) -> Path:
    shutil.copytree(hub["root"], tmp_path / "lake")
    return tmp_path / "lake"


def rewrite(path: Path, change: Any) -> None:
    """Apply ``change`` to the rows of an archived statements file (a list of dicts) and write it back."""
    table = pq.read_table(path)
    rows = change(table.to_pylist())
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)


def test_issue_17_item_2_an_archived_attempts_bundle_verifies_as_a_live_one(hub: dict[str, Any],
                                                                            tmp_path: Path) -> None:
    """`hocvu audit bundle --archive DIR`: the attempt's statements come from its month's archive,
    each checked against its chain entry; `hocvu audit verify-bundle` verifies the bundle unchanged
    (same format; ``archive`` says where each statement was read)."""
    w, out = hub["old"]["a"], tmp_path / "proof.json"
    result = bundle(hub, out, w, "--archive", str(hub["root"]))
    assert result.exit_code == 0, result.output
    assert "4 statement(s) (4 from the archive)" in result.output
    data = json.loads(out.read_bytes())
    assert [s["statement"]["id"] for s in data["statements"]] == w.ids
    assert {s["archive"] for s in data["statements"]} == {f"tenant={w.tenant}/month=2026-03"}
    assert all(len(s["signatures"]) == 1 for s in data["statements"])  # the JWS attachments stayed live
    report = verify_bundle(out, [hub["cert"].read_bytes()])
    assert report.ok, report.failure
    assert (report.statements, report.signatures) == (4, 4)
    checked = run(hub, "audit", "verify-bundle", str(out), "--cert", str(hub["cert"]))
    assert checked.exit_code == 0 and "VERIFIED" in checked.output, checked.output


def test_issue_17_item_2_chosen_statements_live_and_archived_in_one_bundle(hub: dict[str, Any],
                                                                           tmp_path: Path) -> None:
    old, live, out = hub["old"]["a"], hub["live"]["a"], tmp_path / "proof.json"
    result = bundle(hub, out, old, "--statement", live.ids[0], "--statement", old.ids[1].upper(),
                    "--archive", str(hub["root"]), attempt=False)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_bytes())
    assert [(s["statement"]["id"], "archive" in s) for s in data["statements"]] == [(old.ids[1], True),
                                                                                      (live.ids[0], False)]
    assert verify_bundle(out, [hub["cert"].read_bytes()]).ok


def test_issue_17_item_2_without_archive_the_bundle_fails_naming_the_months(hub: dict[str, Any],
                                                                            tmp_path: Path) -> None:
    """Never a silently incomplete bundle: without --archive it is refused, naming the month and
    the option; the live attempt of the same tenant still bundles."""
    w, out = hub["old"]["a"], tmp_path / "proof.json"
    for result in (bundle(hub, out, w), bundle(hub, out, w, "--statement", w.ids[2], attempt=False)):
        assert result.exit_code == 1 and not out.exists(), result.output
        assert "2026-03" in result.output and "--archive DIR" in result.output, result.output
    assert bundle(hub, out, hub["live"]["a"]).exit_code == 0
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    missing = bundle(hub, tmp_path / "p.json", w, "--archive", str(empty))
    assert missing.exit_code == 1 and f"archive not found: tenant={w.tenant}/month=2026-03" in missing.output


def test_issue_17_item_2_an_archived_row_altered_on_disk_is_refused_and_named(hub: dict[str, Any],
                                                                              tmp_path: Path) -> None:
    lake, w = copy(hub, tmp_path), hub["old"]["a"]
    target = w.ids[1]

    def alter(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for r in rows:
            if r["statement_id"] == target:
                st = json.loads(r["statement"])
                st["result"]["response"] = "b"
                r["statement"] = canonical_json(st).decode()
        return rows

    rewrite(month_dir(lake, w.tenant, MARCH) / STATEMENTS_FILE, alter)
    out = tmp_path / "proof.json"
    result = bundle(hub, out, w, "--archive", str(lake))
    assert result.exit_code == 1 and not out.exists(), result.output
    assert target in result.output and "archived row altered" in result.output, result.output


def test_issue_17_item_2_adversarial_a_row_of_another_tenant_or_statement_is_refused(hub: dict[str, Any],
                                                                                    tmp_path: Path) -> None:
    """A row planted from tenant B's archive (made to carry A's registration and session), a row
    holding another statement of A's, a row removed with the manifest rewritten to match: each is
    refused, naming the statement or the file."""
    a, b = hub["old"]["a"], hub["old"]["b"]
    theirs = {r["statement_id"]: r for r in pq.read_table(month_dir(hub["root"], b.tenant, MARCH)
                                                           / STATEMENTS_FILE).to_pylist()}[b.ids[0]]
    planted = json.loads(theirs["statement"])
    planted["context"]["registration"] = a.registration
    planted["context"]["extensions"][EXT_SESSION] = a.session_id
    lake = copy(hub, tmp_path)
    path = month_dir(lake, a.tenant, MARCH) / STATEMENTS_FILE
    rewrite(path, lambda rows: [*rows, {**theirs, "registration": a.registration,
                                        "statement": canonical_json(planted).decode()}])
    result = bundle(hub, tmp_path / "p1.json", a, "--archive", str(lake))
    assert result.exit_code == 1 and b.ids[0] in result.output, result.output
    assert f"not archived in this month of tenant {a.tenant}" in result.output

    shutil.rmtree(lake)
    lake = copy(hub, tmp_path)
    path = month_dir(lake, a.tenant, MARCH) / STATEMENTS_FILE
    other = next(r for r in pq.read_table(path).to_pylist() if r["statement_id"] == a.ids[3])
    rewrite(path, lambda rows: [{**r, "statement": other["statement"]} if r["statement_id"] == a.ids[0] else r
                                for r in rows])
    result = bundle(hub, tmp_path / "p2.json", a, "--statement", a.ids[0], "--archive", str(lake), attempt=False)
    assert result.exit_code == 1 and a.ids[0] in result.output and "holds another statement" in result.output

    shutil.rmtree(lake)
    lake = copy(hub, tmp_path)
    folder = month_dir(lake, a.tenant, MARCH)
    rewrite(folder / STATEMENTS_FILE, lambda rows: [r for r in rows if r["statement_id"] != a.ids[2]])
    result = bundle(hub, tmp_path / "p3.json", a, "--archive", str(lake))
    assert result.exit_code == 1 and "statements.parquet altered" in result.output, result.output
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["files"][STATEMENTS_FILE]["sha256"] = file_sha256(folder / STATEMENTS_FILE)
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    result = bundle(hub, tmp_path / "p4.json", a, "--archive", str(lake))
    assert result.exit_code == 1 and "manifest.json altered" in result.output, result.output


def test_issue_17_item_2_the_auditor_pages_say_where_the_statements_went(hub: dict[str, Any]) -> None:
    """The web pages cannot read an offline archive: an archived attempt's page and bundle answer
    404 'archived', naming the month and the command that builds the bundle."""
    app: Flask = hub["app"]
    headers, w = basic(*national(app, "auditor")), hub["old"]["a"]
    client = app.test_client()
    page = client.get("/audit/attempt", headers=headers,
                      query_string={"tenant": w.tenant, "registration": w.registration, "session": w.session_id})
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "2026-03" in html and "--archive DIR" in html and w.session_id in html
    res = client.get("/audit/bundle", headers=headers, query_string={"tenant": w.tenant, "statement": w.ids[0]})
    assert res.status_code == 404 and res.get_json()["error"]["code"] == "archived"
    assert "2026-03" in res.get_json()["error"]["message"]
    live = hub["live"]["a"]
    ok = client.get("/audit/bundle", headers=headers,
                    query_string={"tenant": live.tenant, "registration": live.registration, "session": live.session_id})
    assert ok.status_code == 200 and verify_bundle(ok.get_data()).ok


def test_issue_17_item_2_an_export_covering_archived_months_warns_with_their_counts(hub: dict[str, Any],
                                                                                  tmp_path: Path) -> None:
    a, b = hub["old"]["a"].tenant, hub["old"]["b"].tenant
    result = run(hub, "export", "statements", "--since", "2026-01-01", "--out", str(tmp_path / "x.csv"),
                 "--settle", "0", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["archived"] == sorted([{"tenant": a, "month": "2026-03", "statements": 4},
                                          {"tenant": b, "month": "2026-03", "statements": 2}],
                                         key=lambda m: m["tenant"])
    assert summary["rows"] == 8  # the live attempts only
    assert "warning: the range covers archived month(s)" in result.stderr and "read_parquet" in result.stderr
    assert f"{a} 2026-03 (4 statements)" in result.stderr
    after = run(hub, "export", "statements", "--tenant", a, "--since", "2026-04-01", "--out",
                str(tmp_path / "y.csv"), "--settle", "0", "--json")
    assert json.loads(after.stdout)["archived"] == [] and "warning" not in after.stderr


def test_issue_17_item_2_a_web_export_names_the_archived_months_in_a_header(hub: dict[str, Any]) -> None:
    w = hub["old"]["a"]
    _, key, secret = new_credential(hub["app"], ["all"], tenant_slug=w.tenant)
    res = hub["app"].test_client().get("/reports/export.csv", headers=basic(key, secret),
                                       query_string={"since": "2026-01-01", "settle": "0"})
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.headers["X-Hocvu-Export-Archived"] == f"{w.tenant}/2026-03=4"


def test_issue_17_item_2_a_report_window_covering_archived_months_warns_with_their_counts(
        hub: dict[str, Any], tmp_path: Path) -> None:
    """`hocvu report --since/--until` (figures from the statements): as an export, the window's
    archived months are warned about on stderr, listed under "archived" in the --json figures and
    named on the page; a window after them says nothing."""
    a, b = hub["old"]["a"].tenant, hub["old"]["b"].tenant
    page, figures = tmp_path / "r.html", tmp_path / "r.json"
    result = run(hub, "report", "--since", "2026-01-01", "--out", str(page), "--json", str(figures))
    assert result.exit_code == 0, result.output
    assert json.loads(figures.read_text())["archived"] == sorted(
        [{"tenant": a, "month": "2026-03", "statements": 4}, {"tenant": b, "month": "2026-03", "statements": 2}],
        key=lambda m: m["tenant"])
    assert "warning: the range covers archived month(s) not in this report" in result.stderr, result.stderr
    assert f"{a} 2026-03 (4 statements)" in result.stderr and "read_parquet" in result.stderr
    assert 'id="archived"' in page.read_text() and f"{a} 2026-03 (4)" in page.read_text()
    result = run(hub, "report", "--tenant", a, "--since", "2026-04-01", "--out", str(page), "--json", str(figures))
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output
    assert json.loads(figures.read_text())["archived"] == [] and 'id="archived"' not in page.read_text()


def test_issue_17_item_2_a_web_report_window_names_the_archived_months(hub: dict[str, Any]) -> None:
    """The dashboard and report.json over a window: a header as the web export's, the months in
    the JSON and on the page."""
    w = hub["old"]["a"]
    _, key, secret = new_credential(hub["app"], ["all"], tenant_slug=w.tenant)
    client = hub["app"].test_client()
    res = client.get("/reports/report.json", headers=basic(key, secret), query_string={"since": "2026-01-01"})
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.headers["X-Hocvu-Report-Archived"] == f"{w.tenant}/2026-03=4"
    assert res.get_json()["archived"] == [{"tenant": w.tenant, "month": "2026-03", "statements": 4}]
    res = client.get("/reports/", headers=basic(key, secret), query_string={"since": "2026-01-01"})
    assert res.status_code == 200 and res.headers["X-Hocvu-Report-Archived"] == f"{w.tenant}/2026-03=4"
    assert 'id="archived"' in res.get_data(as_text=True)
    res = client.get("/reports/report.json", headers=basic(key, secret), query_string={"since": "2026-04-01"})
    assert "X-Hocvu-Report-Archived" not in res.headers and res.get_json()["archived"] == []


def test_issue_17_item_2_a_frame_covering_archived_months_warns(hub: dict[str, Any]) -> None:
    """connectors.frames.statements_frame: an ``ArchivedMonthsWarning`` naming the months and
    ``attrs["archived"]``; a range after them gives neither."""
    import warnings

    from connectors.frames import ArchivedMonthsWarning, statements_frame

    w = hub["old"]["a"]
    with pytest.warns(ArchivedMonthsWarning, match=f"not in this frame: {w.tenant} 2026-03 \\(4 statements\\)"):
        frame = statements_frame(hub["db"], tenant=w.tenant, since="2026-01-01")
    assert frame.attrs["archived"] == [{"tenant": w.tenant, "month": "2026-03", "statements": 4}]
    assert len(frame) == len(hub["live"]["a"].ids)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ArchivedMonthsWarning)
        assert statements_frame(hub["db"], tenant=w.tenant, since="2026-04-01").attrs["archived"] == []


def test_issue_17_item_2_get_of_an_archived_id_is_404_saying_its_month(hub: dict[str, Any]) -> None:
    """xAPI has no answer but 404 for it; the message tells an LMS's admin where it went."""
    w = hub["old"]["b"]
    _, key, secret = new_credential(hub["app"], ["all"], tenant_slug=w.tenant)
    x = Xapi(hub["app"].test_client(), key, secret)
    res = x.get("statements", statementId=w.ids[0])
    assert res.status_code == 404
    assert "archived with its month 2026-03" in res.get_json()["error"]["message"]
    never = x.get("statements", statementId="00000000-0000-4000-8000-000000000000")
    assert never.status_code == 404 and "archived" not in never.get_json()["error"]["message"]


def test_issue_17_item_2_an_attempt_begun_just_after_an_archived_month_needs_the_archive(hub: dict[str, Any],
                                                                                        tmp_path: Path) -> None:
    """The chain does not carry registrations, so without the archive the hub cannot tell whether an
    attempt whose first live statement was stored on the 1st, within a day of an archived month's
    end, began in that month: refused, naming it; with the archive, its (live) statements bundle.
    Last in this module: it moves an attempt into April."""
    w = write_attempt(hub["app"], (hub["old"]["a"].tenant, hub["old"]["a"].tenant_id), course=COURSE, checks=[MATCH])
    _sql(hub["db"], "UPDATE statements SET stored = '2026-04-01T00:30:00+00:00' WHERE statement_id = ANY(:ids)",
         ids=w.ids)
    out = tmp_path / "proof.json"
    refused = bundle(hub, out, w)
    assert refused.exit_code == 1 and "began within a day of archived month 2026-03" in refused.output, refused.output
    made = bundle(hub, out, w, "--archive", str(hub["root"]))
    assert made.exit_code == 0, made.output
    data = json.loads(out.read_bytes())
    assert [s["statement"]["id"] for s in data["statements"]] == w.ids and not any("archive" in s
                                                                                   for s in data["statements"])
    assert verify_bundle(out, [hub["cert"].read_bytes()]).ok
