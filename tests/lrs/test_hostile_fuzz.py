"""Hostile input over every resource, on both databases (issue 13, "What it must show").

1. A property of the rule (schemas.xapi_limits): whatever the store accepts reads back as the same
   value (numbers as doubles, RFC 8259 §6) in every format, exports to CSV and Parquet and feeds the
   report — the round trip, on SQLite and PostgreSQL.
2. A fuzz of every resource and method with hostile values spliced into otherwise valid requests
   (JSON overflow, NaN, huge integers, NUL, lone surrogates, over-long IRIs and ids, deep nesting)
   and hostile parameters: no answer is 5xx, every error has the xAPI shape (xAPI 1.0.3 Part Three
   §3.2), and afterwards every stored statement reads back as valid JSON in every format, exports
   to CSV and Parquet and feeds the report; every stored document reads back.

Bounded (a few hundred requests per database) so `make test` pays well under a minute for it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.export import ExportQuery
from connectors.export_files import export_statements
from connectors.frames import read_csv, read_parquet
from connectors.reports import load_report
from schemas import DOUBLE_MAX
from tests.conftest import Xapi, json_paths, new_credential, statement

EXT = "https://hocvu.vn/xapi/extensions/fuzz"
MARK = "@@HOSTILE@@"
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10)
NUMBERS = (st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**70), 2**70)
           | st.integers(-(10**308), 10**308) | st.sampled_from([DOUBLE_MAX, -DOUBLE_MAX, 5e-324, -0.0]))
ACCEPTED = st.recursive(st.none() | st.booleans() | NUMBERS | TEXT,
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                        max_leaves=12)
# Raw JSON texts the rule refuses (or that are not JSON at all), spliced where a value goes.
HOSTILE_VALUES = ["1e400", "-1e999", "NaN", "Infinity", "-Infinity", "1" + "0" * 309, "-" + "9" * 400,
                  '"\\u0000"', '"a\\u0000b"', '"\\ud800"', '"x\\udfff"', '"' + "a" * 5000 + '"',
                  "[" * 70 + "1" + "]" * 70, "[" * 2000 + "]" * 2000, '{"a":' * 65 + "1" + "}" * 65,
                  '"https://hocvu.vn/' + "ệ" * 700 + '"', "1e308", "-0", "[]", "{}", "null", '"\\u2028"']
HOSTILE_KEYS = ['"\\u0000"', '"k\\ud800"', '"https://hocvu.vn/' + "a" * 2100 + '"', '"@id"']
PARAM_TEXT = (st.text(st.characters(codec="utf-8"), max_size=20)
              | st.sampled_from(["\x00", "a\x00b", "a" * 3000, "ệ" * 700, "https://hocvu.vn/" + "a" * 2040,
                                 '{"mbox":"mailto:an@hocvu.vn","name":"\\u0000"}', '{"mbox":"mailto:an@hocvu.vn"}',
                                 '{"account":{"homePage":"https://x.vn","name":"' + "n" * 3000 + '"}}',
                                 "1e400", "99999999999999999999999", "-1", "2026-13-45T99:99:99Z",
                                 "6a7b5f0e-6a2c-4d9c-9b7f-0f5a2c6d1e11", "true", "canonical"]))
FUZZ = settings(max_examples=90, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


def _no_constants(name: str) -> Any:
    raise AssertionError(f"{name} in an answer: not JSON (RFC 8259 §6)")


def _json(res: Any) -> Any:
    return json.loads(res.get_data(as_text=True), parse_constant=_no_constants)


def _check(res: Any, what: Any) -> None:
    assert res.status_code < 500, (what, res.status_code, res.get_data(as_text=True)[:300])
    if res.status_code >= 400 and res.content_type.startswith("application/json") and res.get_data():
        error = _json(res)["error"]
        assert set(error) == {"code", "message"}, what




@st.composite
def hostile_statement(draw: st.DrawFn) -> str:
    """A rich valid statement as JSON text with one hostile value or key spliced in somewhere."""
    doc: Any = statement(
        result={"score": {"scaled": 0.5, "raw": 5, "min": 0, "max": 10}, "response": "r", "duration": "PT1M",
                "extensions": {EXT: {"a": [1, "b"]}}},
        context={"registration": str(uuid.uuid4()), "contextActivities": {"grouping": [{"id": "https://hocvu.vn/c"}]},
                 "extensions": {EXT: 1}})
    path = draw(st.sampled_from([p for p in json_paths(doc) if p]))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if draw(st.booleans()) or not isinstance(parent, dict):
        parent[path[-1]] = MARK
        return json.dumps(doc).replace(f'"{MARK}"', draw(st.sampled_from(HOSTILE_VALUES)))
    parent[MARK] = 1
    return json.dumps(doc).replace(f'"{MARK}"', draw(st.sampled_from(HOSTILE_KEYS)))


DOCS = {"activities/state": ("stateId", ("activityId", "agent", "registration")),
        "activities/profile": ("profileId", ("activityId",)), "agents/profile": ("profileId", ("agent",))}
GOOD = {"activityId": "https://hocvu.vn/a", "agent": '{"mbox":"mailto:an@hocvu.vn"}',
        "registration": "6a7b5f0e-6a2c-4d9c-9b7f-0f5a2c6d1e11"}


@st.composite
def hostile_request(draw: st.DrawFn) -> tuple[str, str, dict[str, str], str | None, dict[str, str]]:
    """(method, path, params, body, headers) for any resource."""
    kind = draw(st.sampled_from(["statement", "batch", "put-statement", "query", "document", "document-body",
                                 "activities", "agents"]))
    json_type = {"Content-Type": "application/json"}
    if kind == "statement":
        return "POST", "statements", {}, draw(hostile_statement()), json_type
    if kind == "batch":
        body = "[" + json.dumps(statement()) + "," + draw(hostile_statement()) + "]"
        return "POST", "statements", {}, body, json_type
    if kind == "put-statement":
        return "PUT", "statements", {"statementId": str(uuid.uuid4())}, draw(hostile_statement()), json_type
    if kind == "query":
        names = ["agent", "verb", "activity", "registration", "since", "until", "limit", "format", "statementId",
                 "related_agents", "ascending"]
        params = draw(st.dictionaries(st.sampled_from(names), PARAM_TEXT, max_size=3))
        return draw(st.sampled_from(["GET", "HEAD"])), "statements", params, None, {}
    if kind in ("activities", "agents"):
        name = "activityId" if kind == "activities" else "agent"
        return "GET", kind, {name: draw(PARAM_TEXT)}, None, {}
    path = draw(st.sampled_from(list(DOCS)))
    id_name, keys = DOCS[path]
    params = {k: GOOD[k] for k in keys} | {id_name: "doc"}
    target = draw(st.sampled_from([id_name, *keys]))
    params[target] = draw(PARAM_TEXT)
    method = draw(st.sampled_from(["PUT", "POST", "GET", "DELETE", "HEAD"]))
    body = None
    if method in ("PUT", "POST"):
        body = ('{"v": ' + draw(st.sampled_from(HOSTILE_VALUES)) + "}") if kind == "document-body" else '{"v": 1}'
    return method, path, params, body, {**json_type, "If-None-Match": "*"} if method == "PUT" else json_type


def _read_everything(app: Flask, x: Xapi, slug: str, tmp: Path) -> int:
    """Every stored statement in every format, then CSV and Parquet exports and the report."""
    ids: set[str] = set()
    for fmt in ("exact", "ids", "canonical"):
        res = x.get("statements", format=fmt, limit=0)
        while True:
            _check(res, fmt)
            assert res.status_code == 200
            page = _json(res)
            ids.update(s["id"] for s in page["statements"])
            if not page["more"]:
                break
            res = x.client.get(page["more"], headers=x.headers())
    db = app.extensions["hocvu.db"]
    query = ExportQuery(tenants=[slug], settle=__import__("datetime").timedelta(0))
    with db.session() as session:
        csv_rows = export_statements(session, query, "csv", tmp / f"{slug}.csv", progress=False).rows
        export_statements(session, query, "parquet", tmp / slug, progress=False)
        report = load_report(session, query, min_group=1)
    assert csv_rows == len(ids) == len(read_csv(tmp / f"{slug}.csv"))
    assert len(read_parquet(tmp / slug)) == len(ids) if ids else True
    json.dumps(report.to_json(), allow_nan=False)
    return len(ids)


def test_whatever_is_accepted_reads_back_exports_and_reports(app: Flask, tmp_path: Path) -> None:
    """The round trip: RFC 8259 §6 numbers (as doubles), any Unicode text but NUL, nesting within the
    limit; stored, read back equal in every format, exported, reported. Both databases."""
    slug, key, secret = new_credential(app, ["all"])
    x = Xapi(app.test_client(), key, secret, "2.0.0")
    sent: dict[str, Any] = {}

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(value=ACCEPTED)
    def round_trip(value: Any) -> None:
        res = x.post("statements", json_body=statement(result={"extensions": {EXT: value}}))
        assert res.status_code == 200, res.get_data(as_text=True)[:300]
        [sid] = res.get_json()
        sent[sid] = value
        for fmt in ("exact", "canonical"):
            got = _json(x.get("statements", statementId=sid, format=fmt))["result"]["extensions"][EXT]
            assert _as_doubles(got) == _as_doubles(value)

    round_trip()
    assert _read_everything(app, x, slug, tmp_path) == len(sent)


def _as_doubles(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_as_doubles(v) for v in value]
    return {k: _as_doubles(v) for k, v in value.items()}


def test_hostile_requests_to_every_resource_never_5xx(app: Flask, tmp_path: Path) -> None:
    """No 5xx for any of them, the xAPI error shape on every error; then the tenant's whole store
    reads back in every format, exports and reports (one rule, both databases)."""
    slug, key, secret = new_credential(app, ["all"])
    x = Xapi(app.test_client(), key, secret)
    documents: list[tuple[str, dict[str, str]]] = []

    @FUZZ
    @given(req=hostile_request(), version=st.sampled_from(["1.0.3", "2.0.0"]))
    def fuzz(req: tuple[str, str, dict[str, str], str | None, dict[str, str]], version: str) -> None:
        method, path, params, body, headers = req
        x.version = version
        res = x.request(method, path, data=body, headers=headers, **params)
        _check(res, (method, path, params, (body or "")[:200]))
        if path in DOCS and method in ("PUT", "POST") and res.status_code == 204:
            documents.append((path, params))

    fuzz()
    x.version = "1.0.3"
    _read_everything(app, x, slug, tmp_path)
    for path, params in documents:
        res = x.get(path, **params)
        assert res.status_code in (200, 404), (path, params)  # a later DELETE may have removed it
