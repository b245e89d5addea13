"""GET /statements: xAPI 1.0.3 Part Three §2.1.3, IEEE 9274.1.1 §4.1.6.1."""

from __future__ import annotations

import time
import uuid

from tests.conftest import Xapi, statement

LESSON = "https://hocvu.vn/courses/ky-nang-so/lesson-1"
COURSE = "https://hocvu.vn/courses/ky-nang-so"
BINH = {"objectType": "Agent", "name": "Trần Thị Bình",
        "account": {"homePage": "https://vneid.gov.vn", "name": "pseudonym-42"}}


def ids(res) -> list[str]:  # type: ignore[no-untyped-def]
    return [s["id"] for s in res.get_json()["statements"]]


def test_statement_result_shape_and_headers(xapi: Xapi) -> None:
    """§2.1.3: a StatementResult with statements and more; X-Experience-API-Consistent-Through
    and Last-Modified on every statement GET."""
    xapi.post("statements", json_body=statement())
    res = xapi.get("statements")
    assert res.status_code == 200
    body = res.get_json()
    assert set(body) == {"statements", "more"} and body["more"] == ""
    assert res.headers["X-Experience-API-Consistent-Through"].endswith("Z")
    assert "Last-Modified" in res.headers
    assert res.headers["X-Experience-API-Version"] == "1.0.3"


def test_filters(xapi: Xapi) -> None:
    """§2.1.3: agent, verb, activity, registration filters; related_* widen agent/activity."""
    reg = str(uuid.uuid4())
    [a] = xapi.post("statements", json_body=statement()).get_json()
    [b] = xapi.post("statements", json_body=statement(actor=BINH, context={
        "registration": reg, "instructor": {"mbox": "mailto:gv@example.vn"},
        "contextActivities": {"parent": [{"id": COURSE}]}})).get_json()
    assert ids(xapi.get("statements", agent='{"account":{"homePage":"https://vneid.gov.vn",'
                                              '"name":"pseudonym-42"}}')) == [b]
    assert ids(xapi.get("statements", registration=reg)) == [b]
    assert ids(xapi.get("statements", activity=LESSON)) == [b, a]
    assert ids(xapi.get("statements", activity=COURSE)) == []
    assert ids(xapi.get("statements", activity=COURSE, related_activities="true")) == [b]
    instructor = '{"mbox":"mailto:gv@example.vn"}'
    assert ids(xapi.get("statements", agent=instructor)) == []
    assert ids(xapi.get("statements", agent=instructor, related_agents="true")) == [b]
    assert ids(xapi.get("statements", verb="http://adlnet.gov/expapi/verbs/completed")) == [b, a]
    assert ids(xapi.get("statements", verb="http://adlnet.gov/expapi/verbs/failed")) == []


def test_since_until_ascending(xapi: Xapi) -> None:
    """§2.1.3: since is exclusive, until inclusive, both on stored; ascending reverses the order."""
    [a] = xapi.post("statements", json_body=statement()).get_json()
    time.sleep(0.01)
    [b] = xapi.post("statements", json_body=statement()).get_json()
    stored_a = xapi.get("statements", statementId=a).get_json()["stored"]
    assert ids(xapi.get("statements", since=stored_a)) == [b]
    assert ids(xapi.get("statements", until=stored_a)) == [a]
    assert ids(xapi.get("statements", ascending="true")) == [a, b]


def test_limit_and_more_page_through_everything_once(xapi: Xapi) -> None:
    """§2.1.3: limit and the more IRL; pages are keyset cursors that neither skip nor repeat."""
    sent = xapi.post("statements", json_body=[statement() for _ in range(7)]).get_json()
    seen: list[str] = []
    res = xapi.get("statements", limit=3)
    while True:
        body = res.get_json()
        seen += [s["id"] for s in body["statements"]]
        if not body["more"]:
            break
        assert body["more"].startswith("/xapi/statements?more=")
        res = xapi.client.get(body["more"], headers=xapi.headers())
    assert sorted(seen) == sorted(sent) and len(seen) == 7


def test_more_cursor_cannot_be_forged_or_used_by_another_tenant(xapi: Xapi, app) -> None:  # type: ignore[no-untyped-def]
    """The more cursor is signed and bound to its tenant."""
    from tests.conftest import new_credential

    xapi.post("statements", json_body=[statement() for _ in range(3)])
    more = xapi.get("statements", limit=1).get_json()["more"]
    token = more.split("more=")[1]
    assert xapi.get("statements", more=token[:-2] + "xx").status_code == 400
    _, key, secret = new_credential(app, ["all"])
    other = Xapi(app.test_client(), key, secret)
    assert other.get("statements", more=token).status_code == 400


def test_format_ids_and_canonical(xapi: Xapi) -> None:
    """§2.1.3 format: ids keeps only identifiers; canonical keeps one language per map."""
    [sid] = xapi.post("statements", json_body=statement()).get_json()
    got = xapi.get("statements", statementId=sid, format="ids").get_json()
    assert got["actor"] == {"objectType": "Agent", "mbox": "mailto:an@example.vn"}
    assert got["verb"] == {"id": "http://adlnet.gov/expapi/verbs/completed"}
    assert got["object"] == {"id": LESSON}
    res = xapi.get("statements", statementId=sid, format="canonical", headers={"Accept-Language": "vi"})
    assert res.get_json()["verb"]["display"] == {"vi": "đã hoàn thành"}
    assert xapi.get("statements", format="everything").status_code == 400


def test_single_parameter_rules(xapi: Xapi) -> None:
    """§2.1.3: statementId goes only with attachments/format; unknown parameters are 400."""
    sid = str(uuid.uuid4())
    assert xapi.get("statements", statementId=sid).status_code == 404
    assert xapi.get("statements", statementId=sid, verb="http://x.y/z").status_code == 400
    assert xapi.get("statements", statementId=sid, voidedStatementId=sid).status_code == 400
    assert xapi.get("statements", colour="blue").status_code == 400
    assert xapi.get("statements", statementId="nope").status_code == 400


def test_bad_query_values_are_400(xapi: Xapi) -> None:
    for params in ({"agent": "{not json"}, {"agent": '{"name":"no ifi"}'}, {"since": "soon"},
                   {"limit": "-1"}, {"ascending": "yes"}, {"registration": "x"}, {"verb": "no iri"}):
        res = xapi.get("statements", **params)
        assert res.status_code == 400, params


def test_head_has_headers_no_body(xapi: Xapi) -> None:
    """Part Three §1.1: HEAD answers like GET without a body."""
    res = xapi.request("HEAD", "statements")
    assert res.status_code == 200 and res.data == b""
    assert "X-Experience-API-Consistent-Through" in res.headers
