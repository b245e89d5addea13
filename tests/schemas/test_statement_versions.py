"""Where xAPI 1.0.3 and xAPI 2.0 (IEEE 9274.1.1) disagree, chosen by the ``version`` argument."""

from __future__ import annotations

import pytest
from xapi_samples import messages_for, minimal_statement


@pytest.mark.parametrize(
    ("value", "ok_1_0_3", "ok_2_0"),
    [
        ("1.0.0", True, True),
        ("1.0", True, True),
        ("1.0.3", True, True),
        ("1.0.9", True, True),
        ("1.0.3-beta.1", True, True),
        ("2.0.0", False, True),
        ("2.0", False, True),
        ("2.0.1", False, True),
        ("1.1.0", False, False),
        ("0.9.5", False, False),
        ("3.0.0", False, False),
        ("1.0.", False, False),
        ("1.0.0 ", False, False),
        ("should fail", False, False),
    ],
)
def test_statement_version_property_1_0_3_s2_4_10_ieee_4_2_4_3(value, ok_1_0_3, ok_2_0):
    """1.0.3 §2.4.10.s3.b1-b2: only 1.0.x; IEEE 9274.1.1 §4.2.4.3: 1.0.x and 2.0.x."""
    statement = minimal_statement()
    statement["version"] = value
    assert (messages_for(statement, "1.0.3") is None) is ok_1_0_3
    assert (messages_for(statement, "2.0.0") is None) is ok_2_0


def test_version_property_must_be_a_string_1_0_3_s2_4_10(rejects, statement):
    statement["version"] = 1.0
    assert rejects(statement, "version") == ["must be a string"]


@pytest.mark.parametrize(
    ("value", "ok_1_0_3", "ok_2_0"),
    [
        ("2024-05-04T17:00:00.000Z", True, True),
        ("2024-05-04T17:00:00+00:00", True, True),
        ("2024-05-04T12:00:00.5-05:00", True, True),
        ("2024-05-04T17:00:00", True, False),  # no offset: ISO 8601 allows it, RFC 3339 does not
        ("2024-05-04T17:00Z", True, False),  # no seconds
        ("20240504T170000Z", True, False),  # ISO 8601 basic format
        ("2024-05-04T17:00:00+0000", True, False),  # offset without colon
        ("2024-05-04T17:00:00,5Z", True, False),  # decimal comma
        ("2024-05-04T17:00:00-00:00", False, False),
    ],
)
def test_timestamp_format_1_0_3_s4_5_ieee_4_2_7(value, ok_1_0_3, ok_2_0):
    """1.0.3 §4.5.s1.b1: ISO 8601; IEEE 9274.1.1 §4.2.7: RFC 3339, the offset no longer optional."""
    for key in ("timestamp", "stored"):
        statement = minimal_statement()
        statement[key] = value
        assert (messages_for(statement, "1.0.3") is None) is ok_1_0_3
        assert (messages_for(statement, "2.0.0") is None) is ok_2_0


def test_substatement_timestamp_follows_the_version_ieee_4_2_7():
    statement = minimal_statement()
    statement["object"] = {"objectType": "SubStatement", **minimal_statement(), "timestamp": "2024-05-04T17:00"}
    assert messages_for(statement, "1.0.3") is None
    assert "RFC 3339" in messages_for(statement, "2.0.0")["object"]["timestamp"][0]


def test_context_agents_only_in_2_0_ieee_4_2_2_5():
    statement = minimal_statement()
    entry = {"objectType": "contextAgent", "agent": {"mbox": "mailto:mentor@example.vn"}}
    statement["context"] = {"contextAgents": [entry]}
    assert messages_for(statement, "2.0.0") is None
    assert messages_for(statement, "1.0.3") == {
        "context": {"contextAgents": ["is not allowed in xAPI 1.0.3 (it is new in xAPI 2.0.0)"]}
    }
