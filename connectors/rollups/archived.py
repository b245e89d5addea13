"""What archived months add to the rollups (data-loss fix, migration 0200).

The rollups keep one row of *sums* per enrolment, across months. ``hocvu lake archive`` moves a
month's statements to the Parquet lake and drops its partition, so every path that recomputes an
enrolment from the live statements (``rebuild`` from zero, a voiding's recompute, a report tail's)
would silently lose what that month had added: the dashboard would show fewer learners and
completions than before, and say nothing. So the month's own sums per enrolment are kept here
(``report_archived_enrolments``), computed from the files the archive wrote (the statements as
stored, by the rollups' own field rules, ``fields.course_row``), in the transaction that drops the
partition; a recompute adds them to the live statements' sums, a rebuild starts from them. A
month is only taken once the tenant's watermark is past all its statements (``take_month``
refuses otherwise): statements the refresh never read would leave the store uncounted.

Erasure: the erased learner's archived sums go with her live ones (``forget``), at once, though the
lake's rows go later (``hocvu lake erase``), so she is never countable again; a month the eraser
rewrites has its sums recomputed from the rewritten file (``restate_month``). Months archived
before migration 0200 are not listed (``missing``): a rebuild refuses while a tenant has one,
naming them, until ``--archive DIR`` computes them from the lake (``fill``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from connectors.rollups.fields import course_row
from connectors.rollups.state import SUMS, VOIDED, State
from connectors.storage import RollupArchived, RollupArchivedMonth, RollupArchivedVoid
from lrs.storage import ArchiveErasure, Database, StatementArchive, StatementId, as_utc, dialect_insert

log = logging.getLogger(__name__)
Key = tuple[str, str]  # (course_id, actor_key)
CHUNK: Final = 500
_BATCH: Final = 10_000


class RebuildRefused(Exception):
    """A rebuild would lose archived months' figures (their sums are not kept): nothing was forgotten."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class _Row:
    """An archived row as ``course_row`` reads it (the statement as stored, whole)."""

    stored: datetime
    verb_id: str
    full: str


def month_states(path: Path, slug: str, skip: Collection[str] = ()) -> dict[Key, State]:
    """Each enrolment's sums over an archived month's statements file (``statements.parquet``),
    as the refresh adds live statements: rows voided (when archived, or since: ``skip``) and
    voiding statements count nothing (xAPI 1.0.3 Part Two §2.3.2)."""
    import pyarrow.parquet as pq

    states: dict[Key, State] = {}
    for batch in pq.ParquetFile(path).iter_batches(_BATCH, columns=["statement_id", "stored", "actor_key", "verb_id",
                                                                     "voided", "statement"]):
        for sid, stored, actor, verb, voided, text in zip(*(c.to_pylist() for c in batch.columns), strict=True):
            if voided or verb == VOIDED or sid in skip:
                continue
            course, flat = course_row(_Row(stored, verb, text), slug)
            if course is not None:
                states.setdefault((course, actor), State(flat[0])).add(flat)
    return states


def record(session: Session, tenant_id: int, month: date, states: dict[Key, State]) -> None:
    """The month's sums, replacing any it had, and the month listed (the caller's transaction)."""
    session.execute(delete(RollupArchived).where(RollupArchived.tenant_id == tenant_id,
                                                 RollupArchived.month == month))
    rows = [{"tenant_id": tenant_id, "month": month, "course_id": c, "actor_key": a, "first": st.first,
             **{n: getattr(st, n) for n in SUMS}} for (c, a), st in sorted(states.items())]
    for start in range(0, len(rows), _BATCH):
        session.execute(insert(RollupArchived), rows[start:start + _BATCH])
    listed = session.get(RollupArchivedMonth, (tenant_id, month))
    if listed is None:
        session.add(RollupArchivedMonth(tenant_id=tenant_id, month=month, enrolments=len(rows),
                                        computed=datetime.now(UTC)))
    else:
        listed.enrolments, listed.computed = len(rows), datetime.now(UTC)
    session.flush()


def sums(session: Session, tenant_id: int, actors: Sequence[str]) -> dict[Key, State]:
    """These learners' archived sums per enrolment, all months added."""
    a = RollupArchived
    found: dict[Key, State] = {}
    for start in range(0, len(actors), CHUNK):
        for row in session.execute(select(a.course_id, a.actor_key, a.first, *(getattr(a, n) for n in SUMS)).where(
                a.tenant_id == tenant_id, a.actor_key.in_(actors[start:start + CHUNK]))):
            st = State(as_utc(row[2]), **dict(zip(SUMS, row[3:], strict=True)))
            key = (row[0], row[1])
            found[key] = found[key].merged(st) if key in found else st
    return found


def actors(session: Session, tenant_id: int) -> list[str]:
    return sorted(set(session.scalars(select(RollupArchived.actor_key).where(RollupArchived.tenant_id == tenant_id))))


def forget(session: Session, tenant_id: int, actor: str) -> None:
    """An erasure: the learner's archived sums go now (the lake's rows at ``hocvu lake erase``)."""
    session.execute(delete(RollupArchived).where(RollupArchived.tenant_id == tenant_id,
                                                 RollupArchived.actor_key == actor))


def note_voids(session: Session, tenant_id: int, orphans: Sequence[tuple[str, str]]) -> int:
    """Of voidings whose target the store does not hold, note those whose target it held (its id
    still taken, PostgreSQL's registry: archived or detached) for ``archived_voids.apply``; an id
    never stored is no statement to take out (Part Two §2.3.2 lets the voiding be stored anyway)."""
    if not orphans or session.get_bind().dialect.name != "postgresql":
        return 0
    by_target = dict(orphans)
    held = set(session.scalars(select(StatementId.statement_id).where(
        StatementId.tenant_id == tenant_id, StatementId.statement_id.in_(sorted(by_target)))))
    rows = [{"tenant_id": tenant_id, "statement_id": t, "voided_by": by_target[t], "noted": datetime.now(UTC),
             "month": None} for t in sorted(held)]
    if rows:
        session.execute(dialect_insert(session)(RollupArchivedVoid).on_conflict_do_nothing(), rows)
        log.warning("rollups: %d statement(s) voided after their month was archived still count until "
                    "`hocvu rollups refresh --archive DIR` takes them out", len(rows))
    return len(rows)


def voided_ids(session: Session, tenant_id: int) -> set[str]:
    """The tenant's statements voided after they were archived: no archived month's sums count them."""
    return set(session.scalars(select(RollupArchivedVoid.statement_id).where(
        RollupArchivedVoid.tenant_id == tenant_id)))


def missing(session: Session, tenant_id: int) -> list[date]:
    """The tenant's archived months whose sums are not kept (archived before migration 0200)."""
    listed = select(RollupArchivedMonth.month).where(RollupArchivedMonth.tenant_id == tenant_id)
    return list(session.scalars(select(StatementArchive.month).where(
        StatementArchive.tenant_id == tenant_id, StatementArchive.month.not_in(listed))
        .order_by(StatementArchive.month)))


def detached(db: Database, chosen: Sequence[tuple[int, str]]) -> list[str]:
    """The detached months (``hocvu db partitions --detach``, not archived yet) holding statements of
    ``chosen`` (id, slug), one line each: they are in no query, and their sums are kept only when
    they are archived, so a rebuild now would drop them from the figures."""
    from sqlalchemy import text

    from lrs import partitions

    left: list[str] = []
    with db.session() as session:
        conn = session.connection()
        for name in partitions.detached(conn):
            for tenant_id, slug in chosen:
                if conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {name} WHERE tenant_id = :t)"),
                                {"t": tenant_id}).scalar():
                    left.append(f"{slug} {partitions.month_of(name):%Y-%m}: detached, not archived: archive it "
                                "(`hocvu lake archive`) or attach it again first")
    return left


def take_month(session: Session, partition: str, month: date, tenants: Sequence[tuple[int, str, Path]]) -> None:
    """``hocvu lake archive``, in the transaction that drops ``partition``: each tenant's sums of the
    month from the files just written (``tenants``: id, slug, statements file). The watermark table
    is locked (a refresher's batch waits, a rebuild too) and each tenant that has rollups must have
    read every statement of the month: else ``ArchiveRefused`` (the partition stays)."""
    conn = session.connection()
    conn.exec_driver_sql("LOCK TABLE report_rollup_state IN SHARE ROW EXCLUSIVE MODE")
    behind = [str(slug) for (slug,) in conn.exec_driver_sql(
        f"SELECT t.slug FROM tenants t JOIN report_rollup_state r ON r.tenant_id = t.id WHERE EXISTS ("
        f"SELECT 1 FROM {partition} p WHERE p.tenant_id = t.id AND (r.stored IS NULL OR "
        f"(p.stored, p.seq) > (r.stored, r.seq))) ORDER BY t.slug")]
    if behind:
        raise ArchiveRefused(f"the report rollups of {', '.join(behind)} have not read every statement of "
                             f"{month:%Y-%m} yet: archived now, those statements would never count on the "
                             "dashboard; run `hocvu rollups refresh`, then archive again")
    for tenant_id, slug, path in tenants:
        record(session, tenant_id, month, month_states(path, slug, voided_ids(session, tenant_id)))


class ArchiveRefused(Exception):
    """The month cannot leave the store yet without losing rollup figures (the partition stays)."""


def restate_month(session: Session, tenant_id: int, slug: str, month: date, path: Path) -> None:
    """A month the eraser rewrote: its sums from the rewritten file (the removed rows of *other*
    learners that named the erased one leave it; a month not listed stays so)."""
    if session.get(RollupArchivedMonth, (tenant_id, month)) is not None:
        record(session, tenant_id, month, known(session, tenant_id, month,
                                                month_states(path, slug, voided_ids(session, tenant_id))))


def known(session: Session, tenant_id: int, month: date, states: dict[Key, State]) -> dict[Key, State]:
    """Of a month's sums recomputed from its file after rows left it (an erasure's rewrite, a voiding),
    only the enrolments it had: the file may still hold a learner erased since whose own rewrite is
    pending, and ``forget`` took her out; a recompute must not count her again (privacy rule)."""
    had = {(str(c), str(a)) for c, a in session.execute(select(RollupArchived.course_id, RollupArchived.actor_key)
                                                         .where(RollupArchived.tenant_id == tenant_id,
                                                                RollupArchived.month == month))}
    return {k: st for k, st in states.items() if k in had}


def erasure_pending(session: Session, tenant_id: int, month: date) -> bool:
    """An erasure waits for ``hocvu lake erase`` on this month: its file still holds the learner."""
    return session.scalar(select(ArchiveErasure.month).where(
        ArchiveErasure.tenant_id == tenant_id, ArchiveErasure.month == month).limit(1)) is not None


def fill(db: Database, chosen: Sequence[tuple[int, str]], root: Path | None) -> tuple[list[str], list[str]]:
    """Compute the sums of the months of ``chosen`` (id, slug) not listed, from the lake at ``root``
    (each month's files checked against the manifest the hub pinned first). Returns the months
    computed (``tenant=…/month=…``) and what is still missing, one line each (all of it without
    ``root``)."""
    from connectors.archive.layout import STATEMENTS_FILE, month_dir, where
    from connectors.archive.reader import LakeArchive

    done: list[str] = []
    left: list[str] = []
    for tenant_id, slug in chosen:
        with db.session() as session:
            months = missing(session, tenant_id)
        for month in months:
            if root is None:
                left.append(f"{where(slug, month)}: archived before its figures were kept")
                continue
            with db.session() as session:
                pinned = session.scalar(select(StatementArchive.manifest_sha256).where(
                    StatementArchive.tenant_id == tenant_id, StatementArchive.month == month)) or ""
                pending = erasure_pending(session, tenant_id, month)
            if pending:  # its file still holds an erased learner: counted from it, she would be again
                left.append(f"{where(slug, month)}: an erasure is pending for it: run `hocvu lake erase --archive "
                            "DIR` first")
                continue
            problem = LakeArchive(root).files_problem(slug, month, pinned)
            if problem is not None:
                left.append(f"{where(slug, month)}: {problem}")
                continue
            with db.session() as session:
                skip = voided_ids(session, tenant_id)
            states = month_states(month_dir(root, slug, month) / STATEMENTS_FILE, slug, skip)
            with db.session() as session:
                row = session.get(StatementArchive, (tenant_id, month), with_for_update=True)
                if row is not None and row.manifest_sha256 == pinned:  # nobody rewrote it meanwhile
                    record(session, tenant_id, month, states)
                    session.commit()
                    done.append(where(slug, month))
                    log.info("rollups: %s computed from the lake (%d enrolments)", where(slug, month), len(states))
                else:
                    left.append(f"{where(slug, month)}: rewritten while it was read; run it again")
    return done, left


def refused(left: list[str]) -> RebuildRefused:
    lines = "\n  ".join(left)
    how = ("archive or attach them first" if all("detached" in line for line in left) else
           "give the lake archive (`hocvu rollups refresh --rebuild --archive DIR`, the directory of "
           "`hocvu lake archive --to DIR`) so their figures are computed from its files first")
    return RebuildRefused(
        "a rebuild recomputes the rollups from the live statements, and these months' figures are not kept "
        f"in the hub:\n  {lines}\nnothing was forgotten: {how}.")
