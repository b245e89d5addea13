"""Proof bundles of statements whose month was archived to the lake (issue 17 item 2 follow-up).

``hocvu lake archive`` moves a month's statements out of the store; their chain entries, signed
checkpoints and signature attachments stay. A bundle of them is built the same way as a live one:
the rows come from the month's archive (an ``lrs.audit.archived.ArchivedRows`` the composition root
passes: ``hocvu audit bundle --archive DIR``), each checked first against the tenant's chain: the row
must hold the statement its id names, that id's latest 'stored'/'adopted' entry must be at a
position the registry records as archived in *that* month (a row of another tenant or another month
has none there), and the statement's canonical hash must be the entry's content hash. Then the
month's files must be the ones the registry pins (a row removed from the file shows there, as the
rows found may all match): for chosen statements their months, for an attempt the months it has rows
in and their neighbours (read through once each, streamed; not every month of the tenant). Anything
else refuses the bundle, naming the statement or the month.

Without an archive (the web pages cannot reach an offline one; the CLI without ``--archive``) a
bundle that needs archived statements is refused (``StatementsArchived``) naming the months and how
to build it: never a bundle silently missing them. Chosen statements' months are exact (registry and
chain). An attempt's are not known without reading the archive (the chain does not carry the
registration), so: no live statement of the attempt and archived months of the tenant name those
months as where it may be; live statements starting within ``STRADDLE`` of an archived month's end
(an attempt begun before midnight of the month's last day) are refused as possibly partial.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.auditor import proof_bundle
from identity.auditor import queries as aq
from identity.auditor.signals import DEFAULT_REPEATED_FAILURES
from identity.gate.face import CHECK_VERB
from identity.stamp import stamp_of
from lrs import partitions
from lrs.audit.archived import (
    ArchivedRows,
    ArchivedStatement,
    ArchiveMissing,
    archived_months,
    in_runs,
    statement_entries,
)
from lrs.audit.chain import content_hash
from lrs.errors import NotFound
from lrs.storage import Statement, StatementArchive, Tenant
from schemas.cmi5 import EXT_SESSION

STRADDLE: Final = timedelta(days=1)
Row = Statement | ArchivedStatement


class StatementsArchived(NotFound):
    """The statements asked for are (or may be) in archived months this caller cannot read."""

    code = "archived"

    def __init__(self, message: str, months: Iterable[str]) -> None:
        super().__init__(message)
        self.months = sorted(set(months))


class ArchiveRefused(Exception):
    """An archived row, or its month's files, does not prove what the chain says: no bundle."""


def _how(slug: str, target: str) -> str:
    return (f"build its proof bundle from the archive: `hocvu audit bundle --tenant {slug} {target} "
            "--archive DIR -o proof.json` (DIR: where `hocvu lake archive` wrote them)")


def _tenant_id(session: Session, slug: str) -> int:
    tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if tenant_id is None:
        raise NotFound(f"no tenant {slug!r}")
    return int(tenant_id)


def _registry(session: Session, tenant_id: int) -> list[StatementArchive]:
    return list(session.scalars(select(StatementArchive).where(StatementArchive.tenant_id == tenant_id)
                                .order_by(StatementArchive.month)))


def chosen(session: Session, tenant_id: int, slug: str, ids: Iterable[str],
           source: ArchivedRows | None) -> list[Row]:
    """Chosen statements, live or archived, in seq order; NotFound names an id that is neither."""
    wanted = sorted({i.lower() for i in ids})
    live: list[Row] = list(proof_bundle.statements_of(session, tenant_id, wanted))
    missing = sorted(set(wanted) - {r.statement_id for r in live})
    months = archived_months(session, tenant_id, missing)
    absent = [m for m in missing if m not in months]
    if absent:
        raise NotFound(f"tenant {slug!r} has no statement {absent[0]}")
    if not months:
        return live
    names = sorted({f"{m:%Y-%m}" for m in months.values()})
    if source is None:
        raise StatementsArchived(f"{len(months)} of the chosen statement(s) archived, in month(s) {', '.join(names)} "
                                 f"of tenant {slug}: {_how(slug, '--statement ID ...')}", names)
    registry = {r.month: r for r in _registry(session, tenant_id)}
    found: list[Row] = []
    for month in sorted(set(months.values())):
        ids_there = [sid for sid, m in months.items() if m == month]
        rows = _read(session, tenant_id, slug, registry[month], source, ids=ids_there)
        lost = sorted(set(ids_there) - {r.statement_id for r in rows})
        if lost:
            raise ArchiveRefused(f"{rows[0].where if rows else f'{month:%Y-%m}'}: archived statement {lost[0]} "
                                 "is not in its archive (row removed)")
        found += rows
    _check_files(slug, [registry[m] for m in sorted(set(months.values()))], source)
    return sorted([*live, *found], key=lambda r: r.seq)


def _read(session: Session, tenant_id: int, slug: str, month: StatementArchive, source: ArchivedRows, *,
          ids: Sequence[str] = (), registration: str | None = None) -> list[ArchivedStatement]:
    """Rows of one archived month, each checked against its chain entry."""
    try:
        found = source.find(slug, month.month, ids=ids, registration=registration)
    except ArchiveMissing as err:
        raise ArchiveRefused(f"archive not found: {err}") from None
    entries = statement_entries(session, tenant_id, [r.statement_id for r in found])
    for r in found:
        sid, entry = r.statement_id, entries.get(r.statement_id.lower())
        if str(r.full.get("id", "")).lower() != sid.lower():
            raise ArchiveRefused(f"{r.where}: the row of statement {sid} holds another statement (swapped)")
        if entry is None or not in_runs(month.positions, entry[0]):
            raise ArchiveRefused(f"{r.where}: statement {sid} was not archived in this month of tenant {slug} "
                                 "(no entry of its chain at an archived position): the row is not this archive's")
        if content_hash(r.full) != entry[1]:
            raise ArchiveRefused(f"{r.where}: statement {sid}: its canonical hash differs from its chain entry at "
                                 f"position {entry[0]} (archived row altered)")
    return found


def _check_files(slug: str, months: Iterable[StatementArchive], source: ArchivedRows) -> None:
    """After the rows (so an altered row is named first): each month's files are the pinned ones."""
    for m in months:
        problem = source.files_problem(slug, m.month, m.manifest_sha256)
        if problem:
            raise ArchiveRefused(f"tenant={slug}/month={m.month:%Y-%m}: {problem}")


def _session_of(full: dict[str, Any]) -> str | None:
    ext = (full.get("context") or {}).get("extensions")
    value = ext.get(EXT_SESSION) if isinstance(ext, dict) else None
    return value if isinstance(value, str) else None


def _near_archived(session: Session, tenant_id: int, rows: Sequence[Statement]) -> list[str]:
    """The archived month just before the attempt's first live statement, when that statement was
    stored within ``STRADDLE`` of the month's end (the attempt may have begun in it)."""
    first = min(r.stored if r.stored.tzinfo else r.stored.replace(tzinfo=UTC) for r in rows)
    start = datetime(first.year, first.month, 1, tzinfo=UTC)
    before = (start - timedelta(days=1)).date().replace(day=1)
    if first - start >= STRADDLE:
        return []
    return [f"{m.month:%Y-%m}" for m in _registry(session, tenant_id) if m.month == before]


def attempt(session: Session, tenant: str, registration: str, session_id: str, certificates: Sequence[bytes],
            source: ArchivedRows | None, repeated_failures: int = DEFAULT_REPEATED_FAILURES
            ) -> tuple[int, dict[str, Any], list[Row]]:
    """An attempt's statements for its bundle: (tenant id, selection, rows in seq order)."""
    registration = registration.lower()
    target = f"--registration {registration} --session {session_id}"
    tenant_id = _tenant_id(session, tenant)
    live_attempt: aq.Attempt | None = None
    try:
        live_attempt = aq.get_attempt(session, tenant, registration, session_id, certificates, repeated_failures)
    except NotFound as err:
        not_live = err
    live = proof_bundle.statements_of(session, tenant_id,
                                      [s.statement_id for s in live_attempt.statements] if live_attempt else [])
    registry = _registry(session, tenant_id)
    selection: dict[str, Any] = {"attempt": {"registration": registration, "session_id": session_id}}
    if source is None:
        months = [f"{m.month:%Y-%m}" for m in registry] if not live else _near_archived(session, tenant_id, live)
        if not months:
            if live_attempt is None:
                raise not_live
            return tenant_id, selection, list(live)
        said = ("has no live statement; it may be in the archived month(s) " if not live else
                "began within a day of archived month ")
        raise StatementsArchived(f"the attempt {said}{', '.join(months)} of tenant {tenant}: {_how(tenant, target)}",
                                 months)
    found: list[ArchivedStatement] = []
    reached: set[date] = set()  # the months the attempt has rows in, and the one before its live part
    for m in registry:
        rows_there = [r for r in _read(session, tenant_id, tenant, m, source, registration=registration)
                      if _session_of(r.full) == session_id]
        reached |= {m.month} if rows_there else set()
        found += rows_there
    if live:
        reached.add(partitions.add_months(partitions.month_start(min(r.stored for r in live)), -1))
    # A row removed from a month shows only in that month's file: the months the attempt reaches, and
    # each one's neighbours (an attempt lasts less than a month), not every month of the tenant.
    near = {partitions.add_months(m, d) for m in reached for d in (-1, 0, 1)}
    _check_files(tenant, [m for m in registry if m.month in near], source)
    rows: list[Row] = sorted([*live, *found], key=lambda r: r.seq)
    if not any(stamp_of(r.full) is not None or (r.full.get("verb") or {}).get("id") == CHECK_VERB for r in rows):
        raise NotFound(f"tenant {tenant!r} has no identity-assured attempt {session_id!r} in registration "
                       f"{registration!r}, live or archived")
    return tenant_id, selection, rows


def live_attempt_or_archived(session: Session, tenant: str, registration: str, session_id: str,
                             certificates: Sequence[bytes], repeated_failures: int) -> aq.Attempt:
    """``queries.get_attempt`` for the web pages: an attempt not among the live statements of a tenant
    with archived months is answered with those months and how to get its bundle."""
    try:
        return aq.get_attempt(session, tenant, registration, session_id, certificates, repeated_failures)
    except NotFound:
        months = [f"{m.month:%Y-%m}" for m in _registry(session, _tenant_id(session, tenant))]
        if not months:
            raise
        target = f"--registration {registration.lower()} --session {session_id}"
        raise StatementsArchived(f"tenant {tenant!r} has no live statement of attempt {session_id!r}; its statements "
                                 f"may be in the archived month(s) {', '.join(months)} (moved to the lake), which "
                                 f"these pages cannot read: {_how(tenant, target)}", months) from None

