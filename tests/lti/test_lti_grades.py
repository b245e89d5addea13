"""The player's grade reaches the LMS by AGS: ``lti_tool.grades`` is the score reporter an LTI launch's
player session names (LTI AGS 2.0 §3.4: the score of the launch's user on the link's line item)."""

from __future__ import annotations

import uuid

from flask import Flask
from sqlalchemy import select

from lrs import credentials
from lti_tool import ags
from lti_tool.launch_context import LaunchContext
from lti_tool.registrations import PlatformSpec, add_platform
from lti_tool.storage import LtiScoreOutbox
from player.session import KEY
from tests.player.player_support import CSRF, answers, form, open_player

ISSUER = "https://lms.mof.example.vn"
QUIZ = "course/an-toan-khong-gian-mang/module/phong-tranh-va-xu-ly/quiz/kiem-tra"  # 8 questions, 75% to pass


def test_the_grade_is_handed_to_ags(app: Flask) -> None:
    """With a line item, the finished attempt's grade reaches AGS's outbox (delivery to the
    platform is AGS's business; here the platform is unreachable, so the score waits there)."""
    probe, client, _ = open_player(app, QUIZ, issuer=ISSUER)
    with app.extensions["hocvu.db"].session() as s:
        tenant = s.get(credentials.Tenant, probe.tenant_id)
        row = add_platform(s, tenant, PlatformSpec(  # type: ignore[arg-type]
            issuer=ISSUER, client_id=f"c-{uuid.uuid4().hex[:8]}", auth_login_url="http://127.0.0.1:9/auth",
            token_url="http://127.0.0.1:9/token", keyset_url="http://127.0.0.1:9/jwks"), ["dep-1"])
        s.commit()
        registration_id = row.id
    launch = LaunchContext(tenant_id=probe.tenant_id, registration_id=registration_id, issuer=ISSUER,
                           deployment_id="dep-1", sub=f"hv-{uuid.uuid4().hex[:10]}", name="", roles=(),
                           resource_link_id=f"rl-{uuid.uuid4().hex[:8]}", target=QUIZ,
                           ags_lineitem="http://127.0.0.1:9/lineitems/7", ags_scopes=(ags.SCORE_SCOPE,))
    with client.session_transaction() as sess:
        sess[KEY] = launch.player_session().to_session()
    client.post(f"/player/start/{QUIZ}", data={"csrf": CSRF})
    assert client.post(f"/player/submit/{QUIZ}", data=form(answers(QUIZ, wrong=1))).status_code == 303
    with app.extensions["hocvu.db"].session() as s:
        [queued] = s.scalars(select(LtiScoreOutbox).where(LtiScoreOutbox.registration_id == registration_id))
    assert queued.lineitem_url == "http://127.0.0.1:9/lineitems/7"
    assert {k: queued.score[k] for k in ("userId", "scoreGiven", "scoreMaximum", "activityProgress",
                                        "gradingProgress")} == {
        "userId": launch.sub, "scoreGiven": 7.0, "scoreMaximum": 8.0, "activityProgress": "Completed",
        "gradingProgress": "FullyGraded"}
