"""Ingest's one-statement write on PostgreSQL (lrs.pg_ingest.INGEST: numbers, id claims, rows and
side-table rows at once) keeps what the separate steps did, on both databases: stored order is
request order, and every newly stored statement, only those, gets its related agents and activities
(xAPI 1.0.3 Part Three §2.1.3, ``related_agents`` / ``related_activities``)."""

from __future__ import annotations

import json
import uuid

from tests.conftest import Xapi, statement

PARENT = "https://hocvu.vn/courses/ingest-test"


def _one(i: int, instructor: str) -> dict:
    return statement(id=str(uuid.uuid4()), result={"score": {"raw": i}},
                     context={"instructor": {"mbox": instructor},
                              "contextActivities": {"parent": [{"id": PARENT + "/" + instructor[7:]}]}})


def _ids(x: Xapi, **params: str) -> list[str]:
    res = x.get("statements", limit=50, **params)
    assert res.status_code == 200, res.get_json()
    return [s["id"] for s in res.get_json()["statements"]]


def test_a_batch_is_stored_in_request_order_xapi_1_0_3_part3_s2_1_3(xapi: Xapi):
    """Part Three §2.1.3: statements come back in stored order; a batch's are stored in the order sent."""
    instructor = f"mailto:{uuid.uuid4().hex[:10]}@hocvu.vn"
    batch = [_one(i, instructor) for i in range(7)]
    assert xapi.post("statements", json_body=batch).status_code == 200
    agent = json.dumps({"mbox": instructor})
    assert _ids(xapi, agent=agent, related_agents="true", ascending="true") == [s["id"] for s in batch]


def test_only_new_statements_get_side_rows_xapi_1_0_3_part3_s2_1_2(xapi: Xapi):
    """Part Three §2.1.2: a re-sent statement is not stored again, so it gets no second set of
    side rows; the new one in the same batch gets its own."""
    instructor = f"mailto:{uuid.uuid4().hex[:10]}@hocvu.vn"
    first = [_one(i, instructor) for i in range(3)]
    assert xapi.post("statements", json_body=first).status_code == 200
    fresh = _one(9, instructor)
    assert xapi.post("statements", json_body=[first[1], fresh, first[0]]).status_code == 200
    agent = json.dumps({"mbox": instructor})
    expected = [s["id"] for s in [*first, fresh]]
    assert _ids(xapi, agent=agent, related_agents="true", ascending="true") == expected
    activity = PARENT + "/" + instructor[7:]
    assert _ids(xapi, activity=activity, related_activities="true", ascending="true") == expected
