"""A fast, conservative pre-check of the common statement shapes, ahead of the marshmallow schemas.

``accepts(statement, version, text)`` is True only for a statement ``validate_statement`` accepts
too; False means "not sure", and the caller runs the schemas, which give the exact message of a
refusal. It knows a subset of xAPI on purpose (what LMSs and the hub's own player send): an Agent
actor or instructor (one of mbox, mbox_sha1sum, openid, account), a Verb, an Activity object
(definition without interaction properties) or a StatementRef, result, context (registration,
instructor, contextActivities, revision, platform, language, statement, extensions), timestamp,
version and id. Anything else (Groups, SubStatements, attachments, authority, stored, 2.0's
contextAgents and contextGroups, interaction definitions, any null) goes the slow way.

Formats are judged by the very predicates the schemas use (``xapi_formats``), so the two cannot
read an IRI or a timestamp differently; what is new here is only the walk, written as plain
set and type tests instead of marshmallow's per-field machinery (about a tenth of its time).
``tests/lrs/test_statement_precheck.py`` holds the pre-check to never accept what the schemas refuse.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Final

from .xapi_fields import IRI_MAX_BYTES, too_long
from .xapi_formats import (
    XapiVersion,
    is_duration,
    is_iri,
    is_language_tag,
    is_mailto_iri,
    is_sha1_hex,
    is_uri,
    is_uuid,
    timestamp_problem,
)
from .xapi_limits import MAX_DEPTH
from .xapi_statement import STATEMENT_VERSIONS, VOIDED

_STATEMENT_KEYS: Final = frozenset({"id", "actor", "verb", "object", "result", "context", "timestamp", "version"})
_AGENT_KEYS: Final = frozenset({"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"})
_IFI_KEYS: Final = ("mbox", "mbox_sha1sum", "openid", "account")
_VERB_KEYS: Final = frozenset({"id", "display"})
_ACTIVITY_KEYS: Final = frozenset({"objectType", "id", "definition"})
_DEFINITION_KEYS: Final = frozenset({"name", "description", "type", "moreInfo", "extensions"})
_REF_KEYS: Final = frozenset({"objectType", "id"})
_RESULT_KEYS: Final = frozenset({"score", "success", "completion", "response", "duration", "extensions"})
_SCORE_KEYS: Final = frozenset({"scaled", "raw", "min", "max"})
_CONTEXT_KEYS: Final = frozenset({"registration", "instructor", "contextActivities", "revision", "platform",
                                  "language", "statement", "extensions"})
_CONTEXT_ACTIVITY_KEYS: Final = frozenset({"parent", "grouping", "category", "other"})


def plainly_storable(text: bytes) -> bool:
    """``schemas.xapi_limits``'s rule, read off the statement's compact JSON (orjson's, which
    already refused lone surrogates and integers past 64 bits): no NUL, no null (nor a non-finite
    float, which orjson writes as null; null is refused outside extensions anyway), and no deeper
    nesting than the brackets allow. False only means "ask the schemas"."""
    return (b"\\u0000" not in text and b"null" not in text
            and text.count(b"{") + text.count(b"[") <= MAX_DEPTH)


# The same few IRIs, tags and addresses recur in statement after statement (verbs, activities,
# learners), and a format's verdict depends on the string alone (never on the xAPI version): a
# bounded memo of each predicate skips the regular expressions (two thirds of the walk's time).
_MEMO: Final = 1 << 16


@lru_cache(maxsize=_MEMO)
def _iri_text(value: str) -> bool:
    return is_iri(value) and not too_long(value, IRI_MAX_BYTES)


@lru_cache(maxsize=_MEMO)
def _tag(value: str) -> bool:
    return is_language_tag(value)


@lru_cache(maxsize=_MEMO)
def _mbox(value: str) -> bool:
    return is_mailto_iri(value) and not too_long(value, IRI_MAX_BYTES)


def _iri(value: Any) -> bool:
    return type(value) is str and _iri_text(value)


def _language_map(value: Any) -> bool:
    return type(value) is dict and all(_tag(k) and type(v) is str for k, v in value.items())


def _extensions(value: Any) -> bool:
    # xAPI 1.0.3 Part Two §4.1: keys are IRIs; values are any JSON (xapi_limits' rule, judged above).
    return type(value) is dict and all(_iri(k) for k in value)


def _agent(value: Any) -> bool:
    """An Agent (xAPI 1.0.3 Part Two §2.4.2.1) with exactly one IFI (§2.4.2.3)."""
    if type(value) is not dict or not value.keys() <= _AGENT_KEYS or value.get("objectType", "Agent") != "Agent":
        return False
    ifis = [k for k in _IFI_KEYS if k in value]
    if len(ifis) != 1 or ("name" in value and type(value["name"]) is not str):
        return False
    ifi = ifis[0]
    found = value[ifi]
    if ifi == "mbox":
        return type(found) is str and _mbox(found)
    if ifi == "mbox_sha1sum":
        return type(found) is str and is_sha1_hex(found)
    if ifi == "openid":
        return type(found) is str and is_uri(found) and not too_long(found, IRI_MAX_BYTES)
    return (type(found) is dict and found.keys() == {"homePage", "name"} and _iri(found["homePage"])
            and type(found["name"]) is str and not too_long(found["name"], IRI_MAX_BYTES))


def _activity(value: Any) -> bool:
    """An Activity (Part Two §2.4.4.1) whose definition has no interaction properties."""
    if type(value) is not dict or not value.keys() <= _ACTIVITY_KEYS or "id" not in value:
        return False
    if value.get("objectType", "Activity") != "Activity" or not _iri(value["id"]):
        return False
    if "definition" not in value:
        return True
    d = value["definition"]
    return (type(d) is dict and d.keys() <= _DEFINITION_KEYS
            and ("name" not in d or _language_map(d["name"]))
            and ("description" not in d or _language_map(d["description"]))
            and ("type" not in d or _iri(d["type"]))
            and ("moreInfo" not in d or _iri(d["moreInfo"]))
            and ("extensions" not in d or _extensions(d["extensions"])))


def _statement_ref(value: Any) -> bool:
    return (type(value) is dict and value.keys() == _REF_KEYS and value["objectType"] == "StatementRef"
            and type(value["id"]) is str and is_uuid(value["id"]))


def _number(value: Any) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value))


def _score(value: Any) -> bool:
    """Part Two §2.4.5.1: numbers; scaled in [-1, 1]; min < max; raw within them."""
    if type(value) is not dict or not value.keys() <= _SCORE_KEYS or not all(_number(v) for v in value.values()):
        return False
    low, high, raw, scaled = value.get("min"), value.get("max"), value.get("raw"), value.get("scaled")
    return ((scaled is None or -1 <= scaled <= 1) and (low is None or high is None or low < high)
            and (raw is None or ((low is None or raw >= low) and (high is None or raw <= high))))


def _result(value: Any) -> bool:
    if type(value) is not dict or not value.keys() <= _RESULT_KEYS:
        return False
    return (("score" not in value or _score(value["score"]))
            and ("success" not in value or type(value["success"]) is bool)
            and ("completion" not in value or type(value["completion"]) is bool)
            and ("response" not in value or type(value["response"]) is str)
            and ("duration" not in value or (type(value["duration"]) is str and is_duration(value["duration"])))
            and ("extensions" not in value or _extensions(value["extensions"])))


def _context_activities(value: Any) -> bool:
    if type(value) is not dict or not value.keys() <= _CONTEXT_ACTIVITY_KEYS:
        return False
    for found in value.values():
        # Part Two §2.4.6.2: an array of Activities, or one Activity (the 0.95 form).
        if not (all(_activity(a) for a in found) if type(found) is list else _activity(found)):
            return False
    return True


def _context(value: Any, object_is_activity: bool) -> bool:
    if type(value) is not dict or not value.keys() <= _CONTEXT_KEYS:
        return False
    if not object_is_activity and ("revision" in value or "platform" in value):
        return False  # Part Two §2.4.6: revision and platform only when the object is an Activity
    return (("registration" not in value or (type(value["registration"]) is str and is_uuid(value["registration"])))
            and ("instructor" not in value or _agent(value["instructor"]))
            and ("contextActivities" not in value or _context_activities(value["contextActivities"]))
            and ("revision" not in value or type(value["revision"]) is str)
            and ("platform" not in value or type(value["platform"]) is str)
            and ("language" not in value or (type(value["language"]) is str and _tag(value["language"])))
            and ("statement" not in value or _statement_ref(value["statement"]))
            and ("extensions" not in value or _extensions(value["extensions"])))


def accepts(statement: Any, version: XapiVersion, text: bytes | None) -> bool:
    """True when ``statement`` is one of the common shapes and valid under ``version``: then
    ``schemas.validate_statement`` accepts it too. ``text``: its compact JSON (orjson), or None
    when orjson could not write it (then the answer is False)."""
    if text is None or type(statement) is not dict or version not in STATEMENT_VERSIONS \
            or not plainly_storable(text):
        return False
    if not statement.keys() <= _STATEMENT_KEYS or not _agent(statement.get("actor")):
        return False
    verb, obj = statement.get("verb"), statement.get("object")
    if type(verb) is not dict or not verb.keys() <= _VERB_KEYS or not _iri(verb.get("id")):
        return False
    if "display" in verb and not _language_map(verb["display"]):
        return False
    if type(obj) is not dict:
        return False
    if obj.get("objectType") == "StatementRef":
        is_activity = False
        if not _statement_ref(obj):
            return False
    elif verb["id"] == VOIDED or not _activity(obj):
        return False  # Part Two §2.3.2: a voiding statement's object is a StatementRef
    else:
        is_activity = True
    if "id" in statement and not (type(statement["id"]) is str and is_uuid(statement["id"])):
        return False
    if "result" in statement and not _result(statement["result"]):
        return False
    if "context" in statement and not _context(statement["context"], is_activity):
        return False
    if "timestamp" in statement and timestamp_problem(statement["timestamp"], version) is not None:
        return False
    found = statement.get("version")
    return found is None or (type(found) is str and STATEMENT_VERSIONS[version].fullmatch(found) is not None)
