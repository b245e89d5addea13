"""Statements and SubStatements: xAPI 1.0.3 Part Two §2.3-§2.4, IEEE 9274.1.1 §4.2."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, validates_schema

from .xapi_activity import ActivitySchema
from .xapi_actor import IFI_KEYS, AgentSchema, GroupSchema, actor_schema, authority_schema
from .xapi_context import UUID_MESSAGE, ContextSchema, StatementRefSchema
from .xapi_fields import (
    IRL_MESSAGE,
    Array,
    Boolean,
    Constant,
    Extensions,
    Forbidden,
    Iri,
    LanguageMap,
    Number,
    Object,
    Text,
    Timestamp,
    XapiSchema,
    current_version,
    load,
    version_scope,
)
from .xapi_formats import (
    XapiVersion,
    is_duration,
    is_media_type,
    is_sha2_hex,
    is_uuid,
)
from .xapi_limits import check_json

VOIDED = "http://adlnet.gov/expapi/verbs/voided"

# Statement "version" (xAPI 1.0.3 §2.4.10, IEEE 9274.1.1 §4.2.4.3): Semantic Versioning 1.0.0 shapes,
# and "1.0" alone as the version header allows (1.0.3 Part Three §3.3.s3.b3).
_SEMVER_TAIL = r"(?:\.[0-9]+(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?"
STATEMENT_VERSIONS: dict[XapiVersion, re.Pattern[str]] = {
    # 1.0.3 §2.4.10.s3.b1-b2: accept "1.0.x", reject anything not starting with "1.0.".
    "1.0.3": re.compile(rf"1\.0{_SEMVER_TAIL}"),
    # 9274.1.1 keeps 1.0.x Statements valid and adds 2.0.x.
    "2.0.0": re.compile(rf"(?:1|2)\.0{_SEMVER_TAIL}"),
}


class VerbSchema(XapiSchema):
    memoise = True
    # xAPI 1.0.3 §2.4.3.s3 table.
    id = Iri(required=True)
    display = LanguageMap()


class ScoreSchema(XapiSchema):
    # xAPI 1.0.3 §2.4.5.1.s2 table: four decimal numbers.
    scaled = Number()
    raw = Number()
    min = Number()
    max = Number()

    @validates_schema
    def _ranges(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        low, high, raw = data.get("min"), data.get("max"), data.get("raw")
        if "scaled" in data and not -1 <= data["scaled"] <= 1:
            errors["scaled"] = ["must be between -1 and 1 inclusive"]  # §2.4.5.1.s2 table row 1
        if low is not None and high is not None and not low < high:
            errors["min"] = [f"must be less than max ({high!r})"]  # §2.4.5.1.s2 table rows 3-4
        if raw is not None:  # §2.4.5.1.s2 table row 2: raw is within [min, max] when those are given
            if low is not None and raw < low:
                errors["raw"] = [f"must not be less than min ({low!r})"]
            if high is not None and raw > high:
                errors["raw"] = [f"must not be greater than max ({high!r})"]
        if errors:
            raise ValidationError(errors)


class ResultSchema(XapiSchema):
    # xAPI 1.0.3 §2.4.5.s2 table.
    score = Object(ScoreSchema, "a Score object")
    success = Boolean()
    completion = Boolean()
    response = Text()
    # xAPI 1.0.3 §4.6.s1.b1: ISO 8601:2004 §4.4.3.2 durations only.
    duration = Text(is_duration, "must be an ISO 8601 duration, e.g. PT4H35M59.14S or P3Y or P4W")
    extensions = Extensions()


class AttachmentSchema(XapiSchema):
    # xAPI 1.0.3 §2.4.11.s2 table (sha2 is "always required, even if fileUrl is also specified").
    usageType = Iri(required=True)
    display = LanguageMap(required=True)
    description = LanguageMap()
    contentType = Text(is_media_type, "must be an Internet Media Type, e.g. text/plain", required=True)
    length = Number(integer=True, minimum=0, required=True)
    sha2 = Text(is_sha2_hex, "must be a SHA-2 hash in hexadecimal (SHA-224/256/384/512)", required=True)
    fileUrl = Iri(IRL_MESSAGE)


class StatementVersion(Text):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs))  # Text checked it is a string
        version = current_version()
        if not STATEMENT_VERSIONS[version].fullmatch(text):
            # xAPI 1.0.3 §2.4.10.s3.b2: reject versions not starting with "1.0."; IEEE 9274.1.1
            # §4.2.4.3 adds "2.0." (ADL suites: "1.0", "1.0.9" and "2.0.0" pass, "1.1.0" fails).
            allowed = "1.0.x" if version == "1.0.3" else "1.0.x or 2.0.x"
            raise ValidationError(f"must be a supported xAPI version ({allowed}) under xAPI {version}")
        return text


def _object_schema(value: dict[str, Any], *, in_substatement: bool) -> type[Schema]:
    # xAPI 1.0.3 §2.4.4.s2: the objectType selects the kind; a missing one means Activity.
    kind = value.get("objectType")
    if kind is None:
        if "id" not in value and any(key in value for key in IFI_KEYS):
            # xAPI 1.0.3 §2.4.4.2.s1.b1: an Agent or Group used as an object names its objectType.
            raise ValidationError({"objectType": ["is required when the object is an Agent or a Group"]})
        return ActivitySchema
    if kind == "SubStatement":
        if in_substatement:  # xAPI 1.0.3 §2.4.4.3.s8.b4: SubStatements cannot be nested.
            raise ValidationError({"objectType": ["must not be 'SubStatement' inside a SubStatement"]})
        return SubStatementSchema
    kinds: dict[str, type[Schema]] = {
        "Activity": ActivitySchema,
        "Agent": AgentSchema,
        "Group": GroupSchema,
        "StatementRef": StatementRefSchema,
    }
    if not isinstance(kind, str) or kind not in kinds:
        allowed = "Activity, Agent, Group, StatementRef" + ("" if in_substatement else " or SubStatement")
        raise ValidationError({"objectType": [f"must be one of {allowed}"]})
    return kinds[kind]


def _statement_object(value: dict[str, Any]) -> type[Schema]:
    return _object_schema(value, in_substatement=False)


def _substatement_object(value: dict[str, Any]) -> type[Schema]:
    return _object_schema(value, in_substatement=True)


class _StatementSchema(XapiSchema):
    """What a Statement and a SubStatement share (§2.4.4.3.s8.b2: validated as a Statement)."""

    actor = Object(actor_schema, "an Agent or Group object", required=True)  # §2.4.2
    verb = Object(VerbSchema, "a Verb object", required=True)  # §2.4.3
    result = Object(ResultSchema, "a Result object")  # §2.4.5
    context = Object(ContextSchema, "a Context object")  # §2.4.6
    timestamp = Timestamp()  # §2.4.7, §4.5
    attachments = Array(Object(AttachmentSchema, "an Attachment object"))  # §2.4.11

    @validates_schema
    def _context_matches_object(self, data: dict[str, Any], **kwargs: Any) -> None:
        context, obj = data.get("context", {}), data.get("object", {})
        if obj.get("objectType", "Activity") == "Activity":
            return
        # xAPI 1.0.3 §2.4.6.s4.b1-b2: revision and platform only when the object is an Activity.
        misplaced = {key: ["is only allowed when the object is an Activity"]
                     for key in ("revision", "platform") if key in context}  # fmt: skip
        if misplaced:
            raise ValidationError({"context": misplaced})


class SubStatementSchema(_StatementSchema):
    # xAPI 1.0.3 §2.4.4.3.s8.b1: objectType "SubStatement" is required.
    objectType = Constant("SubStatement", required=True)
    object = Object(_substatement_object, "an object (Activity, Agent, Group or StatementRef)", required=True)
    # xAPI 1.0.3 §2.4.4.3.s8.b3: these belong to the containing Statement only.
    id = Forbidden("must not be present in a SubStatement")
    stored = Forbidden("must not be present in a SubStatement")
    version = Forbidden("must not be present in a SubStatement")
    authority = Forbidden("must not be present in a SubStatement")


class StatementSchema(_StatementSchema):
    # xAPI 1.0.3 §2.4.s1 table; §2.2.s2.b3: actor, verb and object are required.
    id = Text(is_uuid, UUID_MESSAGE)  # §2.4.1
    object = Object(_statement_object, "an object (Activity, Agent, Group, StatementRef or SubStatement)",
                    required=True)  # fmt: skip
    stored = Timestamp()  # §2.4.8
    authority = Object(authority_schema, "an Agent object or an OAuth Group of two Agents")  # §2.4.9
    version = StatementVersion()  # §2.4.10

    @validates_schema
    def _voiding(self, data: dict[str, Any], **kwargs: Any) -> None:
        # xAPI 1.0.3 §2.3.2.s2.b1: a voiding Statement's object is a StatementRef.
        if data["verb"]["id"] == VOIDED and data["object"].get("objectType") != "StatementRef":
            raise ValidationError({"object": {"objectType": ["must be 'StatementRef' when the verb is voided"]}})


def validate_statement(data: object, version: XapiVersion) -> None:
    """Validate one Statement as received, under xAPI ``version`` ("1.0.3" or "2.0.0").

    Nothing is changed or filled in: the caller stores the JSON exactly as received. Raises
    ``marshmallow.ValidationError`` whose ``messages`` say what is wrong where, e.g.
    ``{"actor": {"mbox": ["must be a mailto IRI, e.g. mailto:learner@example.com"]}}``.
    """
    with version_scope(version):
        if not isinstance(data, dict):
            raise ValidationError("a Statement must be a JSON object")
        check_json(data)  # numbers, nesting and strings any reader can take (schemas.xapi_limits)
        load(StatementSchema, data)
