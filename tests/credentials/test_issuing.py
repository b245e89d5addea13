"""Issuing under the course's rules, read from the tenant's LRS: every graded quiz passed, by the
learner, in statements the player wrote and nobody voided; one live credential per learner and
course; nothing in it that names the learner beyond a keyed pseudonym and the name they chose.

Clauses: OB 3.0 §B.1.2 (AchievementSubject: id, identifier), §B.1.3 (Achievement, criteria,
alignment), §B.1.8 (Evidence); VC Data Model 2.0 §4.4 (credentialSubject), §8.1 (privacy: no more
than needed); xAPI 1.0.3 Part Two §2.4.8 (voided statements), §2.4.9 (authority set by the LRS).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from credentials.revocation import sweep
from lrs.storage import Statement
from tests.conftest import statement
from tests.credentials.support import COURSE, QUIZ, cfg, completed, learner

PASSED = "http://adlnet.gov/expapi/verbs/passed"


def test_the_credential_says_what_was_achieved(app: Flask) -> None:
    who, credential = completed(app, name="Trần Văn Bình")
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    subject = credential["credentialSubject"]
    ach = subject["achievement"]
    assert ach["name"].startswith("An toàn trên không gian mạng") and ach["achievementType"] == "Course"
    assert "Bài kiểm tra: Nhận diện và phòng tránh lừa đảo trực tuyến" in ach["criteria"]["narrative"]
    assert [a["targetCode"] for a in ach["alignment"]] == ["1.2", "4.1", "4.2"]
    assert {a["targetFramework"] for a in ach["alignment"]} == {"DigComp 2.2"}
    assert subject["identifier"] == [{"type": "IdentityObject", "identityType": "name", "hashed": False,
                                      "identityHash": "Trần Văn Bình"}]
    assert subject["result"][0]["value"] == "not-required"
    [evidence] = credential["evidence"]
    with app.extensions["hocvu.db"].session() as s:
        row = s.query(Statement).filter_by(statement_id=evidence["id"].removeprefix("urn:uuid:")).one()
        assert row.verb_id == PASSED and row.object_activity_id.endswith(QUIZ)
    assert "Bài này không yêu cầu xác minh danh tính" in evidence["description"]
    listed = [c for c in who.mine() if c["status"] == "live"]   # the named copy replaced the first
    assert [c["course_id"] for c in listed] == [COURSE] and listed[0]["status"] == "live"
    assert listed[0]["links"]["verify"] == credential["id"]


def test_nothing_in_the_credential_names_the_learner_but_a_pseudonym(app: Flask) -> None:
    """VC Data Model 2.0 §8 (privacy): the subject is a keyed pseudonym; no account, LMS, citizen ID."""
    who, credential = completed(app)
    text = json.dumps(credential, ensure_ascii=False)
    assert who.launch.learner.account not in text and who.launch.learner.home_page not in text
    assert credential["credentialSubject"]["id"] == cfg(app).subject_id(who.holder)
    assert credential["credentialSubject"]["id"].startswith("urn:hocvu:learner:")
    assert "identifier" not in credential["credentialSubject"]  # no name unless the learner chose one
    # A CMND/CCCD number stands alone (9 or 12 digits); random identifiers (UUIDs, hex pseudonyms, the
    # test tenant's slug) may hold such a run inside a longer token, so tokens are compared whole.
    unsigned = json.dumps({k: v for k, v in credential.items() if k != "proof"}, ensure_ascii=False)
    numbers = [token for token in re.findall(r"[0-9A-Za-z]+", unsigned) if token.isdigit()]
    assert not [n for n in numbers if len(n) in (9, 12)], numbers


def test_not_complete_until_every_graded_quiz_is_passed(app: Flask) -> None:
    who = learner(app)
    res = who.issue()
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "course_not_complete"
    who.pass_quiz(wrong=4)  # 4/8: below the 75 % mastery score
    assert who.issue().status_code == 409
    who.pass_quiz()   # the course is complete: the player's hook issues it at once
    assert len(who.mine()) == 1
    again = who.issue()
    assert again.status_code == 200 and again.get_json()["public_id"] == who.mine()[0]["public_id"]
    assert len(who.mine()) == 1


def test_only_the_players_statements_count(app: Flask) -> None:
    """xAPI Part Two §2.4.9: the LRS sets ``authority`` from the writing credential, so a "passed"
    the tenant's own LMS credential writes for the learner (or anyone's) never earns a credential."""
    who = learner(app)
    actor = {"objectType": "Agent", "account": {"homePage": who.launch.learner.home_page,
                                                "name": who.launch.learner.account}}
    forged = statement(actor=actor, verb={"id": PASSED}, object={"objectType": "Activity",
                                                               "id": f"https://hocvu.vn/xapi/activities/{QUIZ}"},
                       result={"success": True, "score": {"scaled": 1.0}}, id=str(uuid.uuid4()))
    assert who.xapi.post("statements", json_body=forged).status_code == 200
    res = who.issue()
    assert res.status_code == 409, res.get_data(as_text=True)


def test_someone_elses_passed_quiz_never_counts(app: Flask) -> None:
    other = learner(app)
    other.pass_quiz()
    me = learner(app)
    assert me.issue().status_code == 409
    assert other.issue().status_code == 200 and len(other.mine()) == 1   # issued when they passed
    assert me.mine() == []


def test_a_voided_pass_does_not_count_and_the_sweep_revokes(app: Flask) -> None:
    """xAPI Part Two §2.4.8: once its "passed" is voided, the completion is gone; the sweep (the LRS
    cannot call the credentials package) revokes the credential that cited it."""
    who, credential = completed(app)
    passed_id = credential["evidence"][0]["id"].removeprefix("urn:uuid:")
    voiding: dict[str, Any] = statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
                                        object={"objectType": "StatementRef", "id": passed_id})
    assert who.xapi.post("statements", json_body=voiding).status_code == 200
    with app.extensions["hocvu.db"].session() as s:
        counts = sweep(s, cfg(app), datetime.now(UTC))
        s.commit()
    assert counts["voided"] >= 1
    assert who.mine()[0]["status"] == "revoked" and who.mine()[0]["revoked_reason"] == "voided"
    assert who.client.post("/credentials/api/verify", json=credential).get_json()["outcome"] == "revoked"
    assert who.issue().status_code == 409  # and nothing new: the pass no longer stands


def test_renaming_reissues_and_revokes_the_old_copy(app: Flask) -> None:
    who, first = completed(app)
    [item] = who.mine()
    res = who.client.post(f"/credentials/mine/{first['id'].rsplit('/', 2)[1]}/{item['public_id']}/name",
                          json={"csrf": "test-form-token", "name": "Lê Thị\tMai"})
    assert res.status_code == 200, res.get_data(as_text=True)
    renamed = res.get_json()
    assert renamed["display_name"] == "Lê Thị Mai" and renamed["public_id"] != item["public_id"]
    listed = {c["public_id"]: c for c in who.mine()}
    assert listed[item["public_id"]]["status"] == "revoked" and listed[item["public_id"]]["replaced_by"] == \
        renamed["public_id"]
    assert who.client.post("/credentials/api/verify", json=first).get_json()["outcome"] == "revoked"


def test_one_learner_cannot_rename_anothers_credential(app: Flask) -> None:
    owner, credential = completed(app)
    slug, public_id = credential["id"].rsplit("/", 2)[1:]
    thief = learner(app)
    res = thief.client.post(f"/credentials/mine/{slug}/{public_id}/name", json={"csrf": "test-form-token",
                                                                                  "name": "Kẻ gian"})
    assert res.status_code == 404
    assert owner.mine()[0]["status"] == "live"


def test_the_learners_api_needs_the_players_session_and_its_form_token(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/credentials/mine").status_code == 401
    who = learner(app)
    who.pass_quiz()
    res = who.client.post(f"/credentials/mine/{COURSE}/issue", json={"csrf": "wrong"})
    assert res.status_code == 400 and res.get_json()["error"]["code"] == "bad_credential_input"
