"""Statements voided after their month was archived leave the figures (xAPI 1.0.3 Part Two §2.3.2: a
voided statement does not count), from the lake.

The LRS stores such a voiding (the Part Two rule lets it; the target's id stays taken), but the
refresh cannot read the target to take it out of its enrolment, and the hub holds only the month's
sums, not the statement: the refresh notes it (``archived.note_voids``, with a warning) and it keeps
counting until ``apply`` (``hocvu rollups refresh --archive DIR``) finds it in the lake, recomputes
that month's sums without it and recomputes its enrolment, under the tenant's watermark lock.
Guessing its contribution, or dropping the whole enrolment, would make the figures wrong silently;
reading the archive only where it is given keeps the web processes off the lake.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select, update

from connectors.rollups import archived
from connectors.rollups.delta import compute, write
from connectors.rollups.refresh import claim
from connectors.rollups.state import SUMS
from connectors.storage import RollupArchived, RollupArchivedMonth, RollupArchivedVoid
from lrs.storage import Database, StatementArchive, Tenant, as_utc

_NEVER = datetime(1, 1, 1, tzinfo=UTC)


def pending(db: Database, tenant_ids: Sequence[int] | None = None) -> int:
    """How many noted voidings of archived statements still count."""
    from sqlalchemy import func

    with db.session() as session:
        query = select(func.count()).select_from(RollupArchivedVoid).where(RollupArchivedVoid.month.is_(None))
        if tenant_ids is not None:
            query = query.where(RollupArchivedVoid.tenant_id.in_(list(tenant_ids)))
        return int(session.scalar(query) or 0)


def apply(db: Database, chosen: Sequence[tuple[int, str]], root: Path) -> tuple[int, list[str]]:
    """Take the noted voidings of ``chosen`` (id, slug) out, month by month, from the lake at ``root``
    (files checked against the hub's pin). Returns how many were taken out, and a line per month
    that could not be read (its voidings stay noted)."""
    from connectors.archive.layout import STATEMENTS_FILE, month_dir, where
    from connectors.archive.reader import LakeArchive

    taken, left = 0, []
    for tenant_id, slug in chosen:
        with db.session() as session:
            todo = set(session.scalars(select(RollupArchivedVoid.statement_id).where(
                RollupArchivedVoid.tenant_id == tenant_id, RollupArchivedVoid.month.is_(None))))
            months = list(session.execute(select(StatementArchive.month, StatementArchive.manifest_sha256).join(
                RollupArchivedMonth, (RollupArchivedMonth.tenant_id == StatementArchive.tenant_id)
                & (RollupArchivedMonth.month == StatementArchive.month)).where(
                StatementArchive.tenant_id == tenant_id).order_by(StatementArchive.month)))
        for month, pinned in months if todo else []:
            problem = LakeArchive(root).files_problem(slug, month, pinned)
            if problem is not None:
                left.append(f"{where(slug, month)}: {problem}")
                continue
            path = month_dir(root, slug, month) / STATEMENTS_FILE
            here = {r.statement_id for r in LakeArchive(root).find(slug, month, ids=sorted(todo))} & todo
            if here:
                taken += _take_out(db, tenant_id, slug, month, path, here)
                todo -= here
    return taken, left


def _take_out(db: Database, tenant_id: int, slug: str, month: date, path: Path, ids: set[str]) -> int:
    """One month: its sums without every statement voided since, and the enrolments that changed
    recomputed (live statements up to the watermark plus archived sums), in one transaction."""
    with db.session() as session:
        state = claim(session, tenant_id)  # no refresh of the tenant meanwhile
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        a = RollupArchived
        old = {(r.course_id, r.actor_key): tuple(getattr(r, n) for n in ("first", *SUMS))
               for r in session.scalars(select(a).where(a.tenant_id == tenant_id, a.month == month))}
        session.execute(update(RollupArchivedVoid).where(RollupArchivedVoid.tenant_id == tenant_id,
                                                         RollupArchivedVoid.statement_id.in_(sorted(ids)))
                        .values(month=month))
        states = archived.known(session, tenant_id, month,
                                archived.month_states(path, slug, archived.voided_ids(session, tenant_id)))
        archived.record(session, tenant_id, month, states)
        new = {k: (st.first, *(getattr(st, n) for n in SUMS)) for k, st in states.items()}
        dirty = {k for k in old.keys() | new.keys() if _norm(old.get(k)) != _norm(new.get(k))}
        upto = (as_utc(state.stored), state.seq) if state.stored is not None else (_NEVER, 0)
        write(session, compute(session, tenant, {}, dirty, upto, whole=False))
        session.commit()
    return len(ids)


def _norm(values: tuple[object, ...] | None) -> tuple[object, ...] | None:
    if values is None:
        return None
    return (as_utc(values[0]), *values[1:])  # type: ignore[arg-type]
