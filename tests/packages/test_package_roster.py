"""Imported courses beside the YAML courses in the LMS (issue 16: "Imported courses appear in the
catalogue and the Deep Linking picker beside the YAML courses; grades go back by AGS"): the picker's
items (LTI Deep Linking 2.0 §4.4 content items) include each cmi5 course and AU and each SCORM course
and SCO; the instructor's roster (NRPS 2.0 §2.2 members) of a SCORM link shows each learner's
progress and result in its SCOs, read from the tenant's LRS like a YAML course's."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

from player.packages.http import package_store
from player.packages.scorm_import import import_scorm
from tests.lti.conftest import Browser, Env, Lms, lms, lti_env  # noqa: F401  (fixtures)
from tests.lti.platform import INSTRUCTOR, LEARNER
from tests.packages.scorm_support import package_zip


def _course(env: Env, name: str) -> str:
    course_id = f"{name}-{uuid.uuid4().hex[:6]}"
    with env.db.session() as db:
        import_scorm(db, package_store(env.app), package_zip(name), datetime.now(UTC), course_id=course_id)
        db.commit()
    return course_id


def _launch(env: Env, lms: Lms, user: str, roles: list[str], context_id: str, target: str) -> Browser:  # noqa: F811
    browser = Browser(env.app.test_client(), env.platform, lms)
    res = browser.launch(env.platform.resource_link(lms.client, user=user, roles=roles, target=target,
                                                    context_id=context_id), user)
    assert res.status_code == 303, res.get_data(as_text=True)
    return browser


def test_picker_lists_scorm_scos_beside_courses(lti_env: Env) -> None:  # noqa: F811
    """Each SCO of an imported SCORM course is a target of its own (``scorm/<course>/sco/<item>``), as each
    AU of a cmi5 course is, so an instructor can link one SCO; graded out of 100."""
    course_id = _course(lti_env, "scorm2004")
    with lti_env.app.app_context():
        from player import pages
        items = {i.target: i for i in pages.catalogue().list_items("vi")}
    assert f"scorm/{course_id}" in items
    for sco in ("gioi-thieu", "kiem-tra"):
        item = items[f"scorm/{course_id}/sco/{sco}"]
        assert item.graded and item.max_score == 100.0
    assert any(t.startswith("course/") for t in items)   # beside the YAML courses


def test_roster_of_a_scorm_link(lti_env: Env, lms: Lms) -> None:  # noqa: F811
    course_id = _course(lti_env, "scorm12")
    p = uuid.uuid4().hex[:6]
    context_id = f"ctx-{p}"
    lti_env.platform.members[context_id] = [
        {"user_id": f"{p}-teacher", "roles": INSTRUCTOR, "name": "Cô Lan"},
        {"user_id": f"{p}-busy", "roles": LEARNER, "name": "Trần Văn Bình"},
        {"user_id": f"{p}-idle", "roles": LEARNER, "name": "Lê Thị Hoa"},
    ]
    learner = _launch(lti_env, lms, f"{p}-busy", LEARNER, context_id, f"scorm/{course_id}")
    page = learner.client.get("/player/", base_url=learner.base, follow_redirects=True)
    config = json.loads(re.search(r'id="scorm-config">(.*?)</script>', page.get_data(as_text=True), re.S)[1])
    done = {"cmi.core.lesson_status": "passed", "cmi.core.score.raw": "80", "cmi.core.score.min": "0",
            "cmi.core.score.max": "100", "cmi.core.exit": "", "cmi.core.session_time": "0000:02:00.00"}
    res = learner.client.post(config["commitUrl"] + "?terminate=true", data=json.dumps(done),
                              content_type="application/json", headers={"X-CSRF-Token": config["csrf"]},
                              base_url=learner.base)
    assert res.status_code == 200, res.get_data(as_text=True)
    teacher = _launch(lti_env, lms, f"{p}-teacher", INSTRUCTOR, context_id, f"scorm/{course_id}")
    roster = teacher.client.get("/player/roster", base_url=teacher.base)
    html = roster.get_data(as_text=True)
    assert roster.status_code == 200, html[:600]
    assert "2 học viên, 1 đã bắt đầu" in html
    busy = html.split(f'data-user-id="{p}-busy"')[1].split('<li class="member')[0]
    assert '<span class="badge done">Đạt</span>' in busy and "Điểm cao nhất: 80%" in busy and "Số lần làm: 1" in busy
    idle = html.split(f'data-user-id="{p}-idle"')[1].split('<li class="member')[0]
    assert "Chưa bắt đầu" in idle
