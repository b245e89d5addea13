"""Statements that xAPI 1.0.3 Part Two and IEEE 9274.1.1 §4.2 say an LRS must accept."""

from __future__ import annotations

import copy

import pytest
from xapi_samples import choice_activity, full_statement, messages_for, minimal_statement

import schemas


def test_minimal_statement_actor_verb_object_1_0_3_s2_2_s2_b3(accepts, statement):
    """1.0.3 §2.2.s2.b3: actor, verb and object are all a Statement needs."""
    accepts(statement)


def test_statement_using_every_property_1_0_3_s2_4_s1(accepts, full):
    """1.0.3 §2.4.s1 table: id, actor, verb, object, result, context, timestamp, stored,
    authority, version and attachments together."""
    accepts(full)


def test_validation_does_not_change_the_statement(version, full):
    """1.0.3 §2.2.s2.b5: the LRS returns what it was sent, so validation must not mutate it."""
    before = copy.deepcopy(full)
    schemas.validate_statement(full, version)
    assert full == before


def test_properties_in_any_order_1_0_3_s2_2_s2_b4(accepts, full):
    accepts(dict(reversed(list(full.items()))))


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param({"id": "https://hocvu.vn/a"}, id="activity-without-objectType-2.4.4.s2"),
        pytest.param({"objectType": "Agent", "mbox": "mailto:b@example.vn"}, id="agent-2.4.4.2"),
        pytest.param({"objectType": "Group", "openid": "https://id.example.vn/g/1"}, id="identified-group-2.4.4.2"),
        pytest.param(
            {"objectType": "Group", "member": [{"mbox_sha1sum": "a" * 40}]}, id="anonymous-group-2.4.4.2"
        ),
        pytest.param(
            {"objectType": "StatementRef", "id": "8F87CCDE-BB56-4C2E-AB83-44982EF22DF0"}, id="statementref-2.4.4.3"
        ),
    ],
)
def test_each_kind_of_object_1_0_3_s2_4_4(accepts, statement, obj):
    """1.0.3 §2.4.4.s2: Activity (the default), Agent, Group, StatementRef."""
    statement["object"] = obj
    accepts(statement)


def test_substatement_object_with_its_own_result_context_timestamp_1_0_3_s2_4_4_3_s8(accepts, full):
    """1.0.3 §2.4.4.3.s8: a SubStatement is validated as a Statement, minus id/stored/version/
    authority; its timestamp may be in the future (§2.4.7.s3.b5)."""
    sub = {key: full[key] for key in ("actor", "verb", "object", "result", "context", "attachments")}
    statement = minimal_statement()
    statement["object"] = {"objectType": "SubStatement", "timestamp": "2999-01-01T00:00:00Z", **sub}
    accepts(statement)


@pytest.mark.parametrize("kind", ["Agent", "Group", "StatementRef"])
def test_substatement_with_non_activity_object_1_0_3_s2_4_4_3_s8_b2(accepts, statement, kind):
    objects = {
        "Agent": {"objectType": "Agent", "account": {"homePage": "https://lms.example.vn", "name": "7"}},
        "Group": {"objectType": "Group", "member": [{"mbox": "mailto:x@example.vn"}]},
        "StatementRef": {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"},
    }
    statement["object"] = {"objectType": "SubStatement", **minimal_statement(), "object": objects[kind]}
    accepts(statement)


def test_voiding_statement_with_statementref_1_0_3_s2_3_2_s2_b1(accepts, statement):
    statement["verb"] = {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}}
    statement["object"] = {"objectType": "StatementRef", "id": "e05aa883-acaf-40ad-bf54-02c8ce485fb0"}
    accepts(statement)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("7ccd3322-e1a5-411a-a67d-6a735c76f119", id="lowercase"),
        pytest.param("7CCD3322-E1A5-411A-A67D-6A735C76F119", id="uppercase"),
        pytest.param("6ba7b810-9dad-11d1-80b4-00c04fd430c8", id="version-1"),
        pytest.param("017f22e2-79b0-7cc3-98c4-dc0c0c07398f", id="version-7"),
    ],
)
def test_statement_id_any_rfc4122_uuid_1_0_3_s2_4_1(accepts, statement, value):
    """1.0.3 §2.4.1.s1: all versions of the RFC 4122 variant, in standard string form."""
    statement["id"] = value
    accepts(statement)


def test_future_timestamp_is_not_rejected_1_0_3_s2_4_7_s3_b6(accepts, statement):
    statement["timestamp"] = "2999-12-31T23:59:59.999Z"
    accepts(statement)


@pytest.mark.parametrize(
    "value",
    [None, "", {}, [], 0, False, {"nested": {"deep": [1, None, "x"]}}],
    ids=["null", "empty-string", "empty-object", "empty-array", "zero", "false", "nested"],
)
def test_extension_values_are_never_checked_1_0_3_s4_1_s3_b2(accepts, full, value):
    """1.0.3 §4.1.s3.b2 (and §2.2.s4.b1.b1: null is allowed inside extensions)."""
    for holder in (full["result"], full["context"], full["object"]["definition"]):
        holder["extensions"] = {"https://hocvu.vn/xapi/ext/anything": value}
    accepts(full)


def test_empty_extensions_and_language_maps_1_0_3_s4_1_s4_2(accepts, statement):
    statement["verb"]["display"] = {}
    statement["result"] = {"extensions": {}}
    accepts(statement)


def test_unicode_iris_and_language_tags_1_0_3_s4_2_s4_3(accepts, statement):
    """IRIs may hold non-ASCII characters (1.0.3 §4.3); tags are case-insensitive RFC 5646."""
    statement["verb"] = {"id": "https://hocvu.vn/động-từ/hoàn-thành", "display": {"VI-vn": "hoàn thành"}}
    statement["object"] = {"id": "urn:hocvu:bài-học:1"}
    accepts(statement)


@pytest.mark.parametrize(
    ("interaction", "lists"),
    [
        ("true-false", []),
        ("choice", ["choices"]),
        ("fill-in", []),
        ("long-fill-in", []),
        ("matching", ["source", "target"]),
        ("performance", ["steps"]),
        ("sequencing", ["choices"]),
        ("likert", ["scale"]),
        ("numeric", []),
        ("other", []),
    ],
)
def test_interaction_types_with_their_component_lists_1_0_3_s2_4_4_1_s15(accepts, statement, interaction, lists):
    """1.0.3 §2.4.4.1.s15 table 2: which component lists each interactionType supports."""
    definition = {"interactionType": interaction, "correctResponsesPattern": ["x", "y[,]z"]}
    for name in lists:
        definition[name] = [{"id": "x", "description": {"en": "X"}}, {"id": "y"}]
    statement["object"] = {"id": "https://hocvu.vn/q/1", "definition": definition}
    accepts(statement)


def test_oauth_authority_group_of_two_agents_1_0_3_s2_4_9_s3_b1(accepts, statement):
    statement["authority"] = {
        "objectType": "Group",
        "member": [
            {"account": {"homePage": "https://hocvu.vn/xAPI/OAuth/Token", "name": "consumer-key"}},
            {"mbox": "mailto:user@example.vn"},
        ],
    }
    accepts(statement)


def test_single_activity_in_context_activities_1_0_3_s2_4_6_2_s4_b2(accepts, statement):
    statement["context"] = {"contextActivities": {"parent": choice_activity(), "other": []}}
    accepts(statement)


def test_full_statement_is_valid_under_both_versions():
    for version in ("1.0.3", "2.0.0"):
        assert messages_for(full_statement(), version) is None
