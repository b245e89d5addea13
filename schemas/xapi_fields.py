"""String formats used by xAPI Statements: IRI, UUID, RFC 5646 tags, timestamps, durations...

Pure functions over ``str``; no marshmallow here. The marshmallow fields in
``xapi_fields`` wrap these. Every pattern is matched with ``fullmatch`` (``$`` would
accept a trailing newline) and spells digits as ``[0-9]`` (``\\d`` matches any Unicode
digit, e.g. Arabic-Indic, which none of these grammars allow).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any, ClassVar, Literal

from marshmallow import RAISE, Schema, ValidationError, fields, missing

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


def _valid_ip_literal(text: str) -> bool:
    # RFC 3986 §3.2.2: IP-literal = "[" ( IPv6address / IPvFuture ) "]"; no zone ids.
    if _IPVFUTURE.fullmatch(text):
        return True
    if "%" in text:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _matches(pattern: re.Pattern[str], value: object) -> bool:
    if not isinstance(value, str):
        return False
    match = pattern.fullmatch(value)
    if match is None:
        return False
    ip = match.group("ip")
    return ip is None or _valid_ip_literal(ip)


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


def is_mailto_iri(value: object) -> bool:
    return isinstance(value, str) and _MAILTO.fullmatch(value) is not None and is_iri(value)


def is_sha1_hex(value: object) -> bool:
    return isinstance(value, str) and _SHA1_HEX.fullmatch(value) is not None


def is_sha2_hex(value: object) -> bool:
    return isinstance(value, str) and _SHA2_HEX.fullmatch(value) is not None


def is_uuid(value: object) -> bool:
    """RFC 4122 variant UUID in standard string form, any version, either case (xAPI 1.0.3 §2.4.1)."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def is_media_type(value: object) -> bool:
    return isinstance(value, str) and _MEDIA_TYPE.fullmatch(value) is not None


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
    return isinstance(value, str) and _LANGUAGE_TAG.fullmatch(value) is not None


def validate_language_map(value: object) -> bool:
    """A JSON object whose keys are RFC 5646 tags and whose values are strings (xAPI 1.0.3 §4.2)."""
    return isinstance(value, dict) and all(
        is_language_tag(key) and isinstance(text, str) for key, text in value.items()
    )


# --- ISO 8601 durations (xAPI 1.0.3 §4.6, IEEE 9274.1.1 §4.2.7) --------------------------

_NUM = r"([0-9]+(?:[.,][0-9]+)?)"
# ISO 8601:2004 §4.4.3.2: PnYnMnDTnHnMnS or PnW; §4.4.3.3 (alternative format) is not allowed.
_DURATION = re.compile(
    rf"P(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}D)?(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?|P{_NUM}W"
)


def is_duration(value: object) -> bool:
    if not isinstance(value, str):
        return False
    match = _DURATION.fullmatch(value)
    if match is None:
        return False
    parts = [part for part in match.groups() if part is not None]
    if not parts:  # "P" alone carries no component
        return False
    if "T" in value and value.endswith("T"):  # "T" must be followed by a time component
        return False
    # ISO 8601:2004 §4.4.3.2: only the lowest-order component may have a decimal fraction.
    return not any(("." in part or "," in part) for part in parts[:-1])


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
        raise ValueError("not an ISO 8601 date and time (e.g. 2024-05-04T17:00:00.000Z)")
    if match["sign"] == "-" and int(match["oh"]) == 0 and int(match["om"] or 0) == 0:
        # RFC 3339 §4.3 gives -00:00 the meaning "offset unknown"; ISO 8601 forbids a negative
        # zero offset. Both ADL suites (1.0.3 and 2.0) expect -00, -0000 and -00:00 rejected.
        raise ValueError("a zero UTC offset must be written Z or +00:00, not with a minus sign")
    second = int(match["s"] or 0)
    fraction = (match["f"] or "")[:6].ljust(6, "0")
    micro = int(fraction)
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
        return f"must be an ISO 8601 timestamp: {exc}"
    if version != "1.0.3" and _RFC3339.fullmatch(value) is None:
        # IEEE 9274.1.1 §4.2.7: a Timestamp shall use the RFC 3339 format, so the offset and
        # the seconds are required and the basic (no separators) format is not allowed.
        return "must be an RFC 3339 timestamp with seconds and a UTC offset (e.g. 2024-05-04T17:00:00.000Z)"
    return None


# --- Statement "version" property (xAPI 1.0.3 §2.4.10, IEEE 9274.1.1 §4.2.4.3) -------------

# Semantic Versioning 1.0.0 shapes; "1.0" alone is accepted too (1.0.3 Communication §3.3.s3.b3).
_SEMVER_TAIL = r"(?:\.[0-9]+(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?"
_STATEMENT_VERSIONS: dict[XapiVersion, re.Pattern[str]] = {
    # 1.0.3 §2.4.10.s3.b1-b2: accept "1.0.x", reject anything not starting with "1.0.".
    "1.0.3": re.compile(rf"1\.0{_SEMVER_TAIL}"),
    # 9274.1.1 keeps 1.0.x Statements valid and adds 2.0.x.
    "2.0.0": re.compile(rf"(?:1|2)\.0{_SEMVER_TAIL}"),
}


def is_statement_version(value: object, version: XapiVersion) -> bool:
    return isinstance(value, str) and _STATEMENT_VERSIONS[version].fullmatch(value) is not None


# --- Version in force while validating ----------------------------------------------------

# Set by the public validate_* functions; fields read it to apply 1.0.3 or 2.0 rules. A
# ContextVar keeps concurrent requests (threads or asyncio tasks) from seeing each other's.
_VERSION: ContextVar[XapiVersion] = ContextVar("xapi_version", default="2.0.0")


@contextmanager
def version_scope(version: object) -> Iterator[None]:
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"unsupported xAPI version {version!r}; expected one of {SUPPORTED_VERSIONS}")
    token = _VERSION.set(version)  # type: ignore[arg-type]  # narrowed by the check above
    try:
        yield
    finally:
        _VERSION.reset(token)


def current_version() -> XapiVersion:
    return _VERSION.get()


# --- marshmallow fields: strict JSON types, plain-English messages ------------------------

IRI_MESSAGE = "must be an absolute IRI with a scheme, e.g. http://example.com/path"
IRL_MESSAGE = "must be an absolute IRL with a scheme, e.g. https://example.com/page"


class XapiField(fields.Field):
    # xAPI 1.0.3 §2.2.s4.b1.b1: null is rejected everywhere except inside extensions.
    default_error_messages: ClassVar[dict[str, str]] = {"required": "is required", "null": "must not be null"}


class Text(XapiField):
    """A JSON string, optionally in a format: ``Text(is_iri, IRI_MESSAGE)``."""

    def __init__(self, check: Callable[[str], bool] | None = None, message: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check, self.message = check, message

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        # 1.0.3 §2.2.s4.b1.b2-b4: wrong JSON types and non-format-following strings are rejected.
        if not isinstance(value, str):
            raise ValidationError("must be a string")
        if self.check is not None and not self.check(value):
            raise ValidationError(self.message)
        return value


class Boolean(XapiField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        # 1.0.3 §2.2.s4.b1.b3: "true" (a string) is not a boolean.
        if not isinstance(value, bool):
            raise ValidationError("must be a JSON boolean (true or false)")
        return value


class Number(XapiField):
    def __init__(self, *, integer: bool = False, minimum: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.integer, self.minimum = integer, minimum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        # 1.0.3 §2.2.s4.b1.b2: strings holding numbers are not numbers; bool is not a number.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValidationError("must be a JSON number")
        # JSON has one number type, so 3.0 is an integer value (as in JSON Schema "integer").
        if self.integer and not float(value).is_integer():
            raise ValidationError("must be an integer")
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"must be at least {self.minimum:g}")
        return value


class Constant(XapiField):
    """A string that must equal one exact (case-sensitive) value, e.g. objectType "Agent"."""

    def __init__(self, expected: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.expected = expected

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        # 1.0.3 §2.2.s4.b1.b6: enumerated values must match in case too.
        if value != self.expected or not isinstance(value, str):
            raise ValidationError(f"must be {self.expected!r}")
        return value


class Forbidden(XapiField):
    """A key that must be absent here (even with a null value), e.g. "id" in a SubStatement."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if value is missing:
            return missing
        raise ValidationError(self.message)


class Timestamp(XapiField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        problem = timestamp_problem(value, current_version())
        if problem:
            raise ValidationError(problem)
        return value


class LanguageMap(XapiField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, str]:
        # xAPI 1.0.3 §4.2: keys are RFC 5646 tags (§2.2.s4.b2), values are strings.
        if not isinstance(value, dict):
            raise ValidationError("must be a language map (a JSON object of language tag -> string)")
        errors: dict[str, list[str]] = {}
        for tag, text in value.items():
            if not is_language_tag(tag):
                errors.setdefault(tag, []).append("is not a valid RFC 5646 language tag")
            if not isinstance(text, str):
                errors.setdefault(tag, []).append("must not be null" if text is None else "must be a string")
        if errors:
            raise ValidationError(errors)
        return value


class Extensions(XapiField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError("must be a JSON object mapping IRIs to values")
        # xAPI 1.0.3 §4.1.s3.b1: keys are IRIs; §4.1.s3.b2: values (even null) are never checked.
        bad = [key for key in value if not is_iri(key)]
        if bad:
            message = ["is not an absolute IRI (extension keys must be IRIs)"]
            raise ValidationError({key: message for key in bad})
        return value


class Array(fields.List):
    """A JSON array; ``only_in`` limits it to some xAPI versions, ``non_empty`` forbids []."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "invalid": "must be a JSON array", **XapiField.default_error_messages
    }

    def __init__(self, inner: fields.Field, *, only_in: tuple[XapiVersion, ...] = SUPPORTED_VERSIONS,
                 non_empty: bool = False, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(inner, **kwargs)
        self.only_in, self.non_empty = only_in, non_empty

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        version = current_version()
        if version not in self.only_in:
            raise ValidationError(f"is not allowed in xAPI {version} (it is new in xAPI {self.only_in[0]})")
        if not isinstance(value, list):
            raise self.make_error("invalid")
        if self.non_empty and not value:
            raise ValidationError("must not be empty")
        return super()._deserialize(value, attr, data, **kwargs)


@cache
def _instance(schema: type[Schema]) -> Schema:
    # load() keeps no state on the instance, so one per class serves every request.
    return schema()


def load(schema: type[Schema], value: object) -> Any:
    return _instance(schema).load(value)  # type: ignore[arg-type]  # the schema checks the type


class Object(XapiField):
    """A JSON object validated by a schema that ``select`` picks from it (e.g. by objectType)."""

    def __init__(self, select: Callable[[dict[str, Any]], type[Schema]] | type[Schema],
                 what: str = "a JSON object", **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.select, self.what = select, what

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError(f"must be {self.what}")
        schema = self.select if isinstance(self.select, type) else self.select(value)
        return load(schema, value)


class XapiSchema(Schema):
    """Base of every xAPI object schema: unknown keys are errors, messages are plain English."""

    class Meta:
        # xAPI 1.0.3 §2.2.s4.b1.b5/b7 and §2.2.s4.b8: unknown or wrongly cased keys are rejected.
        unknown = RAISE

    error_messages: ClassVar[dict[str, str]] = {
        "unknown": "is not allowed here by the xAPI specification",
        "type": "must be a JSON object",
    }

    def handle_error(self, error: ValidationError, data: Any, *, many: bool, **kwargs: Any) -> None:
        messages = error.messages
        if isinstance(messages, dict):
            known = {name.lower(): name for name in self.load_fields}
            messages = dict(messages)
            for key in messages:
                hint = known.get(key.lower()) if isinstance(key, str) else None
                if hint and key not in self.load_fields:
                    messages[key] = [f"is not allowed; keys are case-sensitive (did you mean {hint!r}?)"]
            # An object-level error reads better on the object itself than under "_schema".
            if set(messages) == {"_schema"}:
                raise ValidationError(messages["_schema"])
        raise ValidationError(messages)
