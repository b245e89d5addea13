"""Active liveness at the identity gate, through real HTTP (issue 12, item 1): the server issues the
challenge, the learner answers with a camera burst, the server decides with the real face models.

Cheats made from ../shared/faces (tests/face_check/synthetic.py), each sent as a burst answering a real
challenge: the enrolled person's own photo held still, a print of it moved like a head, a screen showing
it, a flipped copy, a copy slid across the frame; refused every time, the gate stays shut. Replays: the
same challenge twice, an expired one, another learner's, an enrolment's spent on a check, a recorded
burst sent for another challenge: refused. The photo upload: refused while the fallback is off; with
it on, accepted at the lower level, stamped ``liveness: none``.

Spec clauses: ISO/IEC 30107-1 §5.2 (presentation attack detection by challenge-response at the data
capture subsystem); ISO/IEC 30107-3 §12 (attack presentation classification error rate: every attack
here must be refused); xAPI 1.0.3 Part Two §2.4.6.2 (the stamp in context extensions), §2.6 (signed).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np
import pytest
from sqlalchemy import select, update

from identity.gate.face import EXT_FACE_CHECK
from identity.signing import verify_stamped
from identity.stamp import ASSURANCE_LIVENESS, ASSURANCE_PHOTO, LIVENESS_NONE, PHOTO_ONLY, VERIFIED
from identity.storage import GateChallenge
from tests.identity.gate.gate_support import QUIZ, IdentityEnv, Learner, jwcrypto_payload, stamp
from tests.player.player_support import CSRF

ENROLLED_PHOTO = "A_img2.jpg"   # the session's learner (demo-0001) enrolled with a burst of it


def checked(env: IdentityEnv) -> Learner:
    learner = env.learner()
    learner.ready()
    return learner


def refused_check(env: IdentityEnv, learner: Learner, res: Any) -> str:
    """A check that did not open the gate: 303 back to the gate, outcome named, step still "check"."""
    assert res.status_code == 303, res.get_data(as_text=True)[:300]
    assert "/player/identity/gate" in res.headers["Location"]
    assert 'data-step="check"' in learner.gate().get_data(as_text=True)
    [row] = learner.assurance()
    assert row.check_outcome != "match"
    return str(row.check_outcome)


# --- presentation attacks ------------------------------------------------------------------------

def _photo(env: IdentityEnv) -> Any:
    from tests.face_check.synthetic import decode

    return decode(env.photos[ENROLLED_PHOTO])


def _still(env: IdentityEnv) -> Any:
    from tests.face_check.synthetic import place, still

    return lambda ch: still(place(_photo(env)), ch, noise=2.0)


def _print(env: IdentityEnv) -> Any:
    from tests.face_check.synthetic import moved_picture, printed

    return lambda ch: moved_picture(printed(_photo(env), np.random.default_rng(1)), ch)


def _screen(env: IdentityEnv) -> Any:
    from tests.face_check.synthetic import moved_picture, on_screen

    return lambda ch: moved_picture(on_screen(_photo(env)), ch, seed=2)


def _flipped(env: IdentityEnv) -> Any:
    from tests.face_check.synthetic import place, still

    return lambda ch: still(place(np.ascontiguousarray(cv2.flip(_photo(env), 1))), ch, noise=1.0)


def _shifted(env: IdentityEnv) -> Any:
    from tests.face_check.synthetic import place, shifted

    return lambda ch: shifted(place(_photo(env)), ch)


ATTACKS = {"static photo": _still, "print moved like a head": _print, "screen photo moved": _screen,
           "flipped copy": _flipped, "shifted copy": _shifted}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_picture_sent_as_a_burst_is_refused(identity_env: IdentityEnv, attack: str) -> None:
    """ISO/IEC 30107-3 §12: each presentation attack, made from the enrolled person's own photo and sent
    as a burst for a real challenge, is refused (APCER 0 on this set); the statement says why."""
    learner = checked(identity_env)
    outcome = refused_check(identity_env, learner, learner.check(ATTACKS[attack](identity_env)))
    assert outcome in ("not_live", "no_face", "several_faces"), outcome
    [(st, _token)] = learner.statements()
    detail = st["result"]["extensions"][EXT_FACE_CHECK]
    assert st["result"]["success"] is False and detail["liveness"]["passed"] is False
    assert detail["assurance"] == "none" and stamp(st)["outcome"] == "unverified"   # type: ignore[index]


# --- the genuine burst, the stamp --------------------------------------------------------------------

def test_a_genuine_burst_for_a_random_challenge_opens_the_gate(identity_env: IdentityEnv,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's own random challenge (not the tests' fixed one), answered live: the gate opens and
    the check's statement carries the stamp with the liveness method and result, the model and the
    assurance level, signed by the hub (verified with its certificate alone)."""
    import face_check.challenge as fc

    assert identity_env.new_challenge is not None
    monkeypatch.setattr(fc, "new_challenge", identity_env.new_challenge)
    learner = checked(identity_env)
    asked = learner.challenge().get_json()
    assert 2 <= len(asked["steps"]) <= 3 and asked["steps"][0]["prompt"]
    frames = learner.burst_for(ENROLLED_PHOTO, asked)
    res = learner.post_burst("/player/identity/check", frames, asked["nonce"], target=QUIZ)
    assert res.status_code == 303 and res.headers["Location"] == f"/player/view/{QUIZ}", res.headers.get("Location")
    [(st, token)] = learner.statements()
    s = stamp(st)
    assert s is not None and s["outcome"] == VERIFIED and s["assurance"] == ASSURANCE_LIVENESS
    assert s["liveness"] == "active-challenge-v1" and s["livenessResult"] == "passed"
    assert s["model"] and s["faceDistance"] <= s["threshold"]
    detail = st["result"]["extensions"][EXT_FACE_CHECK]
    assert detail["liveness"]["method"] == "active-challenge-v1" and detail["liveness"]["passed"] is True
    assert [step["action"] for step in detail["liveness"]["steps"]] == [step["action"] for step in asked["steps"]]
    assert token is not None
    cert = identity_env.material.cert_pem
    assert stamp(jwcrypto_payload(token, cert)) == s
    assert verify_stamped(json.dumps(st), token, cert)["id"] == st["id"]
    [row] = learner.assurance()
    assert (row.check_liveness, row.check_liveness_result, row.check_assurance) == (
        "active-challenge-v1", "passed", ASSURANCE_LIVENESS)


def test_a_recorded_burst_does_not_answer_another_challenge(identity_env: IdentityEnv,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst made for one challenge (a recording), sent for a new challenge with other steps: refused."""
    import random

    import face_check.challenge as fc

    real = identity_env.new_challenge
    assert real is not None
    draws = iter([3, 8])   # two seeds whose steps differ
    monkeypatch.setattr(fc, "new_challenge", lambda rng=None, *, now=None, **kw: dataclasses.replace(
        real(random.Random(next(draws)), now=now, **kw), nonce=f"{random.getrandbits(128):032x}"))
    learner = checked(identity_env)
    first = learner.challenge().get_json()
    second = learner.challenge().get_json()
    assert [s["action"] for s in first["steps"]] != [s["action"] for s in second["steps"]] or \
        [s["at_ms"] for s in first["steps"]] != [s["at_ms"] for s in second["steps"]]
    recording = learner.burst_for(ENROLLED_PHOTO, first)
    res = learner.post_burst("/player/identity/check", recording, second["nonce"], target=QUIZ)
    assert refused_check(identity_env, learner, res) == "not_live"


# --- the challenge: single use, expiring, bound to the learner and the gate ----------------------

def test_a_challenge_is_used_once(identity_env: IdentityEnv) -> None:
    learner = checked(identity_env)
    asked = learner.challenge().get_json()
    frames = learner.burst_for(ENROLLED_PHOTO, asked)
    assert learner.post_burst("/player/identity/check", frames, asked["nonce"], target=QUIZ).status_code == 303
    again = learner.post_burst("/player/identity/check", frames, asked["nonce"], target=QUIZ, js=True)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "identity.error.challenge_invalid"
    [row] = learner.assurance()
    assert row.checks == 1 and len(learner.statements()) == 1   # the replay changed nothing


def test_an_expired_challenge_is_refused(identity_env: IdentityEnv) -> None:
    learner = checked(identity_env)
    asked = learner.challenge().get_json()
    with identity_env.db.session() as s:
        s.execute(update(GateChallenge).where(GateChallenge.nonce == asked["nonce"])
                  .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        s.commit()
    res = learner.post_burst("/player/identity/check", learner.burst_for(ENROLLED_PHOTO, asked), asked["nonce"],
                             target=QUIZ, js=True)
    assert res.status_code == 409 and learner.statements() == []


def test_another_learners_challenge_is_refused(identity_env: IdentityEnv) -> None:
    """Learner B (another VNeID account) cannot answer learner A's challenge, nor A spend an
    enrolment's challenge on a check, nor a challenge of one gate on another learner's gate."""
    owner = checked(identity_env)
    asked = owner.challenge().get_json()
    frames = owner.burst_for(ENROLLED_PHOTO, asked)
    thief = identity_env.learner()
    thief.ready("demo-0002")
    res = thief.post_burst("/player/identity/check", frames, asked["nonce"], target=QUIZ, js=True)
    assert res.status_code == 409
    same_account = checked(identity_env)   # demo-0001 again, but another LMS learner: another gate
    res = same_account.post_burst("/player/identity/check", frames, asked["nonce"], target=QUIZ, js=True)
    assert res.status_code == 409
    with identity_env.db.session() as s:
        row = s.scalar(select(GateChallenge).where(GateChallenge.nonce == asked["nonce"]))
        assert row is not None and row.used_at is None   # still the owner's to use
    assert owner.post_burst("/player/identity/check", frames, asked["nonce"], target=QUIZ).status_code == 303


def test_an_enrolment_challenge_is_not_a_check_challenge(identity_env: IdentityEnv) -> None:
    learner = checked(identity_env)
    learner.sign_in("demo-0001")   # fresh, so an enrolment challenge may be issued
    asked = learner.challenge("enrol").get_json()
    res = learner.post_burst("/player/identity/check", learner.burst_for(ENROLLED_PHOTO, asked), asked["nonce"],
                             target=QUIZ, js=True)
    assert res.status_code == 409 and learner.statements() == []


# --- no upload path, but the fallback a tenant may allow ----------------------------------------------

def test_a_photo_upload_is_refused_when_the_fallback_is_off(identity_env: IdentityEnv) -> None:
    learner = checked(identity_env)
    assert 'type="file"' not in learner.gate().get_data(as_text=True)   # no upload offered
    res = learner.upload("/player/identity/check", ENROLLED_PHOTO, js=True)
    assert res.status_code == 403 and res.get_json()["error"]["code"] == "identity.error.photo_not_allowed"
    assert learner.statements() == [] and all(r.checks == 0 for r in learner.assurance())


def test_the_photo_fallback_is_accepted_at_a_lower_level(identity_env: IdentityEnv,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """HOCVU_FACE_PHOTO_FALLBACK on: the page offers the upload, a matching photo opens the gate, and the
    stamp says ``liveness: none``, assurance "face-photo", outcome "photo-only", never "verified"."""
    monkeypatch.setattr(identity_env.cfg, "policy", dataclasses.replace(identity_env.cfg.policy, photo_fallback=True))
    learner = checked(identity_env)
    page = learner.gate().get_data(as_text=True)
    assert 'type="file"' in page and 'data-fallback' in page
    res = learner.upload("/player/identity/check", ENROLLED_PHOTO)
    assert res.status_code == 303 and res.headers["Location"] == f"/player/view/{QUIZ}"
    [(st, token)] = learner.statements()
    s = stamp(st)
    assert s is not None and s["liveness"] == LIVENESS_NONE and "livenessResult" not in s
    assert s["assurance"] == ASSURANCE_PHOTO and s["outcome"] == PHOTO_ONLY != VERIFIED
    assert st["result"]["extensions"][EXT_FACE_CHECK]["liveness"] == LIVENESS_NONE
    assert token is not None and stamp(jwcrypto_payload(token, identity_env.material.cert_pem)) == s
    assert learner.start().status_code == 303   # the tenant allowed it: the quiz opens


# --- the grey band -------------------------------------------------------------------------------

def test_a_distance_in_the_grey_band_asks_to_try_again(identity_env: IdentityEnv,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A distance between the accept and refuse edges is neither a pass nor a refusal: "retry"."""
    from face_check.calibration import Band

    learner = checked(identity_env)
    assert learner.check(ENROLLED_PHOTO).status_code == 303
    [row] = learner.assurance()
    d = row.check_distance
    assert d is not None and d > 0
    service = identity_env.cfg.face()
    monkeypatch.setattr(service, "band", Band(accept=d / 2, reject=d * 2 + 0.01))
    other = checked(identity_env)
    res = other.check(ENROLLED_PHOTO, js=True)
    assert res.status_code == 200 and res.get_json()["outcome"] == "retry" and res.get_json()["matched"] is False
    assert "thử lại" in res.get_json()["message"]
    [row] = other.assurance()
    assert row.check_outcome == "retry" and stamp_outcome(other) == "unverified"


def stamp_outcome(learner: Learner) -> str:
    [(st, _)] = learner.statements()
    s = stamp(st)
    assert s is not None
    return str(s["outcome"])


def test_the_challenge_needs_the_form_token(identity_env: IdentityEnv) -> None:
    learner = checked(identity_env)
    res = learner.client.post("/player/identity/challenge", data={"target": QUIZ, "csrf": CSRF + "x"})
    assert res.status_code == 400


def test_enrolment_by_photo_only_with_the_fallback(identity_env: IdentityEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """Enrolment takes a burst; a photo is refused (403, nothing stored) unless the fallback is on, and
    then a photo-enrolled learner's photo check is "photo-only", never "verified"."""
    from identity import storage as identity_storage
    from tests.identity.gate.gate_support import account_key

    learner = identity_env.learner()
    learner.ready("demo-0002")
    with identity_env.db.session() as s:
        account = s.scalar(select(identity_storage.IdentityAccount).where(
            identity_storage.IdentityAccount.subject_hmac == account_key(identity_env, "demo-0002")))
        assert account is not None
        account_id = account.id
        identity_storage.delete_face_enrolment(s, account_id)
        s.commit()
    try:
        res = learner.upload("/player/identity/enrol", "B_img42.jpg", consent="yes", js=True)
        assert res.status_code == 403 and res.get_json()["error"]["code"] == "identity.error.photo_not_allowed"
        with identity_env.db.session() as s:
            assert identity_storage.face_enrolment(s, account_id) is None
        monkeypatch.setattr(identity_env.cfg, "policy",
                            dataclasses.replace(identity_env.cfg.policy, photo_fallback=True))
        assert learner.upload("/player/identity/enrol", "B_img42.jpg", consent="yes").status_code == 303
        assert learner.upload("/player/identity/check", "B_img26.jpg").status_code == 303
        assert stamp_outcome(learner) == PHOTO_ONLY
    finally:
        with identity_env.db.session() as s:
            identity_storage.delete_face_enrolment(s, account_id)
            s.commit()
