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

import orjson
from sqlalchemy import and_, bindparam, delete, or_, select, text
from sqlalchemy.orm import Session

from connectors.rollups import archived
from connectors.rollups.fields import COLUMNS, columns, course_row
from connectors.rollups.state import FIGURES, SUMS, UNKNOWN_PROVINCE, VOIDED, State, iso_week
from connectors.storage import LearnerRecord, RollupEnrolment, RollupGroup, RollupLearner
from lrs.storage import Statement, StatementAgent, Tenant, as_utc, dialect_insert

__all__ = ["COLUMNS", "columns", "course_row"]  # the statement fields, read here, named where they were

CHUNK = 500  # bounded IN lists
Key = tuple[str, str]  # (course_id, actor_key)
GroupKey = tuple[str, str]  # (dimension, group_key)
LearnerKey = tuple[str, str, str]  # (dimension, group_key, actor_key)


def chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


@dataclass
class Delta:
    """One tenant's changes: enrolments' new states, and per group / group learner the differences."""

    tenant_id: int
    enrolments: list[tuple[Key, bool, State | None]] = field(default_factory=list)  # key, existed, new state
    groups: dict[GroupKey, dict[str, float]] = field(default_factory=lambda: defaultdict(
        lambda: dict.fromkeys(FIGURES, 0)))
    counts: dict[GroupKey, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    # group learners touched, before and after: (enrolments, graded)
    before: dict[LearnerKey, tuple[int, int]] = field(default_factory=dict)
    after: dict[LearnerKey, tuple[int, int]] = field(default_factory=dict)


def batch_changes(session: Session, tenant: Tenant, rows: Sequence[Any],
                  orphans: list[tuple[str, str]] | None = None) -> tuple[dict[Key, State], set[Key]]:
    """What statements read after the watermark do: sums to add per enrolment, and enrolments to
    recompute (a voiding statement's target's). ``orphans`` gets the (target, voiding id) of the
    voidings whose target is not in the store (archived, maybe: ``archived.note_voids``)."""
    deltas: dict[Key, State] = {}
    dirty: set[Key] = set()
    s = Statement
    for row in rows:
        if row.voided:
            continue  # voided already: never counted
        if row.verb_id == VOIDED:
            target = session.connection().execute(select(*columns(session)).where(
                s.tenant_id == tenant.id, s.statement_id == row.object_statement_id)).first()
            course = course_row(target, tenant.slug)[0] if target is not None else None
            if target is not None and course is not None:
                dirty.add((course, target.actor_key))
            elif target is None and orphans is not None and row.object_statement_id:
                orphans.append((str(row.object_statement_id), str(row.statement_id)))
            continue
        course, flat = course_row(row, tenant.slug)
        if course is not None:
            deltas.setdefault((course, row.actor_key), State(flat[0])).add(flat)
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
    for row in session.connection().execute(select(*columns(session)).where(*conds)):
        if row.verb_id == VOIDED:
            continue
        course, flat = course_row(row, tenant.slug)
        if course in courses:
            states.setdefault(course, State(flat[0])).add(flat)
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
            upto: tuple[datetime, int] | None, whole: bool = True) -> Delta:
    """The ``Delta`` of adding ``deltas`` and recomputing ``dirty`` (reads only). ``whole``: with
    every group-learner row of the learners changed (a report's tail needs them; ``write`` only the
    rows it changes)."""
    keys = set(deltas) | dirty
    actors = sorted({a for _, a in keys})
    if whole or not _set_based(session):
        rows = load_enrolments(session, tenant.id, actors)
    else:  # only the enrolments changed, by their keys, in one statement
        rows = {(row[0], row[1]): State(as_utc(row[2]), *row[3:]) for row in _at(
            session, RollupEnrolment.__table__, [{"tenant_id": tenant.id, "course_id": c, "actor_key": a}
                                                 for c, a in sorted(keys)], ("course_id", "actor_key",
                                                                            *_STATE_COLUMNS))}
    where = provinces(session, tenant.id, actors, tenant.province)
    by_actor: dict[str, set[str]] = defaultdict(set)
    for course, actor in dirty:
        by_actor[actor].add(course)
    fresh = {(course, actor): st for actor, courses in by_actor.items()
             for course, st in _recompute(session, tenant, actor, courses, upto).items()}
    # An enrolment is its live statements *and* its archived months' (their statements left the
    # store, their sums are kept: connectors.rollups.archived); recomputed from the live ones alone,
    # a voiding would silently take the archived months' figures out with the voided statement.
    for key, st in archived.sums(session, tenant.id, sorted(by_actor)).items():
        if key in dirty:
            fresh[key] = fresh[key].merged(st) if key in fresh else st
    delta = Delta(tenant.id)
    changes: list[tuple[Key, State | None, State | None]] = []
    for key in sorted(keys):
        old = rows.get(key)
        new = fresh.get(key) if key in dirty else (old.merged(deltas[key]) if old is not None else deltas[key])
        if new is not None:
            new.province = where[key[1]]
        if old != new:
            delta.enrolments.append((key, old is not None, new))
            changes.append((key, old, new))
    moves(session, tenant, delta, changes, whole)
    return delta


_E = RollupEnrolment.__table__.c
_STATE_COLUMNS = ("first", "province", *SUMS)


def load_enrolments(session: Session, tenant_id: int, actors: Sequence[str]) -> dict[Key, State]:
    """The stored states of these learners' enrolments (Core rows: no ORM objects on this path)."""
    found: dict[Key, State] = {}
    for part in chunks(actors):
        for row in session.execute(select(_E.course_id, _E.actor_key, *(_E[c] for c in _STATE_COLUMNS)).where(
                _E.tenant_id == tenant_id, _E.actor_key.in_(part))):
            found[(row[0], row[1])] = State(as_utc(row[2]), *row[3:])
    return found


def moves(session: Session, tenant: Tenant, delta: Delta, changes: list[tuple[Key, State | None, State | None]],
          whole: bool = True) -> None:
    """Group and group-learner differences of enrolments going from old to new states (``whole``:
    ``before`` holds every group-learner row of the learners changed, else only the rows changed)."""
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
    # An enrolment whose groups stay the same (most statements: no earlier week, no new province,
    # not the first graded attempt) nets to no change for its group learners: their rows are not
    # read or rewritten. A learner with any change still has every row read (``before``): a report's
    # tail counts distinct learners over several groups from them (``report._union``).
    m_delta = defaultdict(lambda: [0, 0], {k: v for k, v in m_delta.items() if v != [0, 0]})
    actors = sorted({a for _, _, a in m_delta})
    lc = RollupLearner.__table__.c
    if not whole and _set_based(session):
        for row in _at(session, RollupLearner.__table__, [
                {"tenant_id": tenant.id, "dimension": d, "group_key": g, "actor_key": a}
                for d, g, a in sorted(m_delta)],
                ("dimension", "group_key", "actor_key", "enrolments", "graded")):
            delta.before[(row[0], row[1], row[2])] = (row[3], row[4])
        actors = []
    for part in chunks(actors):
        for row in session.execute(select(lc.dimension, lc.group_key, lc.actor_key, lc.enrolments, lc.graded).where(
                lc.tenant_id == tenant.id, lc.actor_key.in_(part))):
            delta.before[(row[0], row[1], row[2])] = (row[3], row[4])
    for key, (d_enr, d_graded) in m_delta.items():
        before = delta.before.setdefault(key, (0, 0))
        after = (before[0] + d_enr, before[1] + d_graded)
        delta.after[key] = after
        c = delta.counts[key[:2]]
        c[0] += (after[0] > 0) - (before[0] > 0)
        c[1] += (after[1] > 0) - (before[1] > 0)


# PostgreSQL: each table's changed rows go in one statement as one JSON document
# (``INSERT … SELECT FROM json_populate_recordset(NULL::table, rows) ON CONFLICT DO UPDATE``,
# ``DELETE … USING json_populate_recordset``): PostgreSQL plans and executes it once for the batch
# instead of once per row, and Python sends one string made by the C JSON encoder instead of a
# parameter set per row (arrays for ``unnest`` were measured slower: psycopg dumps every element in
# Python). The table's own row type gives each field its column type. False: the portable per-row
# form below (SQLite's; a test compares both on PostgreSQL; docs/scale.md, "Rollup refresh").
SET_BASED = True


def _set_based(session: Session) -> bool:
    return SET_BASED and session.get_bind().dialect.name == "postgresql"


def _records(table: Any, rows: list[dict[str, Any]]) -> tuple[str, dict[str, str]]:
    """``json_populate_recordset(NULL::table, :rows)`` and its parameter: ``rows`` as one JSON text
    (their only non-JSON values are datetimes, written as ISO 8601)."""
    doc = orjson.dumps(rows, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)).decode()
    return f"json_populate_recordset(NULL::{table.name}, CAST(:rows AS json))", {"rows": doc}


def _at(session: Session, table: Any, keys: list[dict[str, Any]], names: tuple[str, ...]) -> Sequence[Any]:
    """PostgreSQL: the rows of ``table`` at these keys (its primary key's columns), in one statement."""
    if not keys:
        return []
    source, params = _records(table, keys)
    match = " AND ".join(f"t.{k} = d.{k}" for k in keys[0])
    return list(session.execute(text(f"SELECT {', '.join(f't.{n}' for n in names)} FROM {table.name} AS t "
                                     f"JOIN {source} AS d ON {match}"), params))


def _upsert(session: Session, table: Any, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if _set_based(session):
        names = [c.name for c in table.c]
        source, params = _records(table, rows)
        sets = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n in names if n not in keys)
        columns = ", ".join(f'"{n}"' for n in names)
        session.execute(text(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {source} "
                             f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"), params)
        return
    # One statement executed for many rows (psycopg pipelines them): a multi-row VALUES statement
    # was measured slower, SQLAlchemy compiling thousands of parameters each time (docs/scale.md).
    ins = dialect_insert(session)(table)
    values = {c.name: ins.excluded[c.name] for c in table.c if c.name not in keys}
    session.execute(ins.on_conflict_do_update(index_elements=list(keys), set_=values), rows)


def _delete(session: Session, table: Any, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if _set_based(session):
        source, params = _records(table, rows)
        match = " AND ".join(f"t.{k} = d.{k}" for k in keys)
        session.execute(text(f"DELETE FROM {table.name} AS t USING {source} AS d "
                             f"WHERE {match}"), params)
        return
    session.execute(delete(table).where(*(table.c[k] == bindparam("k_" + k) for k in keys)),
                    [{"k_" + k: r[k] for k in keys} for r in rows])


def write(session: Session, delta: Delta) -> None:
    """Apply ``delta`` to the tables (in the caller's transaction), in bulk statements."""
    e_keys = ("tenant_id", "course_id", "actor_key")
    upserts, gone = [], []
    for (course, actor), existed, new in delta.enrolments:
        ident = {"tenant_id": delta.tenant_id, "course_id": course, "actor_key": actor}
        if new is None:
            if existed:
                gone.append(ident)
        else:
            upserts.append({**ident, "week": iso_week(new.first), **{c: getattr(new, c) for c in _STATE_COLUMNS}})
    _upsert(session, RollupEnrolment.__table__, e_keys, upserts)
    _delete(session, RollupEnrolment.__table__, e_keys, gone)
    m_keys = ("tenant_id", "dimension", "group_key", "actor_key")
    upserts, gone = [], []
    for (dimension, key, actor), after in delta.after.items():
        ident = {"tenant_id": delta.tenant_id, "dimension": dimension, "group_key": key, "actor_key": actor}
        if after[0] > 0:
            upserts.append({**ident, "enrolments": after[0], "graded": after[1]})
        elif delta.before.get((dimension, key, actor), (0, 0))[0] > 0:
            gone.append(ident)
    _upsert(session, RollupLearner.__table__, m_keys, upserts)
    _delete(session, RollupLearner.__table__, m_keys, gone)
    _write_groups(session, delta)


_G_SUMS = ("learners", "graded_learners", *FIGURES)


def _write_groups(session: Session, delta: Delta) -> None:
    g = RollupGroup.__table__.c
    keys = sorted({k for _, k in delta.groups})
    current: dict[GroupKey, dict[str, float]] = {}
    for part in chunks(keys):
        for row in session.execute(select(g.dimension, g.group_key, *(g[n] for n in _G_SUMS)).where(
                g.tenant_id == delta.tenant_id, g.group_key.in_(part))):
            current[(row[0], row[1])] = dict(zip(_G_SUMS, row[2:], strict=True))
    upserts, gone = [], []
    for group, change in delta.groups.items():
        values = dict(current.get(group) or dict.fromkeys(_G_SUMS, 0))
        for name, value in change.items():
            values[name] += value
        counted = delta.counts.get(group, [0, 0])
        values["learners"] += counted[0]
        values["graded_learners"] += counted[1]
        ident = {"tenant_id": delta.tenant_id, "dimension": group[0], "group_key": group[1]}
        if values["enrolments"] > 0:
            upserts.append({**ident, **values})
        elif group in current:  # no enrolment left in the group: the row goes
            gone.append(ident)
    g_keys = ("tenant_id", "dimension", "group_key")
    _upsert(session, RollupGroup.__table__, g_keys, upserts)
    _delete(session, RollupGroup.__table__, g_keys, gone)
