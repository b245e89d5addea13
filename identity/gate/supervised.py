"""A supervised in-person identity check: the alternative for a learner who does not consent to face
enrolment (Decree 13/2023/NĐ-CP Art. 9 and 11: consent is free, so refusing it must leave a way to be
assessed; Personal Data Protection Law 2025). An instructor or administrator checks the learner's
identity document in person and records it; the record is a statement of the learner's attempt, stamped
``method: supervised`` (``identity.stamp.build_supervised_stamp``: outcome "supervised", a lower
assurance than a face check, never "verified") and signed by the hub, so auditors see it beside the face
checks and can tell it apart.

The statement is a check statement like the gate's (verb ``CHECK_VERB``, object ``<activity>/identity-check``)
whose face-check extension says ``kind: "supervised"``, ``outcome: "supervised"``; the auditor pages list it
as the attempt's check. The learner is named as their LMS knows them (the xAPI account the player uses);
the stamp's subject is the pseudonym of the VNeID account that LMS identity is linked to in the tenant, or,
for a learner never linked, a pseudonym of the LMS identity keyed with the same pepper.

What it does not do (README, "Identity assurance"): it does not open the identity gate of a course-player
quiz (a tenant runs the supervised sitting on an assessment without a face requirement, or in its LMS, and
records it here), it takes no photo and keeps nothing biometric, and the supervisor is whoever runs the
command on the hub: there is no instructor sign-in or page yet.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from identity import storage as identity_storage
from identity.gate.face import CHECK_TYPE, CHECK_VERB, EXT_FACE_CHECK
from identity.stamp import SUPERVISED, build_supervised_stamp, pseudonym_of, stamp_statement
from lrs.statements import format_time
from schemas.cmi5 import EXT_SESSION

LMS_PSEUDONYM_PREFIX: Final = "hocvu-lms-subject:"


@dataclass(frozen=True)
class SupervisedCheck:
    """What the supervisor records: whose attempt (the LMS learner in a tenant, the assessed activity,
    the registration and cmi5 session of the attempt), who checked, which kind of document, when."""

    tenant_id: int
    learner_home_page: str
    learner_account: str
    activity: str
    registration: str
    session_id: str
    supervisor: str
    document: str
    at: datetime


def lms_pseudonym(pepper: bytes, tenant_id: int, home_page: str, account: str) -> str:
    """A pseudonym for an LMS learner never linked to VNeID (HMAC-SHA256 under the pepper, its own label)."""
    if len(pepper) < 16:
        raise ValueError("the pepper must be at least 16 bytes")
    message = f"{tenant_id}|{len(home_page)}:{home_page}|{account}".encode()
    return LMS_PSEUDONYM_PREFIX + hmac.new(pepper, b"hocvu/lms-subject|" + message, hashlib.sha256).hexdigest()


def supervised_statement(db: Session, pepper: bytes, check: SupervisedCheck) -> dict[str, Any]:
    """The supervised check as a stamped statement, ready to be signed by the hub and stored."""
    account = identity_storage.account_for_external(db, tenant_id=check.tenant_id, issuer=check.learner_home_page,
                                                    subject=check.learner_account)
    if account is not None:
        subject, level = pseudonym_of(account.subject_hmac), account.level
    else:
        subject, level = lms_pseudonym(pepper, check.tenant_id, check.learner_home_page, check.learner_account), None
    stamp = build_supervised_stamp(subject=subject, supervised_at=check.at, supervisor=check.supervisor,
                                   document=check.document, level=level if level in (1, 2) else None)
    detail = {"kind": SUPERVISED, "outcome": SUPERVISED, "document": check.document}
    statement = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": check.learner_home_page,
                                                     "name": check.learner_account}},
        "verb": {"id": CHECK_VERB, "display": {"vi": "đã kiểm tra danh tính", "en": "checked identity"}},
        "object": {"objectType": "Activity", "id": check.activity.rstrip("/") + "/identity-check",
                   "definition": {"type": CHECK_TYPE, "name": {"vi": "Kiểm tra danh tính có giám sát",
                                                               "en": "Supervised identity check"}}},
        "result": {"success": True, "extensions": {EXT_FACE_CHECK: detail}},
        "context": {"registration": check.registration,
                    "contextActivities": {"parent": [{"objectType": "Activity", "id": check.activity}]},
                    "extensions": {EXT_SESSION: check.session_id}},
        "timestamp": format_time(check.at),
    }
    return stamp_statement(statement, stamp)
