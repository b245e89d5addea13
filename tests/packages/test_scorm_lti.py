"""A SCORM course launched from an LMS over LTI 1.3 (the spec-written test platform, real HTTP): the SCO
page opens, the run-time's commits are kept, and the score reaches the platform's AGS line item
(AGS 2.0 §3.4), once, with the statements in the tenant's LRS."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from lrs.storage import Tenant
from player.packages.http import package_store
from player.packages.scorm_import import import_scorm
from tests.conftest import Xapi, new_credential
from tests.lti.conftest import Browser, Env, Lms, browser, lms, lti_env  # noqa: F401  (fixtures)
from tests.packages.scorm_support import package_zip
from tests.player.player_support import read, verbs


def test_a_launched_scorm_course_is_graded_in_the_lms_by_ags(browser: Browser, lms: Lms,  # noqa: F811
                                                            lti_env: Env) -> None:  # noqa: F811
    platform, app = lti_env.platform, lti_env.app
    course_id = f"scorm12-{uuid.uuid4().hex[:6]}"
    with lti_env.db.session() as db:
        import_scorm(db, package_store(app), package_zip("scorm12"), datetime.now(UTC), course_id=course_id)
        db.commit()
    context_id = f"ctx-{uuid.uuid4().hex[:6]}"
    lineitem = platform.add_line_item(context_id, "An toàn mạng (SCORM 1.2)", 100)
    user = f"learner-{uuid.uuid4().hex[:6]}"
    launched = browser.launch(platform.resource_link(lms.client, user=user, context_id=context_id,
                                                     lineitem=lineitem, target=f"scorm/{course_id}"), user)
    assert launched.status_code == 303
    page = browser.client.get("/player/", base_url=browser.base, follow_redirects=True)
    assert page.status_code == 200 and "sco-frame" in page.get_data(as_text=True)
    config = json.loads(re.search(r'id="scorm-config">(.*?)</script>', page.get_data(as_text=True), re.S)[1])
    assert config["cmi"]["cmi.core.student_id"] == user   # the LMS's user id, as SCORM 1.2 RTE §3.4.2 asks
    done = {"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "80", "cmi.core.score.min": "0",
            "cmi.core.score.max": "100", "cmi.core.exit": "", "cmi.core.session_time": "0000:02:00.00"}
    res = browser.client.post(config["commitUrl"] + "?terminate=true", data=json.dumps(done),
                              content_type="application/json", headers={"X-CSRF-Token": config["csrf"]},
                              base_url=browser.base)
    assert res.status_code == 200, res.get_data(as_text=True)

    launch = browser.lti_launch()
    with lti_env.db.session() as s:
        slug = s.scalar(select(Tenant.slug).where(Tenant.id == launch.tenant_id))
    _, key, secret = new_credential(app, ["all"], slug)
    statements = read(Xapi(app.test_client(), key, secret, version="2.0.0"), launch.player_session())
    assert verbs(statements) == ["initialized", "passed", "scored", "terminated"]
    assert statements[0]["actor"]["account"] == {"homePage": launch.issuer, "name": user}

    item_id = lineitem.rsplit("/", 1)[1]
    assert len(platform.scores[item_id]) == 1
    result = platform.results[item_id][user]
    assert (result["scoreGiven"], result["scoreMaximum"]) == (80.0, 100.0)
    assert result["activityProgress"] == "Completed" and result["gradingProgress"] == "FullyGraded"
