"""Verifying a chain whose oldest statements were archived to the Parquet lake (issue 17 item 2).

An archived month's statements are gone from the store but their chain entries stay. The registry
``statement_archives`` (one row per tenant and month, written in the transaction that drops the
partition) says which chain positions were archived and pins each archive's manifest by SHA-256.
``verify_tenant`` (lrs.audit.verify) asks an ``ArchiveCheck`` about every 'stored'/'adopted' entry
whose statement is missing from the store:

* not at an archived position: the row was deleted (tampering), as before;
* archived, no archive given to the verifier: counted as *unchecked* (the store's part of the chain
  is still proven; the report says how many statements it could not see);
* archived, the archive is not where it should be: the month is reported *missing*, not tampered;
* archived and found: the archived row's canonical hash must equal the entry's content hash, and
  the manifest and its files their recorded SHA-256; the first that does not is the failure, named;
* archived, then erased (a later 'erased' entry names it: ``hocvu lake erase`` rewrote the month
  without it, connectors.archive.eraser): counted *erased*, not checked; a row missing with no
  such entry is still a removed row.

Reading the archive (Parquet) is not this package's business (``lrs`` imports no connectors): the
composition root passes an ``ArchiveSource`` (connectors.archive.reader).

Proof bundles and the LRS's 404 ask the other way round (issue 17 item 2 follow-up): ``archived_months``
says which of some statements the store lacks were archived, and in which month, from the registry
(``statement_ids``: the id is still taken, so not erased) and the chain (its entry's position is in
a month's archived runs); ``ArchivedRows`` reads chosen rows back from a month's archive.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.audit.chain import STATEMENT_KINDS
from lrs.storage import AuditEntry, Statement, StatementArchive, StatementId


class ArchiveMissing(Exception):
    """The archive of a month is not where the verifier was told to look (not a sign of tampering)."""


@dataclass(frozen=True)
class LoadedArchive:
    """One tenant's month as read back: each archived statement's canonical hash, by id, and what
    is wrong with its files as a whole (manifest or file SHA-256, row count), if anything."""

    hashes: Mapping[str, str]
    where: str  # how to name it in a report, e.g. tenant=moet/month=2026-01
    altered: str | None = None


class ArchiveSource(Protocol):
    def load(self, tenant: str, month: date, manifest_sha256: str) -> LoadedArchive:
        """The archive of ``tenant``'s ``month``; raises ``ArchiveMissing`` when it is not there."""
        ...


@dataclass(frozen=True)
class ArchivedStatement:
    """A statement read back from its month's archive, as stored (its canonical JSON parsed)."""

    statement_id: str
    seq: int
    full: dict[str, Any]
    where: str  # tenant=<slug>/month=<YYYY-MM>


class ArchivedRows(Protocol):
    def find(self, tenant: str, month: date, *, ids: Collection[str] = (),
             registration: str | None = None) -> list[ArchivedStatement]:
        """The rows of ``tenant``'s ``month`` with one of ``ids`` (or, with none, of ``registration``);
        raises ``ArchiveMissing`` when the month is not there."""
        ...

    def files_problem(self, tenant: str, month: date, manifest_sha256: str) -> str | None:
        """What is wrong with the month's files as a whole (the manifest not the pinned one, the
        statements file not the manifest's: rows changed or removed), if anything."""
        ...


def in_runs(runs: Sequence[Sequence[int]], position: int) -> bool:
    """Whether ``position`` is in one of the sorted [first, last] ``runs``."""
    i = bisect.bisect_right([int(r[0]) for r in runs], position) - 1
    return i >= 0 and int(runs[i][0]) <= position <= int(runs[i][1])


def statement_entries(session: Session, tenant_id: int, ids: Iterable[str]) -> dict[str, tuple[int, str | None]]:
    """Each statement's latest 'stored'/'adopted' entry: (position, content hash)."""
    wanted = sorted({i.lower() for i in ids})
    found: dict[str, tuple[int, str | None]] = {}
    for i in range(0, len(wanted), 1000):
        for sid, pos, h in session.execute(select(AuditEntry.statement_id, AuditEntry.position,
                                                  AuditEntry.content_hash).where(
                AuditEntry.tenant_id == tenant_id, AuditEntry.kind.in_(STATEMENT_KINDS),
                AuditEntry.statement_id.in_(wanted[i:i + 1000]))):
            if sid is not None and pos > found.get(sid, (-1, None))[0]:
                found[sid] = (int(pos), h)
    return found


def archived_months(session: Session, tenant_id: int, ids: Iterable[str]) -> dict[str, date]:
    """Of ``ids``, those archived (not in the store, still taken, their entry at an archived
    position), with their month. PostgreSQL only (SQLite archives nothing): empty elsewhere."""
    if session.get_bind().dialect.name != "postgresql":
        return {}
    wanted = sorted({i.lower() for i in ids})
    taken: set[str] = set()
    for i in range(0, len(wanted), 1000):
        chunk = wanted[i:i + 1000]
        taken |= set(session.scalars(select(StatementId.statement_id).where(
            StatementId.tenant_id == tenant_id, StatementId.statement_id.in_(chunk))))
        taken -= set(session.scalars(select(Statement.statement_id).where(
            Statement.tenant_id == tenant_id, Statement.statement_id.in_(chunk))))
    if not taken:
        return {}
    months = session.scalars(select(StatementArchive).where(StatementArchive.tenant_id == tenant_id)).all()
    return {sid: m.month for sid, (pos, _) in statement_entries(session, tenant_id, taken).items()
            for m in months if in_runs(m.positions, pos)}


@dataclass
class _Month:
    row: StatementArchive
    firsts: list[int]
    loaded: LoadedArchive | None = None
    missing: bool = False


@dataclass
class ArchiveCheck:
    """One tenant's archived months, and what verifying against them found."""

    tenant: str
    months: list[_Month]
    source: ArchiveSource | None
    checked: int = 0  # archived statements whose archived row matched its entry
    unchecked: int = 0  # archived statements not checked: no archive given
    missing: list[str] = field(default_factory=list)  # 'YYYY-MM' of archives not found
    erased: int = 0  # archived statements a later 'erased' entry names (removed by `hocvu lake erase`)

    @classmethod
    def of(cls, session: Session, tenant_id: int, tenant: str, source: ArchiveSource | None) -> ArchiveCheck:
        rows = session.scalars(select(StatementArchive).where(StatementArchive.tenant_id == tenant_id)
                               .order_by(StatementArchive.month)).all()
        return cls(tenant, [_Month(r, [int(run[0]) for run in r.positions]) for r in rows], source)

    def _month_at(self, position: int) -> _Month | None:
        for m in self.months:
            i = bisect.bisect_right(m.firsts, position) - 1
            if i >= 0 and m.row.positions[i][0] <= position <= m.row.positions[i][1]:
                return m
        return None

    def erased_entry(self, position: int) -> None:
        """An entry whose statement a later 'erased' entry names, and which the store lacks: counted
        when it was archived (its archive may lack it, by the rewrite the 'erased' entry records)."""
        if self._month_at(position) is not None:
            self.erased += 1

    def _load(self, month: _Month) -> None:
        if month.loaded is None and not month.missing and self.source is not None:
            try:
                month.loaded = self.source.load(self.tenant, month.row.month, month.row.manifest_sha256)
            except ArchiveMissing:
                month.missing = True
                self.missing.append(f"{month.row.month:%Y-%m}")

    def entry(self, position: int, statement_id: str, content_hash: str | None) -> str | None:
        """For an entry whose statement is not in the store: why that is a failure (None: archived,
        and the archive agrees or was not given or is missing)."""
        month = self._month_at(position)
        if month is None:
            return "the statement is missing and no 'erased' entry names it (row deleted)"
        if self.source is None:
            self.unchecked += 1
            return None
        self._load(month)
        if month.loaded is None:
            self.unchecked += 1
            return None
        archived = month.loaded.hashes.get(statement_id)
        if archived is None:
            return f"the archived statement is not in its archive ({month.loaded.where}: row removed)"
        if archived != content_hash:
            return (f"the archived statement's canonical hash differs from its entry "
                    f"({month.loaded.where}: archived row altered)")
        self.checked += 1
        return None

    def after(self) -> str | None:
        """After the walk: an archive whose files as a whole do not match their recorded hashes (every
        month is read, one whose statements were all erased too: its manifest is still pinned)."""
        for m in self.months:
            self._load(m)
            if m.loaded is not None and m.loaded.altered:
                return f"archive {m.loaded.where}: {m.loaded.altered}"
        return None
