"""Validation of xAPI data for xAPI 1.0.3 and xAPI 2.0 (IEEE 9274.1.1).

The LRS calls the functions below. Validation never changes the data: the LRS stores the
JSON exactly as received. Every ``validate_*`` function raises ``marshmallow.ValidationError``
whose ``messages`` name the offending property and say what is wrong in plain English.
"""

from .xapi_activity import ActivityDefinitionSchema, ActivitySchema, validate_activity
from .xapi_actor import AgentSchema, GroupSchema, validate_agent
from .xapi_context import ContextSchema, StatementRefSchema
from .xapi_fields import IRI_MAX_BYTES
from .xapi_formats import (
    SUPPORTED_VERSIONS,
    XapiVersion,
    is_duration,
    is_iri,
    is_language_tag,
    is_uuid,
    iso_duration,
    parse_timestamp,
    validate_language_map,
)
from .xapi_limits import DOUBLE_MAX, MAX_DEPTH, check_json, json_problem, string_problem
from .xapi_precheck import accepts as precheck_accepts
from .xapi_statement import (
    AttachmentSchema,
    ResultSchema,
    StatementSchema,
    SubStatementSchema,
    VerbSchema,
    validate_statement,
)


def validate_iri(value: object) -> bool:
    """True if ``value`` is an absolute IRI (RFC 3987), as xAPI requires for ids and keys."""
    return is_iri(value)


__all__ = [
    "DOUBLE_MAX",
    "IRI_MAX_BYTES",
    "MAX_DEPTH",
    "SUPPORTED_VERSIONS",
    "ActivityDefinitionSchema",
    "ActivitySchema",
    "AgentSchema",
    "AttachmentSchema",
    "ContextSchema",
    "GroupSchema",
    "ResultSchema",
    "StatementRefSchema",
    "StatementSchema",
    "SubStatementSchema",
    "VerbSchema",
    "XapiVersion",
    "check_json",
    "is_duration",
    "is_language_tag",
    "is_uuid",
    "iso_duration",
    "json_problem",
    "parse_timestamp",
    "precheck_accepts",
    "string_problem",
    "validate_activity",
    "validate_agent",
    "validate_iri",
    "validate_language_map",
    "validate_statement",
]
