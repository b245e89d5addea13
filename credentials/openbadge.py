"""The Open Badges 3.0 ``OpenBadgeCredential`` (1EdTech Open Badges 3.0 §B.1.1 "AchievementCredential",
a W3C VC Data Model 2.0 credential) the hub issues for a completed course. Pure: no I/O.

What it holds, and nothing else about the learner:
- ``credentialSubject`` (OB 3.0 §B.1.2 AchievementSubject): ``id`` is a keyed pseudonym
  (``CredentialsConfig.subject_id``), never the citizen ID; the name the learner chose, if any, as an
  ``IdentityObject`` of ``identityType`` "name" (OB 3.0 §B.1.11), unhashed; ``result`` says whether the
  attempts were identity-verified and at which VNeID level, against the achievement's
  ``resultDescription``; ``activityEndDate`` is when the last required quiz was passed.
- ``achievement`` (OB 3.0 §B.1.3): the course, its criteria, its DigComp 2.2 ``alignment`` (§B.1.4).
- ``evidence`` (OB 3.0 §B.1.8): one per required quiz: the xAPI statement id (``urn:uuid:``), and in
  words the score and whether identity was verified.
- ``credentialStatus``: the Bitstring Status List entry; ``credentialSchema``: 1EdTech's JSON schema.

Texts are Vietnamese, the language of record (``inLanguage``): a string property of OB 3.0 holds one
language. Every text goes through ``clean_text`` so any RDFC-1.0 implementation hashes it the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from credentials.completion import Completion, Evidence
from credentials.jsonld import OB_V3P0, VC_V2, clean_text
from credentials.proof import xml_datetime
from schemas.digcomp import COMPETENCES, FRAMEWORK_ID, FRAMEWORK_NAME, FRAMEWORK_URL

OB_SCHEMA: Final = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
IDENTITY_RESULT: Final = "ext:HocvuIdentityAssurance"  # OB 3.0 ResultType extension: ext: + [A-Za-z0-9._]
NOT_REQUIRED: Final = "not-required"


def identity_value(level: int | None) -> str:
    """The ``result`` value: which identity assurance the assessed attempts had."""
    return NOT_REQUIRED if level is None else f"vneid-level-{level}-face-verified"


def achievement_url(base: str, course_id: str) -> str:
    return f"{base}/credentials/achievements/{course_id}"


def _criteria(completion: Completion) -> str:
    rules = completion.rules
    quizzes = "; ".join(clean_text(q.title["vi"]) for q in rules.quizzes)
    text = f"Đạt tất cả bài kiểm tra bắt buộc của khoá học: {quizzes}."
    levels = sorted({q.min_level for q in rules.quizzes if q.min_level is not None})
    if levels:
        text += (f" Bài kiểm tra có yêu cầu xác minh danh tính phải được làm sau khi đăng nhập VNeID mức "
                 f"{levels[0]} trở lên và kiểm tra khuôn mặt đạt.")
    return text


def _alignment(competences: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    out = []
    for framework, code in competences:
        competence = COMPETENCES.get(code) if framework == FRAMEWORK_ID else None
        if competence is None:
            continue  # the course schema only lets DigComp 2.2 codes through; anything else is skipped
        out.append({"type": ["Alignment"], "targetName": f"{competence.code} {competence.vi} ({competence.en})",
                    "targetUrl": FRAMEWORK_URL, "targetFramework": FRAMEWORK_NAME, "targetCode": competence.code})
    return out


def achievement(base: str, completion: Completion) -> dict[str, Any]:
    rules = completion.rules
    ach_id = achievement_url(base, rules.course_id)
    doc: dict[str, Any] = {
        "id": ach_id, "type": ["Achievement"], "achievementType": "Course",
        "name": clean_text(rules.title["vi"]), "description": clean_text(rules.description["vi"]),
        "criteria": {"narrative": _criteria(completion)}, "inLanguage": "vi", "humanCode": rules.course_id,
        "resultDescription": [{
            "id": f"{ach_id}#identity-assurance", "type": ["ResultDescription"],
            "name": "Xác minh danh tính khi làm bài kiểm tra (VNeID và khuôn mặt)",
            "resultType": IDENTITY_RESULT,
            "allowedValue": [NOT_REQUIRED, identity_value(1), identity_value(2)]}],
    }
    alignment = _alignment(rules.competences)
    if alignment:
        doc["alignment"] = alignment
    return doc


def _evidence_text(item: Evidence) -> str:
    score = f"Đạt với {round(item.scaled * 100)}% số điểm. " if item.scaled is not None else "Đạt. "
    if item.verified and item.level is not None:
        return score + f"Danh tính đã được xác minh: VNeID mức {item.level} và kiểm tra khuôn mặt."
    return score + "Bài này không yêu cầu xác minh danh tính."


def evidence(item: Evidence) -> dict[str, Any]:
    return {"id": f"urn:uuid:{item.statement_id}", "type": ["Evidence"], "name": clean_text(item.quiz.title["vi"]),
            "description": _evidence_text(item), "genre": "xAPI statement (passed)"}


def credential(*, credential_id: str, issuer: dict[str, Any], subject_id: str, display_name: str,
               completion: Completion, base: str, status: dict[str, Any], valid_from: datetime,
               valid_until: datetime | None) -> dict[str, Any]:
    """The unsigned credential (``credentials.proof.add_proof`` secures it)."""
    ach = achievement(base, completion)
    subject: dict[str, Any] = {"id": subject_id, "type": ["AchievementSubject"], "achievement": ach,
                               "result": [{"type": ["Result"], "resultDescription": ach["resultDescription"][0]["id"],
                                           "value": identity_value(completion.identity_level)}]}
    if completion.completed_at is not None:
        subject["activityEndDate"] = xml_datetime(completion.completed_at)
    name = clean_text(display_name)
    if name:
        subject["identifier"] = [{"type": "IdentityObject", "identityType": "name", "hashed": False,
                                  "identityHash": name}]
    doc: dict[str, Any] = {
        "@context": [VC_V2, OB_V3P0], "id": credential_id, "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": ach["name"], "description": f"Chứng nhận hoàn thành khoá học «{ach['name']}» — {issuer['name']}.",
        "issuer": issuer, "validFrom": xml_datetime(valid_from), "awardedDate": xml_datetime(valid_from),
        "credentialSubject": subject, "evidence": [evidence(e) for e in completion.evidence],
        "credentialStatus": status,
        # VC Data Model 2.0 §4.11 / VC JSON Schema §3.1 "JsonSchema". Not OB 3.0's customary
        # "1EdTechJsonSchemaValidator2019": the 3.0.3 context leaves that type undefined here, so a
        # JSON-LD processor in safe mode (Digital Bazaar's verifier) refuses the whole credential.
        "credentialSchema": [{"id": OB_SCHEMA, "type": "JsonSchema"}],
    }
    if valid_until is not None:
        doc["validUntil"] = xml_datetime(valid_until)
    return doc
