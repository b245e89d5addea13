"""moveOn (cmi5 §13.1.4) and satisfied (cmi5 §9.3.9): an AU is satisfied when its statements meet its
moveOn (Completed, Passed, CompletedAndPassed, CompletedOrPassed; NotApplicable at once) or it is
waived; a block when every AU under it is, the course when every AU of it is. Each gets one
``satisfied`` per registration, object the LMS's IRI with the publisher's id in grouping (9.3.9.0-2/-4/-6/-8,
§9.6.2.3). The AU itself gets none (CATAPULT 001 expects the block's and the course's right after the
AU's own statements)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.cmi5.rules import status_of
from lrs.cmi5.storage import Cmi5AuStatus, Cmi5Session
from player.packages.cmi5.lms_statements import TYPE_BLOCK, TYPE_COURSE, base, lms_activity_id
from player.packages.cmi5.structure import Au, Block, CourseStructure, aus_under
from player.statements import write


def met(move_on: str, completed: bool, passed: bool) -> bool:
    return {"NotApplicable": True, "Completed": completed, "Passed": passed,
            "CompletedAndPassed": completed and passed,
            "CompletedOrPassed": completed or passed}.get(move_on, False)


def _au_of(course: CourseStructure, row: Cmi5Session) -> Au | None:
    return next((au for au in course.aus() if lms_activity_id(course.id, au.id) == row.au_iri), None)


def _status(db: Session, tenant_id: int, registration: str, iri: str) -> Cmi5AuStatus | None:
    return db.scalars(select(Cmi5AuStatus).where(Cmi5AuStatus.tenant_id == tenant_id,
                                                 Cmi5AuStatus.registration == registration,
                                                 Cmi5AuStatus.au_iri == iri)).first()


def _au_satisfied(db: Session, row: Cmi5Session, course: CourseStructure, au: Au) -> bool:
    status = _status(db, row.tenant_id, row.registration, lms_activity_id(course.id, au.id))
    if status is None:
        return au.move_on == "NotApplicable"
    return status.waived or status.satisfied or met(au.move_on, status.completed, status.passed)


def settle(db: Session, row: Cmi5Session, course: CourseStructure, now: datetime) -> list[str]:
    """Mark the AU satisfied if its moveOn is met, then write satisfied for each block and the
    course that just became satisfied (innermost first). Returns the IRIs satisfied now."""
    au = _au_of(course, row)
    if au is None:
        return []
    status = status_of(db, row)
    if not status.satisfied and _au_satisfied(db, row, course, au):
        status.satisfied = True
    done: list[str] = []
    statements = []
    # Every block, inner ones before those holding them, then the course: a registration's first launch
    # satisfies at once what NotApplicable AUs alone make up (cmi5 §9.6.1.1, CATAPULT 9.6.1.1-3).
    targets: list[tuple[Block | CourseStructure, str]] = [(b, TYPE_BLOCK) for b in reversed(course.blocks())]
    targets.append((course, TYPE_COURSE))
    for node, kind in targets:
        aus = aus_under(node) if isinstance(node, Block) else course.aus()
        if not all(_au_satisfied(db, row, course, a) for a in aus):
            continue
        iri = lms_activity_id(course.id, node.id)
        mark = _status(db, row.tenant_id, row.registration, iri)
        if mark is None:
            mark = Cmi5AuStatus(tenant_id=row.tenant_id, registration=row.registration, au_iri=iri,
                                completed=False, passed=False, waived=False, satisfied=False)
            db.add(mark)
        if mark.satisfied:
            continue
        mark.satisfied = True
        done.append(iri)
        obj = {"objectType": "Activity", "id": iri,
               "definition": {"type": kind, "name": node.title or {"und": node.id}}}
        statements.append(base(row, "satisfied", obj, now, grouping=[node.id]))
    db.flush()
    write(db, row.tenant_id, statements)
    return done
