"""Property tests: whatever JSON arrives, validation answers with ValidationError or nothing.

An LRS turns ValidationError into 400 Bad Request; any other exception would be a 500, so
random and mutated statements must never raise anything else (xAPI 1.0.3 §2.2.s4.b1: the LRS
rejects bad Statements, it does not fail on them). Generated valid statements must pass.
"""

from __future__ import annotations

import copy
from contextlib import suppress
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError
from xapi_samples import VERSIONS, full_statement, minimal_statement

import schemas

# Keys the schemas know, so random objects often reach the deeper validation paths.
XAPI_KEYS = [
    "id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority", "version",
    "attachments", "objectType", "name", "mbox", "mbox_sha1sum", "openid", "account", "homePage", "member",
    "display", "definition", "description", "type", "moreInfo", "extensions", "interactionType",
    "correctResponsesPattern", "choices", "scale", "source", "target", "steps", "score", "scaled", "raw", "min",
    "max", "success", "completion", "response", "duration", "registration", "instructor", "team",
    "contextActivities", "parent", "grouping", "category", "other", "revision", "platform", "language",
    "statement", "contextAgents", "contextGroups", "agent", "group", "relevantTypes", "usageType",
    "contentType", "length", "sha2", "fileUrl",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 1e308, -0.0, 2**63]),  # json.loads gives ints of any size
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["Agent", "Group", "Activity", "SubStatement", "StatementRef", "contextAgent", "choice",
                     "mailto:a@example.vn", "http://example.com/x", "2024-05-04T17:00:00Z", "PT1S", "en-US",
                     "7ccd3322-e1a5-411a-a67d-6a735c76f119", "1.0.0", "2.0.0"]),
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(XAPI_KEYS) | st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)


def _only_validation_errors(data: Any, version: str) -> None:
    before = copy.deepcopy(data)
    try:
        schemas.validate_statement(data, version)  # type: ignore[arg-type]
    except ValidationError as err:
        assert err.messages  # a rejection always says something
    assert repr(data) == repr(before)  # never mutated (repr, because NaN != NaN)


@settings(max_examples=300, deadline=None)
@given(data=JSON, version=st.sampled_from(VERSIONS))
def test_random_json_only_raises_validation_error(data, version):
    _only_validation_errors(data, version)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _with_substatement() -> dict[str, Any]:
    statement = full_statement()
    inner = {key: copy.deepcopy(statement[key]) for key in ("actor", "verb", "object", "result", "context")}
    outer = minimal_statement()
    outer["object"] = {"objectType": "SubStatement", **inner}
    return outer


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([full_statement, _with_substatement]),
    choice=st.integers(min_value=0),
    action=st.sampled_from(["replace", "delete", "add"]),
    value=JSON,
    new_key=st.sampled_from(XAPI_KEYS) | st.text(max_size=8),
    version=st.sampled_from(VERSIONS),
)
def test_mutated_statements_only_raise_validation_error(base, choice, action, value, new_key, version):
    statement = base()
    path = _paths(statement)[choice % len(_paths(statement))]
    parent: Any = statement
    for key in path[:-1]:
        parent = parent[key]
    if action == "replace":
        parent[path[-1]] = value
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent[path[-1]], dict):
        parent[path[-1]][new_key] = value
    _only_validation_errors(statement, version)


@settings(max_examples=200, deadline=None)
@given(data=JSON, version=st.sampled_from(VERSIONS), allow_group=st.booleans())
def test_other_entry_points_only_raise_validation_error(data, version, allow_group):
    for call in (lambda: schemas.validate_agent(data, version, allow_group=allow_group),
                 lambda: schemas.validate_activity(data, version)):  # fmt: skip
        with suppress(ValidationError):
            call()
    for check in (schemas.validate_iri, schemas.is_uuid, schemas.validate_language_map):
        assert isinstance(check(data), bool)


@given(text=st.text(max_size=40) | st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{5,12}[Z+-][0-9:]{0,5}"))
def test_parse_timestamp_only_raises_value_error(text):
    try:
        parsed = schemas.parse_timestamp(text)
    except ValueError:
        return
    assert parsed.tzinfo is not None


# --- Generated valid statements must be accepted under both versions -------------------------

_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10).filter(
    lambda word: not word.startswith("-") and not word.endswith("-")
)
IRIS = st.builds("https://{}.example.vn/{}".format, _WORD, _WORD)
# Text any reader can take (schemas.xapi_limits refuses NUL and lone surrogates; their own tests above).
TEXT = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))
LANG_MAPS = st.dictionaries(st.sampled_from(["en", "en-US", "vi", "vi-VN", "zh-Hant", "es-419"]), TEXT, max_size=3)
AGENTS = st.one_of(
    st.builds(lambda w: {"mbox": f"mailto:{w}@example.vn"}, _WORD),
    st.builds(lambda h: {"mbox_sha1sum": h}, st.from_regex(r"[0-9a-f]{40}", fullmatch=True)),
    st.builds(lambda iri: {"openid": iri}, IRIS),
    st.builds(lambda iri, name: {"account": {"homePage": iri, "name": name}}, IRIS, TEXT),
)
SCORES = st.builds(
    lambda low, span, frac, scaled: {"min": low, "max": low + span, "raw": low + span * frac, "scaled": scaled},
    st.integers(-1000, 1000), st.integers(1, 1000), st.floats(0, 1), st.floats(-1, 1),
)  # fmt: skip
STATEMENTS = st.builds(
    lambda actor, verb, display, obj, score, success, when: {
        "actor": actor,
        "verb": {"id": verb, "display": display},
        "object": {"id": obj, "definition": {"name": display, "type": verb}},
        "result": {"score": score, "success": success, "duration": "PT1M30.5S"},
        "context": {"contextActivities": {"parent": [{"id": obj + "/parent"}]}, "language": "vi"},
        "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    },
    AGENTS, IRIS, LANG_MAPS, IRIS, SCORES, st.booleans(),
    st.datetimes(timezones=st.just(schemas.parse_timestamp("2000-01-01T00:00:00Z").tzinfo)),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(statement=STATEMENTS)
def test_generated_valid_statements_are_accepted(statement):
    for version in VERSIONS:
        schemas.validate_statement(statement, version)  # type: ignore[arg-type]
