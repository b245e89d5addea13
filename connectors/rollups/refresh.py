"""The watermark and its lock: ``refresh`` moves each tenant's rollups forward batch by batch; ``tail``
is what a report adds, read-only, for the statements after the watermark; erasure and province
changes restate enrolments (see the package docstring)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.rollups import archived
from connectors.rollups.delta import (
    Delta,
    Key,
    batch_changes,
    chunks,
    compute,
    load_enrolments,
    moves,
    provinces,
    write,
)
from connectors.rollups.fields import columns
from connectors.rollups.state import State
from connectors.storage import RollupEnrolment, RollupState
from lrs.storage import Database, Statement, Tenant, as_utc

log = logging.getLogger(__name__)
BATCH: Final = 5000
# PostgreSQL: the refresh's reads look rows up by (tenant_id, actor_key) IN (...). With statistics
# of a near-empty table (a first refresh; autovacuum off or behind), the planner scans the whole
# tenant for each lookup instead (measured: 0.75 s a lookup at 300k rows, the refresh slowing as it
# grows). So a refresh ANALYZEs its tables after this many statements, then after twice as many,
# and so on: a few cheap samples while the tables grow from nothing, none in steady state.
ANALYZE_AFTER: Final = 20_000
ROLLUP_TABLES: Final = ("report_enrolments", "report_group_learners", "report_groups")
# A report adds at most this many fresh statements (all its tenants together; ≈ 1 ms each): past
# that it shows the rollups as of their watermark, and says so, so a page's cost stays bounded.
TAIL_MAX: Final = 200
SEED_ACTORS: Final = 5000  # learners whose archived sums a seed reads and writes at once


@dataclass
class Counted:
    """What one ``refresh`` did, for the CLI and logs."""

    tenants: int = 0
    statements: int = 0
    batches: int = 0
    recomputed: int = 0
    behind: dict[str, float] = field(default_factory=dict)  # tenant slug -> seconds its watermark is behind


def claim(session: Session, tenant_id: int) -> RollupState:
    """The tenant's watermark row, locked: an UPDATE first (a row lock on PostgreSQL, the write lock
    on SQLite), so a second refresher waits here and then reads where this one ended."""
    bump = update(RollupState).where(RollupState.tenant_id == tenant_id).values(runs=RollupState.runs + 1)
    if session.execute(bump).rowcount == 0:  # type: ignore[attr-defined]
        try:
            with session.begin_nested():
                session.add(RollupState(tenant_id=tenant_id, stored=None, seq=0, statements=0, runs=0))
        except IntegrityError:
            pass  # another refresher made it first
        else:  # the tenant's rollups start here: from its archived months' sums, then its live statements
            seed(session, tenant_id)
        session.execute(bump)
    return session.scalars(select(RollupState).where(RollupState.tenant_id == tenant_id)
                           .execution_options(populate_existing=True)).one()


def _after(session: Session, tenant_id: int, mark: tuple[datetime | None, int], bound: datetime | None,
           limit: int) -> list[Any]:
    """Statements of the tenant after the watermark (keyset stored, seq), up to ``bound``."""
    s = Statement
    conds: list[Any] = [s.tenant_id == tenant_id]
    if bound is not None:
        conds.append(s.stored <= bound.astimezone(UTC))
    if mark[0] is not None:
        at = as_utc(mark[0])
        conds += [s.stored >= at, or_(s.stored > at, and_(s.stored == at, s.seq > mark[1]))]
    return list(session.connection().execute(select(*columns(session), s.voided).where(*conds)
                                             .order_by(s.stored, s.seq).limit(limit)).all())


def refresh_batch(session: Session, tenant: Tenant, bound: datetime, batch: int = BATCH) -> tuple[int, int]:
    """One batch of one tenant, in the caller's transaction (commit after). Returns (statements
    read, enrolments recomputed); fewer than ``batch`` read means the tenant is up to ``bound``."""
    state = claim(session, tenant.id)
    rows = _after(session, tenant.id, (state.stored, state.seq), bound, batch)
    state.refreshed = datetime.now(UTC)
    if not rows:
        return 0, 0
    orphans: list[tuple[str, str]] = []
    deltas, dirty = batch_changes(session, tenant, rows, orphans)
    upto = (as_utc(rows[-1].stored), int(rows[-1].seq))
    write(session, compute(session, tenant, deltas, dirty, upto, whole=False))
    archived.note_voids(session, tenant.id, orphans)
    state.stored, state.seq = upto
    state.statements += len(rows)
    return len(rows), len(dirty)


def refresh(db: Database, *, tenants: list[str] | None = None, settle: timedelta = timedelta(seconds=5),
            batch: int = BATCH, now: datetime | None = None, jobs: int = 1, until: float | None = None) -> Counted:
    """Bring the rollups of ``tenants`` (slugs; None: all) up to ``now - settle``, batch by batch,
    each batch its own transaction. ``jobs`` > 1: that many processes, each taking the next tenant
    (a catch-up after a bulk load on several cores; a tenant still has one writer, its lock's).
    ``until`` (a ``time.time()``): no batch is started after it; the next refresh goes on from there."""
    moment = now or datetime.now(UTC)
    with db.session() as session:
        query = select(Tenant).order_by(Tenant.id)
        if tenants is not None:
            query = query.where(Tenant.slug.in_(tenants))
        chosen = list(session.scalars(query))
    if jobs > 1 and len(chosen) > 1:
        return _in_processes(db.url, [t.slug for t in chosen], (settle, batch, moment, until), jobs)
    done = _each(db, chosen, moment - settle, batch, until)
    with db.session() as session:
        for tenant in chosen:
            mark = session.scalar(select(RollupState.stored).where(RollupState.tenant_id == tenant.id))
            done.behind[tenant.slug] = (moment - as_utc(mark)).total_seconds() if mark else 0.0
    return done


Task = tuple[timedelta, int, datetime, float | None]  # settle, batch, now, until


def _in_processes(url: str, slugs: list[str], task: Task, jobs: int) -> Counted:
    """``refresh`` of one tenant per task in ``jobs`` fresh processes (spawned: no connection or lock
    of this one is shared), all to the same bound; their counts added. A worker that dies (killed,
    out of memory) breaks the pool: the tenants not done are refreshed here instead, after a warning,
    since a batch is its own transaction and a tenant's watermark says where to go on from."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    done, futures = Counted(), {}
    try:
        with ProcessPoolExecutor(max_workers=min(jobs, len(slugs)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {slug: pool.submit(_one_tenant, (url, slug, task)) for slug in slugs}
            for future in futures.values():
                future.result()
    except BrokenProcessPool as err:
        log.warning("rollup refresh: a worker process ended abruptly (%s); the tenants it left are "
                    "refreshed in this process", err)
    for slug, future in futures.items():
        finished = future.done() and not future.cancelled() and future.exception() is None
        _add(done, future.result() if finished else _one_tenant((url, slug, task)))
    return done


def _add(done: Counted, part: Counted) -> None:
    done.tenants += part.tenants
    done.statements += part.statements
    done.batches += part.batches
    done.recomputed += part.recomputed
    done.behind.update(part.behind)


def _one_tenant(job: tuple[str, str, Task]) -> Counted:
    url, slug, (settle, batch, moment, until) = job
    db = Database(url)
    try:
        return refresh(db, tenants=[slug], settle=settle, batch=batch, now=moment, until=until)
    finally:
        db.dispose()


def _each(db: Database, chosen: list[Tenant], bound: datetime, batch: int, until: float | None) -> Counted:
    """The batches of each tenant in turn."""
    done = Counted()
    analyze_at = ANALYZE_AFTER
    for tenant in chosen:
        done.tenants += 1
        while until is None or time.time() < until:
            with db.session() as session:
                read, recomputed = refresh_batch(session, tenant, bound, batch)
                session.commit()
            done.batches += 1
            done.statements += read
            done.recomputed += recomputed
            if done.statements >= analyze_at:
                _analyze(db)
                analyze_at *= 2
            if read < batch:
                break
    return done


def _analyze(db: Database) -> None:
    if db.dialect == "postgresql":
        from sqlalchemy import text

        with db.session() as session:
            session.execute(text(f"ANALYZE {', '.join(ROLLUP_TABLES)}"))
            session.commit()


def rebuild(db: Database, tenants: list[str] | None = None, archive: Path | None = None) -> list[str]:
    """Forget the rollups of ``tenants`` (None: all) and start them again from their archived
    months' sums (``archived``): the next refresh adds every live statement. For what no incremental
    path sees (an erasure's removal of *other* learners' statements that named the erased one).
    Returns the archived months whose sums ``archive`` (the lake, ``hocvu lake archive --to``) gave.

    A tenant with a month archived before its sums were kept refuses (``RebuildRefused``, naming the
    months) unless ``archive`` computes them first: a rebuild from the live statements alone would
    silently drop those months from the dashboard (fewer learners, completions, hours), and the hub
    cannot read them back by itself. Refusing before forgetting anything is the least surprising;
    the lake, when given, is the same data the figures first came from. A detached month not yet
    archived refuses too (its statements are in no query and its sums not kept yet)."""
    from sqlalchemy import delete

    from connectors.storage import RollupGroup, RollupLearner

    with db.session() as session:
        query = select(Tenant.id, Tenant.slug).order_by(Tenant.id)
        if tenants is not None:
            query = query.where(Tenant.slug.in_(tenants))
        chosen = [(int(i), str(s)) for i, s in session.execute(query)]
    left = archived.detached(db, chosen)
    if left:  # checked first: nothing computed for a rebuild that will not happen
        raise archived.refused(left)
    computed, left = archived.fill(db, chosen, archive)
    if left:
        raise archived.refused(left)
    for tenant_id, _ in chosen:
        with db.session() as session:
            claim(session, tenant_id)  # waits for a refresher of the tenant, then holds it off
            for table in (RollupEnrolment, RollupGroup, RollupLearner):
                session.execute(delete(table).where(table.tenant_id == tenant_id))
            session.execute(update(RollupState).where(RollupState.tenant_id == tenant_id)
                            .values(stored=None, seq=0, statements=0))
            seed(session, tenant_id)
            session.commit()
    return computed


def seed(session: Session, tenant_id: int) -> int:
    """The rollups of a tenant starting from zero get its archived months' sums first (in the
    caller's transaction); returns the enrolments seeded. Months archived before their sums were
    kept are missing from them: logged (a rebuild refuses instead; ``archived.fill``)."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        return 0
    lacking = archived.missing(session, tenant_id)
    if lacking:
        log.warning("rollups of %s start without archived month(s) %s (archived before their figures were kept): "
                    "run `hocvu rollups refresh --rebuild --archive DIR`", tenant.slug,
                    ", ".join(f"{m:%Y-%m}" for m in lacking))
    seeded = 0
    learners = archived.actors(session, tenant_id)
    for start in range(0, len(learners), SEED_ACTORS):
        states = archived.sums(session, tenant_id, learners[start:start + SEED_ACTORS])
        write(session, compute(session, tenant, states, set(), None, whole=False))
        seeded += len(states)
    return seeded


def tail(session: Session, tenant: Tenant, limit: int = TAIL_MAX) -> tuple[Delta | None, int]:
    """The difference the statements after the tenant's watermark make, up to now, computed and not
    written (a report adds it to what it reads), and how many statements that is. (None, 0) when more
    than ``limit`` are waiting: the report then shows the rollups as of their watermark."""
    state = session.get(RollupState, tenant.id)
    mark = (state.stored, state.seq) if state is not None else (None, 0)
    rows = _after(session, tenant.id, mark, None, limit + 1)
    if len(rows) > limit:
        return None, 0
    if not rows:
        return Delta(tenant.id), 0
    deltas, dirty = batch_changes(session, tenant, rows)
    upto = (as_utc(rows[-1].stored), int(rows[-1].seq))
    return compute(session, tenant, deltas, dirty, upto), len(rows)


def forget_learner(session: Session, tenant_id: int, actor: str, *_: object) -> None:
    """An erasure hook (``lrs.audit.erasure``): the learner's enrolments are recomputed from what is
    left of their statements (nothing), in the erasure's transaction."""
    tenant = session.get(Tenant, tenant_id)
    # Her archived months' sums go too, now (the lake's rows at `hocvu lake erase`): kept, a rebuild or
    # a recompute would count her again as an individual in the group-learner rows (privacy rule).
    archived.forget(session, tenant_id, actor)
    courses = set(session.scalars(select(RollupEnrolment.course_id).where(
        RollupEnrolment.tenant_id == tenant_id, RollupEnrolment.actor_key == actor)))
    if tenant is not None and courses:
        write(session, compute(session, tenant, {}, {(c, actor) for c in courses}, None))


def restate_provinces(session: Session, tenant_id: int, learners: list[str] | None = None) -> int:
    """Enrolments follow a change of the tenant's province or of learner records (roster import;
    ``learners``: only these keys): each one whose province is no longer its learner's moves group,
    in the caller's transaction. Returns how many moved."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        return 0
    if learners is not None:
        actors = sorted(set(learners))
    else:
        actors = sorted(set(session.scalars(select(RollupEnrolment.actor_key).where(
            RollupEnrolment.tenant_id == tenant_id))))
    moved = 0
    for part in chunks(actors):
        where = provinces(session, tenant_id, part, tenant.province)
        delta = Delta(tenant_id)
        changes: list[tuple[Key, State | None, State | None]] = []
        for (course, actor), old in load_enrolments(session, tenant_id, part).items():
            if old.province != where[actor]:
                new = replace(old, province=where[actor])
                delta.enrolments.append(((course, actor), True, new))
                changes.append(((course, actor), old, new))
        moves(session, tenant, delta, changes, whole=False)
        write(session, delta)
        moved += len(changes)
    return moved


def lag(session: Session, tenant_ids: list[int]) -> datetime | None:
    """The oldest watermark of these tenants: the rollups hold every statement stored up to it."""
    marks = [as_utc(m) for m in session.scalars(
        select(RollupState.stored).where(RollupState.tenant_id.in_(tenant_ids))) if m is not None]
    return min(marks, default=None)
