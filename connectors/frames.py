"""The notebook API: statements as a pandas DataFrame, with the export files' columns and types.

    from connectors.frames import statements_frame
    df = statements_frame("postgresql://analyst@replica/hocvu", tenant="bo-gddt", since="2025-09-01")

Columns, order and dtypes are ``hocvu.statements.v1`` (``connectors.export_schema``): strings are
pandas ``string``, numbers ``Int64``/``Float64`` and flags ``boolean`` (nullable, so "absent" stays
``<NA>`` rather than becoming 0 or False), times ``datetime64[us, UTC]``. ``read_csv``,
``read_jsonl`` and ``read_parquet`` load export files into the very same shape.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from connectors.archive.coverage import archived_in, warning
from connectors.export import ExportQuery, Row, iter_rows, parse_time, parse_until, plan, pseudonym_key
from connectors.export_files import record_batch
from connectors.export_schema import COLUMNS, KINDS, NAMES, PARTITION_COLUMNS, arrow_schema
from lrs.storage import Database

_PANDAS_TYPES: dict[pa.DataType, Any] = {
    pa.string(): pd.StringDtype(), pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}
SORT = ["tenant", "stored", "seq"]  # the export's own order


class ArchivedMonthsWarning(UserWarning):
    """The frame's range covers months archived to the lake: their statements are not in it."""


def frame_from_batches(batches: Iterable[Any]) -> pd.DataFrame:
    """Arrow record batches of the export schema as the documented DataFrame."""
    schema = arrow_schema()
    table = pa.Table.from_batches(list(batches) or [record_batch([])], schema=schema)
    frame = table.to_pandas(types_mapper=_PANDAS_TYPES.get)
    for c in COLUMNS:  # an all-null or empty column must still carry its documented type
        if c.kind == "timestamp":
            frame[c.name] = frame[c.name].astype("datetime64[us, UTC]")
    return frame


def rows_frame(rows: Sequence[Row]) -> pd.DataFrame:
    """Rows (``connectors.export.flatten`` tuples) as the documented DataFrame."""
    return frame_from_batches([record_batch(list(rows))] if rows else [])


def _bound(value: datetime | str | None, name: str) -> datetime | None:
    # Text as on the command line: an ISO date or date-time; an "until" date includes that day.
    if not isinstance(value, str):
        return value
    return parse_until(value) if name == "until" else parse_time(value, name)


def statements_frame(database: str | Database, tenant: str | Sequence[str] | None = None,
                     since: datetime | str | None = None, until: datetime | str | None = None, *,
                     pseudonymise: bool = False, secret_key: str | None = None,
                     settle: timedelta = timedelta(0)) -> pd.DataFrame:
    """Statements stored in ``(since, until]`` of one tenant, several, or all (None), as a DataFrame.
    Bounds are datetimes (naive ones read as UTC) or ISO 8601 text (a date alone means midnight UTC;
    as ``until`` it includes that whole day).

    ``pseudonymise`` replaces learner keys and registrations as pseudonymised exports do; pass the
    hub's ``secret_key`` (HOCVU_SECRET_KEY) so the pseudonyms match the hub's exports. A notebook
    reads everything up to now (``settle`` 0); incremental jobs use ``hocvu export`` and its cursor.

    Months archived to the lake are not in the store: a range covering one gives an
    ``ArchivedMonthsWarning`` naming them, as an export warns, and lists them in the frame's
    ``attrs["archived"]`` (tenant, month, statement count), as an export's summary does."""
    if pseudonymise and not secret_key:
        raise ValueError("pseudonymise=True needs secret_key: the hub's HOCVU_SECRET_KEY")
    db = Database(database) if isinstance(database, str) else database
    tenants = [tenant] if isinstance(tenant, str) else tenant
    query = ExportQuery(tenants=tenants, since=_bound(since, "since"), until=_bound(until, "until"),
                        settle=settle, pseudonymise=pseudonymise)
    try:
        with db.session() as session:
            p = plan(session, query, pseudonym_key=pseudonym_key(secret_key) if secret_key else None)
            frame = frame_from_batches(record_batch(page) for page in iter_rows(session, p))
            frame.attrs["archived"] = archived_in(session, p.tenants, p.since, p.bound)
    finally:
        if isinstance(database, str):
            db.dispose()
    if frame.attrs["archived"]:  # never a silent gap: those months left the store for the lake
        warnings.warn(warning(frame.attrs["archived"], "frame"), ArchivedMonthsWarning, stacklevel=2)
    return frame


def _parser(kind: str) -> Callable[[str], Any]:
    if kind == "int":
        return int
    if kind == "float":
        return float  # Python's float() reads repr() text back exactly
    if kind == "bool":
        return {"true": True, "false": False}.__getitem__
    if kind == "timestamp":
        return datetime.fromisoformat
    return str


_PARSERS = tuple(_parser(c.kind) for c in COLUMNS)


def read_csv(path: str | Path) -> pd.DataFrame:
    """An export CSV as the documented DataFrame (an empty cell is <NA>)."""
    with Path(path).open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        if tuple(header) != NAMES:
            raise ValueError(f"{path} is not a {NAMES[0]}.. export (header {header[:3]}...)")
        rows = [tuple(None if text == "" else parse(text) for parse, text in zip(_PARSERS, line, strict=True))
                for line in reader]
    return rows_frame(rows)


def read_jsonl(path: str | Path) -> pd.DataFrame:
    """An export in JSON Lines as the documented DataFrame."""
    rows = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            rows.append(tuple(datetime.fromisoformat(obj[n]) if KINDS[n] == "timestamp" and obj[n] else obj[n]
                              for n in NAMES))
    return rows_frame(rows)


def read_parquet(directory: str | Path) -> pd.DataFrame:
    """A Parquet export directory (every incremental part) as the documented DataFrame, in export order."""
    import pyarrow.dataset as ds

    schema = arrow_schema()
    partitioning = ds.partitioning(pa.schema([schema.field(n) for n in PARTITION_COLUMNS]), flavor="hive")
    table = ds.dataset(str(directory), format="parquet", partitioning=partitioning).to_table()
    table = table.select(list(NAMES)).cast(schema)
    return frame_from_batches(table.to_batches()).sort_values(SORT, ignore_index=True)
