"""Sample xAPI data for the schemas tests (imported by the test modules and conftest)."""

from __future__ import annotations

import copy
from typing import Any

from marshmallow import ValidationError

import schemas

VERSIONS = ("1.0.3", "2.0.0")

_MINIMAL: dict[str, Any] = {
    "actor": {"objectType": "Agent", "name": "Lan Nguyen", "mbox": "mailto:lan@example.vn"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed", "vi": "hoàn thành"}},
    "object": {"objectType": "Activity", "id": "https://hocvu.vn/courses/ky-nang-so/bai-1"},
}

_CHOICE_ACTIVITY: dict[str, Any] = {
    "objectType": "Activity",
    "id": "https://hocvu.vn/courses/ky-nang-so/quiz-1/q3",
    "definition": {
        "name": {"vi": "Câu 3", "en": "Question 3"},
        "description": {"en-US": "Which of these is a strong password?"},
        "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
        "moreInfo": "https://hocvu.vn/help/passwords",
        "interactionType": "choice",
        "correctResponsesPattern": ["c"],
        "choices": [
            {"id": "a", "description": {"en-US": "123456"}},
            {"id": "b", "description": {"en-US": "password"}},
            {"id": "c", "description": {"en-US": "correct-horse-battery-staple"}},
        ],
        "extensions": {"https://hocvu.vn/xapi/ext/difficulty": 2},
    },
}

_FULL: dict[str, Any] = {
    "id": "7ccd3322-e1a5-411a-a67d-6a735c76f119",
    **copy.deepcopy(_MINIMAL),
    "object": copy.deepcopy(_CHOICE_ACTIVITY),
    "result": {
        "score": {"scaled": 0.5, "raw": 50, "min": 0, "max": 100},
        "success": True,
        "completion": False,
        "response": "c",
        "duration": "PT4M12.5S",
        "extensions": {"https://hocvu.vn/xapi/ext/attempt": 1},
    },
    "context": {
        "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
        "instructor": {"name": "Thầy Minh", "account": {"homePage": "https://lms.example.vn", "name": "gv-001"}},
        "team": {"objectType": "Group", "name": "Nhóm 1", "member": [{"mbox": "mailto:an@example.vn"}]},
        "contextActivities": {
            "parent": [{"id": "https://hocvu.vn/courses/ky-nang-so/quiz-1"}],
            "grouping": [{"objectType": "Activity", "id": "https://hocvu.vn/courses/ky-nang-so"}],
            "category": [{"id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"}],
            "other": [{"id": "https://hocvu.vn/tags/security"}],
        },
        "revision": "2",
        "platform": "hocvu player",
        "language": "vi-VN",
        "statement": {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"},
        "extensions": {"https://hocvu.vn/xapi/ext/session": {"device": "mobile"}},
    },
    "timestamp": "2024-05-04T17:00:00.123Z",
    "stored": "2024-05-04T17:00:01.000+00:00",
    "authority": {"objectType": "Agent", "account": {"homePage": "https://hocvu.vn", "name": "tenant-42"}},
    "version": "1.0.0",
    "attachments": [
        {
            "usageType": "http://adlnet.gov/expapi/attachments/signature",
            "display": {"en-US": "signature"},
            "description": {"en-US": "JWS of the statement"},
            "contentType": "application/octet-stream",
            "length": 4235,
            "sha2": "672fa5fa658017f1b72d65036f13379c6ab05d4ab3b6664908d8acf0b6a0c634",
            "fileUrl": "https://hocvu.vn/files/sig.jws",
        }
    ],
}


def minimal_statement() -> dict[str, Any]:
    return copy.deepcopy(_MINIMAL)


def full_statement() -> dict[str, Any]:
    return copy.deepcopy(_FULL)


def choice_activity() -> dict[str, Any]:
    return copy.deepcopy(_CHOICE_ACTIVITY)


def messages_for(data: Any, version: str) -> Any:
    """The ValidationError messages for ``data``, or None if it is valid."""
    try:
        schemas.validate_statement(data, version)  # type: ignore[arg-type]
    except ValidationError as err:
        return err.messages
    return None
