"""The fast pre-check of statement shape (schemas.xapi_precheck) ahead of the marshmallow schemas.

Its one promise: it never accepts a statement ``schemas.validate_statement`` refuses, under either
version (xAPI 1.0.3 Part Two §2.2 and IEEE 9274.1.1 §4.2: the LRS rejects a statement that breaks a
rule). When it accepts, the schemas are skipped; when it does not, they run and give today's message.
Held here three ways: mutations of the common shapes it knows (every path, hostile values from the
schemas' fuzz generators, near-miss formats), the schemas' own tests run with a guard that puts every
statement they validate to the pre-check as well, and the HTTP answers for refused statements.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

import schemas
from lrs.statements import validation_message
from tests.conftest import json_paths

sys.path.insert(0, str(Path(__file__).parents[1] / "schemas"))  # the schemas tests' samples and strategies
from test_statement_fuzz import JSON, STATEMENTS, XAPI_KEYS
from xapi_samples import VERSIONS, minimal_statement

ROOT = Path(__file__).parents[2]
VOIDED = "http://adlnet.gov/expapi/verbs/voided"

COMMON: dict[str, Any] = {
    "id": "7ccd3322-e1a5-411a-a67d-6a735c76f119",
    "actor": {"objectType": "Agent", "name": "Lan", "account": {"homePage": "https://lms.example.vn", "name": "hv-42"}},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"vi-VN": "đạt", "en-US": "passed"}},
    "object": {"objectType": "Activity", "id": "https://hocvu.vn/courses/ky-nang-so/quiz-1", "definition": {
        "name": {"vi-VN": "Bài kiểm tra"}, "description": {"en-US": "Quiz"},
        "type": "http://adlnet.gov/expapi/activities/assessment", "moreInfo": "https://hocvu.vn/help",
        "extensions": {"https://hocvu.vn/xapi/ext/level": 2}}},
    "result": {"score": {"scaled": 0.8, "raw": 8, "min": 0, "max": 10}, "success": True, "completion": True,
               "response": "c", "duration": "PT4M12.5S", "extensions": {"https://hocvu.vn/xapi/ext/try": 1}},
    "context": {"registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
                "instructor": {"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"},
                "contextActivities": {"parent": [{"id": "https://hocvu.vn/courses/ky-nang-so"}],
                                      "grouping": {"objectType": "Activity", "id": "https://hocvu.vn/courses"},
                                      "category": [], "other": [{"id": "https://hocvu.vn/tags/a"}]},
                "revision": "2", "platform": "hocvu", "language": "vi-VN",
                "statement": {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"},
                "extensions": {"https://hocvu.vn/xapi/ext/device": {"kind": "mobile"}}},
    "timestamp": "2024-05-04T17:00:00.123+07:00",
    "version": "1.0.3",
}
VOIDING: dict[str, Any] = {
    "actor": {"openid": "https://openid.example.vn/lan"},
    "verb": {"id": VOIDED},
    "object": {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"},
    "context": {"language": "vi"},
}
TAKEN = [COMMON, VOIDING, minimal_statement()]
# Shapes one rule away from valid that the mutations below could rarely reach by chance: a
# StatementRef object with revision and platform in the context (Part Two §2.4.6), voided with an
# Activity (Part Two §2.3.2).
REFUSED = [{**COMMON, "object": VOIDING["object"]}, {**COMMON, "verb": VOIDING["verb"]}]
BASES = TAKEN + REFUSED
# Values that miss a format or a range by little, where a hand-written walk could slip.
NEAR_MISSES = st.sampled_from([
    "", " ", "http://", "http://a b", "mailto:", "mailto:a@b", "mailto:a@@b.vn", "urn:x", "a:b", "x" * 3000,
    "http://e.vn/" + "é" * 1100, "2024-05-04T17:00:00", "2024-05-04T17:00Z", "20240504T170000Z",
    "2024-05-04T17:00:00-00:00", "2024-02-30T00:00:00Z", "2024-05-04T24:00:00Z", "2024-05-04T17:00:60Z",
    "PT", "P", "PT1.5H2M", "P1W", "en-", "vi_VN", "x-private", "i-klingon", "1.0", "1.1.0", "2.0.1", "3.0.0",
    "7CCD3322-E1A5-411A-A67D-6A735C76F119", "7ccd3322-e1a5-411a-c67d-6a735c76f119",
    "EBD31E95054C018B10727CCFFD2EF2EC3A016EE9",
    "Agent", "Group", "Activity", "StatementRef", "SubStatement", VOIDED, True, False, 0, 1, -1, 1.5, -1.5, 11,
    2 ** 63, 2 ** 64, 1e308, float("inf"), float("nan"), [], {}, None, "null", "\x00", "\ud800",
])  # fmt: skip


def _compact(value: Any) -> bytes | None:
    try:
        return orjson.dumps(value)
    except TypeError:
        return None


def _holds(statement: Any, version: str) -> bool:
    """The promise for one statement: accepted by the pre-check means accepted by the schemas."""
    accepted = schemas.precheck_accepts(statement, version, _compact(statement))  # type: ignore[arg-type]
    if accepted:
        try:
            schemas.validate_statement(statement, version)  # type: ignore[arg-type]
        except ValidationError as err:
            pytest.fail(f"pre-check accepted, schemas refuse under {version}: {statement!r}: {err.messages}")
    return accepted


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("base", range(len(TAKEN)))
def test_precheck_takes_the_common_shapes_xapi_1_0_3_part2_s2_4(base, version):
    """The shapes it exists for are taken on the fast path, under both versions."""
    assert _holds(copy.deepcopy(TAKEN[base]), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("base", range(len(REFUSED)))
def test_precheck_declines_one_rule_away_xapi_1_0_3_part2_s2_4_6(base, version):
    """Part Two §2.4.6 (revision, platform only with an Activity), §2.3.2 (voiding a StatementRef)."""
    assert not _holds(copy.deepcopy(REFUSED[base]), version)


def test_precheck_takes_the_bench_statements():
    from bench.data import Generator
    gen = Generator(seed=3)
    assert all(_holds(gen.statement(), v) for _ in range(200) for v in VERSIONS)


def _edit(statement: Any, path: tuple[Any, ...], action: str, value: Any, key: Any) -> Any:
    if not path:
        return value if action == "replace" else statement
    parent = statement
    for part in path[:-1]:
        parent = parent[part]
    if action == "replace":
        parent[path[-1]] = value
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent[path[-1]], dict):
        parent[path[-1]][key] = value
    elif isinstance(parent[path[-1]], list):
        parent[path[-1]].append(value)
    return statement


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(range(len(BASES))), choice=st.integers(min_value=0),
       action=st.sampled_from(["replace", "delete", "add"]), value=JSON | NEAR_MISSES,
       key=st.sampled_from(XAPI_KEYS) | st.text(max_size=8), version=st.sampled_from(VERSIONS),
       edits=st.integers(1, 3))
def test_precheck_never_accepts_what_the_schemas_refuse_xapi_2_0_part2_s2_2(base, choice, action, value, key,
                                                                             version, edits):
    """xAPI 1.0.3 Part Two §2.2 / IEEE 9274.1.1 §4.2: one to three edits anywhere in a common
    statement (replace, delete, add; hostile JSON or a near miss of a format): the pre-check may
    decline, but whatever it accepts the schemas accept."""
    statement = copy.deepcopy(BASES[base])
    for i in range(edits):
        paths = json_paths(statement) if isinstance(statement, dict | list) else [()]
        path = paths[(choice + i * 7919) % len(paths)]
        statement = _edit(statement, path, action, copy.deepcopy(value), key)
    _holds(statement, version)


# Characters an edit may put into a string: format punctuation, case, space, beyond ASCII.
EDIT_CHARS = st.sampled_from(list(":/@.?#%[]-_+ ZzTt0159aAfFgé\u00a0\ue000\U0001f600~!$&'()*,;=\\\""))


@st.composite
def _near(draw: st.DrawFn, value: Any) -> Any:
    """A value a small step from ``value``: a number moved a little, a string with one character
    inserted, removed, replaced or its case changed."""
    if isinstance(value, bool):
        return draw(st.sampled_from([not value, int(value), None]))
    if isinstance(value, int | float):
        return draw(st.sampled_from([value + 1, value - 1, -value, value + 0.5, value * 2, value / 10, 0, 1, -1]))
    if not isinstance(value, str):
        return value
    at = draw(st.integers(0, len(value)))
    kind = draw(st.sampled_from(["insert", "delete", "replace", "case", "cut"]))
    if kind == "insert":
        return value[:at] + draw(EDIT_CHARS) + value[at:]
    if kind == "delete":
        return value[:at] + value[at + 1:]
    if kind == "replace":
        return value[:at] + draw(EDIT_CHARS) + value[at + 1:]
    return value.swapcase() if kind == "case" else value[:at]


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), base=st.sampled_from(range(len(BASES))), version=st.sampled_from(VERSIONS),
       edits=st.integers(1, 3))
def test_precheck_never_accepts_near_misses_xapi_1_0_3_part2_s4(data, base, version, edits):
    """xAPI 1.0.3 Part Two §4 (formats: IRIs, timestamps, durations, language tags, UUIDs) and
    §2.4.5.1 (score ranges): one to three leaves of a common statement moved a small step."""
    statement = copy.deepcopy(BASES[base])
    for _ in range(edits):
        path = data.draw(st.sampled_from([p for p in json_paths(statement) if p]))
        parent = statement
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = data.draw(_near(parent[path[-1]]))
    _holds(statement, version)


@settings(max_examples=1000, deadline=None)
@given(score=st.dictionaries(st.sampled_from(["scaled", "raw", "min", "max"]),
                             st.integers(-3, 3) | st.sampled_from([-1.5, -0.5, 0.5, 1.0, 1.5, 2.5])),
       version=st.sampled_from(VERSIONS))
def test_precheck_score_ranges_xapi_1_0_3_part2_s2_4_5_1(score, version):
    """xAPI 1.0.3 Part Two §2.4.5.1: scaled in [-1, 1], min < max, raw between them."""
    statement = copy.deepcopy(COMMON)
    statement["result"]["score"] = score
    _holds(statement, version)


@settings(max_examples=200, deadline=None)
@given(statement=STATEMENTS, version=st.sampled_from(VERSIONS))
def test_precheck_on_generated_valid_statements(statement, version):
    _holds(statement, version)


@settings(max_examples=300, deadline=None)
@given(data=JSON, version=st.sampled_from(VERSIONS))
def test_precheck_on_random_json(data, version):
    _holds(data, version)


def test_refused_statements_keep_todays_message():
    """A statement the pre-check declines is judged by the schemas alone: the message of a 400 is
    the schemas' (lrs.statements.prepare)."""
    from datetime import UTC, datetime

    from lrs.credentials import Principal
    from lrs.errors import BadRequest
    from lrs.statements import prepare

    principal = Principal(1, 1, "k", frozenset({"all"}), {"objectType": "Agent", "mbox": "mailto:a@hocvu.vn"})
    bad = copy.deepcopy(COMMON)
    bad["result"]["score"]["raw"] = 11
    with pytest.raises(ValidationError) as expected:
        schemas.validate_statement(bad, "2.0.0")
    with pytest.raises(BadRequest) as got:
        prepare(bad, principal, "2.0.0", datetime.now(UTC))
    assert got.value.message == validation_message(expected.value)
    assert "raw: must not be greater than max (10)" in got.value.message


def test_schemas_own_tests_pass_with_the_precheck_guard():
    """Every valid and invalid example of tests/schemas and its fuzz generators, each also put to
    the pre-check (tests/lrs/precheck_guard.py): no statement the schemas refuse is accepted by it."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "precheck_guard", "-x",
         "tests/schemas/"],
        cwd=ROOT, capture_output=True, text=True, env={**__import__("os").environ,
                                                        "PYTHONPATH": f"{ROOT}:{ROOT / 'tests' / 'lrs'}"},
        timeout=900, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    line = next(x for x in run.stdout.splitlines() if x.startswith("precheck-guard:"))
    accepted = int(line.split(",")[1].split()[0])
    assert accepted > 50, line  # the guard saw the pre-check accept, not only decline
