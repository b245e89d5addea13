"""The identity gate before a quiz that requires identity assurance (issue 4, items 4 and 5):
refusals before each step, the whole flow through the real pages without JavaScript (sign-in at
the demo VNeID provider, link, consent and enrolment, face check, quiz), and every statement of the
attempt stamped "verified" and signed by the hub, checked by jwcrypto with the hub's certificate only.

Spec clauses: xAPI 1.0.3 Part Two §2.6 / xAPI 2.0 §4.2.6 (signed statements: JWS RS256, x5c,
signature attachment); §2.4.6.2 context extensions (the stamp); RFC 7515 §4.1.6 (x5c).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from identity import storage as identity_storage
from identity.gate.domain import gate_result
from identity.gate.face import CHECK_TYPE, CHECK_VERB, EXT_FACE_CHECK, AssuranceConfig
from identity.gate.http import CONFIG_EXT
from identity.signing import verify_stamped
from identity.stamp import VERIFIED
from player.identity import gate_key
from player.storage import QuizAttempt
from tests.identity.gate.gate_support import QUIZ, IdentityEnv, Learner, account_key, jwcrypto_payload, stamp
from tests.player.player_support import BASE, SHIPPED

ADL = "http://adlnet.gov/expapi/verbs/"


def nothing_stored(env: IdentityEnv, learner: Learner) -> None:
    with env.db.session() as s:
        assert s.scalar(select(func.count()).select_from(QuizAttempt).where(
            QuizAttempt.sub == learner.launch.learner.account)) == 0
    assert learner.statements() == []


def refused(res: Any, status: int, key_text: str) -> None:
    assert res.status_code == status, res.get_data(as_text=True)[:400]
    page = res.get_data(as_text=True)
    assert key_text in page and 'id="identity-verify"' in page  # a clear page, with the way to the gate


# --- refusals ------------------------------------------------------------------------------------

def test_required_quiz_refuses_to_start_before_each_step(identity_env: IdentityEnv) -> None:
    """A quiz with ``identity: {required: true, min_level: 2}`` starts only through the gate: 403
    before sign-in and at level 1, 409 before the link, the enrolment and a passing check; nothing
    is stored by a refused start (no attempt, no statement)."""
    learner = identity_env.learner()
    view = learner.client.get(f"/player/view/{QUIZ}").get_data(as_text=True)
    assert 'id="identity-required"' in view and 'id="start"' not in view  # no start button yet
    refused(learner.start(), 403, "đăng nhập VNeID")

    learner.sign_in("demo-0003")  # Lê Hoàng Phúc, identification level 1
    refused(learner.start(), 403, "chưa đạt mức định danh")
    gate = learner.gate()
    assert gate.status_code == 403 and 'data-step="level"' in gate.get_data(as_text=True)
    assert learner.bind().status_code == 303  # linking needs no level; the quiz does

    other = identity_env.learner()
    other.sign_in("demo-0005")  # level 2, never enrolled
    refused(other.start(), 409, "liên kết tài khoản")
    assert 'data-step="bind"' in other.gate().get_data(as_text=True)
    assert other.bind().status_code == 303
    refused(other.start(), 409, "đăng ký khuôn mặt")
    page = other.gate().get_data(as_text=True)
    assert 'data-step="enrol"' in page and "không lưu ảnh" in page and 'data-purpose="enrol"' in page
    assert 'type="file"' not in page   # the camera's burst only: no upload path (issue 12)

    third = identity_env.learner()
    third.ready()  # demo-0001: enrolled (by the session fixture), linked now, no check yet
    refused(third.start(), 409, "kiểm tra khuôn mặt")
    assert 'data-step="check"' in third.gate().get_data(as_text=True)
    for each in (learner, other, third):
        nothing_stored(identity_env, each)


def test_enrolment_needs_consent(identity_env: IdentityEnv) -> None:
    """Explicit consent (the checkbox): without it, 400 and nothing is enrolled."""
    learner = identity_env.learner()
    learner.sign_in("demo-0004")
    learner.bind()
    res = learner.enrol("C_img8.jpg", consent=False)
    assert res.status_code == 400 and "đồng ý" in res.get_data(as_text=True)


def test_the_lms_identity_is_bound_once(identity_env: IdentityEnv) -> None:
    """issue 4 item 1: an LTI identity is bound to one VNeID account, never moved (409)."""
    learner = identity_env.learner()
    learner.ready("demo-0005")
    learner.sign_in("demo-0002")
    res = learner.gate()
    assert res.status_code == 409 and "tài khoản VNeID khác" in res.get_data(as_text=True)
    assert learner.start().status_code == 409


def test_sign_in_in_a_new_window_is_noticed_by_the_player(identity_env: IdentityEnv) -> None:
    """Inside the LMS frame sign-in opens a window (VNeID will not be framed): its last page tells
    the player (identity.js, postMessage); the player can also poll /player/identity/status."""
    learner = identity_env.learner()
    assert learner.client.get("/player/identity/status").get_json() == {"signed_in": False, "signed_in_at": ""}
    page = learner.gate().get_data(as_text=True)
    assert 'id="vneid-login"' in page and 'target="_blank"' in page
    assert 'data-popup-url="/identity/login?next=/player/identity/signed-in"' in page
    learner.sign_in("demo-0003")  # lands on the window's last page
    assert 'id="vneid-signed-in"' in learner.client.get("/player/identity/signed-in").get_data(as_text=True)
    status = learner.client.get("/player/identity/status")
    assert status.get_json()["signed_in"] is True and isinstance(status.get_json()["signed_in_at"], int)
    assert "Set-Cookie" not in status.headers  # polling never rewrites the session cookie


def test_gate_redirects_only_on_this_site(identity_env: IdentityEnv) -> None:
    """``next`` is a path on this site: an absolute or protocol-relative URL falls back to the quiz."""
    learner = identity_env.learner()
    for bad in ("https://evil.example/x", "//evil.example/x", "/\\evil.example", "/\t/evil.example"):
        page = learner.gate(next=bad).get_data(as_text=True)
        assert "evil.example" not in page


def test_missing_face_model_is_a_clear_error_never_a_pass(identity_env: IdentityEnv, tmp_path: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """DESIGN.md: a missing model is a clear error (503), not a silent pass; nothing is enrolled."""
    broken = AssuranceConfig(face_key=b"k" * 32, pepper=identity_env.cfg.pepper,
                             instance_dir=identity_env.instance_dir, face_home=tmp_path / "empty")
    monkeypatch.setitem(identity_env.app.extensions, CONFIG_EXT, broken)
    learner = identity_env.learner()
    learner.sign_in("demo-0004")
    learner.bind()
    res = learner.enrol("C_img9.jpg")
    assert res.status_code == 503 and "thiếu mô hình" in res.get_data(as_text=True)
    with identity_env.db.session() as s:
        account = s.scalar(select(identity_storage.IdentityAccount).where(
            identity_storage.IdentityAccount.subject_hmac == account_key(identity_env, "demo-0004")))
        assert account is not None and identity_storage.face_enrolment(s, account.id) is None


# --- the whole flow ------------------------------------------------------------------------------

def test_full_flow_stamps_and_signs_every_statement(identity_env: IdentityEnv) -> None:
    """launch → VNeID sign-in (demo provider) → link → consent + enrolment with a live burst of
    person B → check with a burst of another photo of B → quiz, through the real pages (the bursts
    posted as identity.js posts them). Every statement of the attempt, the check included, carries the stamp "verified"
    and a signature attachment that jwcrypto verifies with the hub's certificate alone."""
    env = identity_env
    learner = env.learner()
    learner.sign_in("demo-0002")
    page = learner.gate().get_data(as_text=True)
    assert 'data-step="bind"' in page and "Trần Thị Bích Ngọc" in page
    assert learner.bind().status_code == 303
    enrolled = learner.enrol("B_img26.jpg")
    assert enrolled.status_code == 303 and "/player/identity/gate" in enrolled.headers["Location"]
    checked = learner.check("B_img42.jpg")
    assert checked.status_code == 303 and checked.headers["Location"] == f"/player/view/{QUIZ}"
    view = learner.client.get(f"/player/view/{QUIZ}").get_data(as_text=True)
    assert 'id="identity-passed"' in view and 'id="start"' in view
    assert learner.gate().status_code == 303  # the gate, passed, sends the learner on
    manage = learner.gate(manage="1").get_data(as_text=True)  # the consent can still be withdrawn
    assert 'id="identity-passed"' in manage and 'id="identity-withdraw-button"' in manage
    with env.db.session() as s:  # what the LTI Proctoring side reads, with no browser session
        result = gate_result(s, gate_key(learner.launch, QUIZ), datetime.now(UTC))
    assert result.passed and result.stamp is not None and result.stamp["outcome"] == VERIFIED

    assert learner.start().status_code == 303
    quiz = learner.client.get(f"/player/view/{QUIZ}").get_data(as_text=True)
    assert 'id="quiz-form"' in quiz and 'data-recheck-in="' in quiz  # rechecks are scheduled
    assert learner.submit(wrong=1).status_code == 303

    got = learner.statements()
    verbs = [st["verb"]["id"].removeprefix(ADL) for st, _ in got]
    quiz_def = SHIPPED.resolve(QUIZ).quiz
    assert quiz_def is not None
    assert verbs == [CHECK_VERB, "launched", "initialized"] + ["answered"] * len(quiz_def.questions) + \
        ["completed", "passed", "terminated"]
    check_st = got[0][0]
    assert check_st["object"]["id"] == f"{BASE}{QUIZ}/identity-check"
    assert check_st["object"]["definition"]["type"] == CHECK_TYPE
    assert check_st["result"]["success"] is True
    detail = check_st["result"]["extensions"][EXT_FACE_CHECK]
    assert detail["kind"] == "initial" and detail["outcome"] == "match"
    assert detail["distance"] <= detail["threshold"] and detail["model"] == "dlib_resnet_v1/chip150"

    cert = env.material.cert_pem
    [row] = learner.assurance()
    for st, token in got:
        s = stamp(st)
        assert s is not None and s["outcome"] == VERIFIED, st["verb"]
        assert s["level"] == 2 and s["subject"] == row.subject and s["faceOutcome"] == "match"
        assert token is not None, st["verb"]
        signed = jwcrypto_payload(token, cert)
        assert signed["id"] == st["id"] and stamp(signed) == s
        assert verify_stamped(json.dumps(st), token, cert) == signed  # logically the statement as stored
    # One cmi5 session: the check, launched ... terminated share it (the gate chose it).
    assert {st["context"]["extensions"]["https://w3id.org/xapi/cmi5/context/extensions/sessionid"]
            for st, _ in got} == {row.session_id}
    assert row.attempt_id is not None and row.pending_key is None and row.failed_at is None
    # The next attempt needs a new check: the gate was consumed.
    assert learner.start().status_code == 409
    assert not re.search(r"\b\d{12}\b", json.dumps([st for st, _ in got]))  # no citizen ID anywhere


def test_an_oversized_upload_is_refused_before_it_is_read(identity_env: IdentityEnv) -> None:
    """A body is at most 10 MB (face_check's limit); a larger one is a 413 with a clear message,
    and no check or statement is made."""
    learner = identity_env.learner()
    learner.ready()
    res = learner.upload("/player/identity/check", b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024))
    assert res.status_code == 413 and "tối đa 10 MB" in res.get_data(as_text=True)
    assert learner.assurance() == [] and learner.statements() == []
