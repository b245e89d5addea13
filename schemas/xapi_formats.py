"""xAPI string formats as plain predicates: IRI/URI (RFC 3987), mailto IRI, SHA-2, UUID (RFC 4122),
media types, RFC 5646 language tags, ISO 8601 durations and timestamps (RFC 3339 under 2.0).

Patterns are used with ``fullmatch`` (``$`` would let a trailing newline through) and spell digits
``[0-9]`` (``\\d`` also matches other scripts' digits, which none of these grammars allow).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Literal

XapiVersion = Literal["1.0.3", "2.0.0"]
SUPPORTED_VERSIONS: tuple[XapiVersion, ...] = ("1.0.3", "2.0.0")

# --- IRI / URI: RFC 3987 §2.2 ABNF (RFC 3986 §3 for the ASCII-only URI) -------------------

# ucschar and iprivate, RFC 3987 §2.2; built from code points so the source stays ASCII.
_UCSCHAR = "".join(
    f"{chr(lo)}-{chr(hi)}"
    for lo, hi in [(0xA0, 0xD7FF), (0xF900, 0xFDCF), (0xFDF0, 0xFFEF)]
    + [(plane << 16, (plane << 16) | 0xFFFD) for plane in range(1, 14)]
    + [(0xE1000, 0xEFFFD)]
)
_IPRIVATE = f"{chr(0xE000)}-{chr(0xF8FF)}{chr(0xF0000)}-{chr(0xFFFFD)}{chr(0x100000)}-{chr(0x10FFFD)}"


def _iri_pattern(allow_unicode: bool) -> re.Pattern[str]:
    uc = _UCSCHAR if allow_unicode else ""
    unreserved = r"A-Za-z0-9\-._~" + uc
    sub_delims = r"!$&'()*+,;="
    pct = r"%[0-9A-Fa-f]{2}"
    pchar = rf"(?:[{unreserved}{sub_delims}:@]|{pct})"
    segment, segment_nz = f"{pchar}*", f"{pchar}+"
    userinfo = rf"(?:[{unreserved}{sub_delims}:]|{pct})*"
    reg_name = rf"(?:[{unreserved}{sub_delims}]|{pct})*"  # also covers IPv4address
    ip_literal = r"\[(?P<ip>[^\[\]/?#@]*)\]"  # contents checked in _valid_ip_literal
    authority = rf"(?:{userinfo}@)?(?:{ip_literal}|{reg_name})(?::[0-9]*)?"
    hier_part = (
        rf"(?://{authority}(?:/{segment})*"  # "//" authority path-abempty
        rf"|/(?:{segment_nz}(?:/{segment})*)?"  # path-absolute
        rf"|{segment_nz}(?:/{segment})*"  # path-rootless
        r"|)"  # path-empty
    )
    private = _IPRIVATE if allow_unicode else ""
    query = rf"(?:{pchar}|[{private}/?])*"
    fragment = rf"(?:{pchar}|[/?])*"
    scheme = r"[A-Za-z][A-Za-z0-9+\-.]*"
    return re.compile(rf"{scheme}:{hier_part}(?:\?{query})?(?:#{fragment})?")


_IRI = _iri_pattern(allow_unicode=True)
_URI = _iri_pattern(allow_unicode=False)
_IPVFUTURE = re.compile(r"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+")


def _matches(pattern: re.Pattern[str], value: object) -> bool:
    match = pattern.fullmatch(value) if isinstance(value, str) else None
    if match is None or match["ip"] is None:
        return match is not None
    # RFC 3986 §3.2.2: IP-literal = "[" ( IPv6address / IPvFuture ) "]"; no zone identifiers.
    if _IPVFUTURE.fullmatch(match["ip"]):
        return True
    try:
        return "%" not in match["ip"] and bool(ipaddress.IPv6Address(match["ip"]))
    except ValueError:
        return False


def is_iri(value: object) -> bool:
    """An absolute IRI (RFC 3987 ``IRI``): a scheme is required, relative references are not IRIs."""
    return _matches(_IRI, value)


def is_uri(value: object) -> bool:
    """An absolute URI (RFC 3986 §3): like ``is_iri`` but ASCII only."""
    return _matches(_URI, value)


# --- mailto IRI, hashes, UUID, media type -----------------------------------------------

# xAPI 1.0.3 §2.4.2.3: mbox is "mailto:email address" -- one address, no RFC 6068 hfields.
_MAILTO = re.compile(r"mailto:[^@\s?#/]+@[^@\s?#/.]+(?:\.[^@\s?#/.]+)*")
_SHA1_HEX = re.compile(r"[0-9A-Fa-f]{40}")
# SHA-2 family digests in hex: SHA-224, SHA-256, SHA-384, SHA-512 (xAPI 1.0.3 §2.4.11).
_SHA2_HEX = re.compile(r"[0-9A-Fa-f]{56}|[0-9A-Fa-f]{64}|[0-9A-Fa-f]{96}|[0-9A-Fa-f]{128}")
# RFC 4122 §3 standard string form; §4.1.1 variant bits 10x -> first digit of group 4 is 8-b.
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}")
# RFC 2046 §1 / RFC 2045 §5.1: type "/" subtype *(";" attribute "=" value), tokens per RFC 2045.
_TOKEN = r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+"
_MEDIA_TYPE = re.compile(
    rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|\"(?:[^\"\\\r\n]|\\.)*\"))*"
)


def _full(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def is_mailto_iri(value: object) -> bool:
    return _full(_MAILTO, value) and is_iri(value)


def is_uuid(value: object) -> bool:
    """RFC 4122 variant UUID in standard string form, any version, either case (xAPI 1.0.3 §2.4.1)."""
    return _full(_UUID, value)


is_sha1_hex: Callable[[object], bool] = partial(_full, _SHA1_HEX)
is_sha2_hex: Callable[[object], bool] = partial(_full, _SHA2_HEX)
is_media_type: Callable[[object], bool] = partial(_full, _MEDIA_TYPE)


# --- RFC 5646 language tags (xAPI 1.0.3 §2.2.s4.b2, §4.2) ---------------------------------

_GRANDFATHERED = (
    "en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|i-pwn"
    "|i-tao|i-tay|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE"  # irregular
    "|art-lojban|cel-gaulish|no-bok|no-nyn|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang"  # regular
)
_PRIVATEUSE = r"x(?:-[a-z0-9]{1,8})+"
_LANGTAG = (
    r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})"  # language ["-" extlang]
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"  # variant
    r"(?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*"  # extension
    rf"(?:-{_PRIVATEUSE})?"
)
_LANGUAGE_TAG = re.compile(rf"{_LANGTAG}|{_PRIVATEUSE}|{_GRANDFATHERED}", re.IGNORECASE | re.ASCII)


def is_language_tag(value: object) -> bool:
    """Well-formed RFC 5646 §2.1 Language-Tag (case-insensitive; registry contents not checked)."""
    return _full(_LANGUAGE_TAG, value)


def validate_language_map(value: object) -> bool:
    """A JSON object whose keys are RFC 5646 tags and whose values are strings (xAPI 1.0.3 §4.2)."""
    return isinstance(value, dict) and all(is_language_tag(k) and isinstance(v, str) for k, v in value.items())


# --- ISO 8601 durations (xAPI 1.0.3 §4.6, IEEE 9274.1.1 §4.2.7) --------------------------

_NUM = r"([0-9]+(?:[.,][0-9]+)?)"
# ISO 8601:2004 §4.4.3.2: PnYnMnDTnHnMnS or PnW; §4.4.3.3 (alternative format) is not allowed.
_DURATION = re.compile(
    rf"P(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}D)?(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?|P{_NUM}W"
)


def iso_duration(seconds: float) -> str:
    """``seconds`` as an ISO 8601 duration with 0.01 s precision (xAPI 1.0.3 Part Two §4.6), e.g. PT1H2M3.5S."""
    centis = max(0, round(seconds * 100))
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6000)
    secs = rest / 100
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{secs:.2f}".rstrip("0").rstrip(".") + "S" if secs or text == "PT" else "")


def is_duration(value: object) -> bool:
    # "T" must be followed by a time component, and "P" by at least one component.
    if not isinstance(value, str) or value.endswith("T") or not (match := _DURATION.fullmatch(value)):
        return False
    parts = [part for part in match.groups() if part is not None]
    # ISO 8601:2004 §4.4.3.2: only the lowest-order component may have a decimal fraction.
    return bool(parts) and not any(("." in part or "," in part) for part in parts[:-1])


# --- Timestamps (xAPI 1.0.3 §4.5, IEEE 9274.1.1 §4.2.7) -----------------------------------

# ISO 8601 calendar date and time of day, extended or basic format; the zone is optional in
# 1.0.3 ("SHOULD* include the time zone"). The offset may be written ±hh, ±hhmm or ±hh:mm.
_OFFSET = r"(?P<tz>[Zz]|(?P<sign>[+-])(?P<oh>[0-9]{2})(?::?(?P<om>[0-9]{2}))?)"
_ISO_EXTENDED = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[Tt](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})"
    rf"(?::(?P<s>[0-9]{{2}})(?:[.,](?P<f>[0-9]+))?)?{_OFFSET}?"
)
_ISO_BASIC = re.compile(
    r"(?P<y>[0-9]{4})(?P<mo>[0-9]{2})(?P<d>[0-9]{2})[Tt](?P<h>[0-9]{2})(?P<mi>[0-9]{2})"
    rf"(?:(?P<s>[0-9]{{2}})(?:[.,](?P<f>[0-9]+))?)?{_OFFSET}?"
)
# RFC 3339 §5.6 date-time: seconds and an offset are required, extended format only.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def parse_timestamp(value: str) -> datetime:
    """Parse an xAPI Timestamp into an aware ``datetime``; raise ``ValueError`` if it is not one.

    Accepts ISO 8601 calendar date-times (extended or basic format) as xAPI 1.0.3 §4.5 does;
    every RFC 3339 date-time (what IEEE 9274.1.1 §4.2.7 requires) is among them. A value with
    no offset is read as UTC (1.0.3 only says the zone SHOULD* be present; 2.0 rejects it, see
    ``timestamp_problem``). Sub-microsecond digits are truncated (1.0.3 §4.5.s1.b7) and a leap
    second ``:60`` becomes ``:59.999999``.
    """
    if not isinstance(value, str):
        raise ValueError("a timestamp must be a string")
    match = _ISO_EXTENDED.fullmatch(value) or _ISO_BASIC.fullmatch(value)
    if match is None:
        raise ValueError("not an ISO 8601 date and time")
    if match["sign"] == "-" and int(match["oh"]) == 0 and int(match["om"] or 0) == 0:
        # RFC 3339 §4.3 gives -00:00 the meaning "offset unknown"; ISO 8601 forbids a negative
        # zero offset. Both ADL suites (1.0.3 and 2.0) expect -00, -0000 and -00:00 rejected.
        raise ValueError("a zero UTC offset must be Z or +00:00, never -00:00, -0000 or -00")
    second, micro = int(match["s"] or 0), int((match["f"] or "")[:6].ljust(6, "0"))
    if second == 60:  # leap second (RFC 3339 §5.7); datetime has no room for it
        second, micro = 59, 999_999
    tz = UTC
    if match["sign"]:
        off_h, off_m = int(match["oh"]), int(match["om"] or 0)
        if off_h > 23 or off_m > 59:
            raise ValueError("the UTC offset is out of range")
        delta = timedelta(hours=off_h, minutes=off_m)
        tz = timezone(-delta if match["sign"] == "-" else delta)
    try:
        return datetime(
            int(match["y"]), int(match["mo"]), int(match["d"]),
            int(match["h"]), int(match["mi"]), second, micro, tzinfo=tz,
        )  # fmt: skip
    except ValueError as exc:  # month 13, February 30, hour 24, ...
        raise ValueError(f"not a valid date and time ({exc})") from None


def timestamp_problem(value: object, version: XapiVersion) -> str | None:
    """Why ``value`` is not a Timestamp under ``version``, or None if it is one."""
    if not isinstance(value, str):
        return "must be a string"
    try:
        parse_timestamp(value)
    except ValueError as exc:
        return f"must be an ISO 8601 timestamp such as 2024-05-04T17:00:00.000Z ({exc})"
    if version != "1.0.3" and _RFC3339.fullmatch(value) is None:
        # IEEE 9274.1.1 §4.2.7: a Timestamp shall use the RFC 3339 format, so the offset and
        # the seconds are required and the basic (no separators) format is not allowed.
        return "must be an RFC 3339 timestamp with seconds and a UTC offset (e.g. 2024-05-04T17:00:00.000Z)"
    return None
