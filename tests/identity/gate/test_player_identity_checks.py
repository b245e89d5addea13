"""Face checks before and during a quiz (issue 4, items 4 and 5): each check is an xAPI statement
(pass or fail), a failed check makes the rest of the attempt "unverified" (never silently verified
again), a picture without exactly one face is refused with a clear message, and the server holds
answers back while a repeated check is overdue.

Spec clauses: xAPI 1.0.3 Part Two §2.4.5 result (success, extensions), §2.4.6.2 context extensions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
from sqlalchemy import update

from identity.gate.domain import RECHECK_GRACE
from identity.gate.face import CHECK_VERB, EXT_FACE_CHECK
from identity.stamp import UNVERIFIED, VERIFIED
from identity.storage import AttemptAssurance
from tests.identity.gate.gate_support import QUIZ, IdentityEnv, Learner, stamp


def blank_jpeg() -> bytes:
    """A 640×480 grey frame: a readable picture with no face (a camera pointed at a wall)."""
    ok, data = cv2.imencode(".jpg", np.full((480, 640, 3), 128, dtype=np.uint8))
    assert ok
    return data.tobytes()


def started(env: IdentityEnv) -> Learner:
    """demo-0001 (enrolled with a burst of A_img2) passes the check with another burst of it and starts."""
    learner = env.learner()
    learner.ready()
    assert learner.check("A_img2.jpg").status_code == 303
    assert learner.start().status_code == 303
    return learner


def make_overdue(env: IdentityEnv, learner: Learner) -> None:
    [row] = learner.assurance()
    with env.db.session() as s:
        s.execute(update(AttemptAssurance).where(AttemptAssurance.id == row.id).values(
            recheck_due=datetime.now(UTC) - RECHECK_GRACE - timedelta(seconds=5)))
        s.commit()


def checks_of(learner: Learner) -> list[dict]:
    return [st for st, _ in learner.statements() if st["verb"]["id"] == CHECK_VERB]


def test_a_different_person_fails_and_the_rest_is_unverified(identity_env: IdentityEnv) -> None:
    """A recheck by another person (C) against A's enrolment: its statement has success false, and
    every later statement of the attempt is stamped "unverified" (and still signed), even after a
    later check that matches; the statements before it stay "verified"."""
    learner = started(identity_env)
    make_overdue(identity_env, learner)
    res = learner.recheck("C_img47.jpg")
    assert res.status_code == 200, res.get_data(as_text=True)
    body = res.get_json()
    assert body["matched"] is False and body["outcome"] == "no_match" and body["unverified"] is True
    assert isinstance(body["recheck_in"], int) and body["recheck_in"] > 0  # the next one is scheduled
    view = learner.client.get(f"/player/view/{QUIZ}").get_data(as_text=True)
    assert 'id="identity-unverified"' in view
    assert learner.answer("ao-giac", ["b"]).status_code == 200  # the quiz goes on, unverified
    assert learner.submit().status_code == 303

    got = learner.statements()
    verbs = [st["verb"]["id"].rsplit("/", 1)[-1] for st, _ in got]
    failed_at = next(i for i, (st, _) in enumerate(got) if st["verb"]["id"] == CHECK_VERB
                     and st["result"]["success"] is False)
    failed = got[failed_at][0]
    detail = failed["result"]["extensions"][EXT_FACE_CHECK]
    assert detail["kind"] == "recheck" and detail["outcome"] == "no_match" and detail["distance"] > detail["threshold"]
    assert verbs[:3] == ["checked-identity", "launched", "initialized"]
    for i, (st, token) in enumerate(got):
        assert token is not None  # signed either way: an auditor can tell which is which
        s = stamp(st)
        assert s is not None
        assert s["outcome"] == (VERIFIED if i < failed_at else UNVERIFIED), (i, verbs[i])
    assert stamp(got[-1][0])["faceOutcome"] == "no_match"  # the stamp says why


def test_no_face_and_several_faces_are_refused_with_a_statement(identity_env: IdentityEnv) -> None:
    """Exactly one face is needed: a frame with none, and a photo of two people, each get a clear
    message and an xAPI check statement (success false, stamped unverified); the quiz stays closed."""
    learner = identity_env.learner()
    learner.ready()
    none = learner.check(blank_jpeg())
    assert none.status_code == 303 and "outcome=no_face" in none.headers["Location"]
    page = learner.client.get(none.headers["Location"]).get_data(as_text=True)
    assert "Không thấy khuôn mặt nào" in page and 'data-step="check"' in page
    several = learner.check(identity_env.photos["extra_couple.jpg"], js=True)  # identity.js's request: JSON back
    assert several.status_code == 200
    body = several.get_json()
    assert body["matched"] is False and body["outcome"] == "several_faces"
    assert "nhiều hơn một khuôn mặt" in body["message"]
    assert learner.start().status_code == 409

    checks = checks_of(learner)
    assert [c["result"]["extensions"][EXT_FACE_CHECK]["outcome"] for c in checks] == ["no_face", "several_faces"]
    for c in checks:
        assert c["result"]["success"] is False and "distance" not in c["result"]["extensions"][EXT_FACE_CHECK]
        assert stamp(c)["outcome"] == UNVERIFIED and "faceDistance" not in stamp(c)
    [row] = learner.assurance()
    assert row.attempt_id is None and row.check_outcome == "several_faces"


def test_overdue_recheck_holds_answers_back_until_passed(identity_env: IdentityEnv) -> None:
    """The server decides when a recheck is due; past it (plus grace) answers and submission are
    refused (409) until a check is made; a passing recheck lets the learner go on, verified."""
    learner = started(identity_env)
    assert learner.answer("ao-giac", ["a"]).status_code == 200  # not due yet
    make_overdue(identity_env, learner)
    refused = learner.answer("ao-giac", ["b"])
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "identity.error.recheck_overdue"
    page = learner.submit()
    assert page.status_code == 409 and "quá hạn kiểm tra lại" in page.get_data(as_text=True)
    view = learner.client.get(f"/player/view/{QUIZ}").get_data(as_text=True)
    panel = view.split('id="identity-recheck"')[1][:80]
    assert panel.startswith(' data-recheck-in="-') and " hidden" not in panel  # shown, even without JavaScript

    res = learner.recheck("A_img2.jpg", js=False)  # the page's form, without JavaScript
    assert res.status_code == 303 and "identity_outcome=match" in res.headers["Location"]
    assert learner.answer("ao-giac", ["b"]).status_code == 200
    assert learner.submit().status_code == 303
    [row] = learner.assurance()
    assert row.checks == 2 and row.failed_at is None and row.recheck_due is not None
    got = learner.statements()
    kinds = [st["result"]["extensions"][EXT_FACE_CHECK]["kind"] for st, _ in got if st["verb"]["id"] == CHECK_VERB]
    assert kinds == ["initial", "recheck"]
    assert all(stamp(st)["outcome"] == VERIFIED and token for st, token in got)
