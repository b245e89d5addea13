"""How statements change the rollups: a batch's new statements and voided targets become enrolment
changes (old state → new state), which become group and group-learner differences (``Delta``).
Computing a ``Delta`` only reads; ``write`` applies it (the refresh), a report may just add it to
what it read (the tail of fresh statements, ``connectors.rollups.refresh.tail``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from connectors.export import flatten
from connectors.rollups.state import _I, FIGURES, UNKNOWN_PROVINCE, VOIDED, State, state_of, write_state
from connectors.storage import LearnerRecord, RollupEnrolment, RollupGroup, RollupLearner
from lrs.storage import Statement, StatementAgent, Tenant, as_utc

CHUNK = 500  # bounded IN lists
COLUMNS = (Statement.seq, Statement.statement_id, Statement.stored, Statement.actor_key, Statement.verb_id,
           Statement.object_type, Statement.object_activity_id, Statement.object_agent_key,
           Statement.object_statement_id, Statement.registration, Statement.full)
Key = tuple[str, str]  # (course_id, actor_key)
GroupKey = tuple[str, str]  # (dimension, group_key)
LearnerKey = tuple[str, str, str]  # (dimension, group_key, actor_key)


def chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def course_row(row: Any, slug: str) -> tuple[str | None, tuple[Any, ...]]:
    flat = flatten(row, slug)
    return flat[_I["course_id"]], flat


@dataclass
class Delta:
    """One tenant's changes: enrolment rows to write, and per group / group learner the differences."""

    tenant_id: int
    enrolments: list[tuple[Key, RollupEnrolment | None, State | None]] = field(default_factory=list)
    groups: dict[GroupKey, dict[str, float]] = field(default_factory=lambda: defaultdict(
        lambda: dict.fromkeys(FIGURES, 0)))
    counts: dict[GroupKey, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    # group learners touched, before and after: (enrolments, graded); the ORM rows to write
    before: dict[LearnerKey, tuple[int, int]] = field(default_factory=dict)
    after: dict[LearnerKey, tuple[int, int]] = field(default_factory=dict)
    learner_rows: dict[LearnerKey, RollupLearner] = field(default_factory=dict)


def batch_changes(session: Session, tenant: Tenant, rows: Sequence[Any]) -> tuple[dict[Key, State], set[Key]]:
    """What statements read after the watermark do: sums to add per enrolment, and enrolments to
    recompute (a voiding statement's target's)."""
    deltas: dict[Key, State] = {}
    dirty: set[Key] = set()
    s = Statement
    for row in rows:
        if row.voided:
            continue  # voided already: never counted
        if row.verb_id == VOIDED:
            target = session.connection().execute(select(*COLUMNS).where(
                s.tenant_id == tenant.id, s.statement_id == row.object_statement_id)).first()
            course = course_row(target, tenant.slug)[0] if target is not None else None
            if target is not None and course is not None:
                dirty.add((course, target.actor_key))
            continue
        course, flat = course_row(row, tenant.slug)
        if course is not None:
            deltas.setdefault((course, row.actor_key), State(as_utc(flat[_I["timestamp"]]))).add(flat)
    return deltas, dirty


def _recompute(session: Session, tenant: Tenant, actor: str, courses: set[str],
               upto: tuple[datetime, int] | None) -> dict[str, State]:
    """The states of ``actor``'s enrolments in ``courses`` from their statements not voided, up to
    the watermark (found by the learner's index, statement_agents)."""
    s = Statement
    mine = select(StatementAgent.seq).where(StatementAgent.tenant_id == tenant.id, StatementAgent.agent_key == actor)
    conds = [s.tenant_id == tenant.id, s.seq.in_(mine), s.actor_key == actor, s.voided.is_(False)]
    if upto is not None:
        conds.append(or_(s.stored < upto[0], and_(s.stored == upto[0], s.seq <= upto[1])))
    states: dict[str, State] = {}
    for row in session.connection().execute(select(*COLUMNS).where(*conds)):
        if row.verb_id == VOIDED:
            continue
        course, flat = course_row(row, tenant.slug)
        if course in courses:
            states.setdefault(course, State(as_utc(flat[_I["timestamp"]]))).add(flat)
    return states


def provinces(session: Session, tenant_id: int, actors: Iterable[str], fallback: str | None) -> dict[str, str]:
    """Each learner's province: their record's, else the tenant's, else unknown."""
    wanted = sorted(set(actors))
    found: dict[str, str] = {}
    for part in chunks(wanted):
        for key, province in session.execute(select(LearnerRecord.learner_key, LearnerRecord.province).where(
                LearnerRecord.tenant_id == tenant_id, LearnerRecord.learner_key.in_(part))):
            if province:
                found[key] = province
    default = fallback or UNKNOWN_PROVINCE
    return {a: found.get(a, default) for a in wanted}


def compute(session: Session, tenant: Tenant, deltas: dict[Key, State], dirty: set[Key],
            upto: tuple[datetime, int] | None) -> Delta:
    """The ``Delta`` of adding ``deltas`` and recomputing ``dirty`` (reads only)."""
    keys = set(deltas) | dirty
    actors = sorted({a for _, a in keys})
    rows: dict[Key, RollupEnrolment] = {}
    for part in chunks(actors):
        for row in session.scalars(select(RollupEnrolment).where(RollupEnrolment.tenant_id == tenant.id,
                                                                 RollupEnrolment.actor_key.in_(part))):
            rows[(row.course_id, row.actor_key)] = row
    where = provinces(session, tenant.id, actors, tenant.province)
    by_actor: dict[str, set[str]] = defaultdict(set)
    for course, actor in dirty:
        by_actor[actor].add(course)
    fresh = {(course, actor): st for actor, courses in by_actor.items()
             for course, st in _recompute(session, tenant, actor, courses, upto).items()}
    delta = Delta(tenant.id)
    for key in sorted(keys):
        found = rows.get(key)
        old = state_of(found) if found is not None else None
        new = fresh.get(key) if key in dirty else (old.merged(deltas[key]) if old is not None else deltas[key])
        if new is not None:
            new.province = where[key[1]]
        if old != new:
            delta.enrolments.append((key, found, new))
    moves(session, tenant, delta, [(k, state_of(r) if r is not None else None, n) for k, r, n in delta.enrolments])
    return delta


def moves(session: Session, tenant: Tenant, delta: Delta, changes: list[tuple[Key, State | None, State | None]]
          ) -> None:
    """Group and group-learner differences of enrolments going from old to new states."""
    m_delta: dict[LearnerKey, list[int]] = defaultdict(lambda: [0, 0])
    for (course, actor), old, new in changes:
        for sign, st in ((-1, old), (1, new)):
            if st is None:
                continue
            figures = st.figures()
            for group in st.groups(tenant.slug, course):
                g = delta.groups[group]
                for name, value in figures.items():
                    g[name] += sign * value
                m = m_delta[(*group, actor)]
                m[0] += sign
                m[1] += sign * int(st.judged > 0)
    actors = sorted({a for _, _, a in m_delta})
    for part in chunks(actors):
        for row in session.scalars(select(RollupLearner).where(RollupLearner.tenant_id == tenant.id,
                                                               RollupLearner.actor_key.in_(part))):
            key = (row.dimension, row.group_key, row.actor_key)
            delta.learner_rows[key] = row
            delta.before[key] = (row.enrolments, row.graded)
    for key, (d_enr, d_graded) in m_delta.items():
        before = delta.before.setdefault(key, (0, 0))
        after = (before[0] + d_enr, before[1] + d_graded)
        delta.after[key] = after
        c = delta.counts[key[:2]]
        c[0] += (after[0] > 0) - (before[0] > 0)
        c[1] += (after[1] > 0) - (before[1] > 0)


def write(session: Session, delta: Delta) -> None:
    """Apply ``delta`` to the tables (in the caller's transaction)."""
    for (course, actor), row, new in delta.enrolments:
        if new is None:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            row = RollupEnrolment(tenant_id=delta.tenant_id, course_id=course, actor_key=actor)
            session.add(row)
        write_state(row, new)
    for key, after in delta.after.items():
        learner = delta.learner_rows.get(key)
        if learner is None:
            if after[0] > 0:
                session.add(RollupLearner(tenant_id=delta.tenant_id, dimension=key[0], group_key=key[1],
                                          actor_key=key[2], enrolments=after[0], graded=after[1]))
        elif after[0] <= 0:
            session.delete(learner)
        else:
            learner.enrolments, learner.graded = after
    _write_groups(session, delta)


def _write_groups(session: Session, delta: Delta) -> None:
    keys = sorted({k for _, k in delta.groups})
    rows: dict[GroupKey, RollupGroup] = {}
    for part in chunks(keys):
        for row in session.scalars(select(RollupGroup).where(RollupGroup.tenant_id == delta.tenant_id,
                                                             RollupGroup.group_key.in_(part))):
            rows[(row.dimension, row.group_key)] = row
    for group, change in delta.groups.items():
        existing = rows.get(group)
        row = existing if existing is not None else _new_group(delta.tenant_id, group)
        if existing is None:
            session.add(row)
        for name, value in change.items():
            setattr(row, name, getattr(row, name) + value)
        c = delta.counts.get(group, [0, 0])
        row.learners += c[0]
        row.graded_learners += c[1]
        if row.enrolments <= 0:  # no enrolment left in the group: the row goes
            if row in session.new:
                session.expunge(row)
            else:
                session.delete(row)


def _new_group(tenant_id: int, group: GroupKey) -> RollupGroup:
    return RollupGroup(tenant_id=tenant_id, dimension=group[0], group_key=group[1], learners=0, graded_learners=0,
                       seconds=0.0, **{n: 0 for n in FIGURES if n != "seconds"})
