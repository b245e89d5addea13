"""Agents and Groups: xAPI 1.0.3 Part Two §2.4.2 (IEEE 9274.1.1 §4.2.2.1)."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

import schemas

MBOX = {"mbox": "mailto:lan@example.vn"}
SHA1 = {"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}
OPENID = {"openid": "https://openid.example.vn/lan"}
ACCOUNT = {"account": {"homePage": "https://lms.example.vn", "name": "hv-001"}}
IFIS = {"mbox": MBOX, "mbox_sha1sum": SHA1, "openid": OPENID, "account": ACCOUNT}


@pytest.mark.parametrize("ifi", IFIS, ids=str)
def test_agent_with_each_ifi_1_0_3_s2_4_2_3(accepts, statement, ifi):
    statement["actor"] = {"name": "Lan", **IFIS[ifi]}  # objectType is optional for an actor Agent
    accepts(statement)


def test_agent_without_ifi_1_0_3_s2_4_2_1_s2_b1(rejects, statement):
    statement["actor"] = {"objectType": "Agent", "name": "Lan"}
    assert "exactly one identifier" in rejects(statement, "actor")[0]


@pytest.mark.parametrize(("first", "second"), [("mbox", "account"), ("mbox_sha1sum", "openid"), ("openid", "mbox")])
def test_agent_with_two_ifis_1_0_3_s2_4_2_1_s2_b2(rejects, statement, first, second):
    statement["actor"] = {**IFIS[first], **IFIS[second]}
    message = rejects(statement, "actor")[0]
    assert first in message and second in message


@pytest.mark.parametrize(
    "mbox",
    ["lan@example.vn", "mailto:lan.example.vn", "http://example.vn", "mailto:", "mailto:@example.vn",
     "mailto:lan@", "mailto:lan@example..vn", "MAILTO:lan@example.vn", "mailto:lan@example.vn?subject=hi",
     "mailto:a@b@example.vn", " mailto:lan@example.vn"],
)
def test_mbox_must_be_a_mailto_iri_1_0_3_s2_4_2_3_s3(rejects, statement, mbox):
    """1.0.3 §2.4.2.3.s3 table: 'The required format is "mailto:email address"'."""
    statement["actor"] = {"mbox": mbox}
    assert rejects(statement, "actor", "mbox") == ["must be a mailto IRI, e.g. mailto:learner@example.com"]


@pytest.mark.parametrize("value", ["ebd31e95054c018b10727ccffd2ef2ec3a016ee", "x" * 40, "e" * 41, ""])
def test_mbox_sha1sum_is_40_hex_digits_1_0_3_s2_4_2_3_s3(rejects, statement, value):
    statement["actor"] = {"mbox_sha1sum": value}
    rejects(statement, "actor", "mbox_sha1sum")


@pytest.mark.parametrize("value", ["openid.example.vn/lan", "ab=c://openid.example.vn", "https://ví-dụ.vn/lan"])
def test_openid_must_be_a_uri_1_0_3_s2_4_2_3_s3(rejects, statement, value):
    """1.0.3 §2.4.2.3.s3 table: openid is a URI (so ASCII only, with a scheme)."""
    statement["actor"] = {"openid": value}
    rejects(statement, "actor", "openid")


@pytest.mark.parametrize(
    ("account", "where"),
    [
        ({"name": "hv-001"}, "homePage"),
        ({"homePage": "https://lms.example.vn"}, "name"),
        ({"homePage": "lms.example.vn", "name": "hv-001"}, "homePage"),
        ({"homePage": "https://lms.example.vn", "name": 1}, "name"),
        ({"homePage": "https://lms.example.vn", "name": "hv-001", "mbox": "mailto:x@example.vn"}, "mbox"),
        ({"homepage": "https://lms.example.vn", "name": "hv-001"}, "homepage"),
    ],
)
def test_account_needs_home_page_irl_and_name_only_1_0_3_s2_4_2_4(rejects, statement, account, where):
    statement["actor"] = {"account": account}
    rejects(statement, "actor", "account", where)


def test_identified_and_anonymous_groups_1_0_3_s2_4_2_2(accepts, statement):
    statement["actor"] = {"objectType": "Group", "name": "Nhóm 1", **ACCOUNT}
    accepts(statement)
    statement["actor"] = {"objectType": "Group", "member": [MBOX, {"objectType": "Agent", **OPENID}]}
    accepts(statement)
    statement["actor"] = {"objectType": "Group", **SHA1, "member": [MBOX]}
    accepts(statement)


@pytest.mark.parametrize("member", [None, []], ids=["no-member", "empty-member"])
def test_anonymous_group_lists_its_members_1_0_3_s2_4_2_2_s4_b1(rejects, statement, member):
    statement["actor"] = {"objectType": "Group", "name": "Nhóm 1"}
    if member is not None:
        statement["actor"]["member"] = member
    rejects(statement, "actor", "member")


def test_identified_group_has_one_ifi_1_0_3_s2_4_2_2_s5_b1(rejects, statement):
    statement["actor"] = {"objectType": "Group", **MBOX, **OPENID}
    assert "at most one identifier" in rejects(statement, "actor")[0]


def test_group_members_are_agents_not_groups_1_0_3_s2_4_2_2_s4_b2(rejects, statement):
    inner = {"objectType": "Group", **ACCOUNT}
    statement["actor"] = {"objectType": "Group", "member": [MBOX, inner]}
    assert "cannot be Groups" in rejects(statement, "actor", "member", 1, "objectType")[0]


def test_group_member_agents_are_validated_1_0_3_s2_4_2_2(rejects, statement):
    statement["actor"] = {"objectType": "Group", "member": [{"mbox": "nope"}]}
    rejects(statement, "actor", "member", 0, "mbox")


def test_group_needs_object_type_1_0_3_s2_4_2_2_s2(rejects, statement):
    """Without objectType an actor is an Agent, and an Agent has no 'member'."""
    statement["actor"] = {"member": [MBOX]}
    rejects(statement, "actor", "member")


@pytest.mark.parametrize("object_type", ["agent", "Person", 123, {"x": 1}])
def test_actor_object_type_is_agent_or_group_1_0_3_s2_4_2(rejects, statement, object_type):
    statement["actor"] = {"objectType": object_type, **MBOX}
    rejects(statement, "actor", "objectType")


@pytest.mark.parametrize("ifi", ["mbox", "account"])
def test_agent_or_group_as_object_needs_object_type_1_0_3_s2_4_4_2_s1_b1(rejects, statement, ifi):
    statement["object"] = dict(IFIS[ifi])
    assert rejects(statement, "object", "objectType") == ["is required when the object is an Agent or a Group"]


def test_team_is_a_group_1_0_3_s2_4_6_s3(rejects, accepts, statement):
    statement["context"] = {"team": {"objectType": "Group", **MBOX}}
    accepts(statement)
    statement["context"] = {"team": dict(MBOX)}
    rejects(statement, "context", "team", "objectType")


def test_instructor_may_be_agent_or_group_1_0_3_s2_4_6_s3(accepts, statement):
    statement["context"] = {"instructor": dict(OPENID)}
    accepts(statement)
    statement["context"] = {"instructor": {"objectType": "Group", **OPENID}}
    accepts(statement)


# --- validate_agent: the "agent" request parameter (1.0.3 §2.2.s4.b4) ----------------------


@pytest.mark.parametrize("agent", [MBOX, {"objectType": "Agent", **ACCOUNT}])
def test_validate_agent_accepts_agents(version, agent):
    schemas.validate_agent(agent, version)


@pytest.mark.parametrize(
    "agent",
    ["wrong", None, [MBOX], {}, {"objectType": "Group", **MBOX}, {**MBOX, **OPENID}, {"mbox": "lan@example.vn"}],
    ids=["string", "null", "array", "empty", "group", "two-ifis", "bad-mbox"],
)
def test_validate_agent_rejects_non_agents_1_0_3_s2_2_s4_b4(version, agent):
    with pytest.raises(ValidationError):
        schemas.validate_agent(agent, version)


def test_validate_agent_allow_group_takes_identified_groups_1_0_3_part3_s2_1_3(version):
    """Part Three §2.1.3: the statements 'agent' filter is an Agent or an identified Group."""
    schemas.validate_agent({"objectType": "Group", **MBOX}, version, allow_group=True)
    schemas.validate_agent(MBOX, version, allow_group=True)
    with pytest.raises(ValidationError):
        schemas.validate_agent({"objectType": "Group", "member": [MBOX]}, version, allow_group=True)
