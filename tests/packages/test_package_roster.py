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
from tests.lti.lti_platform import INSTRUCTOR, LEARNER
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


def test_units_of_package_links(lti_env: Env) -> None:  # noqa: F811
    """What the roster reads for a package link: a cmi5 course's AUs under the LMS's IRIs (cmi5 §8.1.4
    activityId, 9.3.9.0-4: not the publisher's id), judged when moveOn needs Passed or a masteryScore is
    set (cmi5 §13.1.4); one AU for an AU link; a SCORM course's SCOs; None for what names nothing."""
    from player.packages.cmi5.lms_statements import lms_activity_id
    from player.packages.units import package_root
    from tests.packages.cmi5_support import au_xml, block, package, structure
    from tests.packages.conftest import national_admin

    course_iri = f"https://example.org/cmi5/course/{uuid.uuid4().hex[:8]}"
    xml = structure(block(au_xml(1) + au_xml(2, move_on="Completed", mastery=None)), course_id=course_iri)
    r = lti_env.app.test_client().post("/player/cmi5/admin/packages", data=package(xml),
                                       headers=national_admin(lti_env.app))
    assert r.status_code == 201, r.get_json()
    slug = r.get_json()["slug"]
    scorm = _course(lti_env, "scorm2004")
    with lti_env.db.session() as db:
        whole = package_root(db, f"package/{slug}")
        one = package_root(db, f"package/{slug}/au/1")
        sco = package_root(db, f"scorm/{scorm}/sco/kiem-tra")
        assert package_root(db, f"package/{slug}/au/7") is None and package_root(db, "scorm/nope") is None
    assert whole is not None and whole.kind == "course"
    assert [(u.iri, u.judged) for u in whole.units] == [
        (lms_activity_id(course_iri, "https://example.org/cmi5/au/1"), True),
        (lms_activity_id(course_iri, "https://example.org/cmi5/au/2"), False)]
    assert one is not None and one.kind == "au" and [u.target for u in one.units] == [f"package/{slug}/au/1"]
    assert sco is not None and sco.kind == "sco"
    assert sco.units[0].iri == f"https://hocvu.vn/xapi/activities/scorm/{scorm}/sco/kiem-tra"
