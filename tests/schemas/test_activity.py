"""Activities and Activity Definitions: xAPI 1.0.3 Part Two §2.4.4.1 (IEEE 9274.1.1 §4.2.2.3)."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

import schemas


@pytest.fixture
def with_activity(statement, activity):
    statement["object"] = activity
    return statement


def test_choice_activity_with_full_definition_1_0_3_s2_4_4_1_s2(accepts, with_activity):
    accepts(with_activity)


def test_activity_id_is_required_1_0_3_s2_4_4_1_s1(rejects, with_activity):
    del with_activity["object"]["id"]
    assert rejects(with_activity, "object", "id") == ["is required"]


@pytest.mark.parametrize("value", ["ab=c://should.fail.com", "/relative/path", "#fragment", "http://a b/", "", 7])
def test_activity_id_is_an_iri_1_0_3_s2_4_4_1_s1(rejects, with_activity, value):
    with_activity["object"]["id"] = value
    rejects(with_activity, "object", "id")


def test_activity_object_type_exact_value_1_0_3_s2_4_4_1_s1(rejects, with_activity):
    with_activity["object"]["objectType"] = "Activity "
    rejects(with_activity, "object", "objectType")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("name", {"a12345": "x"}),
        ("name", "Question 3"),
        ("description", {"en-US": 3}),
        ("description", {"en-US": None}),
        ("type", "cmi.interaction"),
        ("moreInfo", "hocvu.vn/help"),
        ("extensions", {"difficulty": 2}),
        ("correctResponsesPattern", "c"),
        ("correctResponsesPattern", [1]),
        ("choices", {"id": "a"}),
        ("unknownProperty", 1),
    ],
)
def test_definition_property_formats_1_0_3_s2_4_4_1_s2(rejects, with_activity, key, value):
    with_activity["object"]["definition"][key] = value
    rejects(with_activity, "object", "definition", key)


@pytest.mark.parametrize("value", ["Choice", "multiple-choice", "true_false", "", 3, None])
def test_interaction_type_is_an_enumerated_value_1_0_3_s2_4_4_1_s13_b1(rejects, with_activity, value):
    with_activity["object"]["definition"]["interactionType"] = value
    rejects(with_activity, "object", "definition", "interactionType")


@pytest.mark.parametrize("key", ["correctResponsesPattern", "choices", "scale", "source", "target", "steps"])
def test_interaction_properties_need_interaction_type_1_0_3_s2_4_4_1_s8(rejects, statement, key):
    """1.0.3 §2.4.4.1.s8 table: interactionType is required for Interaction Activities."""
    value = ["a"] if key == "correctResponsesPattern" else [{"id": "a"}]
    statement["object"] = {"id": "https://hocvu.vn/q/1", "definition": {key: value}}
    assert "is required when" in rejects(statement, "object", "definition", "interactionType")[0]


@pytest.mark.parametrize(
    ("interaction", "key"),
    [("choice", "scale"), ("likert", "choices"), ("matching", "steps"), ("true-false", "choices"),
     ("numeric", "source")],
)
def test_component_lists_only_with_their_interaction_type_1_0_3_s2_4_4_1_s15(rejects, statement, interaction, key):
    statement["object"] = {
        "id": "https://hocvu.vn/q/1",
        "definition": {"interactionType": interaction, key: [{"id": "a"}]},
    }
    assert "is not used by interactionType" in rejects(statement, "object", "definition", key)[0]


def test_component_ids_are_distinct_within_a_list_1_0_3_s2_4_4_1_s16_b1(rejects, accepts, statement):
    definition = {"interactionType": "matching", "source": [{"id": "1"}, {"id": "2"}], "target": [{"id": "1"}]}
    statement["object"] = {"id": "https://hocvu.vn/q/1", "definition": definition}
    accepts(statement)  # the same id in two different lists is fine
    definition["source"].append({"id": "2"})
    assert rejects(statement, "object", "definition", "source") == ["has repeated component ids: 2"]


@pytest.mark.parametrize(
    ("component", "where"),
    [({"description": {"en": "x"}}, "id"), ({"id": 1}, "id"), ({"id": "a", "description": "x"}, "description"),
     ({"id": "a", "label": "x"}, "label")],
)
def test_interaction_component_shape_1_0_3_s2_4_4_1_s15(rejects, with_activity, component, where):
    with_activity["object"]["definition"]["choices"] = [component]
    rejects(with_activity, "object", "definition", "choices", 0, where)


def test_empty_correct_responses_pattern_means_no_correct_answer_1_0_3_s2_4_4_1_s11(accepts, with_activity):
    with_activity["object"]["definition"]["correctResponsesPattern"] = []
    accepts(with_activity)


# --- validate_activity -------------------------------------------------------------------


def test_validate_activity(version, activity):
    schemas.validate_activity(activity, version)
    schemas.validate_activity({"id": "https://hocvu.vn/a"}, version)


@pytest.mark.parametrize(
    "data",
    ["https://hocvu.vn/a", {}, {"objectType": "Agent", "mbox": "mailto:a@example.vn"}, {"id": "nope"}],
    ids=["string", "empty", "agent", "bad-id"],
)
def test_validate_activity_rejects(version, data):
    with pytest.raises(ValidationError):
        schemas.validate_activity(data, version)
