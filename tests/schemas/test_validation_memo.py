"""The memo of objects already found valid (schemas.xapi_fields.load) never changes a verdict:
the key is schema + xAPI version + JSON text, and failures are never remembered."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from schemas import validate_statement

ACTOR = {"objectType": "Agent", "account": {"homePage": "https://vneid.gov.vn", "name": "abc"}}
VERB = {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"vi-VN": "đã hoàn thành"}}
OBJECT = {"id": "https://hocvu.vn/courses/a"}


def test_a_remembered_valid_part_does_not_hide_an_invalid_sibling() -> None:
    validate_statement({"actor": ACTOR, "verb": VERB, "object": OBJECT}, "2.0.0")
    with pytest.raises(ValidationError) as err:
        validate_statement({"actor": ACTOR, "verb": {"id": "not an iri"}, "object": OBJECT}, "2.0.0")
    assert "verb" in err.value.messages


def test_version_is_part_of_the_key() -> None:
    """IEEE 9274.1.1 §4.2.2.5: contextAgents exists in 2.0 only; valid under 2.0 stays invalid under 1.0.3."""
    ctx = {"contextAgents": [{"objectType": "contextAgent", "agent": ACTOR}]}
    validate_statement({"actor": ACTOR, "verb": VERB, "object": OBJECT, "context": ctx}, "2.0.0")
    with pytest.raises(ValidationError):
        validate_statement({"actor": ACTOR, "verb": VERB, "object": OBJECT, "context": ctx}, "1.0.3")


def test_failures_are_not_remembered_and_repeat_with_their_message() -> None:
    bad = {"actor": {"mbox": "an@example.vn"}, "verb": VERB, "object": OBJECT}
    for _ in range(2):
        with pytest.raises(ValidationError) as err:
            validate_statement(bad, "1.0.3")
        assert "mailto" in str(err.value.messages)


def test_schema_is_part_of_the_key() -> None:
    """An Agent valid as actor is not thereby valid where a Group is required (context.team)."""
    validate_statement({"actor": ACTOR, "verb": VERB, "object": OBJECT}, "1.0.3")
    with pytest.raises(ValidationError):
        validate_statement({"actor": ACTOR, "verb": VERB, "object": OBJECT, "context": {"team": ACTOR}}, "1.0.3")
