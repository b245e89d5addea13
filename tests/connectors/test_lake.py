"""Issue 17 item 5a: the partitioned Parquet lake (incremental ``hocvu export statements --format
parquet``) read by DuckDB and by Apache Spark (local mode), and the dashboard's figures recomputed
from it equal the SQL rollups' — with a statement voided after it was exported (its voiding row in a
later export takes it out, xAPI 1.0.3 Part Two §2.3.2), pseudonymised, with provinces from learner
records and the tenant. ``make test`` installs ``pyspark`` (the ``lake`` extra) where Java is found;
elsewhere Spark is skipped, with the reason."""

from __future__ import annotations

import importlib.util
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from connectors import rollups
from connectors.export import ExportQuery, Pseudonymiser, pseudonym_key
from connectors.export_files import export_statements
from connectors.lake import DuckDB, Engine, LakeInputs, Spark, lake_report
from connectors.rollups.report import figures_json, rollup_report
from connectors.storage import LearnerRecord
from lrs.identifiers import actor_key
from lrs.storage import Tenant
from tests.conftest import Xapi
from tests.connectors.export_support import database, learner, post_statements, tenant_slug
from tests.connectors.test_rollups import first_wave, rounded, void

KEY = pseudonym_key("test-secret")


@pytest.fixture(scope="module")
def spark() -> Iterator[Spark]:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed (pip install -e '.[lake]'; `make test` does where Java is found)")
    if shutil.which("java") is None:
        pytest.skip("no Java on PATH: Spark's local mode runs on a JVM (Java 17)")
    made = Spark()
    yield made
    made.stop()


def engine_named(name: str, request: pytest.FixtureRequest) -> Engine:
    if name == "spark":
        made: Engine = request.getfixturevalue("spark")
        return made
    if importlib.util.find_spec("duckdb") is None:
        pytest.skip("duckdb is not installed (pip install -e '.[connectors]')")
    return DuckDB()


def export(app: Flask, slug: str, lake: Path, cursor: str | None) -> str:
    with database(app).session() as s:
        done = export_statements(s, ExportQuery(tenants=[slug], after_cursor=cursor, settle=timedelta(0),
                                                pseudonymise=True), "parquet", lake, pseudonym_key=KEY)
    return done.cursor


@pytest.mark.parametrize("engine_name", ["duckdb", "spark"])
def test_lake_figures_equal_the_sql_rollups(app: Flask, xapi: Xapi, tmp_path: Path, engine_name: str,
                                            request: pytest.FixtureRequest) -> None:
    engine = engine_named(engine_name, request)
    slug = tenant_slug(app, xapi)
    courses = [f"https://hocvu.vn/courses/{uuid.uuid4().hex[:8]}" for _ in range(2)]
    wave = first_wave(courses)
    assert post_statements(xapi, wave).status_code == 200
    lake = tmp_path / "lake"
    cursor = export(app, slug, lake, None)
    void(xapi, next(s for s in wave if s["verb"]["id"].endswith("/passed")))  # voided after its export
    export(app, slug, lake, cursor)
    now = datetime.now(UTC)
    pseudo = Pseudonymiser(KEY)
    with database(app).session() as s:
        tenant = s.scalars(select(Tenant).where(Tenant.slug == slug)).one()
        tenant.province = "Đồng Tháp"
        for i in range(3):
            s.add(LearnerRecord(tenant_id=tenant.id, learner_key=actor_key(learner(f"l{i}")), agent=learner(f"l{i}"),
                                province="Lào Cai", attributes={}, created=now, updated=now))
        s.commit()
        tenant_id = tenant.id
    rollups.refresh(database(app), tenants=[slug], settle=timedelta(0))
    inputs = LakeInputs(provinces=[(slug, pseudo.agent(actor_key(learner(f"l{i}"))), "Lào Cai") for i in range(3)],
                        tenant_provinces={slug: "Đồng Tháp"}, tenant_names={})
    for k in (5, 3, 1):  # k = 5 and 3 hide groups (complementarily too); 1 shows every one
        from_lake = lake_report(lake, engine, inputs, min_group=k, pseudonymised=True)
        with database(app).session() as s:
            from_sql = rollup_report(s, [(tenant_id, slug)], min_group=k)
        assert rounded(figures_json(from_lake)) == rounded(figures_json(from_sql)), f"k={k}"
    provinces = {g.key: g.learners for g in from_sql.breakdowns["province"].groups}
    assert provinces == {"Lào Cai": 3, "Đồng Tháp": 6}
    assert from_lake.breakdowns["tenant"].total.enrolments == 10

