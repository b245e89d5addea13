"""The analytics lake job (issue 17 item 5a): the dashboard's figures recomputed from the partitioned
Parquet export (``hocvu export statements --format parquet``, docs/export-schema.md) by an existing
engine — DuckDB on one machine, Apache Spark (``pyspark``) past it — with the same SQL text on both,
so a national analyst can check the hub's rollups, or go beyond them, without the hub's database.

What the lake holds: each incremental export adds the statements stored in its window that were not
voided at export time, plus voiding statements as rows. A statement voided after it was exported is
therefore taken out here by its voiding row (xAPI 1.0.3 Part Two §2.3.2: a voided statement does not
count). Province is the learner's (a table of tenant, actor_key, province: the hub's learner records,
pseudonymised like the lake when it is), else the tenant's, else unknown, as in the hub.

The figures follow ``connectors.reports`` exactly (enrolments, rates, time spent, k-anonymity with
complementary suppression); ``connectors.rollups.report.breakdown`` applies the suppression to the
engine's group sums, asking the engine for the distinct learners of the hidden groups.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from connectors.reports import DIMENSIONS, Report
from connectors.rollups.report import SUMS, Sums, breakdown
from connectors.rollups.state import COMPLETED, FAILED, PASSED, TERMINATED, UNKNOWN_PROVINCE, VOIDED

ENGINES: Final = ("duckdb", "spark")
# The ISO week of a timestamp, as the hub writes it (2026-W10), in each engine's dialect.
_WEEK: Final = {"duckdb": "strftime(first, '%G-W%V')",
                "spark": "concat(cast(extract(YEAROFWEEK FROM first) AS STRING), '-W', "
                         "lpad(cast(weekofyear(first) AS STRING), 2, '0'))"}


def _enrolments_sql(engine: str) -> str:
    """One row per enrolment with the sums the figures need (views: statements, provinces, tenants)."""
    return f"""
WITH voided AS (
  SELECT DISTINCT tenant, object_id AS statement_id FROM statements
  WHERE verb_id = '{VOIDED}' AND object_type = 'StatementRef'),
counted AS (
  SELECT s.* FROM statements s LEFT JOIN voided v ON v.tenant = s.tenant AND v.statement_id = s.statement_id
  WHERE v.statement_id IS NULL AND s.course_id IS NOT NULL AND s.verb_id <> '{VOIDED}'),
sums AS (
  SELECT tenant, course_id, actor_key, min(timestamp) AS first,
    sum(CASE WHEN verb_id = '{COMPLETED}' OR completion THEN 1 ELSE 0 END) AS completed,
    sum(CASE WHEN verb_id IN ('{PASSED}', '{FAILED}') THEN 1 ELSE 0 END) AS judged,
    sum(CASE WHEN verb_id = '{PASSED}' THEN 1 ELSE 0 END) AS passed,
    sum(CASE WHEN verb_id IN ('{PASSED}', '{FAILED}') AND verification_outcome = 'verified' THEN 1 ELSE 0 END)
      AS verified,
    sum(CASE WHEN verb_id = '{TERMINATED}' THEN duration_seconds END) AS session_seconds,
    sum(duration_seconds) AS any_seconds
  FROM counted GROUP BY tenant, course_id, actor_key)
SELECT e.tenant, e.course_id, e.actor_key, concat(e.tenant, '|', e.actor_key) AS learner,
  e.completed, e.judged, e.passed, e.verified, coalesce(e.session_seconds, e.any_seconds) AS seconds,
  {_WEEK[engine]} AS week,
  coalesce(nullif(p.province, ''), nullif(t.province, ''), '{UNKNOWN_PROVINCE}') AS province
FROM sums e
LEFT JOIN provinces p ON p.tenant = e.tenant AND p.actor_key = e.actor_key
LEFT JOIN tenants t ON t.tenant = e.tenant
"""


_COLUMN: Final = {"tenant": "tenant", "course": "course_id", "province": "province", "week": "week"}


def _groups_sql(dimension: str) -> str:
    key = _COLUMN[dimension]
    return f"""
SELECT {key} AS group_key, count(DISTINCT learner) AS learners,
  count(DISTINCT CASE WHEN judged > 0 THEN learner END) AS graded_learners, count(*) AS enrolments,
  sum(CASE WHEN completed > 0 THEN 1 ELSE 0 END) AS completed, sum(CASE WHEN judged > 0 THEN 1 ELSE 0 END) AS judged,
  sum(CASE WHEN passed > 0 THEN 1 ELSE 0 END) AS passed, sum(judged) AS attempts, sum(verified) AS verified,
  coalesce(sum(seconds), 0) AS seconds, count(seconds) AS timed
FROM enrolments GROUP BY {key}"""


class Engine(Protocol):
    def register(self, name: str, rows: list[tuple[Any, ...]], columns: tuple[str, ...]) -> None: ...
    def lake(self, directory: Path) -> None: ...
    def view(self, name: str, sql: str) -> None: ...
    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...


class DuckDB:
    def __init__(self) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")

    def register(self, name: str, rows: list[tuple[Any, ...]], columns: tuple[str, ...]) -> None:
        import pyarrow as pa

        table = pa.table({c: pa.array([r[i] for r in rows], pa.string()) for i, c in enumerate(columns)})
        self.con.register(name, table)

    def lake(self, directory: Path) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW statements AS SELECT * FROM read_parquet('{directory}/**/*.parquet', "
                         "hive_partitioning = true, hive_types = {'tenant': VARCHAR, 'date': VARCHAR})")

    def view(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.con.execute(sql).fetchall()]


class Spark:
    """A local Spark session (``local[2]``) in UTC, partition types kept as written (strings)."""

    def __init__(self) -> None:
        from pyspark.sql import SparkSession

        self.spark = (SparkSession.builder.master("local[2]").appName("hocvu-lake")
                      .config("spark.sql.session.timeZone", "UTC")
                      .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
                      .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
                      .getOrCreate())

    def register(self, name: str, rows: list[tuple[Any, ...]], columns: tuple[str, ...]) -> None:
        schema = ", ".join(f"{c} STRING" for c in columns)
        self.spark.createDataFrame(rows, schema).createOrReplaceTempView(name)

    def lake(self, directory: Path) -> None:
        self.spark.read.parquet(str(directory)).createOrReplaceTempView("statements")

    def view(self, name: str, sql: str) -> None:
        self.spark.sql(sql).createOrReplaceTempView(name)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    def stop(self) -> None:
        self.spark.stop()


@dataclass(frozen=True)
class LakeInputs:
    """What the lake does not hold: learners' and tenants' provinces, display names."""

    provinces: list[tuple[str, str, str]]  # (tenant slug, actor_key as in the lake, province)
    tenant_provinces: Mapping[str, str | None]
    tenant_names: Mapping[str, str]


def _sql_text(values: set[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values))


def lake_report(directory: Path, engine: Engine, inputs: LakeInputs, *, min_group: int,
                pseudonymised: bool = False) -> Report:
    """The report from the lake at ``directory`` computed by ``engine``."""
    if min_group < 1:
        raise ValueError("the minimum group size k must be at least 1")
    engine.lake(directory)
    engine.register("provinces", inputs.provinces, ("tenant", "actor_key", "province"))
    engine.register("tenants", [(t, p) for t, p in inputs.tenant_provinces.items()], ("tenant", "province"))
    engine.view("enrolments", _enrolments_sql("spark" if isinstance(engine, Spark) else "duckdb"))
    parts: dict[str, dict[str, Sums]] = {}
    for dimension in DIMENSIONS:
        parts[dimension] = {str(r[0]): {name: float(v or 0) for name, v in zip(SUMS, r[1:], strict=True)}
                            for r in engine.rows(_groups_sql(dimension))}
    total: Sums = dict.fromkeys(SUMS, 0.0)
    for sums in parts["tenant"].values():
        for name in SUMS:
            total[name] += sums[name]

    def union(dimension: str) -> Callable[[set[str]], int]:
        def count(keys: set[str]) -> int:
            found = engine.rows(f"SELECT count(DISTINCT learner) FROM enrolments "
                                f"WHERE {_COLUMN[dimension]} IN ({_sql_text(keys)})")
            return int(found[0][0])
        return count

    labels: dict[str, Callable[[str], str]] = {"tenant": lambda s: inputs.tenant_names.get(s, s),
                                               "course": str, "province": str, "week": str}
    tables = {d: breakdown(d, parts[d], total, min_group, labels[d], union(d)) for d in DIMENSIONS}
    return Report(min_group, None, None, sorted(parts["tenant"]), tables, pseudonymised=pseudonymised,
                  source="lake")


def open_engine(name: str) -> Engine:
    """``duckdb`` or ``spark``; a clear error when its package is not installed (the ``lake`` extra)."""
    try:
        return DuckDB() if name == "duckdb" else Spark()
    except ImportError as err:
        extra = "lake" if name == "spark" else "connectors"
        raise RuntimeError(f"the {name} engine needs its package: pip install 'hocvu[{extra}]' ({err})") from None
