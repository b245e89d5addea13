"""PUT and POST /statements: xAPI 1.0.3 Part Three §2.1.1–§2.1.2, IEEE 9274.1.1 §4.1.6.1."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Xapi, statement


def count(xapi: Xapi) -> int:
    return len(xapi.get("statements", limit=0).get_json()["statements"])


def test_post_single_returns_assigned_id(xapi: Xapi) -> None:
    """Part Two §2.4.1: the LRS assigns an id when the statement has none; POST answers [id]."""
    res = xapi.post("statements", json_body=statement())
    assert res.status_code == 200
    [sid] = res.get_json()
    stored = xapi.get("statements", statementId=sid).get_json()
    assert stored["id"] == sid
    assert stored["actor"]["name"] == "Nguyễn Văn An"


def test_post_sets_stored_timestamp_authority_version(xapi: Xapi) -> None:
    """Part Two §2.4.7–§2.4.10: stored, timestamp (when missing), authority and version are set."""
    sent = statement(authority={"mbox": "mailto:forged@example.com"})
    [sid] = xapi.post("statements", json_body=sent).get_json()
    got = xapi.get("statements", statementId=sid).get_json()
    assert got["stored"].endswith("Z") and got["timestamp"] == got["stored"]
    assert got["authority"]["account"]["name"] == xapi.key  # the credential, never what was sent
    assert got["version"] == "1.0.0"


def test_put_stores_under_given_id(xapi: Xapi) -> None:
    """Part Three §2.1.1: PUT with statementId answers 204 and stores under that id."""
    sid = str(uuid.uuid4())
    assert xapi.put("statements", json_body=statement(), statementId=sid).status_code == 204
    assert xapi.get("statements", statementId=sid).get_json()["id"] == sid


def test_put_needs_statement_id(xapi: Xapi) -> None:
    """Part Three §2.1.1: statementId is required for PUT."""
    res = xapi.put("statements", json_body=statement())
    assert res.status_code == 400
    assert "statementId" in res.get_json()["error"]["message"]


def test_put_id_must_match_parameter(xapi: Xapi) -> None:
    """Part Three §2.1.1: the statement's id and the statementId parameter must agree."""
    res = xapi.put("statements", json_body=statement(id=str(uuid.uuid4())), statementId=str(uuid.uuid4()))
    assert res.status_code == 400


def test_resending_same_statement_is_idempotent(xapi: Xapi) -> None:
    """Part Three §2.1.1: PUT of an id already stored with the same content is a 204 no-op;
    POST answers 200 and stores nothing twice."""
    sid = str(uuid.uuid4())
    body = statement(id=sid)
    assert xapi.put("statements", json_body=body, statementId=sid).status_code == 204
    assert xapi.put("statements", json_body=body, statementId=sid).status_code == 204
    assert xapi.post("statements", json_body=body).get_json() == [sid]
    assert count(xapi) == 1


def test_conflicting_statement_is_409(xapi: Xapi) -> None:
    """Part Three §2.1.1/§2.1.2: the same id with different content is 409 Conflict; the stored
    statement is unchanged."""
    sid = str(uuid.uuid4())
    xapi.post("statements", json_body=statement(id=sid))
    other = statement(id=sid, verb={"id": "http://adlnet.gov/expapi/verbs/failed"})
    assert xapi.post("statements", json_body=other).status_code == 409
    assert xapi.put("statements", json_body=other, statementId=sid).status_code == 409
    assert xapi.get("statements", statementId=sid).get_json()["verb"]["id"].endswith("completed")


def test_batch_is_atomic(xapi: Xapi) -> None:
    """Part Three §2.1.2 / DESIGN.md: one bad statement rejects the batch; nothing is stored."""
    good = [statement(), statement()]
    bad = statement(verb={"id": "not an iri"})
    res = xapi.post("statements", json_body=[*good, bad])
    assert res.status_code == 400
    assert "verb" in res.get_json()["error"]["message"]
    assert count(xapi) == 0
    assert len(xapi.post("statements", json_body=good).get_json()) == 2
    assert count(xapi) == 2


def test_batch_with_duplicate_ids_is_rejected(xapi: Xapi) -> None:
    """Part Three §2.1.2: a batch that repeats an id is rejected whole."""
    sid = str(uuid.uuid4())
    res = xapi.post("statements", json_body=[statement(id=sid), statement(id=sid)])
    assert res.status_code == 400
    assert count(xapi) == 0


def test_batch_conflict_leaves_store_unchanged(xapi: Xapi) -> None:
    """A batch whose last statement conflicts with a stored one stores none of the others."""
    sid = str(uuid.uuid4())
    xapi.post("statements", json_body=statement(id=sid))
    res = xapi.post("statements", json_body=[statement(), statement(id=sid, result={"success": False})])
    assert res.status_code == 409
    assert count(xapi) == 1


@pytest.mark.parametrize(
    ("mutation", "where"),
    [
        ({"actor": {"name": "no identifier"}}, "actor"),
        ({"actor": {"mbox": "an@example.vn"}}, "actor"),
        ({"verb": {"display": {"en-US": "x"}}}, "verb"),
        ({"object": {"id": "https://x", "objectType": "Nope"}}, "object"),
        ({"id": "not-a-uuid"}, "id"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"result": {"score": {"scaled": 2}}}, "result"),
        ({"context": {"registration": "nope"}}, "context"),
        ({"extra": 1}, "extra"),
    ],
)
def test_malformed_statements_are_400_with_reason(xapi: Xapi, mutation: dict, where: str) -> None:
    """Part Two §2.2 (Formatting Requirements): an invalid statement is 400, and the message
    names the property that is wrong."""
    res = xapi.post("statements", json_body=statement(**mutation))
    assert res.status_code == 400
    err = res.get_json()["error"]
    assert err["code"] == "bad_request" and where in err["message"]


@pytest.mark.parametrize("body", ["{", "[1,", "", "null", "42", '"text"', "[]"])
def test_non_statement_bodies_are_400(xapi: Xapi, body: str) -> None:
    """Part Three §3.2: malformed requests get 400, never 500."""
    res = xapi.post("statements", data=body, headers={"Content-Type": "application/json"})
    assert res.status_code == 400


def test_wrong_content_type_is_400(xapi: Xapi) -> None:
    """Part Three §1.5: statements come as application/json or multipart/mixed."""
    res = xapi.post("statements", data="{}", headers={"Content-Type": "text/plain"})
    assert res.status_code == 400


def test_voiding_statement_must_target_statement_ref(xapi: Xapi) -> None:
    """Part Two §2.3.2: a voiding statement's object must be a StatementRef."""
    res = xapi.post("statements", json_body=statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"}))
    assert res.status_code == 400


def test_duplicate_property_is_rejected(xapi: Xapi) -> None:
    """Part Two §2.2: a property appears at most once; JSON parsers disagree on which copy wins."""
    body = '{"actor": {"mbox": "mailto:a@b.vn"}, "actor": {"mbox": "mailto:c@d.vn"},' \
           ' "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}, "object": {"id": "https://x.vn/a"}}'
    res = xapi.post("statements", data=body, headers={"Content-Type": "application/json"})
    assert res.status_code == 400 and "appears twice" in res.get_json()["error"]["message"]
