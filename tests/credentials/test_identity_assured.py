"""A course that demands identity assurance (the shipped ``tro-ly-ai-hanh-chinh``: VNeID level 2 and a
face check) earns a credential only from an attempt the hub stamped "verified" and signed; the
credential then says so, at which level, and the independent verifier accepts it. Real parts: the
demo VNeID provider over loopback, DeepFace's Dlib model, the photos of ../shared/faces
(``identity_env``, tests/identity/gate/gate_support.py).

Clauses: OB 3.0 §B.1.18 Result / §B.1.19 ResultDescription (identity assurance as a result);
xAPI 1.0.3 Part Two §2.6 (the stamped statements are signed; ``identity.stamp_guard``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from identity.gate.domain import RECHECK_GRACE
from identity.storage import AttemptAssurance
from tests.credentials.support import IDENTITY_COURSE, independent_verifier, served_documents
from tests.identity.gate.gate_support import IdentityEnv, Learner

CSRF = "test-form-token"


def issue(learner: Learner) -> Any:
    return learner.client.post(f"/credentials/mine/{IDENTITY_COURSE}/issue", json={"csrf": CSRF, "name": "Bùi Văn An"})


def test_a_verified_attempt_earns_a_credential_that_says_so(identity_env: IdentityEnv) -> None:
    learner = identity_env.learner()
    learner.ready()
    assert learner.check("A_img2.jpg").status_code == 303
    assert learner.start().status_code == 303
    assert learner.submit().status_code == 303
    res = issue(learner)
    assert res.status_code == 201, res.get_data(as_text=True)
    item = res.get_json()
    assert item["identity_level"] == 2
    credential = json.loads(learner.client.get(item["links"]["json"].split("127.0.0.1:8000", 1)[-1]
                                               .split(identity_env.base, 1)[-1]).get_data())
    assert credential["credentialSubject"]["result"][0]["value"] == "vneid-level-2-face-verified"
    [evidence] = credential["evidence"]
    assert "VNeID mức 2 và kiểm tra khuôn mặt" in evidence["description"]
    assert "Bài kiểm tra có yêu cầu xác minh danh tính" in credential["credentialSubject"]["achievement"]["criteria"][
        "narrative"]
    text = json.dumps(credential, ensure_ascii=False)
    assert "hocvu-subject:" not in text and "demo-0001" not in text  # no VNeID subject, no citizen id
    page = learner.client.get("/credentials/verify", query_string={"lang": "vi"})
    assert page.status_code == 200
    verdict = learner.client.post("/credentials/verify?lang=vi", data={"credential": json.dumps(credential)})
    html = verdict.get_data(as_text=True)
    assert 'data-outcome="valid"' in html and "Có — đăng nhập VNeID mức 2 và kiểm tra khuôn mặt đạt" in html
    [result] = independent_verifier([credential], served_documents(learner.client, credential))
    assert result["verified"] is True, result


def test_an_attempt_left_unverified_earns_nothing(identity_env: IdentityEnv) -> None:
    """A recheck by another person fails: the rest of the attempt, its "passed" included, is stamped
    "unverified" (identity.gate), so the course is not complete under its rules."""
    learner = identity_env.learner()
    learner.ready()
    assert learner.check("A_img2.jpg").status_code == 303
    assert learner.start().status_code == 303
    [row] = learner.assurance()
    with identity_env.db.session() as s:  # a recheck falls due now
        s.execute(update(AttemptAssurance).where(AttemptAssurance.id == row.id).values(
            recheck_due=datetime.now(UTC) - RECHECK_GRACE - timedelta(seconds=5)))
        s.commit()
    assert learner.recheck("C_img47.jpg").get_json()["unverified"] is True
    assert learner.submit().status_code == 303
    res = issue(learner)
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "course_not_complete"
