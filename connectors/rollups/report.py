"""The report from the rollups (``connectors.rollups``) plus their tail of fresh statements: a few
rows per group, whatever the number of statements, with the same definitions, k-anonymity and
complementary suppression as the report built from statements (``connectors.reports``, the
reference a test holds it to).

Reading cost: the groups of the chosen tenants (courses + provinces + weeks + tenants), the tail
(statements after each watermark: a refresh interval's worth), plus, per breakdown with hidden
groups, one count of the distinct learners of the hidden groups.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from connectors.reports import DIMENSIONS, Breakdown, Group, Report, course_names, finite, hidden_group
from connectors.rollups.delta import Delta
from connectors.rollups.refresh import TAIL_MAX, lag, tail
from connectors.storage import RollupGroup
from lrs.storage import Tenant

SUMS = ("learners", "graded_learners", "enrolments", "completed", "judged", "passed", "attempts", "verified",
        "seconds", "timed")
Sums = dict[str, float]


def group_figures(s: Sums, key: str, label: str, k: int) -> Group:
    enrolments, judged, attempts = int(s["enrolments"]), int(s["judged"]), int(s["attempts"])
    graded_ok = s["graded_learners"] >= k  # a rate over fewer than k learners would single them out
    total = s["seconds"] if s["timed"] else None
    return Group(
        key=key, label=label, learners=int(s["learners"]), enrolments=enrolments,
        completion_rate=s["completed"] / enrolments if enrolments else None,
        pass_rate=s["passed"] / judged if judged and graded_ok else None,
        verified_rate=s["verified"] / attempts if attempts and graded_ok else None,
        hours=finite(total / 3600 if total is not None else None, "hours", key),
        minutes_per_enrolment=finite(total / s["timed"] / 60 if total is not None else None, "minutes", key),
    )


def _table_union(session: Session, tenant_ids: Sequence[int], dimension: str, keys: set[str]) -> int:
    """Distinct learners of the hidden groups in the tables: the largest group's learners (its rows'
    count, kept in ``report_groups``) plus the other groups' learners not in it. A small group hidden
    hides a neighbour too, often a large one (a course of 1.6M learner rows at 10M statements): a
    distinct count over every row read and sorted them all (≈ 1.9 s a view); this reads only the
    smaller groups' rows, and looks each up in the largest group by its key (docs/scale.md, run E)."""
    ids = list(tenant_ids)
    g = RollupGroup
    sizes = {key: int(n or 0) for key, n in session.execute(
        select(g.group_key, func.sum(g.learners)).where(g.tenant_id.in_(ids), g.dimension == dimension,
                                                       g.group_key.in_(sorted(keys))).group_by(g.group_key))}
    if not sizes:
        return 0
    largest = max(sorted(sizes), key=lambda k: sizes[k])
    others = sorted(set(keys) - {largest})
    if not others:
        return sizes[largest]
    # Text, its lists expanded: the ORM form (aliases, EXISTS) cost ≈ 80 KiB of Python a view to build.
    outside = text("SELECT count(*) FROM (SELECT DISTINCT o.tenant_id, o.actor_key FROM report_group_learners o "
                   "WHERE o.tenant_id IN :ids AND o.dimension = :dim AND o.group_key IN :others AND NOT EXISTS ("
                   "SELECT 1 FROM report_group_learners b WHERE b.tenant_id = o.tenant_id AND b.dimension = :dim "
                   "AND b.group_key = :largest AND b.actor_key = o.actor_key)) AS x").bindparams(
        bindparam("ids", expanding=True), bindparam("others", expanding=True))
    return sizes[largest] + int(session.scalar(outside, {"ids": ids, "dim": dimension, "others": others,
                                                         "largest": largest}) or 0)


def _union(session: Session, tenant_ids: Sequence[int], dimension: str, keys: set[str],
           tails: Sequence[Delta]) -> int:
    """Distinct learners (tenant, key) of the hidden groups together, the tails' changes included."""
    count = _table_union(session, tenant_ids, dimension, keys)
    for d in tails:  # a touched learner counts as after the tail, not as the table says
        was: dict[str, bool] = {}
        now: dict[str, bool] = {}
        for (dim, key, actor), before in d.before.items():
            if dim == dimension and key in keys:
                was[actor] = was.get(actor, False) or before[0] > 0
                after = d.after.get((dim, key, actor), before)
                now[actor] = now.get(actor, False) or after[0] > 0
        count += sum(now.values()) - sum(was.values())
    return count


def breakdown(dimension: str, parts: Mapping[str, Sums], total_sums: Sums, k: int, label_of: Callable[[str], str],
              union: Callable[[set[str]], int]) -> Breakdown:
    """connectors.reports.breakdown over groups' sums; ``union(keys)``: the distinct learners of
    these groups together (the rollups' tables, or a lake engine's query)."""
    title = DIMENSIONS[dimension][1]
    total = group_figures(total_sums, "total", "Tổng / Total", k)
    parts = {key: s for key, s in parts.items() if s["enrolments"] > 0}  # a group the tail emptied
    learners = {key: int(s["learners"]) for key, s in parts.items()}
    small: set[str] = set()
    if total.learners is None or total.learners < k:
        hidden = set(parts)
        total = hidden_group("total", total.label, "small")
    else:
        hidden = {key for key, n in learners.items() if n < k}
        small = set(hidden)
        while hidden:
            if union(hidden) >= k:
                break
            shown = sorted((n, key) for key, n in learners.items() if key not in hidden)
            if not shown:
                break
            hidden.add(shown[0][1])  # complementary: the smallest group still shown
    groups = [hidden_group(key, label_of(key), "small" if total.suppressed or key in small else "complementary")
              if key in hidden else group_figures(parts[key], key, label_of(key), k) for key in sorted(parts)]
    return Breakdown(dimension, title, groups, total)


def _tails(session: Session, ids: Sequence[int]) -> tuple[list[Delta], bool]:
    """The tails of these tenants within one budget of fresh statements (TAIL_MAX); False when a
    tenant's did not fit (its figures are then as of its watermark)."""
    tails: list[Delta] = []
    complete, budget = True, TAIL_MAX
    for tenant in session.scalars(select(Tenant).where(Tenant.id.in_(list(ids))).order_by(Tenant.id)):
        d, read = tail(session, tenant, budget)
        if d is None:
            complete = False
            continue
        tails.append(d)
        budget -= read
    return tails, complete


def rollup_report(session: Session, tenants: Sequence[tuple[int, str]], *, min_group: int,
                  pseudonymised: bool = False, replica_lag: float | None = None, fresh: bool = True) -> Report:
    """The report of these tenants ((id, slug) pairs) from the rollups; ``fresh``: with the tail of
    statements after their watermarks added (read-only), else as of the watermarks."""
    if min_group < 1:
        raise ValueError("the minimum group size k must be at least 1")
    ids = [tid for tid, _ in tenants]
    moment = datetime.now(UTC)
    parts: dict[str, dict[str, Sums]] = {d: defaultdict(lambda: dict.fromkeys(SUMS, 0.0)) for d in DIMENSIONS}
    rows = session.execute(select(RollupGroup.dimension, RollupGroup.group_key,
                                  *(getattr(RollupGroup, n) for n in SUMS))
                           .where(RollupGroup.tenant_id.in_(ids))).all()
    for row in rows:
        sums = parts[row.dimension][row.group_key]
        for name in SUMS:
            sums[name] += getattr(row, name)
    tails, complete = _tails(session, ids) if fresh else ([], False)
    for d in tails:
        for (dimension, key), change in d.groups.items():
            sums = parts[dimension][key]
            for name, value in change.items():
                sums[name] += value
            counted = d.counts.get((dimension, key), [0, 0])
            sums["learners"] += counted[0]
            sums["graded_learners"] += counted[1]
    total: Sums = dict.fromkeys(SUMS, 0.0)
    for sums in parts["tenant"].values():  # tenants hold disjoint learners: their sums are the total's
        for name in SUMS:
            total[name] += sums[name]
    names = {slug: name for slug, name in session.execute(select(Tenant.slug, Tenant.name).where(Tenant.id.in_(ids)))}
    courses = course_names(session, ids, sorted(parts["course"]))
    labels: dict[str, Callable[[str], str]] = {
        "tenant": lambda s: names.get(s, s), "course": lambda c: courses.get(c, c), "province": str, "week": str}
    tables = {d: breakdown(d, parts[d], total, min_group, labels[d],
                           lambda keys, d=d: _union(session, ids, d, keys, tails))  # type: ignore[misc]
              for d in DIMENSIONS}
    as_of = moment if complete else lag(session, ids)
    shown = sorted(key for key, s in parts["tenant"].items() if s["enrolments"] > 0)
    return Report(min_group, None, None, shown, tables, pseudonymised=pseudonymised, source="rollups",
                  as_of=as_of, replica_lag=replica_lag)


def figures_json(report: Report) -> dict[str, Any]:
    """The breakdowns' figures alone (no times, no labels): what two sources must agree on."""
    return {name: {"total": _plain(b.total), "groups": {g.key: _plain(g) for g in b.groups}}
            for name, b in report.breakdowns.items()}


def _plain(g: Group) -> tuple[Any, ...]:
    return (g.learners, g.enrolments, g.completion_rate, g.pass_rate, g.verified_rate, g.hours,
            g.minutes_per_enrolment, g.suppressed)
