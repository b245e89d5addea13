"""What the LMS does when an AU reports (cmi5 §9.3.9 satisfied, §9.3.7 waived, §9.3.6 abandoned):
registered with the LRS (``lrs.cmi5.rules.add_listener``) so it runs in the same transaction as the
AU's statements, right after them.

moveOn (cmi5 §13.1.4): an AU is satisfied when its statements meet it (Completed, Passed,
CompletedAndPassed, CompletedOrPassed; NotApplicable at once) or when it is waived. A block is
satisfied when every AU under it is, the course when every AU of it is; each gets one ``satisfied``
statement per registration, object the LMS's IRI of it with the publisher's id in grouping
(9.3.9.0-2/-4/-6/-8, §9.6.2.3). The AU itself gets no satisfied statement (CATAPULT 001 expects the
block's and the course's right after the AU's own).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.cmi5 import sessions as lrs_sessions
from lrs.cmi5.rules import add_listener, status_of
from lrs.cmi5.storage import ABANDONED, ENDED, WAIVED, Cmi5Session
from player.grades import LinkGrade, ScoreReporter
from player.packages.attest import arm_sealer
from player.packages.cmi5 import model
from player.packages.cmi5.launch import au_at
from player.packages.cmi5.lms_statements import EXT_REASON, base, duration, lms_activity_id
from player.packages.cmi5.satisfaction import settle
from player.packages.cmi5.structure import CourseStructure
from player.packages.errors import PackageError
from player.packages.storage import ImportedPackage
from player.session import PlayerSession
from player.statements import write
from schemas.cmi5 import MOVEON_CATEGORY

log = logging.getLogger(__name__)
Reporters = Callable[[], Mapping[str, ScoreReporter]]
_reporters: list[Reporters] = []


def init_progress(reporters: Reporters) -> None:
    """Start listening to AU statements; ``reporters`` gives the player's score reporters (AGS)."""
    _reporters[:] = [reporters]
    add_listener(on_au_statements)


def _package(db: Session, package_key: str) -> ImportedPackage | None:
    return db.scalars(select(ImportedPackage).where(ImportedPackage.package_key == package_key)).first()


def on_au_statements(db: Session, row: Cmi5Session, events: list[tuple[str, dict[str, Any]]]) -> None:
    arm_sealer(db)  # satisfied statements of an assessed AU's session are stamped and signed like launched
    package = _package(db, row.package_key)
    if package is None:
        return  # the course was removed while a session was open: nothing left to satisfy
    course = model.from_json(package.structure)
    now = datetime.now(UTC)
    settle(db, row, course, now)
    if any(verb in ("passed", "failed") for verb, _ in events):
        report_grade(db, row, course)


def report_grade(db: Session, row: Cmi5Session, course: CourseStructure) -> bool:
    """The AU's score to the learner's score reporter (LTI AGS when the course was opened from an
    LMS): scaled × 100 out of 100, Completed/FullyGraded once the AU is satisfied."""
    opener = row.opener or {}
    if not opener or not _reporters:
        return False
    try:
        launch = PlayerSession.from_session(opener)
    except (TypeError, KeyError, ValueError):
        return False
    reporter = _reporters[0]().get(launch.reporter or "")
    status = status_of(db, row)
    if reporter is None or status.score_scaled is None:
        return False
    grade = LinkGrade(score_given=round(status.score_scaled * 100, 4), score_max=100.0,
                      activity_progress="Completed" if status.satisfied else "InProgress",
                      grading_progress="FullyGraded" if status.satisfied else "Pending")
    try:
        return reporter(db, launch, grade)
    except Exception:
        log.exception("the cmi5 grade of %s could not be handed to %s", row.au_iri, launch.reporter)
        return False


def waive(db: Session, tenant_id: int, actor: dict[str, Any], registration: str, package: ImportedPackage,
          au_index: int, reason: str, now: datetime) -> list[str]:
    """cmi5 §9.3.7: the LMS waives an AU for a registration (``waived``, result success and
    completion true, the reason extension), then satisfies what that completes."""
    course, au = au_at(package, au_index)
    if reason not in ("Tested Out", "Equivalent AU", "Equivalent Outside Activity", "Administrative"):
        raise PackageError(f"cmi5 §9.5.5.2: the waive reason is Tested Out, Equivalent AU, Equivalent Outside "
                           f"Activity or Administrative, not {reason!r}")
    # A session row records the waiver's session id (every LMS statement carries one, §9.6.3.1).
    row, _ = lrs_sessions.open_session(
        db, tenant_id=tenant_id, actor=actor, registration=registration, course_iri=course.id,
        au_iri=lms_activity_id(course.id, au.id), package_key=package.package_key, launch_mode="Normal",
        move_on=au.move_on, mastery_score=au.mastery_score, now=now, ttl=timedelta(0), opener={})
    lrs_sessions.end(db, row, WAIVED, now)
    status = status_of(db, row)
    if status.waived or status.satisfied:
        return []
    status.waived = True
    waived = base(row, "waived", {"objectType": "Activity", "id": row.au_iri}, now, grouping=[au.id],
                   result={"success": True, "completion": True, "extensions": {EXT_REASON: reason}})
    # cmi5 §9.6.2.2: waived counts toward moveOn, so it carries the moveOn category too.
    waived["context"]["contextActivities"]["category"].append({"objectType": "Activity", "id": MOVEON_CATEGORY})
    write(db, tenant_id, [waived])
    return settle(db, row, course, now)


def abandon_session(db: Session, tenant_id: int, session_id: str, now: datetime) -> bool:
    """An administrator (or CATAPULT) abandons one open session by its id (cmi5 §9.3.6)."""
    row = db.scalars(select(Cmi5Session).where(Cmi5Session.tenant_id == tenant_id,
                                               Cmi5Session.session_id == session_id).with_for_update()).first()
    if row is None or row.state in ENDED:
        return False
    lrs_sessions.end(db, row, ABANDONED, now)
    write(db, tenant_id, [base(row, "abandoned", {"objectType": "Activity", "id": row.au_iri}, now,
                                result={"duration": duration(row.launched, now)})])
    return True


def abandon_expired(db: Session, now: datetime) -> int:
    """cmi5 §9.3.6: sessions still open past their credential's lifetime (HOCVU_CMI5_SESSION_HOURS) are
    abandoned, in every tenant; run by ``hocvu courses sweep`` (cron). Returns how many."""
    rows = list(db.scalars(select(Cmi5Session).where(Cmi5Session.state.not_in(ENDED), Cmi5Session.expires < now)
                           .with_for_update()))
    for row in rows:
        lrs_sessions.end(db, row, ABANDONED, now)
        write(db, row.tenant_id, [base(row, "abandoned", {"objectType": "Activity", "id": row.au_iri}, now,
                                       result={"duration": duration(row.launched, now)})])
    return len(rows)
