"""The learner's whole path, end to end through the spec-written platform over real HTTP:
LTI 1.3 launch (LTI Core 1.3 §5) → the player's quiz → cmi5-style statements in the tenant's
store → the score on the platform's AGS line item (AGS 2.0 §3.4)."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from lrs.storage import Tenant
from tests.conftest import Xapi, new_credential
from tests.lti.conftest import Browser, Env, Lms
from tests.player.player_support import answers, form, read, verbs

QUIZ = "course/an-toan-khong-gian-mang/module/phong-tranh-va-xu-ly/quiz/kiem-tra"  # 8 questions, pass at 75%


def test_a_launched_quiz_is_recorded_and_graded_in_the_lms(browser: Browser, lms: Lms, lti_env: Env) -> None:
    platform, app = lti_env.platform, lti_env.app
    context_id = f"ctx-{uuid.uuid4().hex[:6]}"
    lineitem = platform.add_line_item(context_id, "Kiểm tra an toàn mạng", 8)
    user = f"learner-{uuid.uuid4().hex[:6]}"

    launched = browser.launch(platform.resource_link(lms.client, user=user, context_id=context_id,
                                                     lineitem=lineitem, target=QUIZ), user)
    assert launched.status_code == 303 and launched.headers["Location"].endswith("/player/")
    page = browser.client.get("/player/", base_url=browser.base, follow_redirects=True).get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, page[:500]
    started = browser.client.post(f"/player/start/{QUIZ}", data={"csrf": csrf.group(1)}, base_url=browser.base)
    assert started.status_code == 303
    submitted = browser.client.post(f"/player/submit/{QUIZ}", data=form(answers(QUIZ, wrong=1), csrf.group(1)),
                                    base_url=browser.base)
    assert submitted.status_code == 303

    # The attempt is in the tenant's LRS, read back as any xAPI client of that tenant would.
    launch = browser.lti_launch()
    with lti_env.db.session() as s:
        slug = s.scalar(select(Tenant.slug).where(Tenant.id == launch.tenant_id))
    _, key, secret = new_credential(app, ["all"], slug)
    statements = read(Xapi(app.test_client(), key, secret, version="2.0.0"), launch.player_session())
    assert verbs(statements) == ["launched", "initialized"] + ["answered"] * 8 + ["completed", "passed", "terminated"]
    assert statements[-2]["result"]["score"] == {"scaled": 0.875, "raw": 7, "min": 0, "max": 8}
    assert statements[0]["actor"]["account"] == {"homePage": launch.issuer, "name": user}

    # And the LMS's gradebook has the score, once.
    item_id = lineitem.rsplit("/", 1)[1]
    assert len(platform.scores[item_id]) == 1
    result = platform.results[item_id][user]
    assert (result["scoreGiven"], result["scoreMaximum"]) == (7.0, 8.0)
    assert result["activityProgress"] == "Completed" and result["gradingProgress"] == "FullyGraded"
