"""LTI Dynamic Registration 1.0: an LMS administrator pastes the tenant's one-time URL; the
platform ends up registered for that tenant, and its launches work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from lrs import credentials
from lti_tool.dynamic_registration import create_invite
from lti_tool.storage import LtiRegistration, LtiRegistrationInvite
from player.session import KEY as PLAYER_SESSION
from tests.lti.conftest import Browser, Env, Lms, error_message, form


def _tenant_and_invite(env: Env, *, ttl: timedelta = timedelta(days=7)) -> tuple[int, str, str]:
    with env.db.session() as session:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        tenant = credentials.create_tenant(session, slug, f"Bộ {slug}")
        _, token = create_invite(session, tenant, ttl=ttl)
        session.commit()
        return tenant.id, slug, token


def test_registration_for_a_tenant_then_launch(lti_env: Env) -> None:
    platform = lti_env.platform
    tenant_id, slug, invite = _tenant_and_invite(lti_env)
    client = lti_env.app.test_client()
    params = {"invite": invite, "openid_configuration": platform.openid_configuration_url,
              "registration_token": platform.new_registration_token()}

    confirm = client.get(f"/lti/register/{slug}", query_string=params)
    assert confirm.status_code == 200, confirm.get_data(as_text=True)
    assert platform.issuer in confirm.get_data(as_text=True)
    _, fields = form(confirm.get_data(as_text=True))
    assert fields == params

    done = client.post(f"/lti/register/{slug}", data=fields)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert 'postMessage({subject: "org.imsglobal.lti.close"}, "*")' in done.get_data(as_text=True)

    with lti_env.db.session() as session:
        row = session.scalar(select(LtiRegistration).where(LtiRegistration.tenant_id == tenant_id))
        assert row is not None
        assert (row.issuer, row.auth_login_url, row.token_url, row.keyset_url) == (
            platform.issuer, platform.auth_url, platform.token_url, platform.jwks_url)
        registered = platform.clients[row.client_id]
        assert [d.deployment_id for d in row.deployments] == [registered.deployment_id]
        assert registered.redirect_uris == [lti_env.tool_url + "/lti/launch"]
        assert registered.login_url == lti_env.tool_url + "/lti/login"
        invite_row = session.scalar(select(LtiRegistrationInvite).where(LtiRegistrationInvite.tenant_id == tenant_id))
        assert invite_row is not None and invite_row.used is not None and invite_row.registration_id == row.id
        lms = Lms(lti_env, slug, tenant_id, registered, row.id)

    browser = Browser(lti_env.app.test_client(), platform, lms)
    assert browser.launch(platform.resource_link(registered)).status_code == 303
    assert browser.session()[PLAYER_SESSION]["tenant_id"] == tenant_id

    # The invitation was used: pasting the URL again does nothing.
    fields["registration_token"] = platform.new_registration_token()
    again = client.post(f"/lti/register/{slug}", data=fields)
    assert again.status_code == 403


def test_bad_invitations_are_refused(lti_env: Env) -> None:
    platform = lti_env.platform
    client = lti_env.app.test_client()
    _, slug, invite = _tenant_and_invite(lti_env)
    _, other_slug, _ = _tenant_and_invite(lti_env)
    _, expired_slug, expired = _tenant_and_invite(lti_env, ttl=timedelta(seconds=-1))
    config = platform.openid_configuration_url
    for path, token in ((f"/lti/register/{other_slug}", invite), (f"/lti/register/{slug}", "guess"),
                        (f"/lti/register/{expired_slug}", expired), ("/lti/register/no-such-tenant", invite)):
        response = client.get(path, query_string={"invite": token, "openid_configuration": config})
        assert response.status_code == 403, path
    missing = client.get(f"/lti/register/{slug}", query_string={"invite": invite})
    assert missing.status_code == 400 and "openid_configuration" in error_message(missing)


def test_platform_refusals_leave_the_invitation_usable(lti_env: Env) -> None:
    platform = lti_env.platform
    client = lti_env.app.test_client()
    tenant_id, slug, invite = _tenant_and_invite(lti_env)
    # DR §3.5.1: a configuration whose issuer is another site than the one that served it.
    foreign = platform.openid_configuration_url.replace("127.0.0.1", "localhost")
    mismatch = client.post(f"/lti/register/{slug}", data={"invite": invite, "openid_configuration": foreign})
    assert mismatch.status_code == 400 and "issuer" in error_message(mismatch)

    refused = client.post(f"/lti/register/{slug}", data={"invite": invite, "registration_token": "wrong",
                                                         "openid_configuration": platform.openid_configuration_url})
    assert refused.status_code == 400 and "refused" in error_message(refused)
    with lti_env.db.session() as session:
        assert session.scalar(select(LtiRegistration).where(LtiRegistration.tenant_id == tenant_id)) is None
        invite_row = session.scalar(select(LtiRegistrationInvite).where(LtiRegistrationInvite.tenant_id == tenant_id))
        assert invite_row is not None and invite_row.used is None
        assert invite_row.expires.replace(tzinfo=UTC) > datetime.now(UTC)

    ok = client.post(f"/lti/register/{slug}", data={"invite": invite, "registration_token":
                                                    platform.new_registration_token(),
                                                    "openid_configuration": platform.openid_configuration_url})
    assert ok.status_code == 200
