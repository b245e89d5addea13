"""Issue 5 item 3, "an export round trip": statements written through the xAPI API come back in
CSV, JSON Lines, Parquet and the DataFrame with the same values, in the documented schema."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from flask import Flask
from pandas.testing import assert_frame_equal
from sqlalchemy import select, update

from connectors import export_schema
from connectors.export import ExportQuery, Pseudonymiser, duration_seconds, pseudonym_key
from connectors.export_files import export_statements
from connectors.frames import read_csv, read_jsonl, read_parquet, statements_frame
from identity.stamp import STAMP_IRI, stamp_of
from lrs.errors import BadRequest, NotFound
from lrs.identifiers import actor_key
from lrs.storage import Statement, Tenant
from tests.conftest import Xapi, statement
from tests.connectors.export_support import (
    ADL,
    BASE,
    database,
    learner,
    post_statements,
    representative,
    tenant_slug,
    verb,
)

NOW = dict(settle=timedelta(0))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "export-schema.md"


def post(xapi: Xapi, statements: list[dict[str, Any]]) -> None:
    r = post_statements(xapi, statements)
    assert r.status_code == 200, r.get_data(as_text=True)


def export(app: Flask, query: ExportQuery, fmt: str, out: Any, **kw: Any) -> Any:
    with database(app).session() as s:
        return export_statements(s, query, fmt, out, progress=False, **kw)


def na(value: Any) -> bool:
    return value is None or value is pd.NA


def by_id(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["statement_id"]: r for r in frame.to_dict("records")}


def test_schema_document_is_generated_from_the_schema() -> None:
    """docs/export-schema.md is ``export_schema.markdown()`` (regenerate with python -m connectors.export_schema)."""
    assert DOCS.read_text(encoding="utf-8") == export_schema.markdown()
    assert export_schema.NAMES[:3] == ("seq", "statement_id", "tenant") and len(set(export_schema.NAMES)) == 25


def test_the_stamp_iri_is_the_identity_packages() -> None:
    from connectors.export import STAMP_IRI as read_here

    assert read_here == STAMP_IRI


@pytest.mark.parametrize(("text", "seconds"), [
    ("PT1M30.5S", 90.5), ("P1DT2H", 93600.0), ("PT0.25S", 0.25), ("P2W", 1209600.0), ("PT1,5S", 1.5),
    ("P1Y2M", 365 * 86400 + 60 * 86400.0), ("PT0S", 0.0), ("PT", None), ("P", None), ("1H", None), (None, None),
])
def test_iso_8601_durations_in_seconds(text: str | None, seconds: float | None) -> None:
    """xAPI 1.0.3 Part Two §4.6: result.duration is an ISO 8601 duration; the export gives seconds."""
    assert duration_seconds(text) == seconds


def test_round_trip_csv_jsonl_parquet_and_frame(app: Flask, xapi: Xapi, tmp_path: Path) -> None:
    sent = representative()
    post(xapi, sent)
    doomed = statement(id=str(uuid.uuid4()), actor=learner("hv-003"))
    post(xapi, [doomed])
    voiding = statement(id=str(uuid.uuid4()), verb=verb("voided"),
                        object={"objectType": "StatementRef", "id": doomed["id"]})
    post(xapi, [voiding])
    slug = tenant_slug(app, xapi)
    q = ExportQuery(tenants=[slug], **NOW)

    frame = statements_frame(database(app), tenant=slug)
    assert list(frame.columns) == list(export_schema.NAMES)
    assert {c: str(t) for c, t in frame.dtypes.items()} == export_schema.pandas_dtypes()
    rows = by_id(frame)
    # Part Two §2.3.2: a voided statement is not reported; the voiding statement is, naming its target.
    assert doomed["id"] not in rows and rows[voiding["id"]]["object_id"] == doomed["id"]
    assert rows[voiding["id"]]["object_type"] == "StatementRef" and len(rows) == 5

    passed, failed, completed, about_agent = (rows[s["id"]] for s in sent)
    assert passed["tenant"] == slug and passed["actor_key"] == actor_key(learner("hv-001"))
    assert passed["verb_id"] == ADL + "passed" and passed["object_type"] == "Activity"
    assert passed["object_id"] == f"{BASE}/module-1/quiz"
    assert passed["object_activity_type"] == "http://adlnet.gov/expapi/activities/assessment"
    assert passed["course_id"] == BASE  # the grouping Activity typed "course", not the first one
    assert passed["registration"] == sent[0]["context"]["registration"]
    assert passed["parent_ids"] == f"{BASE}/module-1" and passed["grouping_ids"] == f"{BASE}/series {BASE}"
    assert (passed["score_scaled"], passed["score_raw"], passed["score_min"], passed["score_max"]) == (0.875, 7, 0, 8)
    assert passed["success"] is True and passed["completion"] is True and passed["duration_seconds"] == 90.5
    # The timestamp was sent at +07:00: exported in UTC, microseconds kept.
    assert passed["timestamp"] == pd.Timestamp("2026-03-02T08:10:00.123456Z")
    assert passed["stored"].tzinfo is not None and passed["date"] == passed["stored"].strftime("%Y-%m-%d")
    stamp = stamp_of(sent[0])
    assert stamp is not None
    assert (passed["verification_level"], passed["verification_outcome"], passed["face_outcome"]) == (
        stamp["level"], stamp["outcome"], stamp["faceOutcome"]) == (2, "verified", "match")
    assert (failed["verification_level"], failed["verification_outcome"], failed["face_outcome"]) == (
        1, "unverified", "no_match")
    assert (failed["score_scaled"], failed["score_raw"], failed["score_min"]) == (-0.5, -4.25, -10)
    assert failed["success"] is False and na(failed["completion"]) and failed["duration_seconds"] == 93600
    assert completed["course_id"] == "https://lms.example/other-course" and na(completed["parent_ids"])
    assert completed["duration_seconds"] == 0.25 and na(completed["verification_outcome"])
    assert na(completed["score_scaled"]) and na(completed["success"])
    assert about_agent["object_type"] == "Agent" and about_agent["object_id"] == actor_key(learner("hv-001"))
    assert na(about_agent["course_id"]) and na(about_agent["object_activity_type"])

    csv_path, jsonl_path, parquet_dir = tmp_path / "s.csv", tmp_path / "s.jsonl", tmp_path / "parquet"
    results = [export(app, q, "csv", csv_path), export(app, q, "jsonl", jsonl_path),
               export(app, q, "parquet", parquet_dir)]
    assert [r.rows for r in results] == [5, 5, 5]
    expected = frame.sort_values(["tenant", "stored", "seq"], ignore_index=True)
    for got in (read_csv(csv_path), read_jsonl(jsonl_path), read_parquet(parquet_dir)):
        assert_frame_equal(got, expected)
    text = csv_path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(export_schema.NAMES)
    assert "2026-03-02T08:10:00.123456Z" in text and ",true," in text  # the documented spellings


def test_parquet_is_partitioned_by_tenant_and_date(app: Flask, xapi: Xapi, xapi2: Xapi, tmp_path: Path) -> None:
    """Issue 5: "Parquet partitioned by date and tenant" (Hive style: tenant=<slug>/date=<day>/part-*.parquet)."""
    post(xapi, representative())
    post(xapi2, representative()[:2])
    one, two = tenant_slug(app, xapi), tenant_slug(app, xapi2)
    with database(app).session() as s:  # one statement stored on an earlier day
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == one))
        s.execute(update(Statement).where(Statement.tenant_id == tenant_id,
                                          Statement.actor_key == actor_key(learner("teacher-9")))
                  .values(stored=datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)))
        s.commit()
    result = export(app, ExportQuery(tenants=[one, two], **NOW), "parquet", tmp_path)
    today = datetime.now(UTC).date().isoformat()
    dirs = sorted({str(Path(f).parent.relative_to(tmp_path)) for f in result.files})
    assert dirs == sorted([f"tenant={one}/date=2026-03-01", f"tenant={one}/date={today}",
                           f"tenant={two}/date={today}"])
    assert all(Path(f).name.startswith("part-") and f.endswith(".parquet") for f in result.files)
    in_file = pq.read_table(next(f for f in result.files if f"tenant={two}" in f))
    # The partition keys live in the path, not repeated in each file.
    assert "tenant" not in in_file.column_names and in_file.num_rows == 2
    frame = read_parquet(tmp_path)
    assert frame.groupby("tenant").size().to_dict() == {one: 4, two: 2}
    assert set(frame.loc[frame["date"] == "2026-03-01", "actor_key"]) == {actor_key(learner("teacher-9"))}


def test_incremental_export_picks_up_only_new_statements(app: Flask, xapi: Xapi, tmp_path: Path) -> None:
    """Issue 5: "incremental by stored cursor"; an incremental export picks up only new statements."""
    slug = tenant_slug(app, xapi)
    first_batch = representative()
    post(xapi, first_batch)
    first = export(app, ExportQuery(tenants=[slug], **NOW), "parquet", tmp_path / "pq")
    assert first.rows == 4 and first.cursor.startswith("stored:")
    again = export(app, ExportQuery(tenants=[slug], after_cursor=first.cursor, **NOW), "csv", tmp_path / "none.csv")
    assert again.rows == 0 and again.cursor >= first.cursor  # nothing new: the cursor never moves back

    later = [statement(id=str(uuid.uuid4()), actor=learner("hv-010")) for _ in range(3)]
    post(xapi, later)
    second = export(app, ExportQuery(tenants=[slug], after_cursor=first.cursor, **NOW), "csv", tmp_path / "new.csv")
    assert second.rows == 3
    assert set(read_csv(tmp_path / "new.csv")["statement_id"]) == {s["id"] for s in later}
    export(app, ExportQuery(tenants=[slug], after_cursor=first.cursor, **NOW), "parquet", tmp_path / "pq")
    # Parts of both exports sit side by side in one dataset: together, every statement once.
    assert sorted(read_parquet(tmp_path / "pq")["statement_id"]) == sorted(s["id"] for s in first_batch + later)


def test_settling_delay_holds_back_statements_that_may_still_be_committing(app: Flask, xapi: Xapi) -> None:
    post(xapi, representative())
    slug = tenant_slug(app, xapi)
    held = export(app, ExportQuery(tenants=[slug], settle=timedelta(minutes=5)), "csv", io.StringIO())
    assert held.rows == 0  # stored less than 5 minutes ago
    now_rows = export(app, ExportQuery(tenants=[slug], settle=timedelta(minutes=5)), "csv", io.StringIO(),
                      now=datetime.now(UTC) + timedelta(minutes=6))
    assert now_rows.rows == 4 and now_rows.cursor > held.cursor


def test_until_and_since_bound_the_stored_time(app: Flask, xapi: Xapi) -> None:
    post(xapi, representative()[:2])
    slug = tenant_slug(app, xapi)
    middle = datetime.now(UTC)
    post(xapi, representative()[2:])
    before = statements_frame(database(app), tenant=slug, until=middle)
    after = statements_frame(database(app), tenant=slug, since=middle)
    assert (len(before), len(after)) == (2, 2)
    assert statements_frame(database(app), tenant=slug, since="2999-01-01").empty


def test_pseudonymised_export_has_no_real_actor_key(app: Flask, xapi: Xapi, tmp_path: Path) -> None:
    """Issue 5: analysts read across tenants only through pseudonymised exports."""
    sent = representative()
    post(xapi, sent)
    slug = tenant_slug(app, xapi)
    key = pseudonym_key("test-secret")
    q = ExportQuery(tenants=[slug], pseudonymise=True, **NOW)
    export(app, q, "csv", tmp_path / "a.csv", pseudonym_key=key)
    export(app, q, "jsonl", tmp_path / "b.jsonl", pseudonym_key=key)
    text = (tmp_path / "a.csv").read_text(encoding="utf-8") + (tmp_path / "b.jsonl").read_text(encoding="utf-8")
    for name in ("hv-001", "hv-002", "teacher-9", "lms.bo-gddt.gov.vn"):
        assert name not in text
    for s in sent:
        reg = (s.get("context") or {}).get("registration")
        assert reg is None or reg not in text
    frame = read_csv(tmp_path / "a.csv")
    p = Pseudonymiser(key)
    rows = by_id(frame)
    assert rows[sent[0]["id"]]["actor_key"] == p.agent(actor_key(learner("hv-001")))
    # Stable: the same learner as actor and as object has one pseudonym, so joins still work.
    assert rows[sent[3]["id"]]["object_id"] == rows[sent[0]["id"]]["actor_key"] == rows[sent[2]["id"]]["actor_key"]
    assert str(uuid.UUID(rows[sent[0]["id"]]["registration"])) == rows[sent[0]["id"]]["registration"]
    assert_frame_equal(read_jsonl(tmp_path / "b.jsonl"), frame)
    assert_frame_equal(statements_frame(database(app), tenant=slug, pseudonymise=True, secret_key="test-secret"),
                       frame)
    with pytest.raises(ValueError, match="secret_key"):
        statements_frame(database(app), tenant=slug, pseudonymise=True)


def test_bad_requests_are_refused_before_anything_is_written(app: Flask, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        export(app, ExportQuery(tenants=["no-such-tenant"]), "csv", tmp_path / "x.csv")
    with pytest.raises(BadRequest, match="cursor"):
        export(app, ExportQuery(after_cursor="2026-01-01"), "csv", tmp_path / "x.csv")
    with pytest.raises(BadRequest, match="format"):
        export(app, ExportQuery(), "xlsx", tmp_path / "x.xlsx")
    with pytest.raises(BadRequest, match="pseudonymisation key"):
        export(app, ExportQuery(pseudonymise=True), "csv", tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.xlsx").exists()


def test_progress_bar_only_when_asked_or_on_a_terminal(app: Flask, xapi: Xapi,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    post(xapi, representative())
    q = ExportQuery(tenants=[tenant_slug(app, xapi)], **NOW)
    with database(app).session() as s:
        export_statements(s, q, "csv", io.StringIO(), progress=None)  # stderr is not a terminal here
    assert capsys.readouterr().err == ""
    with database(app).session() as s:
        export_statements(s, q, "csv", io.StringIO(), progress=True)
    err = capsys.readouterr().err
    assert "export: 100%" in err and "4/4" in err
