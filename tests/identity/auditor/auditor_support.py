"""Shared by the auditor, proof-bundle and stamp-guard tests: attempts written the way the course
player writes them (cmi5 session id and registration on every statement, a face-check statement per
check, each statement stamped with ``identity.stamp`` and signed by the hub's key with
``identity.signing``, stored in-process by ``lrs.statements.store`` as the player's principal), and
national credentials. The hub's key is the one the app's course player signs with.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from face_check.challenge import LIVENESS_METHOD
from face_check.verification import CheckResult, Outcome
from identity.gate.face import CHECK_TYPE, CHECK_VERB, EXT_FACE_CHECK
from identity.gate.http import CONFIG_EXT
from identity.signing import SigningMaterial, sign_statement
from identity.stamp import build_stamp, pseudonymous_subject, stamp_statement
from lrs import credentials
from lrs import statements as lrs_statements
from lrs.multipart import AttachmentPart
from lrs.storage import AuditEntry, Database
from player.statements import system_principal
from schemas.cmi5 import EXT_SESSION
from tests.conftest import new_credential

PEPPER = b"auditor-test-pepper-0123456789abcdef"
BASE = "https://hocvu.vn/activities/"
MATCH = CheckResult(Outcome.MATCH, 0.31, 0.40, "euclidean_l2")
NO_MATCH = CheckResult(Outcome.NO_MATCH, 0.52, 0.40, "euclidean_l2")


def hub_material(app: Flask) -> SigningMaterial:
    """The key the app's course player signs stamped statements with: the hub's own."""
    material: SigningMaterial = app.extensions[CONFIG_EXT].material()
    return material


def database(app: Flask) -> Database:
    db: Database = app.extensions["hocvu.db"]
    return db


def basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


def national(app: Flask, role: str) -> tuple[str, str]:
    with database(app).session() as s:
        cred, secret = credentials.create_national_credential(s, role, f"test {role}")
        s.commit()
        return cred.key, secret


def new_tenant(app: Flask) -> tuple[str, int]:
    slug, _, _ = new_credential(app, ["all"])
    with database(app).session() as s:
        return slug, credentials.get_tenant(s, slug).id


def access_entries(app: Flask, tenant_id: int) -> list[dict[str, Any]]:
    with database(app).session() as s:
        return [d for (d,) in s.execute(select(AuditEntry.detail).where(
            AuditEntry.tenant_id == tenant_id, AuditEntry.kind == "access").order_by(AuditEntry.position))]


def chain_length(app: Flask, tenant_id: int) -> int:
    with database(app).session() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.tenant_id == tenant_id)))


@dataclass
class Written:
    tenant: str
    tenant_id: int
    registration: str
    session_id: str
    quiz: str
    subject: str
    ids: list[str] = field(default_factory=list)
    check_ids: list[str] = field(default_factory=list)


def _activity(iri: str, kind: str) -> dict[str, Any]:
    return {"objectType": "Activity", "id": iri,
            "definition": {"type": f"http://adlnet.gov/expapi/activities/{kind}", "name": {"en": kind}}}


def write_attempt(app: Flask, tenant: tuple[str, int], *, course: str, checks: list[CheckResult],
                  level: int = 2, learner: str | None = None, start: datetime | None = None,
                  material: SigningMaterial | None = None, sign: bool = True) -> Written:
    """One attempt: for each check, a face-check statement, then a statement of the quiz, all
    stamped with the latest check and signed by the hub."""
    slug, tenant_id = tenant
    learner = learner or f"sub-{uuid.uuid4().hex[:8]}"
    quiz = f"{course}/module/m1/quiz/q1"
    subject = pseudonymous_subject(PEPPER, "https://vneid.example", learner)
    registration, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    start = start or datetime.now(UTC) - timedelta(minutes=30)
    material = material or hub_material(app)
    actor = {"objectType": "Agent", "account": {"homePage": "https://lms.example.vn", "name": learner}}
    context = {"registration": registration, "extensions": {EXT_SESSION: session_id},
               "contextActivities": {"parent": [_activity(quiz, "assessment")],
                                     "grouping": [_activity(course, "course")]}}
    statements: list[dict[str, Any]] = []
    parts: list[AttachmentPart] = []
    out = Written(slug, tenant_id, registration, session_id, quiz, subject)
    for i, check in enumerate(checks):
        when = start + timedelta(minutes=5 * i)
        stamp = build_stamp(subject=subject, signed_in_at=start - timedelta(minutes=1), level=level, check=check,
                            checked_at=when, liveness=LIVENESS_METHOD,
                            liveness_result="passed" if check.matched else check.outcome.value)
        detail = {"kind": "initial" if i == 0 else "recheck", "outcome": check.outcome.value,
                  "threshold": check.threshold, "metric": check.metric, "model": check.model,
                  "detector": check.detector, "faces": 1, "distance": check.distance}
        face = {"id": str(uuid.uuid4()), "actor": actor,
                "verb": {"id": CHECK_VERB, "display": {"en": "checked identity"}},
                "object": {"objectType": "Activity", "id": quiz + "/identity-check",
                           "definition": {"type": CHECK_TYPE, "name": {"en": "Face check"}}},
                "result": {"success": check.matched, "extensions": {EXT_FACE_CHECK: detail}},
                "context": json.loads(json.dumps(context)), "timestamp": when.isoformat()}
        answered = {"id": str(uuid.uuid4()), "actor": actor,
                    "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en": "answered"}},
                    "object": _activity(f"{quiz}/question/{i}", "cmi.interaction"),
                    "result": {"response": "a"}, "context": json.loads(json.dumps(context)),
                    "timestamp": (when + timedelta(minutes=1)).isoformat()}
        for st in (face, answered):
            stamped = stamp_statement(st, stamp)
            if sign:
                signed, part = sign_statement(stamped, material.key, material.cert)
                statements.append(signed)
                parts.append(part)
            else:
                statements.append(stamped)
            out.ids.append(st["id"])
        out.check_ids.append(face["id"])
    with database(app).session() as s:
        lrs_statements.store(s, system_principal(tenant_id), "2.0.0", statements, parts)
        s.commit()
    return out


def multipart(statements: list[dict[str, Any]], tokens: list[bytes]) -> tuple[str, bytes]:
    """xAPI 1.0.3 Part Three §1.5.2: the statements part, then each attachment with its hash."""
    boundary = "hocvu-test-" + uuid.uuid4().hex
    body = f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode() + json.dumps(statements).encode()
    for token in tokens:
        body += (f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary"
                 f"\r\nX-Experience-API-Hash: {hashlib.sha256(token).hexdigest()}\r\n\r\n").encode() + token
    return f"multipart/mixed; boundary={boundary}", body + f"\r\n--{boundary}--\r\n".encode()


def signed_body(app: Flask, statements: list[dict[str, Any]]) -> tuple[str, bytes]:
    """A multipart POST body in which every statement carrying the identity stamp is signed by the
    hub (the only way the LRS stores a stamp: identity.stamp_guard); others go as they are."""
    from identity.stamp import stamp_of

    material = hub_material(app)
    sent, tokens = [], []
    for st in statements:
        if stamp_of(st) is None:
            sent.append(st)
            continue
        signed, part = sign_statement(st, material.key, material.cert)
        sent.append(signed)
        tokens.append(part.body)
    return multipart(sent, tokens)
