"""Statements an LRS must reject (xAPI 1.0.3 Part Two §2.2.s4 and friends), and the messages."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError
from xapi_samples import minimal_statement

import schemas


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


@pytest.mark.parametrize("data", [[], "statement", 42, None, True], ids=repr)
def test_statement_must_be_a_json_object(version, data):
    with pytest.raises(ValidationError) as err:
        schemas.validate_statement(data, version)
    assert err.value.messages == ["a Statement must be a JSON object"]


@pytest.mark.parametrize("missing", ["actor", "verb", "object"])
def test_actor_verb_object_are_required_1_0_3_s2_2_s2_b3(rejects, statement, missing):
    del statement[missing]
    assert rejects(statement, missing) == ["is required"]


def test_unknown_property_is_rejected_1_0_3_s2_2_s4_b1_b7(rejects, statement):
    statement["score"] = 1
    assert rejects(statement, "score") == ["is not allowed here by the xAPI specification"]


def test_keys_are_case_sensitive_1_0_3_s2_2_s4_b1_b5(rejects, statement):
    statement["Timestamp"] = "2024-05-04T17:00:00Z"
    statement["verb"]["Display"] = statement["verb"].pop("display")
    hint = "is not allowed; keys are case-sensitive (did you mean {!r}?)"
    assert rejects(statement, "Timestamp") == [hint.format("timestamp")]
    assert rejects(statement, "verb", "Display") == [hint.format("display")]


@pytest.mark.parametrize(
    "path",
    [
        ("id",), ("actor",), ("actor", "name"), ("verb",), ("verb", "display"), ("verb", "display", "vi"),
        ("object",), ("object", "definition"), ("timestamp",), ("context",), ("result",), ("version",),
    ],
    ids=".".join,
)
def test_null_values_are_rejected_1_0_3_s2_2_s4_b1_b1(rejects, statement, path):
    statement["object"]["definition"] = {"name": {"en": "x"}}
    _set(statement, path, None)
    assert rejects(statement, *path) == ["must not be null"]


# 1.0.3 §2.2.s4.b1.b2-b3: numbers as strings, booleans as strings, objects for arrays, ...
WRONG_TYPES = [
    (("actor", "name"), 7),
    (("actor", "mbox"), ["mailto:lan@example.vn"]),
    (("verb", "id"), {"id": "http://adlnet.gov/expapi/verbs/completed"}),
    (("verb", "display"), "completed"),
    (("verb", "display"), ["completed"]),
    (("verb", "display", "en-US"), 1),
    (("object", "id"), 12345),
    (("result", "success"), "true"),
    (("result", "completion"), 1),
    (("result", "score", "raw"), "50"),
    (("result", "score", "scaled"), True),
    (("result", "response"), 1),
    (("result", "duration"), 60),
    (("result", "extensions"), []),
    (("context", "registration"), 123),
    (("context", "contextActivities", "parent"), "https://hocvu.vn/a"),
    (("context", "revision"), 2),
    (("attachments",), {"usageType": "http://example.com/u"}),
    (("attachments", 0, "length"), "4235"),
    (("attachments", 0, "length"), 12.5),
    (("timestamp",), 1714842000),
    (("id",), 7),
]


@pytest.mark.parametrize(("path", "value"), WRONG_TYPES, ids=[".".join(map(str, p)) for p, _ in WRONG_TYPES])
def test_wrong_json_types_are_rejected_1_0_3_s2_2_s4_b1_b2(rejects, full, path, value):
    _set(full, path, value)
    rejects(full, *path)


@pytest.mark.parametrize(
    "value",
    [
        "AA97B177-9383-4934-8543-0F91A7A028368",  # one digit too many
        "MA97B177-9383-4934-8543-0F91A7A02836",  # not hexadecimal
        "aa97b17793834934 85430f91a7a02836",
        "aa97b177938349348543 0f91a7a02836".replace(" ", ""),  # no hyphens
        "{aa97b177-9383-4934-8543-0f91a7a02836}",  # braces are not the standard form
        "aa97b177-9383-4934-c543-0f91a7a02836",  # Microsoft variant, not RFC 4122
        "00000000-0000-0000-0000-000000000000",  # the nil UUID has no RFC 4122 variant
        "aa97b177-9383-4934-8543-0f91a7a02836\n",
        "",
    ],
)
def test_statement_id_must_be_a_uuid_1_0_3_s2_4_1(rejects, statement, value):
    statement["id"] = value
    assert "UUID" in rejects(statement, "id")[0]


@pytest.mark.parametrize(
    "path",
    [
        ("verb", "id"),
        ("object", "id"),
        ("object", "definition", "type"),
        ("object", "definition", "moreInfo"),
        ("attachments", 0, "usageType"),
        ("attachments", 0, "fileUrl"),
        ("context", "contextActivities", "parent", 0, "id"),
    ],
    ids=lambda p: ".".join(map(str, p)),
)
def test_iris_and_irls_need_a_scheme_1_0_3_s2_2_s4_b1_b8(rejects, full, path):
    _set(full, path, "example.com/no/scheme")
    assert "scheme" in rejects(full, *path)[0]


def test_voiding_statement_object_must_be_statementref_1_0_3_s2_3_2_s2_b1(rejects, statement):
    statement["verb"]["id"] = "http://adlnet.gov/expapi/verbs/voided"
    assert rejects(statement, "object", "objectType") == ["must be 'StatementRef' when the verb is voided"]


@pytest.mark.parametrize("object_type", ["activity", "agent", "Statement", "", 1])
def test_object_type_must_be_an_exact_enumerated_value_1_0_3_s2_2_s4_b1_b6(rejects, statement, object_type):
    statement["object"]["objectType"] = object_type
    rejects(statement, "object", "objectType")


@pytest.mark.parametrize("key", ["revision", "platform"])
@pytest.mark.parametrize(
    "obj",
    [
        {"objectType": "Agent", "mbox": "mailto:b@example.vn"},
        {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"},
    ],
    ids=["agent", "statementref"],
)
def test_revision_and_platform_only_with_an_activity_1_0_3_s2_4_6_s4_b1_b2(rejects, statement, key, obj):
    statement["object"] = obj
    statement["context"] = {key: "x"}
    assert rejects(statement, "context", key) == ["is only allowed when the object is an Activity"]


def test_revision_in_a_substatement_follows_the_substatement_object_1_0_3_s2_4_6_s4_b1(rejects, statement):
    inner = minimal_statement()
    inner["object"] = {"objectType": "Agent", "mbox": "mailto:b@example.vn"}
    inner["context"] = {"revision": "1"}
    statement["object"] = {"objectType": "SubStatement", **inner}
    rejects(statement, "object", "context", "revision")


@pytest.mark.parametrize("key", ["id", "stored", "version", "authority"])
def test_substatement_must_not_have_statement_only_properties_1_0_3_s2_4_4_3_s8_b3(rejects, full, key):
    statement = minimal_statement()
    statement["object"] = {"objectType": "SubStatement", **minimal_statement(), key: full[key]}
    assert rejects(statement, "object", key) == ["must not be present in a SubStatement"]


def test_substatement_cannot_be_nested_1_0_3_s2_4_4_3_s8_b4(rejects, statement):
    inner = {"objectType": "SubStatement", **minimal_statement()}
    statement["object"] = {"objectType": "SubStatement", **minimal_statement(), "object": inner}
    assert "must not be 'SubStatement'" in rejects(statement, "object", "object", "objectType")[0]


def test_substatement_needs_its_object_type_1_0_3_s2_4_4_3_s8_b1(rejects, statement):
    statement["object"] = {"objectType": "SubStatement", **minimal_statement()}
    statement["object"]["objectType"] = "Substatement"
    rejects(statement, "object", "objectType")


@pytest.mark.parametrize(
    "authority",
    [
        {"objectType": "Group", "mbox": "mailto:g@example.vn", "member": [{"mbox": "mailto:a@example.vn"},
                                                                           {"mbox": "mailto:b@example.vn"}]},
        {"objectType": "Group", "member": [{"mbox": "mailto:a@example.vn"}]},
        {"objectType": "Group", "member": [{"mbox": f"mailto:{n}@example.vn"} for n in "abc"]},
    ],
    ids=["identified-group", "one-member", "three-members"],
)
def test_authority_group_is_an_anonymous_pair_1_0_3_s2_4_9_s3_b1(rejects, statement, authority):
    statement["authority"] = authority
    assert "exactly two Agents" in rejects(statement, "authority")[0]


def test_messages_say_what_and_where(version):
    """The LRS turns messages into its 400 body, so they must be readable as they are."""
    statement = minimal_statement()
    statement["actor"]["mbox"] = "lan@example.vn"
    statement["result"] = {"score": {"scaled": 2}}
    with pytest.raises(ValidationError) as err:
        schemas.validate_statement(statement, version)
    assert err.value.messages == {
        "actor": {"mbox": ["must be a mailto IRI, e.g. mailto:learner@example.com"]},
        "result": {"score": {"scaled": ["must be between -1 and 1 inclusive"]}},
    }


def test_unsupported_version_argument_is_a_programming_error(statement):
    with pytest.raises(ValueError, match="unsupported xAPI version"):
        schemas.validate_statement(statement, "1.0.2")  # type: ignore[arg-type]
