"""The analysts' flat statement schema, ``hocvu.statements.v1``: one row per stored statement.

This module *is* the documentation: ``docs/export-schema.md`` is generated from ``COLUMNS`` by
``markdown()`` (a test keeps the two equal), and every writer (CSV, JSON Lines, Parquet) and the
pandas frame take their column order and types from here, so the files and the DataFrame agree.

Versioning: a column is never renamed, retyped or given a new meaning within ``v1``; such a change
makes ``hocvu.statements.v2``. Adding a column at the end is allowed within a version, so readers
should select columns by name.

No pandas or pyarrow import at module level: the app imports the connectors package for
forwarding, and those libraries are only needed by whoever writes Parquet or builds frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

SCHEMA: Final = "hocvu.statements.v1"
Kind = Literal["string", "int", "float", "bool", "timestamp"]

# How each kind is spelled in each format (the table in the generated document).
KIND_FORMATS: Final[dict[str, tuple[str, str, str]]] = {
    # kind: (CSV text, Parquet/Arrow type, pandas dtype)
    "string": ("UTF-8 text", "string", "string"),
    "int": ("decimal integer", "int64", "Int64"),
    "float": ("decimal, shortest round-trip form", "float64", "Float64"),
    "bool": ("`true` / `false`", "bool", "boolean"),
    "timestamp": ("ISO 8601 UTC, microseconds, `Z`", "timestamp[us, UTC]", "datetime64[us, UTC]"),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    meaning: str


COLUMNS: Final[tuple[Column, ...]] = (
    Column("seq", "int", "The store's sequence number: unique in the hub, increasing in the order statements "
                         "were stored. A stable row key for joins and de-duplication."),
    Column("statement_id", "string", "The statement's `id` (UUID, lower case)."),
    Column("tenant", "string", "Slug of the tenant (ministry LMS) that stored the statement. "
                               "Parquet partition key."),
    Column("stored", "timestamp", "When the hub stored the statement (xAPI `stored`). Exports select and "
                                  "resume by this time (the cursor)."),
    Column("date", "string", "`stored` as a UTC calendar date, `YYYY-MM-DD`. Parquet partition key."),
    Column("timestamp", "timestamp", "When the experience happened (xAPI `timestamp`), converted to UTC."),
    Column("actor_key", "string", "The learner: the store's key of the actor (`agent|mbox:...`, "
                                  "`agent|account:[home, name]`, ...). In a pseudonymised export, "
                                  "`pseudo:` and a keyed HMAC of that key instead: the same learner gets "
                                  "the same pseudonym in every export of the hub, and it cannot be reversed "
                                  "without the hub's secret."),
    Column("verb_id", "string", "The verb IRI."),
    Column("object_type", "string", "`Activity`, `Agent`, `Group`, `StatementRef` or `SubStatement`."),
    Column("object_id", "string", "The Activity IRI; the agent key for an Agent/Group object "
                                  "(pseudonymised like `actor_key`); the target statement id for a "
                                  "StatementRef (a `voided` statement names what it voids here); empty "
                                  "for a SubStatement."),
    Column("object_activity_type", "string", "The Activity's `definition.type` as sent, when it has one."),
    Column("course_id", "string", "The course the statement belongs to: the first `grouping` (then "
                                  "`parent`) Activity whose type is "
                                  "`http://adlnet.gov/expapi/activities/course`; else the object when it is a "
                                  "course; else the first `grouping` Activity; else the object's id."),
    Column("registration", "string", "`context.registration` (UUID). Pseudonymised exports replace it with "
                                     "a keyed UUID (same input, same output), because a registration can "
                                     "be derived from the learner's LMS account."),
    Column("parent_ids", "string", "`context.contextActivities.parent` ids, separated by one space (IRIs "
                                   "never contain a space)."),
    Column("grouping_ids", "string", "`context.contextActivities.grouping` ids, separated by one space."),
    Column("score_scaled", "float", "`result.score.scaled` (-1 to 1)."),
    Column("score_raw", "float", "`result.score.raw`."),
    Column("score_min", "float", "`result.score.min`."),
    Column("score_max", "float", "`result.score.max`."),
    Column("success", "bool", "`result.success`."),
    Column("completion", "bool", "`result.completion`."),
    Column("duration_seconds", "float", "`result.duration` (ISO 8601 duration) in seconds; a year counts "
                                        "365 days and a month 30 (xAPI durations rarely use either)."),
    Column("verification_level", "int", "VNeID identification level (1 or 2) from the hub's "
                                        "identity-verification stamp "
                                        "(`https://hocvu.vn/xapi/extensions/identity-verification`)."),
    Column("verification_outcome", "string", "The stamp's `outcome`: `verified` or `unverified`; empty "
                                             "when the statement carries no stamp."),
    Column("face_outcome", "string", "The stamp's last face check outcome (`match`, `no_match`, `no_face`, "
                                     "`several_faces`, `unreadable`); empty when no check was made."),
)
NAMES: Final[tuple[str, ...]] = tuple(c.name for c in COLUMNS)
KINDS: Final[dict[str, Kind]] = {c.name: c.kind for c in COLUMNS}
# Hive-style partition directories of a Parquet export: tenant=<slug>/date=<YYYY-MM-DD>/part-*.parquet
PARTITION_COLUMNS: Final = ("tenant", "date")


def arrow_schema() -> Any:
    """The pyarrow schema of the Parquet files (partition columns included)."""
    import pyarrow as pa

    types = {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
             "timestamp": pa.timestamp("us", tz="UTC")}
    return pa.schema([pa.field(c.name, types[c.kind]) for c in COLUMNS], metadata={"schema": SCHEMA})


def pandas_dtypes() -> dict[str, str]:
    """Column name -> pandas dtype name of ``connectors.frames.statements_frame``."""
    return {c.name: KIND_FORMATS[c.kind][2] for c in COLUMNS}


def markdown() -> str:
    """The schema document (docs/export-schema.md)."""
    lines = [
        f"# Statement export schema `{SCHEMA}`",
        "",
        "<!-- Generated from connectors/export_schema.py by `python -m connectors.export_schema`; "
        "edit that file, not this one. -->",
        "",
        "One row per stored statement that is not voided at the time of the export. Voiding statements "
        "are rows too (verb `http://adlnet.gov/expapi/verbs/voided`, `object_id` = the voided statement), "
        "so an incremental consumer can retract rows it received earlier.",
        "",
        "Formats: `hocvu export statements --format csv|jsonl|parquet` and "
        "`connectors.frames.statements_frame()` (pandas) give the same columns, in this order, with the "
        "same values. An empty CSV cell and a JSON `null` mean the value is absent.",
        "",
        "Parquet exports are a directory partitioned Hive-style by tenant and date: "
        "`tenant=<slug>/date=<YYYY-MM-DD>/part-<export>-<n>.parquet`; the partition columns live in the "
        "path (DuckDB: `read_parquet('out/**/*.parquet', hive_partitioning = true)`; Spark and pyarrow "
        "read them natively).",
        "",
        "Incremental exports: every export ends with a cursor (`stored:<time>`). Passing it back "
        "(`--after-cursor`) exports only statements stored after that time. An export stops a few "
        "seconds short of the present (`--settle`, default 5 s) so that statements whose transaction "
        "was still committing are not skipped.",
        "",
        "| # | column | type | meaning |",
        "|---|---|---|---|",
    ]
    for i, c in enumerate(COLUMNS, 1):
        meaning = c.meaning.replace("|", "\\|")  # a bare | would split the table cell (GFM tables)
        lines.append(f"| {i} | `{c.name}` | {c.kind} | {meaning} |")
    lines += ["", "## Types", "", "| type | CSV / JSON Lines | Parquet | pandas |", "|---|---|---|---|"]
    for kind, (text, arrow, pandas) in KIND_FORMATS.items():
        lines.append(f"| {kind} | {text} | `{arrow}` | `{pandas}` |")
    lines += ["", "JSON Lines carries the same text as CSV for timestamps, JSON numbers and booleans for the "
                  "other types, and `null` for absent values.", ""]
    return "\n".join(lines)


if __name__ == "__main__":  # python -m connectors.export_schema > docs/export-schema.md
    print(markdown(), end="")
