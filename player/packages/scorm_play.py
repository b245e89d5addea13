"""Playing a SCORM course without Flask: which SCOs it has, a learner's attempts, what the run-time
is given on launch (resume) and what a commit may change; the grade of a SCORM link.

The learner is always the session's (``PlayerSession``, opened by an LMS launch or a sign-in): the
attempt a commit writes is found from the session, never named by the browser. Attempts: a session
that ends with ``exit = suspend`` leaves the attempt open, and the next launch resumes it (``entry =
resume``, the saved data given back: SCORM 1.2 RTE §3.4.2 cmi.core.entry, SCORM 2004 RTE §4.2.7);
any other exit ends the attempt, and the next launch starts a new one (``ab-initio``) with no data.
Every function takes an explicit SQLAlchemy session and ``now``; callers commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.storage import as_utc
from player.catalogue import CatalogueItem
from player.domain import registration_for
from player.grades import LinkGrade
from player.packages.errors import PackageError, PackageNotFound
from player.packages.scorm_cmi import check_commit
from player.packages.scorm_statements import course_target, sco_target, session_statements, write_session
from player.packages.scorm_storage import ScormAttempt
from player.packages.storage import ImportedPackage
from player.session import PlayerSession
from schemas import scorm_xapi
from schemas.xapi_formats import iso_duration


class OutsideLaunch(PackageError):
    """The session opened something else: a SCORM course's pages and commits are its learners' only."""

    status, code = 403, "scorm_outside_launch"


class NoOpenAttempt(PackageError):
    """A commit with no session open for it (the SCO page was not loaded in this launch)."""

    status, code = 409, "scorm_no_open_attempt"


@dataclass(frozen=True)
class ScoItem:
    id: str
    title: str
    launch: str
    sco: bool                    # talks to the run-time (else an asset: shown, nothing tracked)
    mastery: float | None = None     # 1.2 adlcp:masteryscore
    threshold: float | None = None   # 2004 adlcp:completionThreshold
    data: str | None = None          # launch data (adlcp:datafromlms)


@dataclass(frozen=True)
class ScormCourse:
    course_id: str
    package_id: str
    version: str
    title: str
    choice: bool
    flow: bool
    items: tuple[ScoItem, ...]

    @property
    def target(self) -> str:
        return course_target(self.course_id)

    def item(self, item_id: str) -> ScoItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise PackageNotFound(f"course {self.course_id!r} has no item {item_id!r}")

    def neighbours(self, item_id: str) -> tuple[ScoItem | None, ScoItem | None]:
        """The items before and after ``item_id`` in flow order (SCORM 2004 SN §4.2 "flow")."""
        ids = [i.id for i in self.items]
        at = ids.index(item_id)
        return (self.items[at - 1] if at > 0 else None, self.items[at + 1] if at + 1 < len(ids) else None)


FORMATS = {"1.2": "scorm12", "2004": "scorm2004"}   # ImportedPackage.format of each SCORM version


def _course(row: ImportedPackage) -> ScormCourse:
    s = row.structure
    items = tuple(ScoItem(i["id"], i["title"], i["launch"], bool(i["sco"]), i.get("mastery"), i.get("threshold"),
                          i.get("data")) for i in s["items"])
    title = row.title.get("vi") or next(iter(row.title.values()), row.slug)
    return ScormCourse(row.slug, row.package_key, str(s["version"]), title, bool(s["choice"]), bool(s["flow"]),
                       items)


def find_course(db: Session, course_id: str) -> ScormCourse:
    row = db.scalar(select(ImportedPackage).where(ImportedPackage.slug == course_id,
                                                  ImportedPackage.format.in_(FORMATS.values())))
    if row is None:
        raise PackageNotFound(f"no SCORM course {course_id!r}")
    return _course(row)


def all_courses(db: Session) -> list[ScormCourse]:
    return [_course(r) for r in db.scalars(select(ImportedPackage).where(
        ImportedPackage.format.in_(FORMATS.values())).order_by(ImportedPackage.slug))]


def catalogue_items(db: Session) -> list[CatalogueItem]:
    """The SCORM courses as rows of the catalogue's picker (``Catalogue.providers``: after the YAML
    courses); graded: a SCORM course reports its SCOs' scores (``link_grade``), out of 100 each."""
    out: list[CatalogueItem] = []
    for c in all_courses(db):
        out.append(CatalogueItem(c.target, c.title, "package", True, 100.0 * max(1, sum(i.sco for i in c.items))))
        # Each SCO may be linked on its own (``check_launch`` allows a one-SCO link), as each cmi5 AU is.
        out.extend(CatalogueItem(sco_target(c.course_id, i.id), i.title, "au", True, 100.0) for i in c.items if i.sco)
    return out


def check_launch(launch: PlayerSession, course: ScormCourse, item_id: str | None = None) -> None:
    """The session opened this course (or this SCO of it); else OutsideLaunch."""
    target = launch.target
    if target == course.target:
        return
    if item_id is None and target.startswith(course.target + "/sco/"):
        return  # the course's start and files serve a one-SCO link too
    if item_id is None or target != sco_target(course.course_id, item_id):
        raise OutsideLaunch(f"this session opened {launch.target!r}, not {course.target!r}")


def _latest(db: Session, launch: PlayerSession, course_id: str, sco: str) -> ScormAttempt | None:
    return db.scalar(select(ScormAttempt).where(
        ScormAttempt.tenant_id == launch.tenant_id, ScormAttempt.registration == registration_for(launch),
        ScormAttempt.course_id == course_id, ScormAttempt.sco == sco).order_by(ScormAttempt.number.desc()).limit(1))


def attempts(db: Session, launch: PlayerSession, course_id: str) -> list[ScormAttempt]:
    return list(db.scalars(select(ScormAttempt).where(
        ScormAttempt.tenant_id == launch.tenant_id, ScormAttempt.registration == registration_for(launch),
        ScormAttempt.course_id == course_id).order_by(ScormAttempt.sco, ScormAttempt.number)))


# Write-only elements are never given back (SCORM 1.2 RTE §3.4.2, 2004 RTE §4.2: exit, session_time).
_WRITE_ONLY = {"cmi.core.exit", "cmi.core.session_time", "cmi.exit", "cmi.session_time"}


def open_session(db: Session, launch: PlayerSession, course: ScormCourse, item: ScoItem, now: datetime
                 ) -> tuple[ScormAttempt, dict[str, str]]:
    """Start a session of the learner's attempt at ``item`` (resuming a suspended one) and the data
    the run-time starts from: the saved elements plus the LMS-owned ones."""
    attempt = _latest(db, launch, course.course_id, item.id)
    if attempt is None or attempt.ended is not None:
        attempt = ScormAttempt(tenant_id=launch.tenant_id, registration=registration_for(launch),
                               course_id=course.course_id, sco=item.id,
                               number=(attempt.number + 1) if attempt else 1, cmi={}, suspended=False, sessions=0,
                               total_seconds=0.0, started=now, updated=now)
        db.add(attempt)
    elif attempt.session_started is not None and as_utc(attempt.updated) > as_utc(attempt.session_started):
        # The last session committed data but never terminated (the tab was closed): it is ended
        # now, at its last commit, as a suspended one, so its statements are written and the learner
        # resumes where the data says rather than losing it.
        exit_el = "cmi.core.exit" if course.version == "1.2" else "cmi.exit"
        _end_session(db, launch, course, item, attempt, {**attempt.cmi, exit_el: "suspend"},
                     as_utc(attempt.updated), launch.locale)
    attempt.session_started = now
    db.flush()
    saved = {k: v for k, v in attempt.cmi.items() if k not in _WRITE_ONLY} if attempt.suspended else {}
    entry = "resume" if attempt.suspended else ("ab-initio" if attempt.sessions == 0 else "")
    learner = launch.learner
    total = iso_duration(attempt.total_seconds)
    if course.version == "1.2":
        lms = {"cmi.core.student_id": learner.account, "cmi.core.student_name": learner.name,
               "cmi.core.entry": entry, "cmi.core.credit": "credit", "cmi.core.lesson_mode": "normal",
               "cmi.core.total_time": _timespan(attempt.total_seconds), "cmi.launch_data": item.data or ""}
        if item.mastery is not None:
            lms["cmi.student_data.mastery_score"] = f"{item.mastery:g}"
        if not attempt.suspended:
            lms["cmi.core.lesson_status"] = "not attempted"
    else:
        lms = {"cmi.learner_id": learner.account, "cmi.learner_name": learner.name, "cmi.entry": entry,
               "cmi.credit": "credit", "cmi.mode": "normal", "cmi.total_time": total,
               "cmi.launch_data": item.data or ""}
        if item.threshold is not None:
            lms["cmi.completion_threshold"] = f"{item.threshold:g}"
    return attempt, {**saved, **lms}


def _timespan(seconds: float) -> str:
    """SCORM 1.2 RTE §3.4 CMITimespan HHHH:MM:SS.SS."""
    whole = int(seconds)
    return f"{whole // 3600:04d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{round(seconds % 1 * 100) % 100:02d}"


@dataclass(frozen=True)
class Committed:
    attempt_id: int
    statements: list[str]   # ids written (a terminating commit's session)
    ended: bool             # the session ended (its grade may have changed)


def commit(db: Session, launch: PlayerSession, course: ScormCourse, item: ScoItem, body: Any, now: datetime,
           *, terminate: bool, language: str) -> Committed:
    """Keep a commit of the run-time (checked whole first: a refused one changes nothing); a
    terminating one ends the session and writes its statements once."""
    attempt = _latest(db, launch, course.course_id, item.id)
    if attempt is None or attempt.ended is not None:
        raise NoOpenAttempt(f"no open attempt at {item.id!r}: open the SCO's page first")
    kept = check_commit(course.version, body, launch.learner.account)
    cmi = {**attempt.cmi, **kept}
    problems: list[str] = []
    values, _ = scorm_xapi.read(course.version, _scored(course.version, cmi), problems, language)
    attempt.cmi = cmi
    attempt.updated = now
    _summary(attempt, course.version, cmi, values)
    if not terminate or attempt.session_started is None:
        db.flush()
        return Committed(attempt.id, [], False)
    ids = _end_session(db, launch, course, item, attempt, cmi, now, language)
    return Committed(attempt.id, ids, True)


def _end_session(db: Session, launch: PlayerSession, course: ScormCourse, item: ScoItem, attempt: ScormAttempt,
                 cmi: dict[str, str], ended: datetime, language: str) -> list[str]:
    """Write the open session's statements and close it: suspended (the attempt stays open) or ended."""
    problems: list[str] = []
    values, _ = scorm_xapi.read(course.version, _scored(course.version, cmi), problems, language)
    # The session's entry is the hub's (read-only to the SCO): the mapping reads resume from it.
    entry = "resume" if attempt.suspended else ("ab-initio" if attempt.sessions == 0 else "")
    reported = {**_scored(course.version, cmi), ("cmi.core.entry" if course.version == "1.2" else "cmi.entry"): entry}
    statements = session_statements(launch, attempt, course.version, reported, course_title=course.title,
                                    sco_title=item.title, ended=ended, language=language,
                                    started=as_utc(attempt.session_started) if attempt.session_started else None)
    ids = write_session(db, launch, statements, attempt)
    attempt.sessions += 1
    attempt.session_started = None
    attempt.total_seconds += _seconds(values.get("duration"))
    attempt.suspended = values.get("exit") == "suspend"
    if not attempt.suspended:
        attempt.ended = ended
    db.flush()
    return ids


def _scored(version: str, cmi: dict[str, str]) -> dict[str, str]:
    """The data without a score's range when no score was given: run-times fill in score.max = 100 by
    default (scorm-again does), and a range alone is no score (SCORM 1.2 RTE §3.4.2: min and max
    qualify raw; 2004 RTE §4.2.20: raw or scaled is the score)."""
    prefix = "cmi.core.score" if version == "1.2" else "cmi.score"
    if any(cmi.get(f"{prefix}.{part}") for part in ("raw", "scaled")):
        return cmi
    return {k: v for k, v in cmi.items() if not k.startswith(prefix + ".")}


def _summary(attempt: ScormAttempt, version: str, cmi: dict[str, str], values: dict[str, Any]) -> None:
    if version == "1.2":
        status = cmi.get("cmi.core.lesson_status") or None
        attempt.completion = status
        attempt.success = status if status in ("passed", "failed") else None
    else:
        attempt.completion = cmi.get("cmi.completion_status") or None
        attempt.success = cmi.get("cmi.success_status") or None
    score = values.get("score") or {}
    attempt.score_scaled = float(score["scaled"]) if "scaled" in score else None


def _seconds(duration: str | None) -> float:
    if not duration:
        return 0.0
    return scorm_xapi.duration_seconds(duration)


_DONE = {"completed", "passed", "failed"}


def link_grade(db: Session, launch: PlayerSession, course: ScormCourse) -> LinkGrade | None:
    """A SCORM link's grade: each scored SCO counts 100 × its best scaled score (a retake never
    lowers it); complete when every SCO's latest attempt is completed (or passed/failed)."""
    rows = attempts(db, launch, course.course_id)
    best: dict[str, float] = {}
    latest: dict[str, ScormAttempt] = {}
    for a in rows:
        latest[a.sco] = a
        if a.score_scaled is not None:
            best[a.sco] = max(best.get(a.sco, -1.0), a.score_scaled)
    if not best:
        return None
    # A link to one SCO is complete with that SCO; a link to the course, with every SCO of it.
    linked = [i for i in course.items if i.sco and launch.target in (course.target, sco_target(course.course_id, i.id))]
    done = all(i.id in latest and (latest[i.id].completion in _DONE) for i in linked)
    return LinkGrade(score_given=round(sum(max(0.0, s) * 100 for s in best.values()), 4),
                     score_max=100.0 * len(best), activity_progress="Completed" if done else "InProgress",
                     grading_progress="FullyGraded" if done else "Pending")
