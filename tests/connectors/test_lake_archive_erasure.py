"""A privacy erasure reaches the months archived to the lake (issue 17 item 2 follow-up; privacy
rule: a learner's erasure removes their statements wherever the hub keeps them, archives included,
and the hub keeps no clear identifier of the learner to do so).

`hocvu audit erase` records a pending erasure per archived month (the learner as a keyed digest,
lrs.audit.archive_erasure); `hocvu lake erase --archive DIR` rewrites the months
(connectors.archive.eraser); `hocvu audit verify --archive DIR` counts the removed statements
erased. PostgreSQL (archives need its partitions), one database of this module's own; each
scenario archives a month of its own (2025-01, 2025-02, ...) with tenants of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from connectors.archive import MANIFEST_FILE, STATEMENTS_FILE, eraser, month_dir
from connectors.archive.reader import file_sha256
from lrs import partitions
from lrs.audit.archive_erasure import archive_key
from lrs.audit.erasure import erase_agent
from lrs.errors import ServerError
from lrs.jcs import canonical_json
from lrs.storage import Database
from tests.conftest import Xapi, new_credential, statement
from tests.conftest import sql_scalar as _sql
from tests.connectors.archive_support import archive_hub
from tests.lrs.audit.test_audit_chain import _hub, cli

pytestmark = pytest.mark.postgres

LAN = {"objectType": "Agent", "name": "Trần Thị Lan", "mbox": "mailto:lan@example.vn"}
BINH = {"objectType": "Agent", "name": "Lê Văn Bình", "mbox": "mailto:binh@example.vn"}
AN = statement()["actor"]
LAN_KEY = "agent|mbox:mailto:lan@example.vn"
MENTORED = {"id": "http://id.tincanapi.com/verb/mentored", "display": {"en-US": "mentored"}}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with archive_hub("archive_erase", date(2025, 1, 1), tmp_path_factory.mktemp("instance")) as h:
        yield {**h, "months": iter(range(1, 13))}


def _post(x: Xapi, body: Any) -> list[str]:
    res = x.post("statements", json_body=body)
    assert res.status_code == 200, res.get_json()
    return list(res.get_json())


def _scenario(hub: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Tenant A: Lan's statements in a past month as actor, as object, as a group member and as
    instructor, beside An's and Bình's; one of hers this month. Tenant B: one of hers and one of
    An's that month. The month archived to ``tmp_path/lake``."""
    app, database = hub["app"], hub["db"]
    month = date(2025, next(hub["months"]), 1)
    xs = {}
    for name in ("a", "b"):
        slug, k, s = new_credential(app, ["all"])
        xs[name] = (slug, Xapi(app.test_client(), k, s))
    team = {"objectType": "Group", "name": "Nhóm 3", "member": [BINH, LAN]}
    lans = _post(xs["a"][1], [statement(id=str(uuid.uuid4()), actor=LAN, result={"score": {"raw": n}})
                              for n in range(2)]
                 + [statement(id=str(uuid.uuid4()), actor=AN, verb=MENTORED, object=LAN),
                    statement(id=str(uuid.uuid4()), actor=team),
                    statement(id=str(uuid.uuid4()), actor=AN, context={"instructor": LAN})])
    others = _post(xs["a"][1], [statement(id=str(uuid.uuid4()), actor=who, result={"score": {"raw": n}})
                                for n, who in enumerate((AN, BINH, AN))])
    b_ids = _post(xs["b"][1], [statement(id=str(uuid.uuid4()), actor=LAN), statement(id=str(uuid.uuid4()))])
    _sql(database, "UPDATE statements SET stored = :t WHERE statement_id = ANY(:ids)",
         t=f"{month:%Y-%m}-10T08:00:00+00:00", ids=lans + others + b_ids)
    live = _post(xs["a"][1], [statement(actor=LAN), statement()])
    for _, x in xs.values():  # a signed checkpoint covers every archived entry
        _post(x, [statement() for _ in range(4)])
    root = tmp_path / "lake"
    code, out = cli(app, "lake", "archive", f"{month:%Y-%m}", "--to", str(root), "--cert", str(_hub()[2]))
    assert code == 0, out
    return {"month": month, "xs": xs, "lans": lans, "others": others, "b_ids": b_ids, "live": live, "root": root,
            "a": month_dir(root, xs["a"][0], month), "b": month_dir(root, xs["b"][0], month)}


def _verify_all(app: Flask, slug: str, root: Path) -> tuple[int, dict[str, Any]]:
    code, out = cli(app, "audit", "verify", "--tenant", slug, "--json", "--cert", str(_hub()[2]),
                    "--archive", str(root))
    return code, json.loads(out)


def _verify(app: Flask, slug: str, root: Path) -> tuple[int, dict[str, Any]]:
    code, report = _verify_all(app, slug, root)
    return code, report["tenants"][0]


def _rows(directory: Path) -> dict[str, dict[str, Any]]:
    return {r["statement_id"]: r for r in pq.read_table(directory / STATEMENTS_FILE).to_pylist()}


def _erase(app: Flask, slug: str, agent: dict[str, Any], *extra: str) -> tuple[int, str]:
    return cli(app, "audit", "erase", "--tenant", slug, "--agent", json.dumps(agent), "--yes", *extra)


def _pending(database: Database, slug: str) -> list[str]:
    """Each pending row of the tenant as the JSON of all its columns (what a reader of the table sees)."""
    return [r for (r,) in _fetch(database, "SELECT row_to_json(e)::text FROM archive_erasures e "
                                           "JOIN tenants t ON t.id = e.tenant_id WHERE t.slug = :s", s=slug)]


def _fetch(database: Database, query: str, **params: Any) -> list[Any]:
    with database.engine.begin() as conn:
        return list(conn.execute(text(query), params))


def _erased_entries(database: Database, slug: str) -> list[dict[str, Any]]:
    return [d for (d,) in _fetch(database, "SELECT e.detail FROM audit_entries e JOIN tenants t ON t.id = e.tenant_id "
                                           "WHERE t.slug = :s AND e.kind = 'erased' ORDER BY e.position", s=slug)]


@pytest.fixture(scope="module")
def erased(hub: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A scenario, Lan erased from tenant A (`hocvu audit erase`), what that left, then
    `hocvu lake erase --archive DIR`."""
    s = _scenario(hub, tmp_path_factory.mktemp("erased"))
    app, database, slug = hub["app"], hub["db"], s["xs"]["a"][0]
    s["before_a"], s["before_b"] = _rows(s["a"]), _rows(s["b"])
    s["b_bytes"] = {n: (s["b"] / n).read_bytes() for n in (STATEMENTS_FILE, MANIFEST_FILE)}
    code, out = _erase(app, slug, LAN, "--json")
    assert code == 0, out
    s["erase_out"], s["pending"] = json.loads(out), _pending(database, slug)
    s["verify_pending"] = _verify_all(app, slug, s["root"])
    code, out = cli(app, "lake", "erase", "--archive", str(s["root"]), "--json")
    assert code == 0, out
    s["apply_out"] = json.loads(out)
    return s


def test_issue_17_item_2_erasure_records_a_pending_archive_erasure_with_no_clear_identifier(
        hub: dict[str, Any], erased: dict[str, Any]) -> None:
    """Privacy rule: the erasure of a tenant with an archived month records that month as still to
    rewrite, holding the learner only as an HMAC under a key derived from the hub's secret (no
    mbox, no agent key, no name in any column). Until the rewrite the archive still holds her rows,
    and the chain still verifies (nothing was removed from the archive yet)."""
    assert erased["erase_out"]["statements"] == 1 and erased["erase_out"]["archived_months_pending"] == 1
    [row] = erased["pending"]
    for clear in ("lan@example.vn", "mailto:", LAN_KEY, "Lan", "Trần"):
        assert clear not in row, row
    record = json.loads(row)
    assert record["agent_digest"] == hmac.new(archive_key("test-secret"), LAN_KEY.encode(), hashlib.sha256).hexdigest()
    assert record["month"] == f"{erased['month']:%Y-%m-%d}" and record["rewrite_sha256"] is None
    code, report = erased["verify_pending"]
    assert code == 0 and report["archive_erasures"] == {"pending": 1, "interrupted": 0}, report
    assert report["tenants"][0]["archived"] == {"checked": 8, "unchecked": 0, "missing": [], "erased": 0}


def test_issue_17_item_2_lake_erase_removes_the_learners_archived_rows(hub: dict[str, Any],
                                                                       erased: dict[str, Any]) -> None:
    """`hocvu lake erase`: her rows (actor, object, group member, instructor) are gone from the
    Parquet file; every other row is the same value for value (the statement's canonical JSON byte
    for byte); the manifest says what was removed; the registry pins the new manifest; the pending
    row is gone; an 'erased' entry names the removed ids; tenant B's archive is untouched."""
    database, slug = hub["db"], erased["xs"]["a"][0]
    [month] = erased["apply_out"]["months"]
    assert month["erased"] == 5 and not month["resumed"], month
    after = _rows(erased["a"])
    assert sorted(after) == sorted(erased["others"])
    assert all(after[sid] == erased["before_a"][sid] for sid in after)
    import duckdb

    left = duckdb.connect().execute(f"SELECT json_extract_string(statement, '$.actor.mbox') FROM read_parquet("
                                    f"'{erased['a'] / STATEMENTS_FILE}')").fetchall()
    assert ("mailto:lan@example.vn",) not in left and len(left) == 3
    manifest = json.loads((erased["a"] / MANIFEST_FILE).read_text())
    assert manifest["statements"] == 3 and manifest["files"][STATEMENTS_FILE]["rows"] == 3
    assert manifest["files"][STATEMENTS_FILE]["sha256"] == file_sha256(erased["a"] / STATEMENTS_FILE)
    assert sorted(manifest["erasures"][0]["statements"]) == sorted(erased["lans"])
    assert _sql(database, "SELECT a.manifest_sha256 FROM statement_archives a JOIN tenants t ON t.id = a.tenant_id "
                          "WHERE t.slug = :s", s=slug) == file_sha256(erased["a"] / MANIFEST_FILE)
    assert _pending(database, slug) == []
    archived = [d for d in _erased_entries(database, slug) if d.get("archive")]
    assert [sorted(d["statements"]) for d in archived] == [sorted(erased["lans"])]
    assert {n: (erased["b"] / n).read_bytes() for n in (STATEMENTS_FILE, MANIFEST_FILE)} == erased["b_bytes"]
    assert not list(erased["a"].glob(".*"))  # no staged file left behind


def test_issue_17_item_2_verify_counts_archived_statements_erased(hub: dict[str, Any], erased: dict[str, Any]) -> None:
    """`hocvu audit verify --archive DIR`: the removed statements are absent from the archive and
    named by an 'erased' entry: counted erased, not tampering."""
    code, report = _verify(hub["app"], erased["xs"]["a"][0], erased["root"])
    assert code == 0 and report["failure"] is None, report
    assert report["archived"] == {"checked": 3, "unchecked": 0, "missing": [], "erased": 5}
    _, out = cli(hub["app"], "audit", "verify", "--tenant", erased["xs"]["a"][0], "--cert", str(_hub()[2]),
                 "--archive", str(erased["root"]))
    assert "5 archived statements erased from the lake archive" in out, out
    assert _verify(hub["app"], erased["xs"]["b"][0], erased["root"])[1]["archived"]["checked"] == 2


def test_issue_17_item_2_applying_twice_is_a_no_op(hub: dict[str, Any], erased: dict[str, Any]) -> None:
    slug = erased["xs"]["a"][0]
    files = {n: (erased["a"] / n).read_bytes() for n in (STATEMENTS_FILE, MANIFEST_FILE)}
    head = _sql(hub["db"], "SELECT h.position FROM audit_heads h JOIN tenants t ON t.id = h.tenant_id "
                           "WHERE t.slug = :s", s=slug)
    code, out = cli(hub["app"], "lake", "erase", "--archive", str(erased["root"]))
    assert code == 0 and "0 archived statement(s) erased in 0 month(s)" in out, out
    assert {n: (erased["a"] / n).read_bytes() for n in files} == files
    assert _sql(hub["db"], "SELECT h.position FROM audit_heads h JOIN tenants t ON t.id = h.tenant_id "
                           "WHERE t.slug = :s", s=slug) == head


def _copy(erased: dict[str, Any], tmp_path: Path) -> tuple[Path, Path]:
    copy = tmp_path / "lake"
    shutil.copytree(erased["root"], copy)
    return copy, month_dir(copy, erased["xs"]["a"][0], erased["month"])


def test_issue_17_item_2_a_row_removed_without_an_erasure_still_fails(hub: dict[str, Any], erased: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    """Adversarial: after the erasure, removing another learner's row from the rewritten archive
    (no 'erased' entry names it) fails verification at that statement."""
    copy, directory = _copy(erased, tmp_path)
    target = erased["others"][1]
    table = pq.read_table(directory / STATEMENTS_FILE)
    keep = [i for i, s in enumerate(table.column("statement_id").to_pylist()) if s != target]
    pq.write_table(table.take(keep), directory / STATEMENTS_FILE)
    code, report = _verify(hub["app"], erased["xs"]["a"][0], copy)
    assert code == 1 and report["failure"]["statement_id"] == target, report
    assert "not in its archive" in report["failure"]["reason"]


def test_issue_17_item_2_an_altered_row_or_manifest_still_fails(hub: dict[str, Any], erased: dict[str, Any],
                                                                tmp_path: Path) -> None:
    """Adversarial: an altered remaining row is named; a manifest edited to claim more erased ids
    (or anything else) no longer has the SHA-256 the registry pinned at the rewrite."""
    copy, directory = _copy(erased, tmp_path)
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    manifest["erasures"][0]["statements"].append(erased["others"][0])
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False))
    code, report = _verify(hub["app"], erased["xs"]["a"][0], copy)
    assert code == 1 and "manifest.json altered" in report["failure"]["reason"], report
    copy, directory = _copy(erased, tmp_path / "again")
    table = pq.read_table(directory / STATEMENTS_FILE)
    texts = table.column("statement").to_pylist()
    altered = json.loads(texts[0])
    altered["result"]["score"]["raw"] = 99
    texts[0] = canonical_json(altered).decode()
    pq.write_table(table.set_column(table.column_names.index("statement"), "statement", [texts]),
                   directory / STATEMENTS_FILE)
    code, report = _verify(hub["app"], erased["xs"]["a"][0], copy)
    assert code == 1 and report["failure"]["statement_id"] == altered["id"], report
    assert "archived row altered" in report["failure"]["reason"]


class Crash(Exception):
    pass


def _crash_between_renames(directory: Path) -> None:
    """The statements renamed, the manifest not: what a power cut between the two renames leaves."""
    eraser.os.replace(eraser.temp_of(directory / STATEMENTS_FILE), directory / STATEMENTS_FILE)
    raise Crash


def _crash(*_: Any, **__: Any) -> Any:
    raise Crash


@pytest.mark.parametrize("where", ["before the renames", "between the renames", "after the renames"])
def test_issue_17_item_2_a_crash_then_a_rerun_ends_consistent(hub: dict[str, Any], tmp_path: Path, where: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash anywhere in the rewrite, then `hocvu lake erase` again: the archive holds no row of
    hers, the registry pins the manifest on disk, no erasure is pending, exactly one 'erased'
    entry names the archived ids, and the chain verifies. After the renames and before the commit
    the archive on disk is the rewrite the hub recorded (``rewrite_sha256``), so the rerun finishes
    it instead of taking it for an altered archive."""
    s = _scenario(hub, tmp_path)
    app, database, slug = hub["app"], hub["db"], s["xs"]["a"][0]
    assert _erase(app, slug, LAN)[0] == 0
    step = {"before the renames": ("swap_files", _crash), "between the renames": ("swap_files", _crash_between_renames),
            "after the renames": ("commit_month", _crash)}[where]
    with monkeypatch.context() as m:
        m.setattr(eraser, step[0], step[1])
        with pytest.raises(Crash):
            eraser.apply_pending(database, s["root"], archive_key("test-secret"), actor="test")
    [row] = [json.loads(r) for r in _pending(database, slug)]
    assert row["rewrite_sha256"] is not None  # recorded before any file of the archive changed
    code, report = _verify_all(app, slug, s["root"])
    assert report["archive_erasures"] == {"pending": 1, "interrupted": 1}, report
    if where == "after the renames":  # her rows are gone, no 'erased' entry yet: verify says so until the rerun
        assert file_sha256(s["a"] / MANIFEST_FILE) == row["rewrite_sha256"]
        failure = report["tenants"][0]["failure"]
        assert code == 1 and failure["statement_id"] in s["lans"] and "row removed" in failure["reason"], report
    elif where == "before the renames":
        assert code == 0, report
    code, out = cli(app, "lake", "erase", "--archive", str(s["root"]), "--json")
    assert code == 0, out
    [month] = json.loads(out)["months"]
    assert month["erased"] == 5 and month["resumed"] == (where != "before the renames"), month
    assert sorted(_rows(s["a"])) == sorted(s["others"])
    assert _pending(database, slug) == []
    assert [sorted(d["statements"]) for d in _erased_entries(database, slug) if d.get("archive")] == [sorted(s["lans"])]
    code, report = _verify(app, slug, s["root"])
    assert code == 0 and report["archived"] == {"checked": 3, "unchecked": 0, "missing": [], "erased": 5}, report
    assert not list(s["a"].glob(".*"))


def test_issue_17_item_2_a_learner_with_nothing_archived(hub: dict[str, Any], tmp_path: Path) -> None:
    """A tenant with no archived month: the erasure is as before (no pending row, no note). A tenant
    with one where the learner has no row: the rewrite clears the pending row and changes nothing."""
    s = _scenario(hub, tmp_path)
    app, database = hub["app"], hub["db"]
    slug = new_credential(app, ["all"])[0]
    code, out = _erase(app, slug, LAN, "--json")
    assert code == 0 and "archived_months_pending" not in json.loads(out) and _pending(database, slug) == []
    code, out = _erase(app, slug, LAN)
    assert code == 0 and "archived month" not in out, out
    stranger = {"mbox": "mailto:nobody@example.vn"}
    slug = s["xs"]["a"][0]
    files = {n: (s["a"] / n).read_bytes() for n in (STATEMENTS_FILE, MANIFEST_FILE)}
    code, out = _erase(app, slug, stranger)
    assert code == 0 and "1 archived month(s) still hold" in out and len(_pending(database, slug)) == 1, out
    code, out = cli(app, "lake", "erase", "--archive", str(s["root"]), "--tenant", slug)
    assert code == 0 and "no archived statement of the learner(s); pending erasure cleared" in out, out
    assert _pending(database, slug) == [] and {n: (s["a"] / n).read_bytes() for n in files} == files
    assert not [d for d in _erased_entries(database, slug) if d.get("archive")]


def test_issue_17_item_2_the_erasure_refuses_to_forget_the_archives(hub: dict[str, Any], tmp_path: Path) -> None:
    """No archive erasure key on the session: the erasure of a tenant with an archived month fails
    as a whole (nothing erased) rather than leave the archive holding her rows unrecorded. With the
    key, a rewrite under another secret is refused and the month stays pending; `audit erase
    --archive DIR` applies at once."""
    s = _scenario(hub, tmp_path)
    app, database, slug = hub["app"], hub["db"], s["xs"]["a"][0]
    tenant_id = _sql(database, "SELECT id FROM tenants WHERE slug = :s", s=slug)
    with Session(database.engine) as session, pytest.raises(ServerError, match="no archive erasure key"):
        erase_agent(session, tenant_id, LAN, actor="test")
    assert _sql(database, "SELECT count(*) FROM statements WHERE statement_id = ANY(:ids)", ids=s["live"]) == 2
    assert _erase(app, slug, LAN)[0] == 0
    done, failed = eraser.apply_pending(database, s["root"], archive_key("another-secret"), actor="test")
    assert done == [] and "another secret key" in failed[0] and len(_pending(database, slug)) == 1
    code, out = _erase(app, slug, LAN, "--archive", str(s["root"]))
    assert code == 0 and f"{s['month']:%Y-%m}: 5 archived statement(s) erased" in out, out
    assert sorted(_rows(s["a"])) == sorted(s["others"]) and _pending(database, slug) == []


def test_issue_17_item_2_a_detached_month_loses_her_rows_before_it_is_archived(hub: dict[str, Any],
                                                                               tmp_path: Path) -> None:
    """A month detached (`hocvu db partitions --detach`) but not archived is out of the erasure's
    reach too, and `hocvu lake archive` would carry her rows to the lake after it: the erasure
    records it pending, `hocvu lake erase` deletes her rows from the detached table with 'erased'
    entries naming them, and the archive made afterwards holds only the others'."""
    app, database = hub["app"], hub["db"]
    month = date(2025, next(hub["months"]), 1)
    slug, k, secret = new_credential(app, ["all"])
    x = Xapi(app.test_client(), k, secret)
    lans = _post(x, [statement(id=str(uuid.uuid4()), actor=LAN), statement(id=str(uuid.uuid4()), actor=LAN),
                     statement(id=str(uuid.uuid4()), actor=AN, context={"instructor": LAN})])
    others = _post(x, [statement(id=str(uuid.uuid4())), statement(id=str(uuid.uuid4()), actor=BINH)])
    _sql(database, "UPDATE statements SET stored = :t WHERE statement_id = ANY(:ids)",
         t=f"{month:%Y-%m}-10T08:00:00+00:00", ids=lans + others)
    _post(x, [statement() for _ in range(4)])
    name = partitions.partition_name(month)
    with database.engine.begin() as conn:  # what `hocvu db partitions --detach` does to one month
        conn.exec_driver_sql(f"ALTER TABLE statements DETACH PARTITION {name}")
        for side in ("statement_agents", "statement_activities"):
            conn.exec_driver_sql(f"DELETE FROM {side} WHERE seq IN (SELECT seq FROM {name})")
    code, out = _erase(app, slug, LAN, "--json")
    assert code == 0 and json.loads(out)["statements"] == 0 and json.loads(out)["archived_months_pending"] == 1, out
    assert [json.loads(r)["month"] for r in _pending(database, slug)] == [f"{month:%Y-%m-%d}"]
    code, out = cli(app, "lake", "erase", "--archive", str(tmp_path), "--tenant", slug, "--json")
    assert code == 0, out
    [done] = json.loads(out)["months"]
    assert done["detached"] and done["erased"] == 3, done
    assert sorted(r for (r,) in _fetch(database, f"SELECT statement_id FROM {name}")) == sorted(others)
    assert [sorted(d["statements"]) for d in _erased_entries(database, slug) if d.get("detached")] == [sorted(lans)]
    assert _pending(database, slug) == []
    root = tmp_path / "lake"
    code, out = cli(app, "lake", "archive", f"{month:%Y-%m}", "--to", str(root), "--cert", str(_hub()[2]))
    assert code == 0, out
    assert sorted(_rows(month_dir(root, slug, month))) == sorted(others)
    code, report = _verify(app, slug, root)
    assert code == 0 and report["archived"]["checked"] == 2, report


def test_issue_17_item_2_one_rewriter_at_a_time_and_a_missing_archive_stays_pending(
        hub: dict[str, Any], tmp_path: Path) -> None:
    """A second `hocvu lake erase` while one runs is refused (advisory lock); an archive not found
    under the --archive given is a failure (exit 1) and the erasure stays pending until it is."""
    s = _scenario(hub, tmp_path)
    app, database, slug = hub["app"], hub["db"], s["xs"]["a"][0]
    assert _erase(app, slug, LAN)[0] == 0
    with database.engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": eraser.REWRITE_LOCK})
        try:
            with pytest.raises(eraser.EraseError, match="another `hocvu lake erase` is running"):
                eraser.apply_pending(database, s["root"], archive_key("test-secret"), actor="test")
        finally:
            other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": eraser.REWRITE_LOCK})
    code, out = cli(app, "lake", "erase", "--archive", str(tmp_path / "elsewhere"), "--tenant", slug)
    assert code == 2, out  # click: the directory must exist
    (tmp_path / "elsewhere").mkdir()
    code, out = cli(app, "lake", "erase", "--archive", str(tmp_path / "elsewhere"), "--tenant", slug)
    assert code == 1 and "manifest.json not found" in out and "1 month(s) still pending" in out, out
    assert len(_pending(database, slug)) == 1
    assert cli(app, "lake", "erase", "--archive", str(s["root"]), "--tenant", slug)[0] == 0
    assert _pending(database, slug) == []


def test_issue_17_item_2_her_archived_statements_attachments_go_too(hub: dict[str, Any], tmp_path: Path) -> None:
    """As a live erasure forgets the attachments only the erased statements cited (lrs.blobs), the
    archive's rewrite does: her certificate's row and bytes go, another learner's stay."""
    from tests.lrs.attachments_support import content, part, post, with_attachment

    app, database = hub["app"], hub["db"]
    month = date(2025, next(hub["months"]), 1)
    slug, k, secret = new_credential(app, ["all"])
    x = Xapi(app.test_client(), k, secret)
    hers, his = content(), content()
    ids = []
    for body, actor in ((hers, LAN), (his, AN)):
        st = with_attachment(body, actor=actor)
        assert post(x, st, [part(body)]).status_code == 200
        ids.append(st["id"])
    _sql(database, "UPDATE statements SET stored = :t WHERE statement_id = ANY(:ids)",
         t=f"{month:%Y-%m}-10T08:00:00+00:00", ids=ids)
    _post(x, [statement() for _ in range(4)])
    root = tmp_path / "lake"
    assert cli(app, "lake", "archive", f"{month:%Y-%m}", "--to", str(root), "--cert", str(_hub()[2]))[0] == 0
    assert _erase(app, slug, LAN)[0] == 0
    [done], failed = eraser.apply_pending(database, root, archive_key("test-secret"), actor="test")
    assert failed == [] and done.removed == [ids[0]]
    store = app.extensions["hocvu.blobs"]
    sha_hers, sha_his = (hashlib.sha256(b).hexdigest() for b in (hers, his))
    assert _sql(database, "SELECT count(*) FROM attachments WHERE sha2 = :h", h=sha_hers) == 0
    assert store.get(sha_hers) is None and store.get(sha_his) == his
    assert json.loads((month_dir(root, slug, month) / MANIFEST_FILE).read_text())["erasures"][0]["attachments"] \
        == [sha_hers]
