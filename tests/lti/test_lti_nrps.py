"""NRPS 2.0: the roster of the launch's context, every page followed."""

from __future__ import annotations

import uuid

import pytest

from lti_tool.errors import PlatformUnavailable, ServiceNotOffered
from lti_tool.launch_context import LaunchContext
from lti_tool.nrps import Member, roster
from tests.lti.conftest import Browser, Env, Lms
from tests.lti.lti_platform import INSTRUCTOR, LEARNER


def _launch(browser: Browser, lms: Lms, context_id: str, **kw: object) -> LaunchContext:
    hint = lms.env.platform.resource_link(lms.client, user="teacher-1", roles=INSTRUCTOR, context_id=context_id,
                                          **kw)  # type: ignore[arg-type]
    assert browser.launch(hint, "teacher-1").status_code == 303
    return browser.lti_launch()


def test_roster_follows_every_page(browser: Browser, lms: Lms, lti_env: Env) -> None:
    context_id = f"ctx-{uuid.uuid4().hex[:6]}"
    lti_env.platform.members[context_id] = [
        {"user_id": "teacher-1", "roles": INSTRUCTOR, "name": "Cô Lan", "status": "Active"},
        *({"user_id": f"learner-{i}", "roles": LEARNER, "given_name": "Học", "family_name": f"Viên {i}",
           "email": f"hv{i}@example.vn"} for i in range(4)),
    ]
    context = _launch(browser, lms, context_id)
    members = roster(context, tool=lti_env.tool)   # 5 members over 3 pages (2 per page)
    assert [m.user_id for m in members] == ["teacher-1", "learner-0", "learner-1", "learner-2", "learner-3"]
    assert members[0] == Member("teacher-1", tuple(INSTRUCTOR), "Active", "Cô Lan")
    assert members[2].family_name == "Viên 1" and members[2].email == "hv1@example.vn"
    assert members[2].status == "Active"


def test_roster_errors(browser: Browser, lms: Lms, lti_env: Env) -> None:
    without = _launch(browser, lms, "ctx-none", nrps=False)
    with pytest.raises(ServiceNotOffered):
        roster(without, tool=lti_env.tool)

    context = _launch(browser, lms, "ctx-down")
    lti_env.platform.down = True
    try:
        with pytest.raises(PlatformUnavailable):
            roster(context, tool=lti_env.tool)
    finally:
        lti_env.platform.down = False
