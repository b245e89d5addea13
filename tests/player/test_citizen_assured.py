"""An identity-assured quiz taken by a citizen from the front door, through the real identity gate with
the real face model (tests/identity/gate's environment): the learner IS the VNeID account, so the
gate asks for no linking step, only the face check; every statement of the attempt carries the
identity stamp whose subject is the actor's own pseudonym, signed by the hub (xAPI 2.0 Part 2
§2.4.9 signed statements: JWS checked here by another library, jwcrypto)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from lrs import credentials
from player.citizen import CITIZEN_HOME, Citizen, course_session
from player.domain import registration_for
from tests.identity.gate.gate_support import (
    ENROLLED,
    QUIZ,
    IdentityEnv,
    answer_challenge,
    jwcrypto_payload,
    signed_statements,
    stamp,
)
from tests.player.citizen_support import citizen, fresh_national_tenant, reader
from tests.player.player_support import answers

pytest.importorskip("face_check", reason="the face extra is not installed")
COURSE = "tro-ly-ai-hanh-chinh"


def test_a_citizen_passes_the_gate_with_no_linking_and_the_attempt_is_stamped(identity_env: IdentityEnv) -> None:
    env = identity_env
    slug = fresh_national_tenant(env.app)
    me = citizen(env.app)
    me.sign_in(ENROLLED)   # level 2, face enrolled (the session's fixture enrolled this account)
    assert me.open_course(COURSE).status_code == 303
    gate = me.page("/player/identity/gate", query_string={"target": QUIZ}).get_data(as_text=True)
    assert 'data-step="check"' in gate   # bound already: the citizen's identity is the account itself
    quiz_page = me.page(f"/player/view/{QUIZ}").get_data(as_text=True)
    assert "cần kết nối mạng" in quiz_page   # a timed, assured quiz says plainly it needs the network
    csrf = me.csrf(f"/player/view/{QUIZ}")
    form: dict[str, Any] = {"csrf": csrf, "target": QUIZ}
    checked = answer_challenge(me.client, env, "A_img2.jpg", challenge_url="/player/identity/challenge",
                               asked={**form, "purpose": "check"}, url="/player/identity/check", data=form)
    assert checked.status_code == 303, checked.get_data(as_text=True)
    assert me.client.post(f"/player/start/{QUIZ}", data={"csrf": csrf}).status_code == 303
    attempt_page = me.page(f"/player/view/{QUIZ}").get_data(as_text=True)
    assert 'data-online-only="true"' in attempt_page   # submitted online only, never queued
    form = {"csrf": csrf, **{f"q.{q}": c for q, c in answers(QUIZ).items()}}
    assert me.client.post(f"/player/submit/{QUIZ}", data=form).status_code == 303

    xapi = reader(env.app, slug)
    with env.db.session() as s:
        tenant_id = credentials.get_tenant(s, slug).id
    opened = next(st for st in xapi.get("statements").get_json()["statements"] if st["verb"]["id"].endswith("passed"))
    registration = opened["context"]["registration"]
    got = signed_statements(xapi, registration)
    attempt = [(st, token) for st, token in got if stamp(st) is not None]
    assert len(attempt) >= 5 and all(token is not None for _, token in attempt)
    subject = opened["actor"]["account"]["name"]
    assert opened["actor"]["account"]["homePage"] == CITIZEN_HOME
    for st, token in attempt:
        found = stamp(st)
        assert found is not None and found["subject"] == subject and found["outcome"] == "verified"
        assert token is not None and jwcrypto_payload(token, env.material.cert_pem)["id"] == st["id"]
    # The registration is the learner's and the course's: the same from any device, after any sign-in.
    same = course_session(tenant_id, Citizen(0, subject, ""), f"course/{COURSE}", "vi")
    assert registration == registration_for(same)

    # "My learning" (issue 14) counts the attempt as identity-verified, and lists the credential the
    # completion earned (issue 15; the course's only quiz requires VNeID level 2 and a face check).
    mine = me.page("/learning/").get_data(as_text=True)
    record = mine.split(f'data-quiz="{QUIZ}"', 1)[1].split("</li>", 1)[0]
    assert "1 lần làm; 1 lần có xác minh danh tính" in record, record
    links = re.findall(r'<a href="([^"]+)">', mine.split('id="certificates"', 1)[1].split("</section>", 1)[0])
    assert len(links) == 1 and f"/credentials/{slug}/" in links[0]
    assert me.page(urlsplit(links[0]).path).status_code == 200
