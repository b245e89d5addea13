"""Writing an export: CSV (UTF-8), JSON Lines, or Parquet partitioned Hive-style by tenant and date.

``export_statements`` drives one export: resolve the plan, stream pages from ``connectors.export``
into a writer, show a progress bar when a person is watching, and return the rows written, the
files and the cursor for the next incremental export. ``csv_chunks`` / ``jsonl_chunks`` are also
what the reports blueprint streams over HTTP, so a file and a download are byte-for-byte the same.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from sqlalchemy.orm import Session

from connectors.archive.coverage import archived_in
from connectors.export import PAGE_SIZE, ExportQuery, Row, count, iter_rows, plan
from connectors.export_schema import COLUMNS, NAMES, PARTITION_COLUMNS, arrow_schema
from lrs.errors import BadRequest

FORMATS: Final = ("csv", "jsonl", "parquet")


def _text(kind: str) -> Callable[[Any], str]:
    """How a value of ``kind`` is written in CSV (``""`` for absent; see the schema's types table)."""
    if kind == "bool":
        return lambda v: "" if v is None else ("true" if v else "false")
    if kind == "float":
        return lambda v: "" if v is None else repr(float(v))  # repr: the shortest text that reads back exactly
    if kind == "timestamp":
        return lambda v: "" if v is None else v.astimezone(UTC).isoformat(timespec="microseconds").replace(
            "+00:00", "Z")
    return lambda v: "" if v is None else str(v)


_CSV: Final = tuple(_text(c.kind) for c in COLUMNS)
_JSON: Final = tuple(_text(c.kind) if c.kind == "timestamp" else (lambda v: v) for c in COLUMNS)


def csv_chunks(pages: Iterable[list[Row]]) -> Iterator[str]:
    """The header line, then one chunk of CSV text per page (RFC 4180 quoting, CRLF line ends)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(NAMES)
    for page in pages:
        writer.writerows([[f(v) for f, v in zip(_CSV, row, strict=True)] for row in page])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    if buf.tell():
        yield buf.getvalue()


def jsonl_chunks(pages: Iterable[list[Row]]) -> Iterator[str]:
    """One JSON object per line, keys in schema order; absent values are null."""
    for page in pages:
        yield "".join(json.dumps(dict(zip(NAMES, [f(v) for f, v in zip(_JSON, row, strict=True)], strict=True)),
                                 ensure_ascii=False, separators=(",", ":")) + "\n" for row in page)


def record_batch(page: list[Row]) -> Any:
    """One page as a pyarrow RecordBatch of the export schema."""
    import pyarrow as pa

    schema = arrow_schema()
    columns = list(zip(*page, strict=True)) if page else [() for _ in NAMES]
    return pa.RecordBatch.from_arrays([pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)],
                                      schema=schema)


def write_parquet(pages: Iterable[list[Row]], directory: Path, token: str) -> list[str]:
    """Write pages under ``directory/tenant=<slug>/date=<YYYY-MM-DD>/part-<token>-<n>.parquet``.

    Files of earlier exports are kept (each export's ``token`` is new), so incremental exports into
    one directory add to the dataset rather than replace it."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    schema = arrow_schema()
    partitioning = ds.partitioning(pa.schema([schema.field(n) for n in PARTITION_COLUMNS]), flavor="hive")
    written: list[str] = []
    directory.mkdir(parents=True, exist_ok=True)
    ds.write_dataset(
        pa.RecordBatchReader.from_batches(schema, (record_batch(p) for p in pages if p)),
        directory, format="parquet", partitioning=partitioning, basename_template=f"part-{token}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore", file_visitor=lambda f: written.append(f.path),
        preserve_order=True,
    )
    return sorted(written)


@dataclass
class ExportResult:
    rows: int
    cursor: str
    files: list[str] = field(default_factory=list)
    # Archived months the range covers, which the store no longer holds (connectors.archive.coverage).
    archived: list[dict[str, Any]] = field(default_factory=list)


def _progress(pages: Iterable[list[Row]], total: int | None, show: bool) -> Iterator[list[Row]]:
    if not show:
        yield from pages
        return
    from tqdm import tqdm

    # Scaled units (1.2M) only where they help: "4.00/4.00" would read oddly on a small export.
    with tqdm(total=total, unit=" rows", unit_scale=bool(total and total >= 100_000), desc="export",
              file=sys.stderr) as bar:
        for page in pages:
            bar.update(len(page))
            yield page


def export_statements(session: Session, query: ExportQuery, fmt: str, out: str | Path | IO[str], *,
                      pseudonym_key: bytes | None = None, progress: bool | None = None,
                      page_size: int = PAGE_SIZE, now: datetime | None = None) -> ExportResult:
    """Export to ``out``: a file path (CSV, JSON Lines), a directory (Parquet), "-" or an open text
    stream (CSV, JSON Lines). ``progress`` None shows the bar only when stderr is a terminal."""
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    p = plan(session, query, pseudonym_key=pseudonym_key, now=now)
    archived = archived_in(session, p.tenants, p.since, p.bound)
    show = sys.stderr.isatty() if progress is None else progress
    rows = 0

    def counted() -> Iterator[list[Row]]:
        nonlocal rows
        for page in _progress(iter_rows(session, p, page_size=page_size), count(session, p) if show else None,
                              show):
            rows += len(page)
            yield page

    if fmt == "parquet":
        if not isinstance(out, str | Path) or str(out) == "-":
            raise BadRequest("a Parquet export is written to a directory: pass its path")
        stamp = p.bound.strftime("%Y%m%dT%H%M%S%fZ")
        files = write_parquet(counted(), Path(out), f"{stamp}-{secrets.token_hex(3)}")
        return ExportResult(rows, p.cursor, files, archived)
    chunks = csv_chunks(counted()) if fmt == "csv" else jsonl_chunks(counted())
    if isinstance(out, str | Path) and str(out) != "-":
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            fh.writelines(chunks)
        return ExportResult(rows, p.cursor, [str(path)], archived)
    stream = sys.stdout if str(out) == "-" else out
    assert not isinstance(stream, str | Path)
    stream.writelines(chunks)
    stream.flush()
    return ExportResult(rows, p.cursor, [], archived)
