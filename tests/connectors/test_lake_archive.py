"""Archiving a month of statements to the Parquet lake with its chain proofs, and upkeep by time
(issue 17 item 2; connectors.archive, lrs.audit.archived, lrs.partitions, `hocvu lake archive`).

PostgreSQL only where partitions are involved (SQLite's statements are one table): one database of
this module's own, since archiving drops a month's partition.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from flask import Flask

from connectors.archive import MANIFEST_FILE, STATEMENTS_FILE, month_dir
from connectors.archive.writer import ArchiveError, finish, write_month
from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import partitions
from lrs.jcs import canonical_json
from lrs.storage import Database
from tests.conftest import Xapi, new_credential, run_instance, scratch_pg, statement
from tests.conftest import sql_scalar as _scalar
from tests.lrs.audit.test_audit_chain import _hub, cli

VOIDED = {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}}
MARCH, FEBRUARY = date(2026, 3, 1), date(2026, 2, 1)


@pytest.fixture(scope="module")
def own_url(pg_url: str) -> Iterator[str]:
    with scratch_pg("archive") as url:
        yield url


def _post(x: Xapi, body: Any, status: int = 200) -> Any:
    res = x.post("statements", json_body=body)
    assert res.status_code == status, res.get_json()
    return res.get_json()


def _move(database: Database, ids: list[str], when: str) -> None:
    """Make statements look stored in an old month (the row moves partition; `full` and the chain
    entry are untouched)."""
    _scalar(database, "UPDATE statements SET stored = :t WHERE statement_id = ANY(:ids)", t=when, ids=ids)


def _verify(app: Flask, slug: str, *extra: str) -> tuple[int, dict[str, Any]]:
    code, out = cli(app, "audit", "verify", "--tenant", slug, "--json", "--cert", str(_hub()[2]), *extra)
    report = json.loads(out)
    assert report["ok"] == (code == 0), report
    return code, report["tenants"][0]


@pytest.fixture(scope="module")
def hub(own_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two tenants with statements in March 2026 (one voided) and in February (tenant B), both
    months in partitions of their own, and statements of this month after them; March archived."""
    database = Database(own_url)
    dbops.upgrade(database)
    _, key, cert = _hub()
    app = create_app(Settings.of(database_url=own_url, secret_key="test-secret", signing_key_file=key,
                                 signing_cert_file=cert, checkpoint_every=4,
                                 instance_dir=tmp_path_factory.mktemp("instance")), db=database)
    xs = {}
    for name in ("a", "b"):
        slug, k, s = new_credential(app, ["all"])
        xs[name] = (slug, Xapi(app.test_client(), k, s))
    a_ids = _post(xs["a"][1], [statement(id=str(uuid.uuid4()), result={"score": {"raw": n}}) for n in range(6)])
    b_ids = _post(xs["b"][1], [statement(id=str(uuid.uuid4()), result={"score": {"raw": n}}) for n in range(3)])
    b_feb = _post(xs["b"][1], [statement(id=str(uuid.uuid4())) for _ in range(2)])
    _move(database, a_ids + b_ids, "2026-03-10T08:00:00+00:00")
    _move(database, b_feb, "2026-02-10T08:00:00+00:00")
    with database.engine.begin() as conn:  # the months' partitions take their rows from the default
        assert partitions.ensure(conn, since=FEBRUARY)[:2] == ["statements_p202602", "statements_p202603"]
    # Voiding a March statement now: the archived row is voided, the voiding statement is not archived.
    voiding = _post(xs["a"][1], statement(verb=VOIDED, object={"objectType": "StatementRef", "id": a_ids[0]}))[0]
    for _, x in xs.values():  # later statements: a signed checkpoint covers every March entry
        _post(x, [statement() for _ in range(4)])
    root = tmp_path_factory.mktemp("lake-archive")
    started = time.perf_counter()
    code, out = cli(app, "lake", "archive", "2026-03", "--to", str(root), "--cert", str(cert))
    assert code == 0, out
    return {"app": app, "db": database, "xs": xs, "a_ids": a_ids, "b_ids": b_ids, "b_feb": b_feb,
            "voiding": voiding, "root": root, "out": out, "seconds": time.perf_counter() - started}


pytestmark = pytest.mark.postgres


def test_archiving_writes_each_tenants_month_then_drops_the_partition(hub: dict[str, Any]) -> None:
    """`hocvu lake archive 2026-03`: per tenant, statements.parquet (the statement as stored plus
    the indexed columns), chain.jsonl and a manifest with the files' SHA-256; the partition is gone,
    its archives are in the registry, the chain entries stay."""
    database, root, xs = hub["db"], hub["root"], hub["xs"]
    assert "archived 2026-03: 9 statements of 2 tenant(s)" in hub["out"], hub["out"]
    assert _scalar(database, "SELECT to_regclass('statements_p202603') IS NULL")
    for name, ids in (("a", hub["a_ids"]), ("b", hub["b_ids"])):
        directory = month_dir(root, xs[name][0], MARCH)
        manifest = json.loads((directory / MANIFEST_FILE).read_text())
        assert manifest["statements"] == len(ids) and manifest["month"] == "2026-03"
        assert manifest["checkpoint"]["position"] >= max(p for run in manifest["positions"] for p in run)
        assert set(manifest["files"]) == {"statements.parquet", "chain.jsonl"}
        table = pq.read_table(directory / STATEMENTS_FILE)
        assert sorted(table.column("statement_id").to_pylist()) == sorted(ids)
        assert {"verb_id", "actor_key", "stored", "voided", "registration", "statement"} <= set(table.column_names)
        assert _scalar(database, "SELECT count(*) FROM audit_entries e JOIN tenants t ON t.id = e.tenant_id "
                                 "WHERE t.slug = :s AND e.statement_id = ANY(:ids)", s=xs[name][0], ids=ids) \
            >= len(ids)
    assert _scalar(database, "SELECT count(*) FROM statement_archives WHERE month = '2026-03-01'") == 2
    assert _scalar(database, "SELECT count(*) FROM statement_agents a WHERE NOT EXISTS "
                             "(SELECT 1 FROM statements s WHERE s.seq = a.seq)") == 0


def test_duckdb_reads_the_archive_with_the_same_counts(hub: dict[str, Any]) -> None:
    """The archive is the lake's Hive layout (tenant=/month=): DuckDB counts what was archived."""
    import duckdb

    xs = hub["xs"]
    rows = duckdb.connect().execute(
        f"SELECT tenant, month, count(*), count(*) FILTER (WHERE voided) FROM read_parquet("
        f"'{hub['root']}/**/statements.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY 3 DESC").fetchall()
    assert rows == [(xs["a"][0], "2026-03", 6, 1), (xs["b"][0], "2026-03", 3, 0)]
    ids = duckdb.connect().execute(f"SELECT json_extract_string(statement, '$.id') FROM read_parquet("
                                   f"'{hub['root']}/**/statements.parquet')").fetchall()
    assert sorted(i for (i,) in ids) == sorted(hub["a_ids"] + hub["b_ids"])


def test_chain_verifies_with_the_archive(hub: dict[str, Any]) -> None:
    """`hocvu audit verify --archive DIR`: each archived statement's canonical hash equals its
    entry's content hash; without --archive they are counted, not checked, and the chain holds."""
    for name, ids in (("a", hub["a_ids"]), ("b", hub["b_ids"])):
        code, report = _verify(hub["app"], hub["xs"][name][0], "--archive", str(hub["root"]))
        assert code == 0 and report["failure"] is None, report
        assert report["archived"] == {"checked": len(ids), "unchecked": 0, "missing": [], "erased": 0}
    code, report = _verify(hub["app"], hub["xs"]["a"][0])
    assert code == 0 and report["archived"] == {"checked": 0, "unchecked": 6, "missing": [], "erased": 0}, report


def _copy(hub: dict[str, Any], tmp_path: Path) -> Path:
    copy = tmp_path / "lake"
    shutil.copytree(hub["root"], copy)
    return copy


def _position(hub: dict[str, Any], sid: str) -> int:
    return int(_scalar(hub["db"], "SELECT position FROM audit_entries WHERE statement_id = :s AND kind = 'stored'",
                       s=sid))


def test_an_altered_archived_row_is_named(hub: dict[str, Any], tmp_path: Path) -> None:
    """Changing one archived statement (its score) fails verification at that statement's entry."""
    copy, slug, target = _copy(hub, tmp_path), hub["xs"]["a"][0], hub["a_ids"][3]
    path = month_dir(copy, slug, MARCH) / STATEMENTS_FILE
    table = pq.read_table(path)
    texts = table.column("statement").to_pylist()
    i = table.column("statement_id").to_pylist().index(target)
    altered = json.loads(texts[i])
    altered["result"]["score"]["raw"] = 100
    texts[i] = canonical_json(altered).decode()
    pq.write_table(table.set_column(table.column_names.index("statement"), "statement", [texts]), path)
    code, report = _verify(hub["app"], slug, "--archive", str(copy))
    failure = report["failure"]
    assert code == 1 and failure["statement_id"] == target and failure["position"] == _position(hub, target)
    assert "archived row altered" in failure["reason"] and f"tenant={slug}/month=2026-03" in failure["reason"]


def test_a_row_removed_from_the_archive_is_named(hub: dict[str, Any], tmp_path: Path) -> None:
    copy, slug, target = _copy(hub, tmp_path), hub["xs"]["b"][0], hub["b_ids"][1]
    path = month_dir(copy, slug, MARCH) / STATEMENTS_FILE
    table = pq.read_table(path)
    keep = [i for i, s in enumerate(table.column("statement_id").to_pylist()) if s != target]
    pq.write_table(table.take(keep), path)
    code, report = _verify(hub["app"], slug, "--archive", str(copy))
    assert code == 1 and report["failure"]["statement_id"] == target, report
    assert "not in its archive" in report["failure"]["reason"]


def test_an_altered_manifest_is_named(hub: dict[str, Any], tmp_path: Path) -> None:
    """The registry pins the manifest's SHA-256: editing the manifest (here, the statement count it
    claims) is reported as the manifest altered, though every row still matches its entry."""
    copy, slug = _copy(hub, tmp_path), hub["xs"]["a"][0]
    path = month_dir(copy, slug, MARCH) / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["statements"] = 5
    path.write_text(json.dumps(manifest))
    code, report = _verify(hub["app"], slug, "--archive", str(copy))
    assert code == 1 and "manifest.json altered" in report["failure"]["reason"], report


def test_a_missing_archive_is_reported_as_missing_not_tampered(hub: dict[str, Any], tmp_path: Path) -> None:
    copy, slug = _copy(hub, tmp_path), hub["xs"]["a"][0]
    shutil.rmtree(month_dir(copy, slug, MARCH))
    code, report = _verify(hub["app"], slug, "--archive", str(copy))
    assert code == 3 and report["failure"] is None, report
    assert report["archived"] == {"checked": 0, "unchecked": 6, "missing": ["2026-03"], "erased": 0}
    _, out = cli(hub["app"], "audit", "verify", "--tenant", slug, "--cert", str(_hub()[2]), "--archive", str(copy))
    assert "ARCHIVE MISSING for 2026-03" in out and "INCOMPLETE" in out, out


def test_a_deleted_row_of_a_live_month_is_still_tampering(hub: dict[str, Any]) -> None:
    """Only the archived positions count as archived: a row deleted from this month's partition is
    reported deleted, archive or not."""
    slug, x = hub["xs"]["b"]
    sid = _post(x, statement())[0]
    database = hub["db"]
    _scalar(database, "CREATE TABLE saved_row AS SELECT * FROM statements WHERE statement_id = :s", s=sid)
    try:
        _scalar(database, "DELETE FROM statements WHERE statement_id = :s", s=sid)
        code, report = _verify(hub["app"], slug, "--archive", str(hub["root"]))
        assert code == 1 and report["failure"]["statement_id"] == sid and "row deleted" in report["failure"]["reason"]
    finally:  # put the row back: the chain is whole again
        _scalar(database, "INSERT INTO statements SELECT * FROM saved_row")
        _scalar(database, "DROP TABLE saved_row")
    assert _verify(hub["app"], slug, "--archive", str(hub["root"]))[0] == 0


def test_archived_ids_answer_404_and_refuse_reuse(hub: dict[str, Any]) -> None:
    """Archived statements are served from the lake, not the LRS: GET by id is 404 Not Found, and
    their ids stay taken: storing one again is 409 Conflict, even with the same content, since the
    LRS cannot compare it any more (xAPI 1.0.3 Part Three §2.1.1 PUT, §2.1.2 POST)."""
    x = hub["xs"]["a"][1]
    sid = hub["a_ids"][2]
    assert x.get("statements", statementId=sid).status_code == 404
    res = x.put("statements", json_body=statement(id=sid, result={"score": {"raw": 2}}), statementId=sid)
    assert res.status_code == 409, res.get_json()
    assert "archived" in res.get_json()["error"]["message"]
    _post(x, [statement(id=sid)], status=409)


def test_writes_to_current_months_still_work(hub: dict[str, Any]) -> None:
    slug, x = hub["xs"]["a"]
    sid = _post(x, statement())[0]
    assert x.get("statements", statementId=sid).get_json()["id"] == sid
    this = partitions.partition_name(partitions.month_start(datetime.now(UTC)))
    assert _scalar(hub["db"], f"SELECT count(*) FROM {this} WHERE statement_id = :s", s=sid) == 1
    assert _verify(hub["app"], slug, "--archive", str(hub["root"]))[0] == 0


def test_a_month_changed_while_archiving_keeps_its_partition(hub: dict[str, Any], tmp_path: Path) -> None:
    """A statement of the month voided between writing the files and dropping the partition: the
    drop is refused (the archive would hold a stale voided flag) and the partition stays."""
    database, sid = hub["db"], hub["b_feb"][0]
    with database.session() as session:
        written = write_month(session, FEBRUARY, tmp_path, [_hub()[2].read_bytes()])
    assert [w.statements for w in written] == [2]
    _scalar(database, "UPDATE statements SET voided = true WHERE statement_id = :s", s=sid)
    try:
        with database.session() as session, pytest.raises(ArchiveError, match="changed while it was archived"):
            finish(session, FEBRUARY, written, str(tmp_path))
        assert _scalar(database, "SELECT count(*) FROM statements_p202602") == 2
        assert _scalar(database, "SELECT count(*) FROM statement_archives WHERE month = '2026-02-01'") == 0
    finally:
        _scalar(database, "UPDATE statements SET voided = false WHERE statement_id = :s", s=sid)


def test_only_ended_months_are_archived(hub: dict[str, Any], tmp_path: Path) -> None:
    this = datetime.now(UTC)
    code, out = cli(hub["app"], "lake", "archive", f"{this:%Y-%m}", "--to", str(tmp_path), "--cert", str(_hub()[2]))
    assert code == 1 and "has not ended" in out
    code, out = cli(hub["app"], "lake", "archive", "2025-06", "--to", str(tmp_path), "--cert", str(_hub()[2]))
    assert code == 1 and "no partition of 2025-06" in out


def test_a_hub_with_no_traffic_makes_next_months_partitions(hub: dict[str, Any]) -> None:
    """HOCVU_PARTITION_SECONDS: the web process makes the months ahead on a timer, with no
    statement stored (upkeep by time, not traffic)."""
    database = hub["db"]
    ahead = [partitions.partition_name(partitions.add_months(partitions.month_start(datetime.now(UTC)), n))
             for n in (1, 2, 3)]
    with database.engine.begin() as conn:
        for name in ahead:
            conn.exec_driver_sql(f"ALTER TABLE statements DETACH PARTITION {name}")
            conn.exec_driver_sql(f"DROP TABLE {name}")
    _, key, cert = _hub()
    app = create_app(Settings.of(database_url=database.url, secret_key="test-secret", signing_key_file=key,
                                 signing_cert_file=cert, partition_seconds=0.2, instance_dir=run_instance()),
                     db=database)
    task = app.extensions["lrs.partitions"]
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with database.engine.connect() as conn:
                if set(ahead) <= set(partitions.attached(conn)):
                    break
            time.sleep(0.2)
        with database.engine.connect() as conn:
            assert set(ahead) <= set(partitions.attached(conn))
    finally:
        task.stop()


def test_partition_upkeep_setting() -> None:
    assert Settings.from_env({}).lrs.partition_seconds == 3600.0
    assert Settings.from_env({"HOCVU_PARTITION_SECONDS": "0"}).lrs.partition_seconds == 0.0
    assert Settings.of().lrs.partition_seconds == 0.0  # embedding: the loop stays off unless asked


def test_a_month_detached_first_is_archived_too(hub: dict[str, Any], tmp_path: Path) -> None:
    """`hocvu db partitions --detach` then `hocvu lake archive`: the detached table is archived and
    dropped, and the chain verifies with both months' archives (in their two directories)."""
    database, slug = hub["db"], hub["xs"]["b"][0]
    code, out = cli(hub["app"], "db", "partitions", "--detach", "2026-03-01")
    assert code == 0 and "statements_p202602" in out, out
    code, out = cli(hub["app"], "lake", "archive", "2026-02", "--to", str(hub["root"]), "--cert", str(_hub()[2]))
    assert code == 0 and "archived 2026-02: 2 statements of 1 tenant(s)" in out, out
    assert _scalar(database, "SELECT to_regclass('statements_p202602') IS NULL")
    code, report = _verify(hub["app"], slug, "--archive", str(hub["root"]))
    assert code == 0, report["failure"]
    assert report["archived"] == {"checked": 5, "unchecked": 0, "missing": [], "erased": 0}
