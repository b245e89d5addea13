"""Managing an LMS's registration after it is made: show, disable, enable and remove, from the command
line and from /lti/admin/ (each change confirmed and written as one audit line). A disabled
registration's launches are refused with a message that says so (LTI Core 1.3 §3.1.3: the tool
decides which deployments it accepts); the admin page tells each LMS's administrator the exact fields
to fill, redirect URIs included (Security Framework 1.0 §5.1.1.2: the id_token goes only to a
registered redirect URI)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from hocvu.cli_lti import lti
from lti_tool.ags import post_score
from lti_tool.storage import LtiRegistration, LtiScoreOutbox
from player.session import KEY as PLAYER_SESSION
from tests.lti.conftest import Browser, Env, Lms, error_message, form
from tests.lti.test_lti_admin import Admin, admin_for, text


@pytest.fixture
def cli(lti_env: Env) -> Any:
    env = {"HOCVU_DATABASE_URL": lti_env.db.url, "HOCVU_SECRET_KEY": "test-secret",
           "HOCVU_PUBLIC_URL": lti_env.tool_url, "HOCVU_REDIS_URL": ""}
    return lambda *args, **kw: CliRunner().invoke(lti, list(args), env=env, **kw)


def _row(env: Env, registration_id: int) -> LtiRegistration | None:
    with env.db.session() as session:
        return session.get(LtiRegistration, registration_id)


def _launch(browser: Browser, lms: Lms) -> Any:
    """A launch's answer: the login initiation's when that refuses, else the id_token POST's."""
    login = browser.login(lms.env.platform.resource_link(lms.client), "learner-1")
    if login.status_code != 302:
        return login
    _, fields = form(requests.get(login.headers["Location"], timeout=10).text)
    return browser.post_launch(fields)


def test_disable_refuses_launches_saying_so_and_enable_restores_them(cli: Any, browser: Browser, lms: Lms,
                                                                     lti_env: Env, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="lti_tool.audit")
    assert cli("platform", "disable", str(lms.registration_id), input="n\n").exit_code != 0   # not confirmed
    assert _row(lti_env, lms.registration_id).disabled is None  # type: ignore[union-attr]

    started = browser.authorize(lti_env.platform.resource_link(lms.client), "learner-1")   # logged in before
    done = cli("platform", "disable", str(lms.registration_id), "--yes")
    assert done.exit_code == 0, done.output
    refused = browser.post_launch(started)   # the id_token arrives after the registration was disabled
    assert refused.status_code == 403 and "disabled" in error_message(refused)
    assert PLAYER_SESSION not in browser.session()
    # The login initiation already says so: the LMS administrator sees why at the first click.
    login = _launch(browser, lms)
    assert login.status_code == 403 and "disabled by the hub" in error_message(login)

    shown = json.loads(cli("platform", "show", str(lms.registration_id), "--json").output)
    assert shown["enabled"] is False and shown["disabled"]
    assert f"{lms.registration_id}\t" in cli("platform", "list").output and "DISABLED" in cli("platform", "list").output

    assert cli("platform", "enable", str(lms.registration_id)).exit_code == 0
    assert _launch(browser, lms).status_code == 303
    audit = [r.getMessage() for r in caplog.records if r.name == "lti_tool.audit"]
    assert [a.split(") ")[1] for a in audit] == ["disabled by cli:" + audit[0].rsplit(":", 1)[1],
                                               "enabled by cli:" + audit[1].rsplit(":", 1)[1]]
    assert all(lms.client.client_id in a for a in audit)


def test_a_disabled_registrations_scores_wait(browser: Browser, lms: Lms, lti_env: Env, cli: Any) -> None:
    item = lti_env.platform.add_line_item("ctx-w", "Bài kiểm tra", 10)
    hint = lti_env.platform.resource_link(lms.client, context_id="ctx-w", lineitem=item)
    assert browser.launch(hint).status_code == 303
    launch = browser.lti_launch()
    assert cli("platform", "disable", str(lms.registration_id), "--yes").exit_code == 0
    outcome = post_score(launch, 5, 10, "Completed", "FullyGraded", launch.sub, tool=lti_env.tool)
    assert outcome.status == "pending" and "disabled" in (outcome.error or "")


def test_remove_keeps_waiting_scores_unless_told(browser: Browser, lms: Lms, lti_env: Env, cli: Any) -> None:
    platform = lti_env.platform
    assert browser.launch(platform.resource_link(lms.client, context_id="ctx-r",
                                                 lineitem=platform.add_line_item("ctx-r", "K", 10))).status_code == 303
    launch = browser.lti_launch()
    platform.down = True
    try:
        assert post_score(launch, 5, 10, "Completed", "FullyGraded", launch.sub, tool=lti_env.tool).status == "pending"
    finally:
        platform.down = False
    refused = cli("platform", "remove", str(lms.registration_id), "--yes")
    assert refused.exit_code != 0 and "still waiting" in refused.output
    assert _row(lti_env, lms.registration_id) is not None
    done = cli("platform", "remove", str(lms.registration_id), "--yes", "--discard-pending")
    assert done.exit_code == 0, done.output
    assert _row(lti_env, lms.registration_id) is None
    with lti_env.db.session() as session:
        assert session.scalars(select(LtiScoreOutbox).where(
            LtiScoreOutbox.registration_id == lms.registration_id)).first() is None
    refused = _launch(browser, lms)
    assert refused.status_code == 401 and "not registered with the hub" in error_message(refused)
    assert cli("platform", "show", str(lms.registration_id)).exit_code != 0


def _csrf(admin: Admin, path: str) -> str:
    page = admin.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match
    return match.group(1)


def test_admin_disables_after_confirming_enables_and_removes(lti_env: Env, lms: Lms, browser: Browser,
                                                             caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="lti_tool.audit")
    admin = admin_for(lti_env, lms.tenant_slug)
    rid = lms.registration_id
    shown = text(admin.get(f"/lti/admin/platforms/{rid}"))
    assert lms.client.client_id in shown and "Enabled" in shown

    # A GET shows the question and changes nothing; a POST without the confirmation asks again.
    confirm = admin.get(f"/lti/admin/platforms/{rid}/disable")
    assert confirm.status_code == 200 and 'id="confirm"' in confirm.get_data(as_text=True)
    csrf = _csrf(admin, f"/lti/admin/platforms/{rid}/disable")
    asked = admin.post(f"/lti/admin/platforms/{rid}/disable", {"csrf_token": csrf})
    assert asked.status_code == 303 and asked.headers["Location"].endswith(f"/platforms/{rid}/disable")
    assert _row(lti_env, rid).disabled is None  # type: ignore[union-attr]
    assert admin.post(f"/lti/admin/platforms/{rid}/disable", {"confirm": "yes"}).status_code == 400   # no CSRF

    done = admin.post(f"/lti/admin/platforms/{rid}/disable", {"csrf_token": csrf, "confirm": "yes"})
    assert done.status_code == 303
    assert "Disabled" in text(admin.get()) and _launch(browser, lms).status_code == 403
    assert admin.post(f"/lti/admin/platforms/{rid}/enable", {"csrf_token": csrf}).status_code == 303
    assert _launch(browser, lms).status_code == 303

    assert admin.post(f"/lti/admin/platforms/{rid}/remove", {"csrf_token": csrf, "confirm": "yes"}).status_code == 303
    assert _row(lti_env, rid) is None
    audit = [r.getMessage() for r in caplog.records if r.name == "lti_tool.audit"]
    assert [a.split(") ")[1].split(" by ")[0] for a in audit] == ["disabled", "enabled", "removed"]
    assert all(a.endswith(f"by admin:{admin.key}") for a in audit)


def test_admin_cannot_touch_another_tenants_registration(lti_env: Env, lms: Lms) -> None:
    other = admin_for(lti_env)
    csrf = other.csrf()
    assert other.get(f"/lti/admin/platforms/{lms.registration_id}").status_code == 404
    assert other.post(f"/lti/admin/platforms/{lms.registration_id}/remove",
                      {"csrf_token": csrf, "confirm": "yes"}).status_code == 404
    assert _row(lti_env, lms.registration_id) is not None


def test_admin_page_names_each_lms_fields_and_the_redirect_uri(lti_env: Env) -> None:
    """What to paste where, per LMS, in that LMS's own words; /lti/launch as a redirect URI, also for
    ?target= links (Security Framework 1.0 §5.1.1.2, OIDC Core §3.1.2.1: compared exactly)."""
    body = text(admin_for(lti_env).get())
    launch, login, jwks = (lti_env.tool_url + p for p in ("/lti/launch", "/lti/login", "/lti/jwks"))
    expected = {
        "guide-moodle": ["Tool URL", "Initiate login URL", "Redirection URI(s)", "Public keyset", "Keyset URL",
                         "Platform ID", "Access token URL", "Authentication request URL"],
        "guide-canvas": ["Redirect URIs", "Target Link URI", "OpenID Connect Initiation Url", "Public JWK URL",
                         "https://canvas.instructure.com"],
        "guide-openedx": ["Tool Launch URL", "Registered Redirect URIs", "Tool Initiate Login URL", "Tool Keyset URL",
                          "LTI Assignment and Grades Service", "Access Token URL"],
        "guide-generic": ["Tool Redirect URL(s)", "OpenID Connect Login URL", "Brightspace OAuth2 Audience"],
    }
    for section, words in expected.items():
        start = body.index(f'id="{section}"')
        block = body[start:body.index("</details>", start)]
        for word in words:
            assert word in block, (section, word)
        assert launch in block and login in block and jwks in block
        assert "?target=" in block
    assert 'id="redirect-uris"' in body and "?target=" in body
