"""Voiding: xAPI 1.0.3 Part Two §2.3.2, IEEE 9274.1.1 §4.2.5."""

from __future__ import annotations

import uuid

from tests.conftest import Xapi, statement

VOIDED = {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}}


def void(xapi: Xapi, target: str) -> str:
    res = xapi.post("statements", json_body=statement(verb=VOIDED, object={"objectType": "StatementRef",
                                                                           "id": target}))
    assert res.status_code == 200, res.get_json()
    return res.get_json()[0]


def test_voided_statement_is_hidden_but_fetchable_as_voided(xapi: Xapi) -> None:
    """§2.3.2: a voided statement is 404 by statementId and returned by voidedStatementId."""
    [sid] = xapi.post("statements", json_body=statement()).get_json()
    void(xapi, sid)
    assert xapi.get("statements", statementId=sid).status_code == 404
    assert xapi.get("statements", voidedStatementId=sid).get_json()["id"] == sid
    listed = [s["id"] for s in xapi.get("statements").get_json()["statements"]]
    assert sid not in listed


def test_unvoided_statement_is_not_found_as_voided(xapi: Xapi) -> None:
    [sid] = xapi.post("statements", json_body=statement()).get_json()
    assert xapi.get("statements", voidedStatementId=sid).status_code == 404


def test_voiding_statement_cannot_be_voided(xapi: Xapi) -> None:
    """§2.3.2: "A Voiding Statement cannot Target another Voiding Statement" (we reject it)."""
    [sid] = xapi.post("statements", json_body=statement()).get_json()
    voiding = void(xapi, sid)
    res = xapi.post("statements", json_body=statement(verb=VOIDED, object={"objectType": "StatementRef",
                                                                           "id": voiding}))
    assert res.status_code == 400
    assert xapi.get("statements", statementId=voiding).status_code == 200


def test_statement_ref_filter_matches_target(xapi: Xapi) -> None:
    """Part Three §2.1.3 "Filter Conditions for StatementRefs": a statement targeting a matching
    statement is returned by the same filter."""
    verb = "http://adlnet.gov/expapi/verbs/attempted"
    [target] = xapi.post("statements", json_body=statement(verb={"id": verb})).get_json()
    ref = str(uuid.uuid4())
    xapi.post("statements", json_body=statement(id=ref, object={"objectType": "StatementRef", "id": target}))
    ids = {s["id"] for s in xapi.get("statements", verb=verb).get_json()["statements"]}
    assert ids == {target, ref}
