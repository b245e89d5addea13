"""LTI Dynamic Registration 1.0: an LMS administrator pastes the tenant's one-time URL; the
platform ends up registered for that tenant, and its launches work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from lrs import credentials
from lti_tool import dynamic_registration
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


def _canvas_like(platform: Any, monkeypatch: pytest.MonkeyPatch, *, endpoints_host: str = "localhost",
                 family: bool = True, product: str = "canvas") -> str:
    """The test platform answering as hosted Canvas does: the configuration on the school's domain
    (here 127.0.0.1), the issuer and the login, token and key endpoints on the vendor's (here
    localhost, the same server); returns that issuer."""
    port = platform.url.rsplit(":", 1)[1]
    issuer = f"http://localhost:{port}"
    original = platform._openid_configuration

    def configuration() -> dict[str, Any]:
        data = original()
        data.update(issuer=issuer, authorization_endpoint=f"http://{endpoints_host}:{port}/auth",
                    token_endpoint=f"http://{endpoints_host}:{port}/token",
                    jwks_uri=f"http://{endpoints_host}:{port}/jwks")
        data[dynamic_registration.PLATFORM_CONFIG]["product_family_code"] = product
        return data

    monkeypatch.setattr(platform, "_openid_configuration", configuration)
    if family:
        monkeypatch.setattr(dynamic_registration, "ISSUER_FAMILIES", (dynamic_registration.IssuerFamily(
            "canvas", {issuer: frozenset({"localhost"})}),))
    return issuer


def _register(env: Env, slug: str, invite: str) -> Any:
    platform = env.platform
    params = {"invite": invite, "openid_configuration": platform.openid_configuration_url,
              "registration_token": platform.new_registration_token()}
    return env.app.test_client().post(f"/lti/register/{slug}", data=params)


def test_canvas_issuer_on_another_host_is_accepted_when_the_configuration_says_so(
        lti_env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """DR 1.0 §3.5.1 as hosted Canvas needs it: its configuration, on the school's domain, names the
    vendor's issuer, and its endpoints are on the vendor's hosts (Canvas docs, "Launch Overview",
    "Registering an LTI Tool"). Accepted, and stored with that issuer."""
    issuer = _canvas_like(lti_env.platform, monkeypatch)
    tenant_id, slug, invite = _tenant_and_invite(lti_env)
    done = _register(lti_env, slug, invite)
    assert done.status_code == 200, done.get_data(as_text=True)
    with lti_env.db.session() as session:
        row = session.scalar(select(LtiRegistration).where(LtiRegistration.tenant_id == tenant_id))
        assert row is not None and row.issuer == issuer and row.keyset_url.startswith("http://localhost:")


def test_canvas_production_issuers_are_known() -> None:
    [canvas] = dynamic_registration.ISSUER_FAMILIES
    assert canvas.product_family_code == "canvas"
    assert "sso.canvaslms.com" in canvas.issuers["https://canvas.instructure.com"]


@pytest.mark.parametrize(("case", "words"), [
    ("no family", "does not say why"),               # any other platform: still refused
    ("another product", "does not say why"),          # the configuration does not claim Canvas
    ("endpoints elsewhere", "other hosts"),           # claims Canvas's issuer, keys from somewhere else
])
def test_an_issuer_mismatch_the_platform_does_not_explain_is_refused(
        case: str, words: str, lti_env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """DR 1.0 §3.5.1: the tool MUST refuse a configuration whose issuer is not the site serving it,
    unless (Canvas) the configuration itself explains it; nothing is stored."""
    _canvas_like(lti_env.platform, monkeypatch, family=case != "no family",
                 product="moodle" if case == "another product" else "canvas",
                 endpoints_host="127.0.0.1" if case == "endpoints elsewhere" else "localhost")
    tenant_id, slug, invite = _tenant_and_invite(lti_env)
    refused = _register(lti_env, slug, invite)
    assert refused.status_code == 400 and words in error_message(refused)
    with lti_env.db.session() as session:
        assert session.scalar(select(LtiRegistration).where(LtiRegistration.tenant_id == tenant_id)) is None
