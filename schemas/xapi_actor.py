"""Agents and Groups: xAPI 1.0.3 Part Two §2.4.2 (IEEE 9274.1.1 §4.2.2.1)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, validates_schema

from .xapi_fields import (
    IRI_MAX_BYTES,
    IRL_MESSAGE,
    Array,
    Constant,
    Iri,
    Object,
    Text,
    XapiSchema,
    load,
    version_scope,
)
from .xapi_formats import (
    XapiVersion,
    is_mailto_iri,
    is_sha1_hex,
    is_uri,
)
from .xapi_limits import check_json

# xAPI 1.0.3 §2.4.2.3: the four Inverse Functional Identifiers.
IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")


class AccountSchema(XapiSchema):
    # xAPI 1.0.3 §2.4.2.4: both properties are required and no others are allowed.
    homePage = Iri(IRL_MESSAGE, required=True)
    # Part of the Agent's key (lrs.identifiers), so as long as an IRI at most.
    name = Text(required=True, max_bytes=IRI_MAX_BYTES)


class _ActorSchema(XapiSchema):
    name = Text()
    # xAPI 1.0.3 §2.4.2.3 table: mbox is a mailto IRI, mbox_sha1sum the hex SHA-1 of one,
    # openid a URI, account an Account Object.
    mbox = Iri("must be a mailto IRI, e.g. mailto:learner@example.com", is_mailto_iri)
    mbox_sha1sum = Text(is_sha1_hex, "must be a SHA-1 hash in hexadecimal (40 hex digits)")
    openid = Iri("must be an absolute URI with a scheme, e.g. https://openid.example.com/me", is_uri)
    account = Object(AccountSchema, "an account object with homePage and name")


def _ifis(data: dict[str, Any]) -> list[str]:
    return [key for key in IFI_KEYS if key in data]


class AgentSchema(_ActorSchema):
    memoise = True
    # xAPI 1.0.3 §2.4.2.1 table: objectType is optional except when the Agent is an object
    # (§2.4.4.2), which the object selector enforces.
    objectType = Constant("Agent")

    @validates_schema
    def _one_ifi(self, data: dict[str, Any], **kwargs: Any) -> None:
        # xAPI 1.0.3 §2.4.2.1.s2.b1-b2: exactly one Inverse Functional Identifier.
        found = _ifis(data)
        if len(found) != 1:
            have = f"found {', '.join(found)}" if found else "found none"
            raise ValidationError(
                "an Agent must have exactly one identifier among mbox, mbox_sha1sum, openid, account; " + have
            )


def member_schema(value: dict[str, Any]) -> type[Schema]:
    # xAPI 1.0.3 §2.4.2.2.s4.b2 / s5.b2: a Group's members are Agents, never Groups.
    if value.get("objectType") == "Group":
        raise ValidationError({"objectType": ["must be 'Agent': a Group's members cannot be Groups"]})
    return AgentSchema


class GroupSchema(_ActorSchema):
    memoise = True
    # xAPI 1.0.3 §2.4.2.2 tables: objectType "Group" is required for both kinds of Group.
    objectType = Constant("Group", required=True)
    member = Array(Object(member_schema, "an Agent object"))

    @validates_schema
    def _identified_or_anonymous(self, data: dict[str, Any], **kwargs: Any) -> None:
        found = _ifis(data)
        if len(found) > 1:
            # xAPI 1.0.3 §2.4.2.2.s5.b1: an Identified Group has exactly one IFI.
            raise ValidationError(f"a Group must have at most one identifier; found {', '.join(found)}")
        if not found and not data.get("member"):
            # xAPI 1.0.3 §2.4.2.2.s4.b1: an Anonymous Group "MUST include a member property
            # listing constituent Agents", so an empty list does not do.
            raise ValidationError({"member": [
                "must list at least one Agent when the Group has no mbox, mbox_sha1sum, openid or account"
            ]})  # fmt: skip


def is_identified_group(value: dict[str, Any]) -> bool:
    return bool(_ifis(value))


def actor_schema(value: dict[str, Any]) -> type[Schema]:
    """Agent or Group by objectType; a missing objectType means Agent (xAPI 1.0.3 §2.4.2.1)."""
    kind = value.get("objectType", "Agent")
    if kind == "Agent":
        return AgentSchema
    if kind == "Group":
        return GroupSchema
    raise ValidationError({"objectType": ["must be 'Agent' or 'Group'"]})


def group_schema(value: dict[str, Any]) -> type[Schema]:
    # xAPI 1.0.3 §2.4.6 table: context.team is a Group (so objectType "Group" is required).
    if value.get("objectType") != "Group":
        raise ValidationError({"objectType": ["must be 'Group' (this property holds a Group)"]})
    return GroupSchema


def authority_schema(value: dict[str, Any]) -> type[Schema]:
    # xAPI 1.0.3 §2.4.9.s3.b1: an Agent, or in 3-legged OAuth a Group of two Agents.
    return AuthorityGroupSchema if value.get("objectType") == "Group" else actor_schema(value)


class AuthorityGroupSchema(GroupSchema):
    @validates_schema
    def _oauth_pair(self, data: dict[str, Any], **kwargs: Any) -> None:
        # xAPI 1.0.3 §2.4.9.s3.b1 and §2.4.9.s7: the Group pairs the OAuth consumer and the
        # user, so it is anonymous and has exactly two members (ADL suite XAPI-00100).
        if is_identified_group(data) or len(data.get("member", [])) != 2:
            raise ValidationError(
                "an authority Group must be an anonymous Group of exactly two Agents (OAuth consumer and user)"
            )


def validate_agent(data: object, version: XapiVersion, *, allow_group: bool = False) -> None:
    """Validate an Agent given as a request parameter (xAPI 1.0.3 §2.2.s4.b4).

    With ``allow_group`` an Identified Group is accepted too: the Statement Resource's
    ``agent`` parameter is an "Agent or identified Group Object" (1.0.3 Part Three §2.1.3).
    Raises ``marshmallow.ValidationError``.
    """
    with version_scope(version):
        if not isinstance(data, dict):
            raise ValidationError("must be a JSON object (an Agent)")
        check_json(data)  # a NUL in a parameter would reach the database (schemas.xapi_limits)
        if not allow_group:
            if data.get("objectType", "Agent") != "Agent":
                raise ValidationError({"objectType": ["must be 'Agent'"]})
            load(AgentSchema, data)
            return
        load(actor_schema(data), data)
        if data.get("objectType") == "Group" and not is_identified_group(data):
            raise ValidationError("must be an Agent or an identified Group (one with an identifier)")
