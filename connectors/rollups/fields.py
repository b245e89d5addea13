"""The statement fields the rollups read (``course_row``), as the export reads them, and the
columns a query selects for them (``columns``): the whole statement, or on PostgreSQL only the
values read, extracted by the server (``SLIM_COLUMNS``)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from sqlalchemy import Text, cast, literal_column
from sqlalchemy.orm import Session

from connectors.export import (  # the export's own field rules: the rollups read fields as it does
    STAMP_IRI,
    bool_of,
    course_of,
    duration_seconds,
    kept_of,
    number_of,
    object_of,
    str_of,
    timestamp_of,
)
from lrs.storage import Statement, as_utc

# The statement as its text, parsed here by orjson: the driver's stdlib JSON parse was a quarter of
# the refresh's Python (docs/scale.md, "Rollup refresh").
COLUMNS = (Statement.seq, Statement.statement_id, Statement.stored, Statement.actor_key, Statement.verb_id,
           Statement.object_type, Statement.object_activity_id, Statement.object_agent_key,
           Statement.object_statement_id, Statement.registration, cast(Statement.full, Text).label("full"))


def _document(text: Any) -> dict[str, Any]:
    value = text if isinstance(text, dict) else _parsed(text)
    return value if isinstance(value, dict) else {}


def _parsed(text: Any) -> Any:
    try:
        value = orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError):
        # Legacy rows orjson refuses (a lone surrogate, an integer past 64 bits, SQLite's Infinity):
        # the standard parser takes them, as it did before; what neither reads is not an object.
        try:
            value = json.loads(text)
        except (ValueError, TypeError):
            value = None
    return value


def course_row(row: Any, slug: str) -> tuple[str | None, tuple[Any, ...]]:
    """The fields a ``State`` reads (``state.INDEX``): timestamp, verb, course, completion,
    duration, stamp outcome. Each is what ``connectors.export.flatten`` gives for it: its values
    when nothing in the row is unrepresentable, else its lenient pass (``kept_of``), which for these
    fields is the same value unless that field itself is unrepresentable; the other 19 columns are
    not computed (they were half the refresh's Python). A test compares with ``flatten``. The row
    holds the statement (``full``) or only the six values these read (``fields``: ``SLIM_COLUMNS``)."""
    slim = getattr(row, "fields", None)
    if slim is not None:
        values = _parsed(slim)
        if not isinstance(values, list) or len(values) != len(_SLIM_PATHS):
            values = [None] * len(_SLIM_PATHS)
        timestamp, obj, acts, completion, duration, outcome = values
        return _fields(row, timestamp, obj if isinstance(obj, dict) else {}, acts if isinstance(acts, dict) else {},
                       completion, duration, outcome)
    full = _document(row.full)
    obj, ctx, result = object_of(full, "object"), object_of(full, "context"), object_of(full, "result")
    stamp = object_of(object_of(ctx, "extensions"), STAMP_IRI)
    return _fields(row, full.get("timestamp"), obj, object_of(ctx, "contextActivities"), result.get("completion"),
                   result.get("duration"), stamp.get("outcome"))


def _fields(row: Any, timestamp: Any, obj: dict[str, Any], acts: dict[str, Any], completion: Any, duration: Any,
            outcome: Any) -> tuple[str | None, tuple[Any, ...]]:
    course = kept_of(str_of, lambda: course_of(obj, acts))
    return course, (timestamp_of(timestamp, as_utc(row.stored)), row.verb_id, course, bool_of(completion),
                    kept_of(number_of, duration_seconds(duration)), kept_of(str_of, outcome))


# PostgreSQL: the server reads the six values ``course_row`` needs out of the stored JSONB and
# sends them as one small JSON array, instead of the whole statement as text for Python to parse
# (the refresh's largest single cost: docs/scale.md, "Run E"). Each path is the one ``course_row``
# follows in the document: ``->`` gives NULL (JSON null here) where Python's ``object_of`` finds no
# object, and every value read is JSON null or absent alike (``.get``), except the object's
# ``objectType``, so the object goes whole. False: the whole statement on PostgreSQL too (a test
# compares the two).
SLIM = True
_SLIM_PATHS: tuple[tuple[str, ...], ...] = (
    ("timestamp",), ("object",), ("context", "contextActivities"), ("result", "completion"), ("result", "duration"),
    ("context", "extensions", STAMP_IRI, "outcome"))


def _json_path(path: tuple[str, ...]) -> str:
    return 'statements."full"' + "".join("->'" + step.replace("'", "''") + "'" for step in path)


SLIM_SQL = f"CAST(jsonb_build_array({', '.join(_json_path(p) for p in _SLIM_PATHS)}) AS text)"
SLIM_COLUMNS: tuple[Any, ...] = (*COLUMNS[:-1], literal_column(SLIM_SQL).label("fields"))


def columns(session: Session) -> tuple[Any, ...]:
    """The statement columns the rollups read, for this session's database."""
    return SLIM_COLUMNS if SLIM and session.get_bind().dialect.name == "postgresql" else COLUMNS
