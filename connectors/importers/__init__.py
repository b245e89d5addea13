"""Importers: files from the systems ministries already run, into a tenant's store (issue 6 §2).

One module per source format — ``caliper`` (IMS Caliper 1.2 envelopes), ``scorm`` (SCORM 1.2/2004
run-time data), ``moodle_log`` (Moodle's standard log export) and ``roster`` (learner rosters) —
each turning the lines of a file into :class:`Record` s or :class:`Rejection` s. The rules every
import follows live here, once:

- **Line by line.** A line that cannot be read or mapped becomes a Rejection with its line number
  and the reason; the import carries on with the next line. A line is all or nothing: when one
  SCORM attempt gives five statements, either all five are stored or the line is rejected.
- **Validated first.** Each statement is checked against the xAPI schema (the store's own
  ``schemas.validate_statement``) before it joins a batch, so the reason names the property.
- **Batches.** Valid records are stored in batches (one ``lrs.statements.store`` call, i.e. one
  multi-row INSERT, per batch) inside a SAVEPOINT. A batch that the store refuses (e.g. one id
  already stored with different content: xAPI 1.0.3 Part Three §2.1.2, 409) is rolled back to the
  savepoint and its records stored one at a time, so only the bad one is rejected.
- **Idempotent.** Statement ids are derived from the source (``parts.derived_id``, uuid5), and the
  store treats a re-sent id with equivalent content as a no-op (Part Three §2.1.2 / Part Two
  §2.3.1). Before each batch the ids already present are counted, so a second run reports
  0 stored and N already present. Roster rows are upserted by (tenant, learner key).
- **Durable progress.** Each batch is committed (a 10-million-line log need not fit one
  transaction; a re-run after an interruption stores only what is missing). A dry run does all
  the same work, then rolls everything back, so its counts are exact.
- **Progress bar.** tqdm over the bytes of the file, on stderr (off when not a terminal).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session
from tqdm import tqdm

import schemas
from lrs import statements as lrs_statements
from lrs.credentials import AUTHORITY_HOME, Principal
from lrs.errors import XapiError
from lrs.storage import Statement
from lrs.versions import XapiVersion

XAPI_VERSION: XapiVersion = "2.0.0"
BATCH_SIZE = 500
# Who vouches for imported statements (xAPI 2.0 §4.2.2.7 authority): the hub's importer, under the
# credentials' home page with a name no credential key can take (keys are "hv_...").
IMPORTER_AUTHORITY = {"objectType": "Agent", "name": "hocvu — nhập dữ liệu / importer",
                      "account": {"homePage": AUTHORITY_HOME, "name": "importer"}}


class SourceError(Exception):
    """The file as a whole cannot be imported (nothing could be read): no usable header, a
    citizen-ID column, a missing option. The CLI exits non-zero with this message."""


class Rejected(Exception):
    """One record cannot be imported; ``reason`` says why, in words a data manager can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str
    item: int | None = None  # the event's position in a Caliper envelope's data array


@dataclass
class Record:
    """One importable unit: a line (or one event of a line) and what it maps to."""

    line: int
    payload: Any  # a list of statements, or a roster row
    keys: tuple[str, ...]  # what must be unique within one batch (statement ids, learner keys)
    item: int | None = None

    def rejection(self, reason: str) -> Rejection:
        return Rejection(self.line, reason, self.item)


@dataclass
class Report:
    """What an import did, for people (text) and scripts (``as_dict``)."""

    format: str
    unit: str = "statements"  # what `stored` and `already_present` count
    record: str = "line"  # what `read` and `rejected` count
    dry_run: bool = False
    read: int = 0
    stored: int = 0
    already_present: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.read - len(self.rejected)

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "dry_run": self.dry_run, "record": self.record, "unit": self.unit,
                "read": self.read, "stored": self.stored, "already_present": self.already_present,
                "rejected": len(self.rejected),
                "rejections": [{"line": r.line, **({"item": r.item} if r.item is not None else {}),
                                "reason": r.reason} for r in self.rejected]}


class Sink(Protocol):
    """Where records go: ``check`` one record (raise Rejected), ``store`` a batch (returns
    (stored, already present); raises on refusal, with the savepoint rolled back by the runner)."""

    def check(self, record: Record) -> None: ...

    def store(self, session: Session, records: list[Record]) -> tuple[int, int]: ...


def importer_principal(tenant_id: int) -> Principal:
    """The importer writes as the hub, like the course player: statements/write, and define
    because the source system is the authority on its own Activities' names (xAPI 1.0.3 Part
    Three §4.2). No credential row exists, so credential_id is None (the column allows it)."""
    return Principal(credential_id=None, tenant_id=tenant_id, key="importer",
                     scopes=frozenset({"statements/write", "define"}), authority=IMPORTER_AUTHORITY)


@dataclass
class StatementSink:
    """Statements into the tenant's LRS through ``lrs.statements.store`` (same rules as the
    xAPI resource), after counting which ids the tenant already holds."""

    principal: Principal
    version: XapiVersion = XAPI_VERSION

    def check(self, record: Record) -> None:
        for statement in record.payload:
            try:
                schemas.validate_statement(statement, self.version)
            except ValidationError as err:
                raise Rejected(lrs_statements.validation_message(err)) from None

    def store(self, session: Session, records: list[Record]) -> tuple[int, int]:
        statements = [s for r in records for s in r.payload]
        ids = [s["id"] for s in statements]
        present = set(session.scalars(select(Statement.statement_id).where(
            Statement.tenant_id == self.principal.tenant_id, Statement.statement_id.in_(ids))))
        lrs_statements.store(session, self.principal, self.version, statements, [])
        return len(ids) - len(present), len(present)


# What the runner treats as "this record is refused" rather than as a failure of the import.
_REFUSALS = (XapiError, Rejected, IntegrityError, DataError)


def _reason(err: Exception) -> str:
    if isinstance(err, XapiError):
        return err.message
    if isinstance(err, Rejected):
        return err.reason
    first = str(getattr(err, "orig", err)).strip().splitlines()
    return "the database refused it: " + (first[0] if first else type(err).__name__)


def run(session: Session, sink: Sink, items: Iterable[Record | Rejection], report: Report,
        *, batch_size: int = BATCH_SIZE) -> Report:
    """Store ``items`` through ``sink`` by the rules in the module docstring; fills ``report``."""
    batch: list[Record] = []
    keys: set[str] = set()
    for item in items:
        report.read += 1
        if isinstance(item, Rejection):
            report.rejected.append(item)
            continue
        try:
            sink.check(item)
        except Rejected as err:
            report.rejected.append(item.rejection(err.reason))
            continue
        if batch and (len(keys) + len(item.keys) > batch_size or keys.intersection(item.keys)):
            # The same id twice in one store() call is a 400 for the whole batch (Part Three
            # §2.1.2), so a repeated key starts a new batch; the repeat then counts as present.
            _flush(session, sink, batch, report)
            batch, keys = [], set()
        batch.append(item)
        keys.update(item.keys)
    if batch:
        _flush(session, sink, batch, report)
    if report.dry_run:
        session.rollback()
    report.rejected.sort(key=lambda r: (r.line, r.item or 0))
    return report


def _open_transaction(session: Session) -> None:
    """Python 3.11's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE, so a SAVEPOINT
    sent first becomes the outermost transaction and its RELEASE commits — and a dry run's final
    rollback would undo nothing. Open the transaction explicitly first (PostgreSQL needs nothing)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if raw is not None and not getattr(raw, "in_transaction", True):
            connection.exec_driver_sql("BEGIN")


def _flush(session: Session, sink: Sink, batch: list[Record], report: Report) -> None:
    _open_transaction(session)
    try:
        with session.begin_nested():
            stored, present = sink.store(session, batch)
    except _REFUSALS:
        stored = present = 0
        for record in batch:  # find the one the store refuses; keep the others
            try:
                with session.begin_nested():
                    one_stored, one_present = sink.store(session, [record])
            except _REFUSALS as err:
                report.rejected.append(record.rejection(_reason(err)))
                continue
            stored += one_stored
            present += one_present
    report.stored += stored
    report.already_present += present
    if not report.dry_run:
        session.commit()


@contextmanager
def source_lines(path: Path, *, progress: bool | None = None, desc: str = "") -> Iterator[Iterator[tuple[int, str]]]:
    """The file's lines as (number, text), with a tqdm bar over its bytes. Bytes that are not
    UTF-8 become U+FFFD (the mappers reject such lines with a reason rather than the whole
    file failing); a UTF-8 byte-order mark (Moodle and Excel write one) is dropped."""
    try:
        size = path.stat().st_size
        handle = path.open("rb")
    except OSError as err:
        raise SourceError(f"cannot read {path}: {err.strerror or err}") from None
    with handle, tqdm(total=size, unit="B", unit_scale=True, desc=desc or path.name, leave=False,
                      disable=None if progress is None else not progress) as bar:
        def lines() -> Iterator[tuple[int, str]]:
            for number, raw in enumerate(handle, start=1):
                bar.update(len(raw))
                text = raw.decode("utf-8", errors="replace")
                yield number, text.removeprefix("\ufeff") if number == 1 else text

        yield lines()


NOT_UTF8 = "the line is not valid UTF-8 (export the file as UTF-8)"


def json_object(text: str, what: str = "a JSON object") -> dict[str, Any]:
    """One line of a JSON Lines file as an object; raises Rejected saying why it is not ``what``."""
    if "\ufffd" in text:
        raise Rejected(NOT_UTF8)
    try:
        data = json.loads(text.strip())
    except json.JSONDecodeError as err:
        raise Rejected(f"not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(data, dict):
        raise Rejected(f"not {what}")
    return data


def csv_rows(lines: Iterator[tuple[int, str]]) -> tuple[list[str], Iterator[tuple[int, list[str] | Rejected]]]:
    """A CSV file's header and its rows as (first line number, cells); quoted cells may span
    lines, blank lines are skipped, a row the csv module cannot split or that is not UTF-8
    (see ``source_lines``) comes as Rejected.
    Raises SourceError when there is no header."""
    reader = csv.reader(text for _, text in lines)
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError("the file is empty: no header line") from None
    except csv.Error as err:
        raise SourceError(f"the header line is not CSV: {err}") from None

    def rows() -> Iterator[tuple[int, list[str] | Rejected]]:
        start = reader.line_num + 1
        while True:
            try:
                cells: list[str] | Rejected = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                cells = Rejected(f"not a CSV row: {err}")
            if isinstance(cells, list) and any("\ufffd" in c for c in cells):
                cells = Rejected(NOT_UTF8)
            if cells:
                yield start, cells
            start = reader.line_num + 1

    return [h.strip() for h in header], rows()
