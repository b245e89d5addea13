"""Result, Score and Attachments: xAPI 1.0.3 Part Two §2.4.5, §2.4.11, §4.6 durations."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "score",
    [
        {"scaled": -1}, {"scaled": 1}, {"scaled": 0.95, "raw": 95, "min": 0, "max": 100}, {"raw": -1e9},
        {"raw": 0, "min": 0}, {"raw": 100, "max": 100}, {"min": -5.5, "max": -5.25}, {"raw": 1.0000001, "min": 1},
        {},
    ],
    ids=str,
)
def test_valid_scores_1_0_3_s2_4_5_1_s2(accepts, statement, score):
    statement["result"] = {"score": score}
    accepts(statement)


@pytest.mark.parametrize(
    ("score", "where"),
    [
        ({"scaled": 1.01}, "scaled"),
        ({"scaled": -1.5}, "scaled"),
        ({"raw": 101, "min": 0, "max": 100}, "raw"),
        ({"raw": -1, "min": 0}, "raw"),
        ({"raw": 5, "max": 4}, "raw"),
        ({"min": 10, "max": 10}, "min"),
        ({"min": 10, "max": 1}, "min"),
        ({"raw": "95"}, "raw"),
        ({"scaled": None}, "scaled"),
        ({"max": float("nan")}, "max"),
        ({"max": float("inf")}, "max"),
        ({"raw": 10**400, "max": 100}, "raw"),  # a huge JSON integer is compared, not overflowed
        ({"percent": 95}, "percent"),
    ],
    ids=str,
)
def test_invalid_scores_1_0_3_s2_4_5_1_s2(rejects, statement, score, where):
    """scaled in [-1, 1]; raw within [min, max]; min < max; all are JSON numbers."""
    statement["result"] = {"score": score}
    rejects(statement, "result", "score", where)


@pytest.mark.parametrize(
    "duration",
    ["PT4H35M59.14S", "PT16559.14S", "P3Y1M29DT4H35M59.14S", "P3Y", "P4W", "PT0S", "P1DT12H36M0.12567S",
     "PT1H0M0.1S", "P0.5Y", "PT1,5S", "PT36H"],
)
def test_iso_8601_durations_1_0_3_s4_6_s1_b1(accepts, statement, duration):
    """ISO 8601:2004 §4.4.3.2; more than 0.01 s precision is not rejected (1.0.3 §4.6.s1.b4)."""
    statement["result"] = {"duration": duration}
    accepts(statement)


@pytest.mark.parametrize(
    "duration",
    ["PA1H0M0S", "P4W1D", "P", "PT", "P1DT", "1H", "pt1h", "P1.5DT1H", "PT1.5H30M", "P0001-02-03T04:05:06",
     "-PT1H", "PT.5S", "P16559.14S", "PT1H ", ""],
)
def test_invalid_durations_1_0_3_s4_6_s1_b1(rejects, statement, duration):
    """Only the lowest-order component may be fractional; the §4.4.3.3 alternative format is
    forbidden; 'P16559.14S' (an example in 1.0.3 §4.6.s2) lacks the 'T' before seconds."""
    statement["result"] = {"duration": duration}
    rejects(statement, "result", "duration")


# --- Attachments: 1.0.3 §2.4.11.s2 table -------------------------------------------------------


@pytest.mark.parametrize("key", ["usageType", "display", "contentType", "length", "sha2"])
def test_required_attachment_properties_1_0_3_s2_4_11_s2(rejects, full, key):
    del full["attachments"][0][key]
    assert rejects(full, "attachments", 0, key) == ["is required"]


def test_optional_attachment_properties_1_0_3_s2_4_11_s2(accepts, full):
    for key in ("description", "fileUrl"):
        del full["attachments"][0][key]
    accepts(full)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("usageType", "signature"),
        ("display", "signature"),
        ("display", {"en-US": 1}),
        ("description", {"en_US": "x"}),
        ("contentType", "octet-stream"),
        ("contentType", "text/plain; charset"),
        ("contentType", 7),
        ("length", -1),
        ("length", "4235"),
        ("length", True),
        ("sha2", "not-a-hash"),
        ("sha2", "672fa5fa658017f1b72d65036f13379c6ab05d4ab3b6664908d8acf0b6a0c63"),
        ("fileUrl", "files/sig.jws"),
        ("filename", "sig.jws"),
    ],
)
def test_attachment_property_formats_1_0_3_s2_4_11_s2(rejects, full, key, value):
    full["attachments"][0][key] = value
    rejects(full, "attachments", 0, key)


@pytest.mark.parametrize(
    ("key", "value"),
    [("contentType", "text/plain; charset=utf-8"), ("contentType", 'multipart/mixed; boundary="a b"'),
     ("length", 0), ("length", 10.0), ("sha2", "A" * 128), ("sha2", "b" * 56)],
)
def test_attachment_accepted_variants_1_0_3_s2_4_11_s2(accepts, full, key, value):
    """RFC 2046 media types with parameters; SHA-224 to SHA-512 hex digests; 10.0 is an integer."""
    full["attachments"][0][key] = value
    accepts(full)


def test_attachments_is_an_array_1_0_3_s2_4_s1(rejects, full):
    full["attachments"] = full["attachments"][0]
    assert rejects(full, "attachments") == ["must be a JSON array"]
