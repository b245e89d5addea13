"""The strict marshmallow fields and base schema every xAPI object schema is built from, and the
version (1.0.3 or 2.0.0) in force while validating. String formats live in ``xapi_formats``.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any, ClassVar

import orjson
from marshmallow import RAISE, Schema, ValidationError, fields, missing

from .xapi_formats import SUPPORTED_VERSIONS, XapiVersion, is_iri, is_language_tag, timestamp_problem

# --- Version in force while validating ----------------------------------------------------

# Set by the public validate_* functions; fields read it to apply 1.0.3 or 2.0 rules. A
# ContextVar keeps concurrent requests (threads or asyncio tasks) from seeing each other's.
_VERSION: ContextVar[XapiVersion] = ContextVar("xapi_version", default="2.0.0")


@contextmanager
def version_scope(version: object) -> Iterator[None]:
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"unsupported xAPI version {version!r}; expected one of {SUPPORTED_VERSIONS}")
    token = _VERSION.set(version)  # narrowed by the check above
    try:
        yield
    finally:
        _VERSION.reset(token)


def current_version() -> XapiVersion:
    return _VERSION.get()


# --- marshmallow fields: strict JSON types, plain-English messages ------------------------

IRI_MESSAGE = "must be an absolute IRI with a scheme, e.g. http://example.com/path"
IRL_MESSAGE = "must be an absolute IRL with a scheme, e.g. https://example.com/page"
# The longest IRI the store keeps, in bytes of UTF-8: the size of its indexed columns (a PostgreSQL
# B-tree entry holds at most 2704 bytes, so a limit in characters would let 3-byte letters through).
IRI_MAX_BYTES = 2048
IRI_LENGTH_MESSAGE = f"is longer than this LRS keeps ({IRI_MAX_BYTES} bytes of UTF-8)"


# marshmallow's type for a field's error message table: an instance attribute it merges per class,
# so the tables below are not ClassVar (mypy would refuse the override) and keep ruff's RUF012 quiet.
ErrorMessages = dict[str, str | list[Any] | dict[Any, Any]]


def too_long(value: str, max_bytes: int) -> bool:
    # A character is at most 4 bytes: short strings need no encoding to be judged.
    return len(value) * 4 > max_bytes and len(value.encode("utf-8", "surrogatepass")) > max_bytes


class XapiField(fields.Field[Any]):
    # xAPI 1.0.3 §2.2.s4.b1.b1: null is rejected everywhere except inside extensions.
    default_error_messages: ErrorMessages = {"required": "is required", "null": "must not be null"}  # noqa: RUF012


class Checked(XapiField):
    """A field whose ``problem`` says what is wrong with a value (None when nothing is)."""

    def problem(self, value: Any) -> str | dict[str, list[str]] | None:
        raise NotImplementedError

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        found = self.problem(value)
        if found:
            raise ValidationError(found)
        return value  # unchanged: the LRS stores exactly what it received


class Text(Checked):
    """A JSON string, optionally in a format: ``Text(is_iri, IRI_MESSAGE)``, and of at most
    ``max_bytes`` bytes of UTF-8."""

    def __init__(self, check: Callable[[str], bool] | None = None, message: str = "", *,
                 max_bytes: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check, self.message, self.max_bytes = check, message, max_bytes

    def problem(self, value: Any) -> str | None:
        # 1.0.3 §2.2.s4.b1.b2-b4: wrong JSON types and non-format-following strings are rejected.
        if not isinstance(value, str):
            return "must be a string"
        if self.check is not None and not self.check(value):
            return self.message
        if self.max_bytes is not None and too_long(value, self.max_bytes):
            return f"is longer than this LRS keeps ({self.max_bytes} bytes of UTF-8)"
        return None


def Iri(message: str = IRI_MESSAGE, check: Callable[[str], bool] = is_iri, **kwargs: Any) -> Text:
    """An IRI-valued field (IRL, mailto IRI, URI with ``check``): the format, and at most
    IRI_MAX_BYTES, so what PostgreSQL refuses to index is refused here, on both databases."""
    return Text(check, message, max_bytes=IRI_MAX_BYTES, **kwargs)


class Boolean(Checked):
    def problem(self, value: Any) -> str | None:
        # 1.0.3 §2.2.s4.b1.b3: "true" (a string) is not a boolean.
        return None if isinstance(value, bool) else "must be a JSON boolean (true or false)"


class Number(Checked):
    def __init__(self, *, integer: bool = False, minimum: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.integer, self.minimum = integer, minimum

    def problem(self, value: Any) -> str | None:
        # 1.0.3 §2.2.s4.b1.b2: strings holding numbers are not numbers; bool is not a number.
        # (Python's json reads NaN and Infinity, which JSON itself does not have.)
        finite_float = isinstance(value, float) and math.isfinite(value)
        if isinstance(value, bool) or not (isinstance(value, int) or finite_float):
            return "must be a JSON number"
        # JSON has one number type, so 3.0 is an integer value (as in JSON Schema "integer"). Huge
        # ints stay ints: float() of one would overflow.
        if self.integer and isinstance(value, float) and not value.is_integer():
            return "must be an integer"
        return f"must be at least {self.minimum:g}" if self.minimum is not None and value < self.minimum else None


class Constant(Checked):
    """A string that must equal one exact value, e.g. objectType "Agent"."""

    def __init__(self, expected: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.expected = expected

    def problem(self, value: Any) -> str | None:
        # 1.0.3 §2.2.s4.b1.b6: enumerated values must match exactly, case included.
        return None if isinstance(value, str) and value == self.expected else f"must be {self.expected!r}"


class Forbidden(XapiField):
    """A key that must be absent here (even with a null value), e.g. "id" in a SubStatement."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if value is missing:
            return missing
        raise ValidationError(self.message)


class Timestamp(Checked):
    def problem(self, value: Any) -> str | None:
        return timestamp_problem(value, current_version())


class LanguageMap(Checked):
    def problem(self, value: Any) -> str | dict[str, list[str]] | None:
        # xAPI 1.0.3 §4.2: keys are RFC 5646 tags (§2.2.s4.b2), values are strings.
        if not isinstance(value, dict):
            return "must be a language map (a JSON object of language tag -> string)"
        errors: dict[str, list[str]] = {}
        for tag, text in value.items():
            if not is_language_tag(tag):
                errors.setdefault(tag, []).append("is not a valid RFC 5646 language tag")
            if not isinstance(text, str):
                errors.setdefault(tag, []).append("must not be null" if text is None else "must be a string")
        return errors or None


class Extensions(Checked):
    def problem(self, value: Any) -> str | dict[str, list[str]] | None:
        if not isinstance(value, dict):
            return "must be a JSON object mapping IRIs to values"
        # xAPI 1.0.3 §4.1.s3.b1: keys are IRIs; §4.1.s3.b2: values (even null) are never checked
        # (beyond what the store accepts of any JSON value, schemas.xapi_limits).
        errors = {key: ["is not an absolute IRI (extension keys must be IRIs)"] for key in value if not is_iri(key)}
        errors.update({key: [IRI_LENGTH_MESSAGE] for key in value if key not in errors
                       and too_long(key, IRI_MAX_BYTES)})
        return errors or None


class Array(fields.List[Any]):
    """A JSON array; ``only_in`` limits it to some xAPI versions, ``non_empty`` forbids []."""

    default_error_messages: ErrorMessages = {  # noqa: RUF012 (marshmallow: an instance attribute)
        "invalid": "must be a JSON array", **XapiField.default_error_messages
    }

    def __init__(self, inner: fields.Field[Any], *, only_in: tuple[XapiVersion, ...] = SUPPORTED_VERSIONS,
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


# Nested objects recur across statements (the same verbs, activities, learners, contexts), and
# validating one depends only on its schema, the xAPI version and its JSON text. So a bounded memo
# of objects already found valid skips marshmallow's per-field work for repeats; failures are
# never memoised, so every rejection still comes with its full message.
_VALID: dict[tuple[type[Schema], str, bytes | str], None] = {}
_VALID_MAX = 50_000
_VALID_LOCK = threading.Lock()


def _memo_text(value: object) -> bytes | str:
    """The memo's key text: orjson's (a fifth of the stdlib's cost, 7 % of ingest's CPU under py-spy);
    the stdlib's (str, so never equal to an orjson key) for what orjson refuses (huge integers,
    lone surrogates)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def load(schema: type[Schema], value: object) -> Any:
    """Validate ``value`` with ``schema``; returns ``value`` (callers only need the verdict)."""
    if not getattr(schema, "memoise", False):
        _instance(schema).load(value)  # type: ignore[arg-type]  # the schema checks the type
        return value
    key = (schema, current_version(), _memo_text(value))
    if key in _VALID:
        return value
    _instance(schema).load(value)  # type: ignore[arg-type]  # the schema checks the type
    with _VALID_LOCK:
        if len(_VALID) >= _VALID_MAX:
            _VALID.pop(next(iter(_VALID)))  # oldest first: dicts keep insertion order
        _VALID[key] = None
    return value


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

    # Objects that recur across statements (Agents, Groups, Verbs, Activities) opt in to the
    # memo of valid objects in ``load``; ones that are mostly unique per statement do not.
    memoise: ClassVar[bool] = False
    error_messages: dict[str, str] = {  # noqa: RUF012 (marshmallow: an instance attribute)
        "unknown": "is not allowed here by the xAPI specification",
        "type": "must be a JSON object",
    }

    def handle_error(self, error: ValidationError, data: Any, *, many: bool, **kwargs: Any) -> None:
        messages = error.messages
        if isinstance(messages, dict):
            known = {name.lower(): name for name, field in self.load_fields.items()
                     if not isinstance(field, Forbidden)}  # fmt: skip
            messages = dict(messages)
            for key in messages:
                hint = known.get(key.lower()) if isinstance(key, str) else None
                if hint and key not in self.load_fields:
                    messages[key] = [f"is not allowed; keys are case-sensitive (did you mean {hint!r}?)"]
            # An object-level error reads better on the object itself than under "_schema".
            if set(messages) == {"_schema"}:
                raise ValidationError(messages["_schema"])
        raise ValidationError(messages)
