"""The dashboard's figures of archived months survive every path that recomputes the rollups
(data loss: a rollup rebuild, or a voiding's recompute of an enrolment, read only the live
statements, so once `hocvu lake archive` had dropped a month they silently showed fewer learners,
enrolments and completions than before; connectors.rollups.archived, migration 0200).

Issue 17 item 3 (the rollups equal the statements' report) with item 2 (months archived to the lake):
a month's figures stay on the dashboard after its statements leave the store, through a rebuild
from zero (`hocvu rollups refresh --rebuild`), a voiding of a live statement of an enrolment that
began in the archived month (xAPI 1.0.3 Part Two §2.3.2: only the voided statement leaves the
figures), and an erasure (privacy rule: the erased learner is not countable again, anywhere, archived
months included). A month archived before the hub kept its figures makes a rebuild refuse, naming it,
until the lake is given. PostgreSQL (real partitions, a real archive), one database of this module's
own; each scenario its own tenant and its own month of 2024.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors import rollups
from connectors.archive import STATEMENTS_FILE, month_dir
from connectors.archive.writer import ArchiveError, finish, write_month
from connectors.reports import Report
from connectors.rollups.report import figures_json, rollup_report
from lrs import partitions
from lrs.identifiers import agent_key
from lrs.storage import Tenant
from tests.conftest import Xapi, new_credential, statement
from tests.conftest import sql_scalar as _sql
from tests.connectors.archive_support import archive_hub
from tests.connectors.export_support import COURSE_TYPE, learner, verb
from tests.lrs.audit.test_audit_chain import _hub, cli

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with archive_hub("rollarch", date(2024, 1, 1), tmp_path_factory.mktemp("instance")) as h:
        yield {**h, "months": iter(range(1, 13))}


def _made(who: str, what: str, course: str, when: datetime, **extra: Any) -> dict[str, Any]:
    ctx = {"contextActivities": {"grouping": [{"id": course, "definition": {"type": COURSE_TYPE}}]}}
    return statement(id=str(uuid.uuid4()), actor=learner(who), verb=verb(what), context=ctx,
                     timestamp=when.isoformat(), **extra)


def _post(x: Xapi, body: Any) -> list[str]:
    res = x.post("statements", json_body=body)
    assert res.status_code == 200, res.get_json()
    return list(res.get_json())


def _scenario(hub: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """A tenant whose learners l0..l5 launched and completed (l1, l3, l5 also passed) a course in a
    past month; this month l0 failed it and l6 launched it. Refreshed, so the rollups hold it all."""
    app, database = hub["app"], hub["db"]
    month = date(2024, next(hub["months"]), 1)
    slug, k, s = new_credential(app, ["all"])
    x = Xapi(app.test_client(), k, s)
    course = f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}"
    start = datetime(month.year, month.month, 3, 8, tzinfo=UTC)
    old: list[dict[str, Any]] = []
    for i in range(6):
        when = start + timedelta(days=i * 3)
        old += [_made(f"l{i}", "launched", course, when),
                _made(f"l{i}", "completed", course, when + timedelta(minutes=5), result={"duration": "PT5M"})]
        if i % 2:
            old.append(_made(f"l{i}", "passed", course, when + timedelta(minutes=9), result={"success": True}))
    old_ids = _post(x, old)
    _sql(database, "UPDATE statements SET stored = :t WHERE statement_id = ANY(:ids)",
         t=f"{month:%Y-%m}-10T08:00:00+00:00", ids=old_ids)
    now = datetime.now(UTC)
    live = [_made("l0", "failed", course, now, result={"success": False}), _made("l6", "launched", course, now)]
    live_ids = _post(x, live)
    _post(x, [_made("l6", "launched", course, now) for _ in range(4)])  # a signed checkpoint covers the month
    with database.session() as session:
        tenant_id = int(session.scalar(select(Tenant.id).where(Tenant.slug == slug)) or 0)
    rollups.refresh(database, tenants=[slug], settle=timedelta(0))
    return {"slug": slug, "tid": tenant_id, "x": x, "month": month, "course": course, "old_ids": old_ids,
            "live_ids": live_ids, "root": tmp / "lake"}


def _archive(hub: dict[str, Any], s: dict[str, Any]) -> None:
    code, out = cli(hub["app"], "lake", "archive", f"{s['month']:%Y-%m}", "--to", str(s["root"]),
                    "--cert", str(_hub()[2]))
    assert code == 0, out


def _report(hub: dict[str, Any], s: dict[str, Any]) -> Report:
    with hub["db"].session() as session:
        return rollup_report(session, [(s["tid"], s["slug"])], min_group=1, fresh=False)


def _figures(hub: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    return figures_json(_report(hub, s))


def _total(hub: dict[str, Any], s: dict[str, Any]) -> Any:
    return _report(hub, s).breakdowns["tenant"].total


def _rows(hub: dict[str, Any], table: str, s: dict[str, Any], actor: str | None = None) -> int:
    where = " AND actor_key = :a" if actor else ""
    return int(_sql(hub["db"], f"SELECT count(*) FROM {table} WHERE tenant_id = :t{where}", t=s["tid"], a=actor))


def _key(who: str) -> str:
    key = agent_key(learner(who))
    assert key is not None
    return key


def test_a_rebuild_keeps_the_archived_months_figures(hub: dict[str, Any], tmp_path: Path) -> None:
    """`hocvu rollups refresh --rebuild` after `hocvu lake archive`: the month's figures stay (they
    are started from the sums kept when it was archived), equal to what they were with every statement
    live; before the fix the rebuild counted 2 learners of 7."""
    s = _scenario(hub, tmp_path)
    before = _figures(hub, s)
    assert _total(hub, s).learners == 7
    _archive(hub, s)
    assert _sql(hub["db"], "SELECT count(*) FROM statements WHERE statement_id = ANY(:ids)", ids=s["old_ids"]) == 0
    assert _sql(hub["db"], "SELECT enrolments FROM report_archived_months WHERE tenant_id = :t", t=s["tid"]) == 6
    assert _figures(hub, s) == before
    code, out = cli(hub["app"], "rollups", "refresh", "--rebuild", "--tenant", s["slug"], "--settle", "0", "--json")
    assert code == 0, out
    assert json.loads(out)["archived_months_computed"] == []
    assert _figures(hub, s) == before
    rollups.rebuild(hub["db"], [s["slug"]])  # the seed alone, before any refresh: the archived month is there
    seeded = _total(hub, s)
    assert (seeded.learners, seeded.enrolments) == (6, 6)
    rollups.refresh(hub["db"], tenants=[s["slug"]], settle=timedelta(0))
    assert _figures(hub, s) == before
    for table in ("report_enrolments", "report_groups", "report_group_learners", "report_rollup_state"):
        _sql(hub["db"], f"DELETE FROM {table} WHERE tenant_id = :t", t=s["tid"])  # rollups never run
    rollups.refresh(hub["db"], tenants=[s["slug"]], settle=timedelta(0))  # they start from the kept sums
    assert _figures(hub, s) == before


def test_a_voiding_after_the_archive_takes_out_only_the_voided_statement(hub: dict[str, Any],
                                                                          tmp_path: Path) -> None:
    """xAPI 1.0.3 Part Two §2.3.2: voiding l0's live `failed` takes that statement out of the figures,
    nothing else: l0's enrolment keeps its archived launch and completion (before the fix it was
    recomputed from the live statements alone and vanished: one learner, enrolment, completion less)."""
    s = _scenario(hub, tmp_path)
    _archive(hub, s)
    before = _total(hub, s)
    assert (before.learners, before.enrolments, before.completion_rate, before.pass_rate) == (7, 7, 6 / 7, 3 / 4)
    voiding = statement(id=str(uuid.uuid4()), verb=verb("voided"),
                        object={"objectType": "StatementRef", "id": s["live_ids"][0]})
    _post(s["x"], voiding)
    done = rollups.refresh(hub["db"], tenants=[s["slug"]], settle=timedelta(0))
    assert done.recomputed == 1
    after = _total(hub, s)
    assert (after.learners, after.enrolments, after.completion_rate) == (7, 7, before.completion_rate)
    assert after.pass_rate == 1.0  # l0 was graded only in the voided statement
    week = _sql(hub["db"], "SELECT week FROM report_enrolments WHERE tenant_id = :t AND actor_key = :a",
                t=s["tid"], a=_key("l0"))
    assert week == f"{s['month']:%G}-W{datetime(s['month'].year, s['month'].month, 3).isocalendar()[1]:02d}"
    with hub["db"].session() as session:  # a report's tail recomputes the same way, read-only
        fresh = rollup_report(session, [(s["tid"], s["slug"])], min_group=1, fresh=True)
    assert figures_json(fresh) == _figures(hub, s)
    rollups.rebuild(hub["db"], [s["slug"]])
    rollups.refresh(hub["db"], tenants=[s["slug"]], settle=timedelta(0))
    assert _total(hub, s) == after


def test_a_rebuild_refuses_a_month_archived_before_its_figures_were_kept(hub: dict[str, Any],
                                                                          tmp_path: Path) -> None:
    """A month archived before migration 0200 has no kept sums: the rebuild refuses, names it and
    the way on, and forgets nothing; with `--archive DIR` it computes them from the lake's files
    (checked against the manifest the hub pinned: an altered file is refused, named)."""
    s = _scenario(hub, tmp_path)
    _archive(hub, s)
    before = _figures(hub, s)
    for table in ("report_archived_enrolments", "report_archived_months"):  # as an archive made before 0200
        _sql(hub["db"], f"DELETE FROM {table} WHERE tenant_id = :t", t=s["tid"])
    label = f"tenant={s['slug']}/month={s['month']:%Y-%m}"
    code, out = cli(hub["app"], "rollups", "refresh", "--rebuild", "--tenant", s["slug"], "--settle", "0")
    assert code == 1 and label in out and "--archive DIR" in out and "nothing was forgotten" in out, out
    assert _figures(hub, s) == before
    with pytest.raises(rollups.RebuildRefused):
        rollups.rebuild(hub["db"], [s["slug"]])
    altered = tmp_path / "altered"
    shutil.copytree(s["root"], altered)
    (month_dir(altered, s["slug"], s["month"]) / STATEMENTS_FILE).write_bytes(b"PAR1 not the archive")
    code, out = cli(hub["app"], "rollups", "refresh", "--rebuild", "--tenant", s["slug"], "--archive", str(altered))
    assert code == 1 and label in out and "altered" in out, out
    assert _figures(hub, s) == before
    code, out = cli(hub["app"], "rollups", "refresh", "--rebuild", "--tenant", s["slug"], "--archive",
                    str(s["root"]), "--settle", "0", "--json")
    assert code == 0, out
    assert json.loads(out)["archived_months_computed"] == [label]
    assert _figures(hub, s) == before


def test_a_month_leaves_the_store_only_once_the_rollups_have_read_it(hub: dict[str, Any], tmp_path: Path) -> None:
    """Statements of the month after the tenant's watermark would never be counted once dropped:
    `finish` refuses (the partition stays) and names the tenant; `hocvu lake archive` refreshes the
    rollups first, so it goes through and the figures are the same as with the month live."""
    s = _scenario(hub, tmp_path)
    reference = _figures(hub, s)
    rollups.rebuild(hub["db"], [s["slug"]])  # the watermark back to nothing: no statement of the month read
    database, month = hub["db"], s["month"]
    with database.session() as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        written = write_month(session, month, s["root"], [_hub()[2].read_bytes()])
        session.commit()
    with database.session() as session, pytest.raises(ArchiveError, match=s["slug"]) as refused:
        finish(session, month, written, str(s["root"]))
    assert "hocvu rollups refresh" in str(refused.value)
    assert _sql(database, "SELECT to_regclass(:p) IS NOT NULL", p=f"statements_p{month:%Y%m}")
    _archive(hub, s)
    assert _sql(database, "SELECT to_regclass(:p) IS NULL", p=f"statements_p{month:%Y%m}")
    rollups.refresh(database, tenants=[s["slug"]], settle=timedelta(0))  # this month's (its refresh settles 5 s)
    assert _figures(hub, s) == reference


def test_an_erased_learner_is_countable_nowhere_archived_months_included(hub: dict[str, Any],
                                                                          tmp_path: Path) -> None:
    """Privacy rule: `hocvu audit erase` of l1 (statements archived and live) takes her out of every
    rollup table at once, the archived months' sums included, before `hocvu lake erase` rewrites the
    month; a rebuild does not bring her back, and after the rewrite the month's sums follow its file.
    (Before the fix the command-line erasure left her in the group-learner rows.)"""
    s = _scenario(hub, tmp_path)
    _post(s["x"], _made("l1", "launched", s["course"], datetime.now(UTC)))
    rollups.refresh(hub["db"], tenants=[s["slug"]], settle=timedelta(0))
    _archive(hub, s)
    key = _key("l1")
    before = _total(hub, s)
    assert _rows(hub, "report_archived_enrolments", s, key) == 1
    code, out = cli(hub["app"], "audit", "erase", "--tenant", s["slug"], "--agent", json.dumps(learner("l1")),
                    "--yes", "--json")
    assert code == 0, out
    assert json.loads(out)["archived_months_pending"] == 1
    tables = ("report_enrolments", "report_group_learners", "report_archived_enrolments")
    assert [_rows(hub, t, s, key) for t in tables] == [0, 0, 0]
    after = _total(hub, s)
    assert (after.learners, after.enrolments) == (before.learners - 1, before.enrolments - 1)
    rollups.rebuild(hub["db"], [s["slug"]])
    rollups.refresh(hub["db"], tenants=[s["slug"]], settle=timedelta(0))
    assert [_rows(hub, t, s, key) for t in tables] == [0, 0, 0]
    assert _total(hub, s) == after
    code, out = cli(hub["app"], "lake", "erase", "--archive", str(s["root"]))
    assert code == 0, out
    assert _sql(hub["db"], "SELECT enrolments FROM report_archived_months WHERE tenant_id = :t", t=s["tid"]) == 5
    rollups.rebuild(hub["db"], [s["slug"]])
    rollups.refresh(hub["db"], tenants=[s["slug"]], settle=timedelta(0))
    assert [_rows(hub, t, s, key) for t in tables] == [0, 0, 0]
    assert _total(hub, s) == after


def test_a_statement_voided_after_its_month_was_archived_leaves_the_figures_from_the_lake(
        hub: dict[str, Any], tmp_path: Path) -> None:
    """xAPI 1.0.3 Part Two §2.3.2: the LRS stores a voiding of an archived statement (its target need
    not be present), and the voided statement no longer counts. The refresh cannot read it: it notes
    it, and says it still counts, until `hocvu rollups refresh --archive DIR` finds it in the lake and
    takes it out of its month's sums and its enrolment; a rebuild keeps it out. A voiding of an id
    never stored is noted nowhere."""
    s = _scenario(hub, tmp_path)
    _archive(hub, s)
    rollups.refresh(hub["db"], tenants=[s["slug"]], settle=timedelta(0))
    before = _total(hub, s)
    assert before.pass_rate == 3 / 4  # l1, l3, l5 passed in the archived month, l0 failed this month
    l1_passed = s["old_ids"][4]  # l0 launched, completed; l1 launched, completed, passed
    for target in (l1_passed, str(uuid.uuid4())):
        _post(s["x"], statement(id=str(uuid.uuid4()), verb=verb("voided"),
                                object={"objectType": "StatementRef", "id": target}))
    code, out = cli(hub["app"], "rollups", "refresh", "--tenant", s["slug"], "--settle", "0", "--json")
    assert code == 0, out
    assert json.loads(out)["archived_voided_waiting"] == 1
    assert _sql(hub["db"], "SELECT statement_id FROM report_archived_voids WHERE tenant_id = :t",
                t=s["tid"]) == l1_passed
    assert _total(hub, s) == before  # still counted, and said so
    code, out = cli(hub["app"], "rollups", "refresh", "--tenant", s["slug"], "--settle", "0", "--archive",
                    str(s["root"]), "--json")
    assert code == 0, out
    done = json.loads(out)
    assert (done["archived_voided_taken_out"], done["archived_voided_waiting"]) == (1, 0)
    after = _total(hub, s)
    assert (after.learners, after.enrolments, after.completion_rate) == (7, 7, before.completion_rate)
    assert after.pass_rate == 2 / 3  # l1 is no longer graded
    rollups.rebuild(hub["db"], [s["slug"]])
    rollups.refresh(hub["db"], tenants=[s["slug"]], settle=timedelta(0))
    assert _total(hub, s) == after


def test_the_lake_jobs_figures_equal_the_rollups_after_the_archive_a_voiding_and_a_rebuild(
        hub: dict[str, Any], tmp_path: Path) -> None:
    """Issue 17 item 5a's check (connectors.lake: the dashboard's figures recomputed by DuckDB from
    the Parquet export) holds across item 2's archive: exported before the month was archived, one of
    its statements voided after (its voiding row in the next export), rolled up with `--archive DIR`
    and rebuilt from zero, the rollups equal the lake's figures."""
    from connectors.export import ExportQuery
    from connectors.export_files import export_statements
    from connectors.lake import DuckDB, LakeInputs, lake_report

    s = _scenario(hub, tmp_path)
    lake, database = tmp_path / "exports", hub["db"]

    def export(cursor: str | None) -> str:
        with database.session() as session:
            return export_statements(session, ExportQuery(tenants=[s["slug"]], after_cursor=cursor,
                                                          settle=timedelta(0)), "parquet", lake).cursor

    cursor = export(None)
    _archive(hub, s)
    _post(s["x"], statement(id=str(uuid.uuid4()), verb=verb("voided"),
                            object={"objectType": "StatementRef", "id": s["old_ids"][4]}))
    export(cursor)
    for extra in ((), ("--rebuild",)):
        code, out = cli(hub["app"], "rollups", "refresh", "--tenant", s["slug"], "--settle", "0", "--archive",
                        str(s["root"]), *extra)
        assert code == 0, out
        for k in (1, 3, 5):
            from_lake = lake_report(lake, DuckDB(), LakeInputs([], {s["slug"]: None}, {s["slug"]: s["slug"]}),
                                    min_group=k)
            with database.session() as session:
                from_rollups = rollup_report(session, [(s["tid"], s["slug"])], min_group=k, fresh=False)
            assert _rounded(figures_json(from_rollups)) == _rounded(figures_json(from_lake)), (extra, k)
    assert _total(hub, s).pass_rate == 2 / 3


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return tuple(_rounded(v) for v in value)
    return value


def test_a_rebuild_refuses_while_a_month_is_detached_and_not_archived(hub: dict[str, Any], tmp_path: Path) -> None:
    """A detached month (`hocvu db partitions --detach`) is in no query and its sums are kept only
    once it is archived: a rebuild refuses, naming it, and forgets nothing; archived, the rebuild
    keeps its figures."""
    s = _scenario(hub, tmp_path)
    before = _figures(hub, s)
    code, out = cli(hub["app"], "db", "partitions", "--detach", f"{partitions.add_months(s['month'], 1)}")
    assert code == 0 and f"statements_p{s['month']:%Y%m}" in out, out
    code, out = cli(hub["app"], "rollups", "refresh", "--rebuild", "--tenant", s["slug"], "--settle", "0")
    assert code == 1 and f"{s['slug']} {s['month']:%Y-%m}: detached" in out and "nothing was forgotten" in out, out
    assert _figures(hub, s) == before
    _archive(hub, s)
    code, out = cli(hub["app"], "rollups", "refresh", "--rebuild", "--tenant", s["slug"], "--settle", "0")
    assert code == 0, out
    assert _figures(hub, s) == before


def test_a_recompute_from_the_lake_never_counts_an_erased_learner_again(hub: dict[str, Any], tmp_path: Path) -> None:
    """Privacy rule: between `hocvu audit erase` and `hocvu lake erase`, the month's file still holds
    the erased learner. Taking a voided statement out from the lake recomputes the month's sums from
    that file without counting her again; computing a month archived before 0200 waits (refused, named)
    until her rows are gone from it."""
    s = _scenario(hub, tmp_path)
    _archive(hub, s)
    rollups.refresh(hub["db"], tenants=[s["slug"]], settle=timedelta(0))
    key, tables = _key("l1"), ("report_enrolments", "report_group_learners", "report_archived_enrolments")
    code, out = cli(hub["app"], "audit", "erase", "--tenant", s["slug"], "--agent", json.dumps(learner("l1")), "--yes")
    assert code == 0, out
    l3_passed = s["old_ids"][9]  # l0: 0-1, l1: 2-4, l2: 5-6, l3: launched, completed, passed
    _post(s["x"], statement(id=str(uuid.uuid4()), verb=verb("voided"),
                            object={"objectType": "StatementRef", "id": l3_passed}))
    code, out = cli(hub["app"], "rollups", "refresh", "--tenant", s["slug"], "--settle", "0", "--archive",
                    str(s["root"]), "--json")
    assert code == 0 and json.loads(out)["archived_voided_taken_out"] == 1, out
    assert [_rows(hub, t, s, key) for t in tables] == [0, 0, 0]
    after = _figures(hub, s)
    assert _total(hub, s).learners == 6 and _total(hub, s).pass_rate == 1 / 2  # l5 passed; l0 failed
    for table in ("report_archived_enrolments", "report_archived_months"):  # as an archive made before 0200
        _sql(hub["db"], f"DELETE FROM {table} WHERE tenant_id = :t", t=s["tid"])
    code, out = cli(hub["app"], "rollups", "refresh", "--rebuild", "--tenant", s["slug"], "--archive", str(s["root"]))
    assert code == 1 and "an erasure is pending" in out and "hocvu lake erase" in out, out
    assert [_rows(hub, t, s, key) for t in tables] == [0, 0, 0] and _figures(hub, s) == after
    code, out = cli(hub["app"], "lake", "erase", "--archive", str(s["root"]))
    assert code == 0, out
    code, out = cli(hub["app"], "rollups", "refresh", "--rebuild", "--tenant", s["slug"], "--archive",
                    str(s["root"]), "--settle", "0")
    assert code == 0, out
    assert [_rows(hub, t, s, key) for t in tables] == [0, 0, 0] and _figures(hub, s) == after
