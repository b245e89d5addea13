"""The tenant administrators' page at /lti/admin: their LMS registrations, the tool's URLs an LMS
needs, a form to register a platform and a button for a one-time Dynamic Registration link.

Who: a tenant's own administrators, by HTTP Basic with one of that tenant's LRS credentials that
holds the xAPI ``all`` scope (the same key:secret the xAPI endpoint takes). The credential decides
the tenant, so an administrator only ever sees and changes their own tenant's registrations.

Browsers resend Basic credentials on every request to the site, cross-site ones included, so every
POST carries a CSRF token kept in the signed session and compared here (the session cookie may be
SameSite=None for the player's iframe, which gives no protection of its own).

The page only parses, calls ``lti_tool.registrations`` / ``lti_tool.dynamic_registration`` (which
validate) and renders; it holds no domain rules of its own.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from lrs.credentials import Principal, authenticate
from lrs.errors import Unauthorized
from lrs.storage import Tenant, as_utc
from lti_tool.dynamic_registration import create_invite
from lti_tool.errors import (
    AdminForbidden,
    AdminUnauthorized,
    CsrfFailed,
    InvalidConfiguration,
    LtiError,
    as_lti_error,
)
from lti_tool.lms_guides import GUIDES, tool_values
from lti_tool.registrations import (
    PlatformSpec,
    add_platform,
    describe,
    get_platform,
    list_platforms,
    remove_platform,
    score_counts,
    set_disabled,
)
from lti_tool.services import EXTENSION, LtiTool

log = logging.getLogger(__name__)
bp = Blueprint("lti_admin", __name__, template_folder="templates")
REALM = "hocvu admin"
CSRF_KEY = "lti_admin_csrf"
ADMIN_SCOPE = "all"
# The form's fields, in the order of `hocvu lti platform add`'s options.
FIELDS = ("name", "issuer", "client_id", "deployment_ids", "auth_login_url", "token_url", "keyset_url",
          "auth_audience")


@dataclass(frozen=True)
class ToolUrls:
    """What an LMS administrator types into the LMS's tool configuration."""

    login: str
    launch: str
    jwks: str
    deep_linking: str   # Deep Linking requests land on the launch URL too (as Dynamic Registration declares)


def _tool() -> LtiTool:
    tool: LtiTool = current_app.extensions[EXTENSION]
    return tool


def _principal() -> Principal:
    principal: Principal = g.lti_admin
    return principal


def _tenant(db: Session) -> Tenant:
    tenant = db.get(Tenant, _principal().tenant_id)
    if tenant is None:  # the credential outlived its tenant: treat it as not authenticating
        raise AdminUnauthorized("this credential's tenant no longer exists")
    return tenant


def _csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def _check_csrf() -> None:
    expected, sent = session.get(CSRF_KEY), request.form.get("csrf_token", "")
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfFailed("the form's security token is missing or does not match; reload the page and try again")


@bp.before_request
def _authenticate() -> None:
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        raise AdminUnauthorized("sign in with one of your tenant's LRS credentials (key and secret)")
    with _tool().session() as db:
        try:
            principal = authenticate(db, auth.username, auth.password or "")
        except Unauthorized as exc:
            raise AdminUnauthorized(exc.message) from None
    # has_any("all") is true only for a credential that holds "all" itself ("all/read" is not enough).
    if not principal.has_any(ADMIN_SCOPE):
        raise AdminForbidden("this credential lacks the 'all' scope needed to manage LMS registrations")
    g.lti_admin = principal
    if request.method == "POST":
        _check_csrf()


@bp.after_request
def _headers(response: Response) -> Response:
    # The pages show a tenant's configuration and one-time links: never cached, never framed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


def _tool_urls() -> ToolUrls:
    tool = _tool()
    return ToolUrls(login=tool.login_url, launch=tool.launch_url, jwks=tool.jwks_url, deep_linking=tool.launch_url)


def _page(db: Session, tenant: Tenant, *, status: int = 200, values: dict[str, str] | None = None,
          error: LtiError | None = None, invite_url: str | None = None, invite_expires: str | None = None) -> Response:
    rows = [describe(r, tenant.slug) | {"created": as_utc(r.created)} for r in list_platforms(db, tenant)]
    urls = _tool_urls()
    values_by_key = tool_values(urls.login, urls.launch, urls.jwks)
    guides = [(guide, guide.filled(values_by_key)) for guide in GUIDES]
    html = render_template("lti/admin/index.html", tenant=tenant, rows=rows, urls=urls, guides=guides,
                           values=values or {}, error=error, csrf_token=_csrf_token(),
                           invite_url=invite_url, invite_expires=invite_expires, key=_principal().key)
    return Response(html, status=status, content_type="text/html; charset=utf-8")


@bp.get("/")
def index() -> Response:
    with _tool().session() as db:
        return _page(db, _tenant(db))


def _deployment_ids(raw: str) -> list[str]:
    # One per line or separated by commas: both are how LMSs show lists of ids.
    return [d.strip() for d in raw.replace(",", "\n").splitlines() if d.strip()]


@bp.post("/platforms")
def add() -> BaseResponse:
    values = {f: request.form.get(f, "").strip() for f in FIELDS}
    with _tool().session() as db:
        tenant = _tenant(db)
        deployment_ids = _deployment_ids(values["deployment_ids"])
        spec = PlatformSpec(issuer=values["issuer"], client_id=values["client_id"],
                            auth_login_url=values["auth_login_url"], token_url=values["token_url"],
                            keyset_url=values["keyset_url"], auth_audience=values["auth_audience"] or None,
                            name=values["name"])
        try:
            if not deployment_ids:
                # As `hocvu lti platform add`: without one no launch is accepted (LTI Core 1.3 §3.1.3).
                raise InvalidConfiguration("at least one deployment id is required")
            row = add_platform(db, tenant, spec, deployment_ids)
            db.commit()
        except LtiError as err:
            db.rollback()
            log.info("admin %s: platform not registered for tenant %s: %s", _principal().key, tenant.slug, err.message)
            return _page(db, tenant, status=err.status, values=values, error=err)
        log.info("admin %s registered %s client %s for tenant %s", _principal().key, row.issuer, row.client_id,
                 tenant.slug)
        flash(f"{row.issuer} · {row.client_id}", "registered")
    # POST → GET (303): a reload of the list does not submit the form again.
    return redirect(url_for(".index"), 303)


# --- one registration: show, disable, enable, remove (each change confirmed, each an audit line) ---

ACTIONS = {"disable": "Tạm dừng / Disable", "remove": "Xoá / Remove"}
DONE = {"disable": "Đã tạm dừng / Disabled", "enable": "Đã bật lại / Enabled", "remove": "Đã xoá / Removed"}


def _actor() -> str:
    return f"admin:{_principal().key}"


@bp.get("/platforms/<int:registration_id>")
def show(registration_id: int) -> Response:
    with _tool().session() as db:
        tenant = _tenant(db)
        row = get_platform(db, registration_id, tenant)
        data = describe(row, tenant.slug) | {"created": as_utc(row.created)}
        html = render_template("lti/admin/platform.html", tenant=tenant, r=data, scores=score_counts(db, row),
                               csrf_token=_csrf_token(), confirm=None, key=_principal().key)
    return Response(html, content_type="text/html; charset=utf-8")


@bp.get("/platforms/<int:registration_id>/<any(disable, remove):action>")
def confirm(registration_id: int, action: str) -> Response:
    """The confirmation page: a GET never changes anything; the page's form POSTs the change."""
    with _tool().session() as db:
        tenant = _tenant(db)
        row = get_platform(db, registration_id, tenant)
        data = describe(row, tenant.slug) | {"created": as_utc(row.created)}
        html = render_template("lti/admin/platform.html", tenant=tenant, r=data, scores=score_counts(db, row),
                               csrf_token=_csrf_token(), confirm=action, action_label=ACTIONS[action],
                               key=_principal().key)
    return Response(html, content_type="text/html; charset=utf-8")


@bp.post("/platforms/<int:registration_id>/<any(disable, enable, remove):action>")
def change(registration_id: int, action: str) -> BaseResponse:
    if action != "enable" and request.form.get("confirm") != "yes":
        return redirect(url_for(".confirm", registration_id=registration_id, action=action), 303)
    with _tool().session() as db:
        tenant = _tenant(db)
        row = get_platform(db, registration_id, tenant)
        label = f"{row.issuer} · {row.client_id}"
        if action == "remove":
            remove_platform(db, row, actor=_actor(), discard_pending=request.form.get("discard_pending") == "yes")
        else:
            set_disabled(db, row, action == "disable", actor=_actor())
        db.commit()
    flash(f"{DONE[action]}: {label}", "changed")
    return redirect(url_for(".index"), 303)


@bp.post("/invites")
def invite() -> Response:
    with _tool().session() as db:
        tenant = _tenant(db)
        created, token = create_invite(db, tenant)
        db.commit()
        # Shown in this answer only (not redirected: the token must not sit in a URL or the session).
        url = f"{_tool().base_url.rstrip('/')}/lti/register/{tenant.slug}?invite={token}"
        log.info("admin %s made a registration link for tenant %s", _principal().key, tenant.slug)
        return _page(db, tenant, invite_url=url, invite_expires=created.expires.strftime("%Y-%m-%d %H:%M UTC"))


def _render_error(err: LtiError) -> Response:
    page = render_template("lti/admin/error.html", title=err.title, message=err.message, status=err.status,
                           code=err.code)
    response = Response(page, status=err.status, content_type="text/html; charset=utf-8")
    if err.status == 401:
        response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'  # RFC 7617 §2
    return response


@bp.errorhandler(LtiError)
def _admin_error(err: LtiError) -> Response:
    log.info("LTI admin request refused (%s %s): %s", err.status, err.code, err.message)
    return _render_error(err)


@bp.errorhandler(Exception)
def _admin_unexpected(exc: Exception) -> Any:
    # Without this the app-wide xAPI handlers would answer these HTML pages with JSON.
    if not isinstance(exc, HTTPException):
        log.exception("unhandled error on %s %s", request.method, request.path)
    return _render_error(as_lti_error(exc, "the admin page"))
