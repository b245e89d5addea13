"""Statement context: xAPI 1.0.3 Part Two §2.4.6, IEEE 9274.1.1 §4.2.2.5 (contextAgents/Groups)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError

from .xapi_activity import ActivitySchema
from .xapi_actor import actor_schema, group_schema
from .xapi_fields import (
    Array,
    Constant,
    Extensions,
    Iri,
    Object,
    Text,
    XapiField,
    XapiSchema,
    load,
)
from .xapi_formats import (
    is_language_tag,
    is_uuid,
)

UUID_MESSAGE = "must be a UUID in standard form (8-4-4-4-12 hex digits, RFC 4122 variant)"


class StatementRefSchema(XapiSchema):
    # xAPI 1.0.3 §2.4.4.3.s4: objectType "StatementRef" and the UUID id are both required.
    objectType = Constant("StatementRef", required=True)
    id = Text(is_uuid, UUID_MESSAGE, required=True)


class ActivityOrActivities(XapiField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        # xAPI 1.0.3 §2.4.6.2.s4.b2: a single Activity Object or an array of them (the single
        # form is kept for 0.95 compatibility, and 9274.1.1 still accepts it).
        if isinstance(value, dict):
            return load(ActivitySchema, value)
        if not isinstance(value, list):
            raise ValidationError("must be an Activity object or an array of Activity objects")
        errors: dict[int, Any] = {}
        for index, item in enumerate(value):
            try:
                if not isinstance(item, dict):
                    raise ValidationError("must be an Activity object")
                load(ActivitySchema, item)
            except ValidationError as err:
                errors[index] = err.messages
        if errors:
            raise ValidationError(errors)
        return value


class ContextActivitiesSchema(XapiSchema):
    memoise = True
    # xAPI 1.0.3 §2.4.6.2.s4.b1: the only keys are parent, grouping, category and other.
    parent = ActivityOrActivities()
    grouping = ActivityOrActivities()
    category = ActivityOrActivities()
    other = ActivityOrActivities()


def _relevant_types() -> Array:
    # IEEE 9274.1.1 §4.2.2.5: relevantTypes is optional, but when present it is a collection of
    # one or more IRIs (an empty array is rejected: ADL suite, lrs-conformance-test-suite#279).
    return Array(Iri(), non_empty=True)


def _agent_only(value: dict[str, Any]) -> type[Schema]:
    if value.get("objectType", "Agent") != "Agent":
        raise ValidationError({"objectType": ["must be 'Agent' (a contextAgent holds an Agent)"]})
    return actor_schema(value)


class ContextAgentSchema(XapiSchema):
    # IEEE 9274.1.1 §4.2.2.5 Context Agent table.
    objectType = Constant("contextAgent", required=True)
    agent = Object(_agent_only, "an Agent object", required=True)
    relevantTypes = _relevant_types()


class ContextGroupSchema(XapiSchema):
    # IEEE 9274.1.1 §4.2.2.5 Context Group table.
    objectType = Constant("contextGroup", required=True)
    group = Object(group_schema, "a Group object", required=True)
    relevantTypes = _relevant_types()


class ContextSchema(XapiSchema):
    # xAPI 1.0.3 §2.4.6.s3 table.
    registration = Text(is_uuid, UUID_MESSAGE)
    instructor = Object(actor_schema, "an Agent or Group object")  # "Agent (MAY be a Group)"
    team = Object(group_schema, "a Group object")
    contextActivities = Object(ContextActivitiesSchema, "a contextActivities object")
    # revision and platform are free strings; §2.4.6.s4.b1-b2 (object must be an Activity) is
    # checked by the Statement, which knows the object.
    revision = Text()
    platform = Text()
    language = Text(is_language_tag, "must be an RFC 5646 language tag, e.g. en-US")
    statement = Object(StatementRefSchema, "a StatementRef object")
    extensions = Extensions()
    # IEEE 9274.1.1 §4.2.2.5: new in 2.0, so rejected as unknown properties under 1.0.3.
    contextAgents = Array(Object(ContextAgentSchema, "a contextAgent object"), only_in=("2.0.0",))
    contextGroups = Array(Object(ContextGroupSchema, "a contextGroup object"), only_in=("2.0.0",))
