"""Shared by the export and report tests: the tenant behind an ``Xapi`` client, and representative
statements (cmi5-style verbs, scores, durations, context parents/grouping, the identity stamp)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import select

from face_check.challenge import LIVENESS_METHOD
from face_check.verification import CheckResult, Outcome
from identity.stamp import LIVENESS_PASSED, build_stamp, pseudonymous_subject, stamp_statement
from lrs.storage import Credential, Database, Tenant
from tests.conftest import Xapi, statement

ADL = "http://adlnet.gov/expapi/verbs/"
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
BASE = "https://hocvu.vn/courses/ky-nang-so"
PEPPER = b"0123456789abcdef-test-pepper"
SIGNED_IN = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CHECKED = datetime(2026, 3, 2, 8, 5, tzinfo=UTC)


def database(app: Flask) -> Database:
    db: Database = app.extensions["hocvu.db"]
    return db


def tenant_slug(app: Flask, xapi: Xapi) -> str:
    with database(app).session() as s:
        return str(s.scalar(select(Tenant.slug).join(Credential, Credential.tenant_id == Tenant.id)
                            .where(Credential.key == xapi.key)))


def verb(name: str) -> dict[str, Any]:
    return {"id": ADL + name, "display": {"en-US": name}}


def learner(name: str) -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": "https://lms.bo-gddt.gov.vn", "name": name}}


def stamp(level: int | None, check: CheckResult | None) -> dict[str, Any]:
    """A stamp as the gate makes it after a camera burst whose liveness challenge passed."""
    return build_stamp(subject=pseudonymous_subject(PEPPER, "https://vneid.example", "sub-1"),
                       signed_in_at=SIGNED_IN, level=level, check=check, checked_at=CHECKED if check else None,
                       liveness=LIVENESS_METHOD if check else None, liveness_result=LIVENESS_PASSED if check else None)


MATCH = CheckResult(Outcome.MATCH, 0.31, 0.40, "euclidean_l2")
NO_MATCH = CheckResult(Outcome.NO_MATCH, 0.52, 0.40, "euclidean_l2")


def course_context(registration: str, *, course: str = BASE, module: str = "module-1",
                   extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "registration": registration,
        "contextActivities": {
            "parent": [{"id": f"{course}/{module}"}],
            "grouping": [{"id": f"{course}/series", "definition": {"type": "http://example.vn/series"}},
                         {"id": course, "definition": {"type": COURSE_TYPE}}],
        },
    }
    if extensions:
        ctx["extensions"] = extensions
    return ctx


def representative() -> list[dict[str, Any]]:
    """Statements covering every column: scores, durations, stamps, parents/grouping, Agent object."""
    reg = str(uuid.uuid4())
    quiz = {"objectType": "Activity", "id": f"{BASE}/module-1/quiz",
            "definition": {"type": "http://adlnet.gov/expapi/activities/assessment", "name": {"vi": "Bài kiểm tra"}}}
    passed = stamp_statement(statement(
        id=str(uuid.uuid4()), actor=learner("hv-001"), verb=verb("passed"), object=quiz,
        result={"score": {"scaled": 0.875, "raw": 7, "min": 0, "max": 8}, "success": True, "completion": True,
                "duration": "PT1M30.5S"},
        context=course_context(reg), timestamp="2026-03-02T15:10:00.123456+07:00"), stamp(2, MATCH))
    failed = stamp_statement(statement(
        id=str(uuid.uuid4()), actor=learner("hv-002"), verb=verb("failed"), object=quiz,
        result={"score": {"scaled": -0.5, "raw": -4.25, "min": -10, "max": 10}, "success": False,
                "duration": "P1DT2H"},
        context=course_context(str(uuid.uuid4())), timestamp="2026-03-02T09:00:00Z"), stamp(1, NO_MATCH))
    completed = statement(
        id=str(uuid.uuid4()), actor=learner("hv-001"), verb=verb("completed"),
        result={"completion": True, "duration": "PT0.25S"},
        context={"contextActivities": {"grouping": {"id": "https://lms.example/other-course"}}},
        timestamp="2026-03-03T00:00:00Z")
    about_agent = statement(
        id=str(uuid.uuid4()), actor=learner("teacher-9"), verb=verb("interacted"), object=learner("hv-001"),
        timestamp="2026-03-03T01:00:00Z")
    return [passed, failed, completed, about_agent]


def post_statements(xapi: Any, statements: list[dict[str, Any]]) -> Any:
    """POST statements, the stamped ones signed by the hub: the only way the LRS stores a stamp
    (identity.stamp_guard)."""
    from tests.identity.auditor.auditor_support import signed_body

    content_type, body = signed_body(xapi.client.application, statements)
    return xapi.post("statements", data=body, headers={"Content-Type": content_type})
