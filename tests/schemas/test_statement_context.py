"""Statement context: xAPI 1.0.3 Part Two §2.4.6 and IEEE 9274.1.1 §4.2.2.5."""

from __future__ import annotations

import pytest

PLAYER = {"objectType": "Agent", "mbox": "mailto:player-1@example.vn"}
TEAM = {"objectType": "Group", "mbox": "mailto:team-a@example.vn", "member": [PLAYER]}
ROLE = "https://hocvu.vn/xapi/relevant-types/mentor"


def test_full_context_1_0_3_s2_4_6_s3(accepts, full):
    accepts(full)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("registration", "not-a-uuid"),
        ("instructor", "Thầy Minh"),
        ("instructor", {"name": "no identifier"}),
        ("team", {"objectType": "Agent", "mbox": "mailto:a@example.vn"}),
        ("language", "vietnamese_VN"),
        ("language", ""),
        ("statement", {"id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"}),
        ("statement", {"objectType": "StatementRef", "id": "nope"}),
        ("statement", {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0", "x": 1}),
        ("extensions", {"not an iri": 1}),
        ("contextActivities", []),
        ("Registration", "8f87ccde-bb56-4c2e-ab83-44982ef22df0"),
    ],
)
def test_context_property_formats_1_0_3_s2_4_6_s3(rejects, statement, key, value):
    statement["context"] = {key: value}
    rejects(statement, "context", key)


@pytest.mark.parametrize("kind", ["parent", "grouping", "category", "other"])
def test_context_activities_single_or_array_1_0_3_s2_4_6_2_s4_b2(accepts, statement, kind):
    statement["context"] = {"contextActivities": {kind: {"id": "https://hocvu.vn/a"}}}
    accepts(statement)
    statement["context"] = {"contextActivities": {kind: [{"id": "https://hocvu.vn/a"}, {"id": "https://hocvu.vn/b"}]}}
    accepts(statement)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"id": "no-scheme"}, ("id",)),
        ([{"id": "https://hocvu.vn/a"}, {"objectType": "Agent", "mbox": "mailto:a@example.vn"}], (1, "objectType")),
        (["https://hocvu.vn/a"], (0,)),
        ("https://hocvu.vn/a", ()),
    ],
    ids=["bad-id", "agent-in-array", "string-in-array", "string"],
)
def test_context_activities_values_are_activities_1_0_3_s2_4_6_2_s4_b2(rejects, statement, value, path):
    statement["context"] = {"contextActivities": {"parent": value}}
    rejects(statement, "context", "contextActivities", "parent", *path)


def test_context_activities_keys_1_0_3_s2_4_6_2_s4_b1(rejects, statement):
    statement["context"] = {"contextActivities": {"parents": [{"id": "https://hocvu.vn/a"}]}}
    rejects(statement, "context", "contextActivities", "parents")


# --- IEEE 9274.1.1 §4.2.2.5: contextAgents and contextGroups (new in 2.0) --------------------


@pytest.fixture
def context_2_0() -> dict:
    return {
        "contextAgents": [
            {"objectType": "contextAgent", "agent": PLAYER, "relevantTypes": [ROLE]},
            {"objectType": "contextAgent", "agent": {"account": {"homePage": "https://lms.example.vn", "name": "9"}}},
        ],
        "contextGroups": [{"objectType": "contextGroup", "group": TEAM, "relevantTypes": [ROLE, ROLE + "/2"]}],
    }


@pytest.mark.parametrize("version", ["2.0.0"])
def test_context_agents_and_groups_in_2_0_ieee_4_2_2_5(accepts, statement, context_2_0):
    statement["context"] = context_2_0
    accepts(statement)
    statement["object"] = {"objectType": "SubStatement", **{k: statement[k] for k in ("actor", "verb", "object")},
                           "context": context_2_0}  # fmt: skip
    accepts(statement)


@pytest.mark.parametrize("version", ["1.0.3"])
@pytest.mark.parametrize("key", ["contextAgents", "contextGroups"])
def test_context_agents_and_groups_are_rejected_in_1_0_3_s2_4_6_s3(rejects, statement, context_2_0, key):
    """1.0.3 §2.4.6.s3 lists no such properties, and §2.2.s4.b1.b7 rejects what it does not allow."""
    statement["context"] = {key: context_2_0[key]}
    assert "is not allowed in xAPI 1.0.3" in rejects(statement, "context", key)[0]


@pytest.mark.parametrize("version", ["2.0.0"])
@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"objectType": "ContextAgent", "agent": PLAYER}, ("objectType",)),
        ({"agent": PLAYER}, ("objectType",)),
        ({"objectType": "contextAgent"}, ("agent",)),
        ({"objectType": "contextAgent", "agent": {"key": "x"}}, ("agent", "key")),
        ({"objectType": "contextAgent", "agent": TEAM}, ("agent", "objectType")),
        ({"objectType": "contextAgent", "agent": PLAYER, "relevantTypes": []}, ("relevantTypes",)),
        ({"objectType": "contextAgent", "agent": PLAYER, "relevantTypes": ["abc"]}, ("relevantTypes", 0)),
        ({"objectType": "contextAgent", "agent": PLAYER, "relevantTypes": ROLE}, ("relevantTypes",)),
        ({"objectType": "contextAgent", "agent": PLAYER, "role": ROLE}, ("role",)),
    ],
    ids=["objectType-case", "no-objectType", "no-agent", "bad-agent", "group-as-agent", "empty-relevantTypes",
         "non-iri-relevantType", "relevantTypes-not-array", "unknown-key"],
)
def test_context_agent_shape_ieee_4_2_2_5(rejects, statement, entry, where):
    statement["context"] = {"contextAgents": [entry]}
    rejects(statement, "context", "contextAgents", 0, *where)


@pytest.mark.parametrize("version", ["2.0.0"])
@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"objectType": "contextAgent", "group": TEAM}, ("objectType",)),
        ({"objectType": "contextGroup", "group": PLAYER}, ("group", "objectType")),
        ({"objectType": "contextGroup", "group": {"objectType": "Group"}}, ("group", "member")),
        ({"objectType": "contextGroup", "group": TEAM, "relevantTypes": []}, ("relevantTypes",)),
    ],
    ids=["wrong-objectType", "agent-as-group", "anonymous-without-members", "empty-relevantTypes"],
)
def test_context_group_shape_ieee_4_2_2_5(rejects, statement, entry, where):
    statement["context"] = {"contextGroups": [entry]}
    rejects(statement, "context", "contextGroups", 0, *where)


@pytest.mark.parametrize("version", ["2.0.0"])
def test_context_agents_is_an_array_ieee_4_2_2_5(rejects, statement):
    statement["context"] = {"contextAgents": {"objectType": "contextAgent", "agent": PLAYER}}
    assert rejects(statement, "context", "contextAgents") == ["must be a JSON array"]
