"""Reports for analysts: enrolments, completion and pass rates, verified-attempt rate and time spent,
by tenant (ministry), course, province and ISO week, with small groups suppressed (k-anonymity).

Definitions (shown on the report page too):

* a **learner** is one ``actor_key`` of one tenant (tenants' stores do not share identities: a key
  seen by two ministries counts in each);
* an **enrolment** is one learner (``actor_key``) in one course (``course_id``, see the export
  schema) of one tenant, counted from the first statement about it; by week, an enrolment belongs to
  the ISO week of that first statement (a cohort);
* **completion rate**: enrolments with a completion (verb ``completed`` or ``result.completion``
  true) ÷ enrolments;
* **pass rate**: enrolments with a ``passed`` statement ÷ enrolments with ``passed`` or ``failed``;
* **verified-attempt rate**: ``passed``/``failed`` statements whose identity stamp says
  ``verified`` ÷ all ``passed``/``failed`` statements;
* **time spent**: per enrolment, the sum of cmi5 session durations (``terminated`` statements,
  cmi5 §9.5.4.1), or, with no ``terminated`` statement, of every duration reported.

k-anonymity (HOCVU_REPORT_MIN_GROUP, default 5): a group with fewer than k distinct learners is
shown as suppressed. Because every table also shows a total, hiding one cell is not enough: total
minus the published cells would give it back. So after the small groups are hidden, further groups
(smallest first) are hidden *complementarily* until the hidden groups together hold at least k
distinct learners; what subtraction can then recover is an aggregate of k or more learners, as
protected as any published cell. If the total itself has fewer than k learners, everything is
hidden. Rates whose own denominator (learners with a graded attempt) is under k are hidden in an
otherwise published group, since "100 % of 1" singles a learner out. Only one-dimensional
breakdowns are published (no tenant × province cross-table), so cells of different tables cannot be
differenced against each other below the total.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.archive.coverage import archived_in
from connectors.export import ExportQuery, iter_rows, plan
from connectors.export_files import record_batch
from connectors.frames import frame_from_batches
from connectors.storage import LearnerRecord
from lrs.storage import Activity, Tenant

log = logging.getLogger(__name__)
ADL: Final = "http://adlnet.gov/expapi/verbs/"
COMPLETED, PASSED, FAILED, TERMINATED = (ADL + v for v in ("completed", "passed", "failed", "terminated"))
VOIDED: Final = ADL + "voided"
UNKNOWN_PROVINCE: Final = "Chưa rõ / Unknown"
DIMENSIONS: Final = {  # key -> (column of the enrolment table, title)
    "tenant": ("tenant", "Theo bộ, ngành / By ministry (tenant)"),
    "course": ("course_id", "Theo khoá học / By course"),
    "province": ("province", "Theo tỉnh, thành / By province"),
    "week": ("week", "Theo tuần (ISO) bắt đầu học / By ISO week of enrolment"),
}


@dataclass(frozen=True)
class Group:
    """One row of a breakdown. A suppressed group has every figure None and says why."""

    key: str
    label: str
    learners: int | None
    enrolments: int | None
    completion_rate: float | None
    pass_rate: float | None
    verified_rate: float | None
    hours: float | None
    minutes_per_enrolment: float | None
    suppressed: str | None = None  # None, "small" (< k learners) or "complementary"


@dataclass(frozen=True)
class Breakdown:
    dimension: str
    title: str
    groups: list[Group]
    total: Group


@dataclass(frozen=True)
class Report:
    min_group: int
    since: datetime | None
    until: datetime | None
    tenants: list[str]
    breakdowns: dict[str, Breakdown]
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))
    pseudonymised: bool = False
    # Where the figures come from: "rollups" (``as_of``: every statement stored up to then is in)
    # or "statements" (read for this report); ``replica_lag``: seconds the replica read is behind.
    source: str = "statements"
    as_of: datetime | None = None
    replica_lag: float | None = None
    # Archived months the window covers, whose statements left the store (connectors.archive.coverage).
    archived: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def when(v: datetime | None) -> str | None:
            return v.astimezone(UTC).isoformat().replace("+00:00", "Z") if v else None

        return {"minGroup": self.min_group, "since": when(self.since), "until": when(self.until),
                "generated": when(self.generated), "tenants": self.tenants, "pseudonymised": self.pseudonymised,
                "source": self.source, "asOf": when(self.as_of), "replicaLagSeconds": self.replica_lag,
                "archived": self.archived,
                "breakdowns": {k: {"title": b.title, "groups": [asdict(g) for g in b.groups],
                                   "total": asdict(b.total)} for k, b in self.breakdowns.items()}}


def iso_week(moment: pd.Timestamp) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def enrolments(frame: pd.DataFrame, provinces: pd.DataFrame | None = None,
               tenant_provinces: Mapping[str, str | None] | None = None) -> pd.DataFrame:
    """One row per (tenant, course_id, actor_key) with what the metrics need.

    ``provinces``: columns tenant, actor_key, province (from learner records); learners without one
    are in their tenant's province (``tenant_provinces``, by slug), else in ``UNKNOWN_PROVINCE``."""
    f = frame.loc[frame["course_id"].notna() & (frame["verb_id"] != VOIDED)]
    verb = f["verb_id"]
    judged = verb.isin([PASSED, FAILED])
    duration = f["duration_seconds"].astype("float64")  # NaN for absent: sums skip it
    work = pd.DataFrame({
        "tenant": f["tenant"].astype(object), "course_id": f["course_id"].astype(object),
        "actor_key": f["actor_key"].astype(object), "timestamp": f["timestamp"],
        "completed": ((verb == COMPLETED) | f["completion"].fillna(False)).astype(bool),
        "judged": judged.astype(bool), "passed": (verb == PASSED).astype(bool),
        "verified": (judged & (f["verification_outcome"] == "verified").fillna(False)).astype(bool),
        "session_seconds": duration.where(verb == TERMINATED), "any_seconds": duration,
    })
    g = work.groupby(["tenant", "course_id", "actor_key"], sort=True)
    enr = g.agg(first=("timestamp", "min"), completed=("completed", "any"), judged=("judged", "any"),
                passed=("passed", "any"), attempts=("judged", "sum"), verified=("verified", "sum"),
                session_seconds=("session_seconds", lambda s: s.sum(min_count=1)),
                any_seconds=("any_seconds", lambda s: s.sum(min_count=1))).reset_index()
    enr["seconds"] = enr["session_seconds"].where(enr["session_seconds"].notna(), enr["any_seconds"])
    enr["week"] = [iso_week(t) for t in enr["first"]]
    if provinces is not None and not provinces.empty:
        enr = enr.merge(provinces[["tenant", "actor_key", "province"]].drop_duplicates(["tenant", "actor_key"]),
                        on=["tenant", "actor_key"], how="left")
    else:
        enr["province"] = None
    fallback = enr["tenant"].map(lambda t: (tenant_provinces or {}).get(t) or UNKNOWN_PROVINCE)
    enr["province"] = enr["province"].where(enr["province"].notna() & (enr["province"] != ""), fallback)
    enr["learner"] = enr["tenant"].astype(str) + "\n" + enr["actor_key"].astype(str)
    return enr.drop(columns=["session_seconds", "any_seconds"])


def finite(value: float | None, what: str, key: str) -> float | None:
    """A figure a page and JSON can show: a sum that overflowed (absurd durations in legacy rows,
    each finite, can add up to Infinity) is left out and logged, not written as Infinity."""
    if value is None or math.isfinite(value):
        return value
    log.warning("report: %s of group %r is not a finite number; left out", what, key)
    return None


def _figures(rows: pd.DataFrame, key: str, label: str, k: int) -> Group:
    learners = int(rows["learner"].nunique())
    graded_learners = int(rows.loc[rows["judged"], "learner"].nunique())
    attempts = int(rows["attempts"].sum())
    judged = int(rows["judged"].sum())
    timed = rows["seconds"].dropna()
    total = float(timed.sum()) if len(timed) else None
    graded_ok = graded_learners >= k  # a rate over fewer than k learners would single them out
    return Group(
        key=key, label=label, learners=learners, enrolments=len(rows),
        completion_rate=float(rows["completed"].sum()) / len(rows) if len(rows) else None,
        pass_rate=float(rows["passed"].sum()) / judged if judged and graded_ok else None,
        verified_rate=float(rows["verified"].sum()) / attempts if attempts and graded_ok else None,
        hours=finite(total / 3600 if total is not None else None, "hours", key),
        minutes_per_enrolment=finite(total / len(timed) / 60 if total is not None else None, "minutes", key),
    )


def hidden_group(key: str, label: str, why: str) -> Group:
    return Group(key, label, None, None, None, None, None, None, None, suppressed=why)


def breakdown(enr: pd.DataFrame, dimension: str, k: int, label_of: Callable[[str], str] = str) -> Breakdown:
    """One table with k-anonymity and complementary suppression applied (see the module docstring)."""
    column, title = DIMENSIONS[dimension]
    total = _figures(enr, "total", "Tổng / Total", k)
    parts = {str(key): rows for key, rows in enr.groupby(column, sort=True)}
    learners = {key: rows["learner"].nunique() for key, rows in parts.items()}
    if total.learners is None or total.learners < k:
        hidden = set(parts)
        total = hidden_group("total", total.label, "small")
    else:
        hidden = {key for key, n in learners.items() if n < k}
        small = set(hidden)
        while hidden:
            union = pd.concat([parts[h]["learner"] for h in hidden]).nunique()
            if union >= k:
                break
            shown = sorted((n, key) for key, n in learners.items() if key not in hidden)
            if not shown:
                break
            hidden.add(shown[0][1])  # complementary: the smallest group still shown
    groups = []
    for key in sorted(parts):
        if key in hidden:
            why = "small" if total.suppressed or key in small else "complementary"
            groups.append(hidden_group(key, label_of(key), why))
        else:
            groups.append(_figures(parts[key], key, label_of(key), k))
    return Breakdown(dimension, title, groups, total)


def build_report(frame: pd.DataFrame, *, min_group: int, provinces: pd.DataFrame | None = None,
                 tenant_names: Mapping[str, str] | None = None, course_names: Mapping[str, str] | None = None,
                 since: datetime | None = None, until: datetime | None = None, pseudonymised: bool = False,
                 tenant_provinces: Mapping[str, str | None] | None = None) -> Report:
    """The report over a statements frame (``connectors.frames``), every breakdown suppressed at k."""
    if min_group < 1:
        raise ValueError("the minimum group size k must be at least 1")
    enr = enrolments(frame, provinces, tenant_provinces)
    tenant_names, course_names = tenant_names or {}, course_names or {}
    labels: dict[str, Callable[[str], str]] = {
        "tenant": lambda s: tenant_names.get(s, s), "course": lambda c: course_names.get(c, c),
        "province": str, "week": str}
    tables = {d: breakdown(enr, d, min_group, labels[d]) for d in DIMENSIONS}
    tenants = sorted(set(frame["tenant"].dropna().astype(str)))
    return Report(min_group, since, until, tenants, tables, pseudonymised=pseudonymised)


def _name(definition: Any) -> str | None:
    names = definition.get("name") if isinstance(definition, dict) else None
    if not isinstance(names, dict) or not names:
        return None
    for lang in ("vi", "vi-VN", "en", "en-US"):
        if names.get(lang):
            return _text(str(names[lang]))
    return _text(str(next(iter(names.values()))))


def _text(name: str) -> str:
    # A legacy definition may hold a lone surrogate, which no UTF-8 page or JSON body can carry.
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in name) if not name.isascii() else name


def load_report(session: Session, query: ExportQuery, *, min_group: int, pseudonym_key: bytes | None = None
                ) -> Report:
    """The report over what ``query`` selects in the store (as an export would), with province from
    the tenants' learner records, ministry names from the tenants and course names from the
    Activity definitions the store keeps. The archived months the window covers are named
    (``Report.archived``): their statements are not in the figures."""
    p = plan(session, query, pseudonym_key=pseudonym_key)
    archived = archived_in(session, p.tenants, p.since, p.bound)
    frame = frame_from_batches(record_batch(page) for page in iter_rows(session, p))
    slug_of = dict(p.tenants)
    ids = list(slug_of)
    records = session.execute(select(LearnerRecord.tenant_id, LearnerRecord.learner_key, LearnerRecord.province)
                              .where(LearnerRecord.tenant_id.in_(ids), LearnerRecord.province.is_not(None))).all()
    pseudo = p.pseudonymiser
    provinces = pd.DataFrame(
        [(slug_of[t], pseudo.agent(key) if pseudo else key, province) for t, key, province in records],
        columns=["tenant", "actor_key", "province"])
    tenants = list(session.scalars(select(Tenant).where(Tenant.id.in_(ids))))
    tenant_names = {t.slug: t.name for t in tenants}
    courses = sorted(set(frame["course_id"].dropna().astype(str)))
    built = build_report(frame, min_group=min_group, provinces=provinces, tenant_names=tenant_names,
                         course_names=course_names(session, ids, courses), since=p.since, until=query.until,
                         pseudonymised=pseudo is not None, tenant_provinces={t.slug: t.province for t in tenants})
    return replace(built, archived=archived)


def course_names(session: Session, tenant_ids: list[int], courses: list[str]) -> dict[str, str]:
    """Course ids' names from the Activity definitions the store keeps (Vietnamese first)."""
    names: dict[str, str] = {}
    for start in range(0, len(courses), 500):  # bounded IN lists
        for activity_id, definition in session.execute(
                select(Activity.activity_id, Activity.definition)
                .where(Activity.tenant_id.in_(tenant_ids), Activity.activity_id.in_(courses[start:start + 500]))):
            name = _name(definition)
            if name:
                names.setdefault(activity_id, name)
    return names
