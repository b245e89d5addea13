"""Public format helpers and special data types: xAPI 1.0.3 Part Two §4, IEEE 9274.1.1 §4.2.7."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import schemas


@pytest.mark.parametrize(
    "value",
    ["http://adlnet.gov/expapi/verbs/completed", "https://hocvu.vn/khoá-học?lớp=1#phần-2", "urn:uuid:1234",
     "mailto:lan@example.vn", "tag:hocvu.vn,2024:x", "http://[2001:db8::1]:8080/a", "http://[v7.abc]/",
     "http://user:pw@host:/p%20q", "x:"],
)
def test_validate_iri_accepts_absolute_iris_rfc_3987_1_0_3_s4_3(value):
    assert schemas.validate_iri(value) is True


@pytest.mark.parametrize(
    "value",
    ["example.com/path", "/relative", "//host/path", "ab=c://should.fail.com", "1http://x", "http://a b",
     "http://x/%zz", "http://[::1/", "http://[fe80::1%25eth0]/", "http://x/<tag>", "", None, 7, ["http://x"]],
)
def test_validate_iri_rejects_relative_or_malformed_1_0_3_s2_2_s4_b1_b8(value):
    assert schemas.validate_iri(value) is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7ccd3322-e1a5-411a-a67d-6a735c76f119", True),
        ("7CCD3322-E1A5-411A-A67D-6A735C76F119", True),
        ("7ccd3322-e1a5-f11a-b67d-6a735c76f119", True),  # any version nibble, RFC 4122 variant
        ("7ccd3322-e1a5-411a-e67d-6a735c76f119", False),  # reserved variant
        ("7ccd3322e1a5411aa67d6a735c76f119", False),
        ("urn:uuid:7ccd3322-e1a5-411a-a67d-6a735c76f119", False),
        ("７ccd3322-e1a5-411a-a67d-6a735c76f119", False),  # fullwidth digit
        (None, False),
    ],
)
def test_is_uuid_standard_string_form_1_0_3_s4_4(value, expected):
    assert schemas.is_uuid(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"en-US": "x", "vi": "y", "zh-Hant-TW": "z", "x-private": "p", "i-klingon": "q", "es-419": "r"}, True),
        ({}, True),
        ({"en_US": "x"}, False),
        ({"en-US": None}, False),
        ({"en-US": ["x"]}, False),
        ({"": "x"}, False),
        ({"a12345": "x"}, False),
        ("en-US", False),
        (None, False),
    ],
)
def test_validate_language_map_rfc_5646_1_0_3_s4_2(value, expected):
    assert schemas.validate_language_map(value) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-04T17:00:00Z", datetime(2024, 5, 4, 17, tzinfo=UTC)),
        ("2024-05-04T12:00:00-05:00", datetime(2024, 5, 4, 17, tzinfo=UTC)),
        ("2024-05-04T17:00:00.123456789+00:00", datetime(2024, 5, 4, 17, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-04t17:00:00z", datetime(2024, 5, 4, 17, tzinfo=UTC)),
        ("20240504T170000Z", datetime(2024, 5, 4, 17, tzinfo=UTC)),  # ISO 8601 basic format
        ("2024-05-04T19:30:00+0230", datetime(2024, 5, 4, 17, tzinfo=UTC)),
        ("2024-05-04T19:00+02", datetime(2024, 5, 4, 17, tzinfo=UTC)),
        ("2024-05-04T17:00:00", datetime(2024, 5, 4, 17, tzinfo=UTC)),  # no offset: read as UTC
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),  # leap second
    ],
)
def test_parse_timestamp_iso_8601_1_0_3_s4_5(text, expected):
    parsed = schemas.parse_timestamp(text)
    assert parsed == expected and parsed.tzinfo is not None


def test_parse_timestamp_keeps_the_offset():
    parsed = schemas.parse_timestamp("2024-05-04T12:00:00.5-05:00")
    assert parsed.utcoffset() == timedelta(hours=-5)
    assert parsed.astimezone(UTC) == datetime(2024, 5, 4, 17, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["2008-09-15T15:53:00.601-00", "2008-09-15T15:53:00.601-0000", "2008-09-15T15:53:00.601-00:00",
     "01/011/2015", "should fail", "2024-02-30T00:00:00Z", "2024-13-01T00:00:00Z", "2024-05-04T24:00:00Z",
     "2024-05-04T17:60:00Z", "2024-05-04T17:00:00+24:00", "2024-05-04", "2024-05-04T17", "2024-05-04 17:00:00Z",
     "2024-05-04T17:00:00Z\n", "0000-01-01T00:00:00Z", "２０２４-05-04T17:00:00Z", ""],
)
def test_parse_timestamp_rejects_1_0_3_s4_5_s1_b1(text):
    """Negative zero offsets are rejected by both ADL suites (xAPI-Spec issue 1073)."""
    with pytest.raises(ValueError):
        schemas.parse_timestamp(text)


def test_parse_timestamp_rejects_non_strings():
    with pytest.raises(ValueError):
        schemas.parse_timestamp(1714842000)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["timestamp", "stored"])
@pytest.mark.parametrize("text", ["2008-09-15T15:53:00.601-00:00", "2008-09-15T15:53:00.601-0000", "01/011/2015"])
def test_timestamp_and_stored_properties_1_0_3_s2_4_7_s2_4_8(rejects, statement, key, text):
    statement[key] = text
    rejects(statement, key)


def test_schemas_helpers_is_duration_and_is_language_tag():
    assert schemas.is_duration("PT1M") and not schemas.is_duration("1M")
    assert schemas.is_language_tag("sgn-BE-FR") and not schemas.is_language_tag("en--US")


@pytest.mark.parametrize(("seconds", "text"), [(0, "PT0S"), (0.004, "PT0S"), (59.5, "PT59.5S"), (60, "PT1M"),
                                                (3723.456, "PT1H2M3.46S"), (-5, "PT0S")])
def test_iso_duration_writes_hundredths_1_0_3_s4_6_s1_b1(seconds: float, text: str) -> None:
    # Part Two §4.6: durations to 0.01 s; what we write is a duration the store itself accepts.
    assert schemas.iso_duration(seconds) == text and schemas.is_duration(text)
