"""The tenant administrators' page at /lti/admin: Basic auth with an ``all``-scope credential of the
tenant, the tenant's registrations only, the add form (domain validation, CSRF) and the one-time
Dynamic Registration link. Runs on the real app and database that tests/lti/conftest.py builds."""

from __future__ import annotations

import base64
import html
import re
import uuid

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from lrs import credentials
from lti_tool import dynamic_registration, registrations
from lti_tool.registrations import PlatformSpec
from lti_tool.storage import LtiRegistration
from tests.conftest import new_credential
from tests.lti.conftest import Env, Lms

ISSUER = "https://lms.moet.example.vn"


class Admin:
    """A browser signed in with one credential: Basic auth on every request, cookies kept."""

    def __init__(self, client: FlaskClient, slug: str, key: str, secret: str) -> None:
        self.client, self.slug, self.key = client, slug, key
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def get(self, path: str = "/lti/admin/") -> TestResponse:
        return self.client.get(path, headers=self.headers)

    def post(self, path: str, data: dict[str, str]) -> TestResponse:
        return self.client.post(path, data=data, headers=self.headers)

    def csrf(self) -> str:
        page = self.get()
        assert page.status_code == 200, page.get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
        assert match
        return match.group(1)


def admin_for(env: Env, slug: str | None = None, scopes: tuple[str, ...] = ("all",)) -> Admin:
    slug, key, secret = new_credential(env.app, list(scopes), slug)
    return Admin(env.app.test_client(), slug, key, secret)


def platform_form(**overrides: str) -> dict[str, str]:
    client_id = f"c-{uuid.uuid4().hex[:8]}"
    fields = {"name": "Moodle Bộ GD&ĐT", "issuer": ISSUER, "client_id": client_id, "deployment_ids": "d1\nd2",
              "auth_login_url": f"{ISSUER}/auth", "token_url": f"{ISSUER}/token", "keyset_url": f"{ISSUER}/jwks",
              "auth_audience": ""}
    fields.update(overrides)
    return fields


def stored(env: Env, slug: str) -> list[LtiRegistration]:
    with env.db.session() as session:
        tenant = credentials.get_tenant(session, slug)
        rows = registrations.list_platforms(session, tenant)
        for row in rows:
            _ = row.deployments  # load them before the session closes
        return rows


def text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_no_credentials_get_a_basic_challenge(lti_env: Env) -> None:
    response = lti_env.app.test_client().get("/lti/admin/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="hocvu admin"'
    assert response.headers["Cache-Control"] == "no-store"


def test_wrong_secret_is_refused_with_the_challenge(lti_env: Env) -> None:
    admin = admin_for(lti_env)
    admin.headers["Authorization"] = admin.headers["Authorization"][:-4] + "AAA="
    response = admin.get()
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="hocvu admin"'
    # A POST with bad credentials is refused before anything else is looked at.
    assert admin.post("/lti/admin/invites", {}).status_code == 401


@pytest.mark.parametrize("scopes", [("statements/write",), ("all/read", "statements/read", "define")])
def test_credential_without_all_scope_is_forbidden(lti_env: Env, scopes: tuple[str, ...]) -> None:
    admin = admin_for(lti_env, scopes=scopes)
    page = admin.get()
    assert page.status_code == 403
    assert "WWW-Authenticate" not in page.headers
    assert admin.post("/lti/admin/platforms", platform_form()).status_code == 403
    assert stored(lti_env, admin.slug) == []


def test_revoked_credential_is_unauthorized(lti_env: Env) -> None:
    slug, key, secret = new_credential(lti_env.app, ["all"])
    with lti_env.db.session() as session:
        credentials.revoke_credential(session, key)
        session.commit()
    assert Admin(lti_env.app.test_client(), slug, key, secret).get().status_code == 401


def test_listing_shows_only_the_tenants_registrations(lti_env: Env, lms: Lms) -> None:
    other = admin_for(lti_env)  # another tenant, with its own LMS
    with lti_env.db.session() as session:
        tenant = credentials.get_tenant(session, other.slug)
        registrations.add_platform(session, tenant, PlatformSpec(
            issuer="https://other-lms.example.vn", client_id="other-client",
            auth_login_url="https://other-lms.example.vn/auth", token_url="https://other-lms.example.vn/token",
            keyset_url="https://other-lms.example.vn/jwks"), ["other-dep"])
        session.commit()

    page = admin_for(lti_env, lms.tenant_slug).get()
    assert page.status_code == 200
    body = text(page)
    assert lms.client.client_id in body and lms.client.deployment_id in body
    assert lti_env.platform.issuer in body
    assert "other-client" not in body and "other-lms.example.vn" not in body
    # The tool's URLs an LMS needs.
    for path in ("/lti/login", "/lti/launch", "/lti/jwks"):
        assert lti_env.tool_url + path in body
    assert "Deep Linking" in body and 'lang="vi"' in body

    other_body = text(other.get())
    assert "other-client" in other_body and lms.client.client_id not in other_body


def test_add_platform_through_the_form(lti_env: Env) -> None:
    admin = admin_for(lti_env)
    fields = platform_form(deployment_ids="d1, d2\nd3")
    response = admin.post("/lti/admin/platforms", {**fields, "csrf_token": admin.csrf()})
    assert response.status_code == 303 and response.headers["Location"].endswith("/lti/admin/")

    [row] = stored(lti_env, admin.slug)
    assert (row.issuer, row.client_id, row.name) == (ISSUER, fields["client_id"], "Moodle Bộ GD&ĐT")
    assert [d.deployment_id for d in row.deployments] == ["d1", "d2", "d3"]
    assert (row.auth_login_url, row.token_url, row.keyset_url, row.auth_audience) == (
        f"{ISSUER}/auth", f"{ISSUER}/token", f"{ISSUER}/jwks", None)

    page = text(admin.get())
    assert "Registered" in page and fields["client_id"] in page and "d3" in page
    assert "Moodle Bộ GD&ĐT" in page


def test_bad_url_shows_the_error_keeps_the_values_and_stores_nothing(lti_env: Env) -> None:
    admin = admin_for(lti_env)
    fields = platform_form(issuer="http://lms.example.vn", name="Trường <b>A</b>")
    response = admin.post("/lti/admin/platforms", {**fields, "csrf_token": admin.csrf()})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert 'id="add-error"' in body and "issuer must use https" in body
    assert 'value="http://lms.example.vn"' in body and f'value="{fields["client_id"]}"' in body
    assert "Trường &lt;b&gt;A&lt;/b&gt;" in body and "<b>A</b>" not in body  # escaped
    assert stored(lti_env, admin.slug) == []

    no_deployment = admin.post("/lti/admin/platforms", {**platform_form(deployment_ids=" "),
                                                        "csrf_token": admin.csrf()})
    assert no_deployment.status_code == 400 and "deployment id" in no_deployment.get_data(as_text=True)
    assert stored(lti_env, admin.slug) == []


def test_another_tenants_platform_is_a_conflict(lti_env: Env, lms: Lms) -> None:
    admin = admin_for(lti_env)
    fields = platform_form(issuer=lti_env.platform.issuer, client_id=lms.client.client_id,
                           auth_login_url=lti_env.platform.auth_url, token_url=lti_env.platform.token_url,
                           keyset_url=lti_env.platform.jwks_url)
    response = admin.post("/lti/admin/platforms", {**fields, "csrf_token": admin.csrf()})
    assert response.status_code == 409 and "another tenant" in response.get_data(as_text=True)
    assert stored(lti_env, admin.slug) == []
    assert [r.id for r in stored(lti_env, lms.tenant_slug)] == [lms.registration_id]


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_missing_or_wrong_csrf_token_is_refused(lti_env: Env, token: str | None) -> None:
    admin = admin_for(lti_env)
    admin.csrf()  # the session has a token; the forged form does not carry it
    data = platform_form() | ({} if token is None else {"csrf_token": token})
    response = admin.post("/lti/admin/platforms", data)
    assert response.status_code == 400 and "csrf_failed" in response.get_data(as_text=True)
    assert stored(lti_env, admin.slug) == []
    assert admin.post("/lti/admin/invites", {} if token is None else {"csrf_token": token}).status_code == 400


def test_csrf_token_of_another_session_is_refused(lti_env: Env) -> None:
    admin = admin_for(lti_env)
    token = admin_for(lti_env, admin.slug).csrf()  # same tenant, another browser
    admin.csrf()
    response = admin.post("/lti/admin/platforms", {**platform_form(), "csrf_token": token})
    assert response.status_code == 400
    assert stored(lti_env, admin.slug) == []


def test_registration_link_is_shown_once_and_valid(lti_env: Env) -> None:
    admin = admin_for(lti_env)
    response = admin.post("/lti/admin/invites", {"csrf_token": admin.csrf()})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    match = re.search(r'id="invite-url"[^>]*value="([^"]+)"', response.get_data(as_text=True))
    assert match
    url = html.unescape(match.group(1))
    prefix = f"{lti_env.tool_url}/lti/register/{admin.slug}?invite="
    assert url.startswith(prefix)
    with lti_env.db.session() as session:  # the same invitation `hocvu lti register-url` makes
        tenant, invite = dynamic_registration.check_invite(session, admin.slug, url[len(prefix):])
        assert tenant.slug == admin.slug and invite.used is None
    # Shown once: the list page does not show it again.
    assert "invite=" not in admin.get().get_data(as_text=True)
