"""Activities and their definitions: xAPI 1.0.3 Part Two §2.4.4.1 (IEEE 9274.1.1 §4.2.2.3)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, validates_schema

from .xapi_fields import (
    IRL_MESSAGE,
    Array,
    Constant,
    Extensions,
    Iri,
    LanguageMap,
    Object,
    Text,
    XapiSchema,
    load,
    version_scope,
)
from .xapi_formats import (
    XapiVersion,
)
from .xapi_limits import check_json

# xAPI 1.0.3 §2.4.4.1.s8 table: the possible interactionType values.
# Mapped to the interaction component lists each one supports (§2.4.4.1.s15 table 2).
INTERACTION_TYPES: dict[str, tuple[str, ...]] = {
    "true-false": (),
    "choice": ("choices",),
    "fill-in": (),
    "long-fill-in": (),
    "matching": ("source", "target"),
    "performance": ("steps",),
    "sequencing": ("choices",),
    "likert": ("scale",),
    "numeric": (),
    "other": (),
}
COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")


class InteractionComponentSchema(XapiSchema):
    # xAPI 1.0.3 §2.4.4.1.s15 table 1: id (String) required, description (Language Map) optional.
    id = Text(required=True)
    description = LanguageMap()


class InteractionType(Text):
    def __init__(self) -> None:
        allowed = ", ".join(INTERACTION_TYPES)
        # xAPI 1.0.3 §2.4.4.1.s13.b1 and §2.2.s4.b1.b6: one of the listed values, exact case.
        super().__init__(INTERACTION_TYPES.__contains__, f"must be one of: {allowed}")


def _components() -> Array:
    return Array(Object(InteractionComponentSchema, "an interaction component object"))


class ActivityDefinitionSchema(XapiSchema):
    # xAPI 1.0.3 §2.4.4.1.s2 table.
    name = LanguageMap()
    description = LanguageMap()
    type = Iri()
    moreInfo = Iri(IRL_MESSAGE)
    extensions = Extensions()
    # xAPI 1.0.3 §2.4.4.1.s8 table: interaction properties.
    interactionType = InteractionType()
    correctResponsesPattern = Array(Text())
    choices = _components()
    scale = _components()
    source = _components()
    target = _components()
    steps = _components()

    @validates_schema
    def _interaction_rules(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        kind = data.get("interactionType")
        used = [key for key in ("correctResponsesPattern", *COMPONENT_LISTS) if key in data]
        if kind is None and used:
            # xAPI 1.0.3 §2.4.4.1.s8 table: interactionType is required for Interaction
            # Activities, i.e. when any interaction property is used (ADL suite XAPI-00064).
            errors["interactionType"] = [f"is required when {', '.join(used)} is present"]
        for key in COMPONENT_LISTS:
            if key not in data:
                continue
            if kind is not None and key not in INTERACTION_TYPES[kind]:
                # xAPI 1.0.3 §2.4.4.1.s15 table 2 (validated under the MAY of §2.4.4.1.s13.b3).
                supported = " and ".join(INTERACTION_TYPES[kind]) or "no component lists"
                errors.setdefault(key, []).append(f"is not used by interactionType {kind!r} (it uses {supported})")
            ids = [component["id"] for component in data[key]]
            if len(ids) != len(set(ids)):
                # xAPI 1.0.3 §2.4.4.1.s16.b1: ids within one list are distinct.
                repeated = sorted({i for i in ids if ids.count(i) > 1})
                errors.setdefault(key, []).append(f"has repeated component ids: {', '.join(repeated)}")
        if errors:
            raise ValidationError(errors)


class ActivitySchema(XapiSchema):
    memoise = True
    # xAPI 1.0.3 §2.4.4.1.s1 table.
    objectType = Constant("Activity")
    id = Iri(required=True)
    definition = Object(ActivityDefinitionSchema, "an Activity Definition object")


def validate_activity(data: object, version: XapiVersion) -> None:
    """Validate an Activity object (xAPI 1.0.3 §2.4.4.1); raises ``marshmallow.ValidationError``."""
    with version_scope(version):
        if not isinstance(data, dict):
            raise ValidationError("must be a JSON object (an Activity)")
        check_json(data)
        load(ActivitySchema, data)
