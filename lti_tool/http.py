"""The LTI blueprint at /lti: parse, call the protocol modules, render. Every failure is an
``LtiError`` rendered as an HTML page with its status; nothing is stored on a failed launch.

Routes: /lti/login (OIDC login initiation), /lti/launch (id_token launch), /lti/jwks (our keys),
/lti/deep-link (the picker's answer), /lti/register/<tenant> (Dynamic Registration).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, render_template, request, url_for
from pylti1p3.contrib.flask.request import FlaskRequest
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response as BaseResponse

from lrs.storage import Database
from lti_tool import claims as lti
from lti_tool import deep_linking, dynamic_registration, http_admin, keys, roster_page
from lti_tool.errors import BadLaunch, LaunchForbidden, LtiError, as_lti_error
from lti_tool.grades import AgsReporter, ScoreComment
from lti_tool.launch_cache import make_cache
from lti_tool.launch_context import AGS_REPORTER
from lti_tool.message_launch import HubMessageLaunch, HubOIDCLogin, TimeoutSession, restore_launch
from lti_tool.platform_keys import PlatformKeys
from lti_tool.proctoring import http as http_proctoring
from lti_tool.services import EXTENSION, LtiTool
from player.pages import open_session, register_reporter

log = logging.getLogger(__name__)
bp = Blueprint("lti", __name__, template_folder="templates")
PLAYER_FALLBACK = "/player/"


@dataclass(frozen=True)
class LtiConfig:
    db: Database
    secret_key: str = field(repr=False)   # seals the tool's private keys (lti_tool.keys.KeyRing)
    base_url: str                         # the hub's public URL: launch, login and JWKS URLs hang off it
    redis_url: str | None = None          # nonce/launch/token store; the database when None
    http_timeout: float = 10.0
    jwks_min_age: float = 300.0           # platform key sets cached within [min, max] seconds
    jwks_max_age: float = 86400.0
    jwks_refetch_seconds: float = 30.0    # at most one unknown-kid refetch per keyset URL this often
    token_margin_seconds: float = 60.0    # access tokens dropped this long before expires_in
    score_comment: ScoreComment | None = None   # the AGS Score comment (the learner's credential link)


def _tool() -> LtiTool:
    tool: LtiTool = current_app.extensions[EXTENSION]
    return tool


def _player_url() -> str:
    try:
        return url_for("player.open")
    except BuildError:  # the player blueprint is not registered (yet): its documented path
        return PLAYER_FALLBACK


def _no_store(response: BaseResponse) -> BaseResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse:
    """Security Framework 1.0 §5.1.1: third-party initiated login → redirect to the platform's
    authorization endpoint with state (cookie) and nonce (cache)."""
    tool = _tool()
    with tool.session() as db:
        oidc = HubOIDCLogin(FlaskRequest(), tool.conf(db), tool.storage())
        return _no_store(oidc.start(tool.launch_url))


@bp.post("/launch")
def launch() -> BaseResponse:
    tool = _tool()
    with tool.session() as db:
        conf = tool.conf(db)
        message = HubMessageLaunch(FlaskRequest(), conf, launch_data_storage=tool.storage(), requests_session=tool.http)
        message.validate()
        body = message.claims()
        row = conf.registration_row(body["iss"], message.get_client_id())
        assert row is not None  # validate() found it
        if message.is_deep_link_launch():
            return _no_store(_picker(message, body))
        try:
            if not message.is_resource_launch():
                raise BadLaunch(f"this tool does not handle {body.get(lti.MESSAGE_TYPE)} messages")
            context = lti.launch_context(body, tenant_id=row.tenant_id, registration_id=row.id)
        finally:
            message.drop_cached()
    open_session(context.player_session())
    # POST → GET: 303 See Other, so a reload of the player never re-posts the id_token.
    return _no_store(redirect(_player_url(), 303))


def _picker(message: HubMessageLaunch, body: dict[str, Any]) -> Response:
    roles = body.get(lti.ROLES) or []
    if not lti.is_staff(roles):
        message.drop_cached()
        raise LaunchForbidden("only instructors can add course content")
    settings = deep_linking.PickerSettings.from_claim(body[lti.DL_SETTINGS])
    locale = lti.locale_of(body)
    items = deep_linking.load_catalogue(locale)
    return Response(render_template("lti/picker.html", items=items, settings=settings, locale=locale,
                                    launch_id=message.get_launch_id(),
                                    action=url_for("lti.deep_link_response")))


@bp.post("/deep-link")
def deep_link_response() -> BaseResponse:
    """Deep Linking 2.0 §4.5: answer the platform with the picked items, signed with our key, by
    an auto-submitted form POST to deep_link_return_url."""
    tool = _tool()
    with tool.session() as db:
        message = restore_launch(request.form.get("launch_id", ""), FlaskRequest(), tool.conf(db), tool.storage(),
                                 tool.http)
        body = message.claims()
        if not message.is_deep_link_launch():
            raise BadLaunch("this launch is not a deep linking request")
        if not lti.is_staff(body.get(lti.ROLES) or []):
            raise LaunchForbidden("only instructors can add course content")
        dl_settings = body[lti.DL_SETTINGS]
        settings = deep_linking.PickerSettings.from_claim(dl_settings)
        picked = [] if request.form.get("cancel") else request.form.getlist("target")
        chosen = deep_linking.choose(deep_linking.load_catalogue(lti.locale_of(body)), picked, settings)
        resources = deep_linking.resource_links(chosen, settings, tool.launch_url)
        return_url = str(dl_settings.get("deep_link_return_url") or "")
        if urlsplit(return_url).scheme not in ("https", "http"):
            raise BadLaunch("the platform's deep_link_return_url is not an http(s) URL")
        token = message.get_deep_link().get_response_jwt(resources)
        message.drop_cached()  # one answer per deep-linking launch
    return _no_store(Response(render_template("lti/deep_link_response.html", return_url=return_url, jwt=token)))


@bp.get("/jwks")
def jwks() -> Response:
    """Security Framework 1.0 §6.3: our public keys, every one not retired."""
    tool = _tool()
    with tool.session() as db:
        keys.ensure_key(db, tool.ring)
        response = jsonify(keys.jwks(db))
    # Short caching: a rotated-in key reaches platforms quickly; the old key stays until retired.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/register/<tenant_slug>", methods=["GET", "POST"])
def register(tenant_slug: str) -> BaseResponse:
    """LTI Dynamic Registration 1.0 §3.3–3.7 for the tenant named by a one-time invitation."""
    tool = _tool()
    params = request.values
    config_url = params.get("openid_configuration", "")
    registration_token = params.get("registration_token") or None
    with tool.session() as db:
        tenant, invite = dynamic_registration.check_invite(db, tenant_slug, params.get("invite", ""))
        if not config_url:
            raise BadLaunch("openid_configuration is missing: paste this URL into the LMS's "
                            "LTI Advantage tool registration, which adds it")
        config = dynamic_registration.fetch_platform_configuration(tool.http, config_url, registration_token)
        if request.method == "GET":  # §3.3: the tool may show its own UI before registering
            return _no_store(Response(render_template(
                "lti/register_confirm.html", tenant=tenant, config=config, invite=params.get("invite", ""),
                openid_configuration=config_url, registration_token=registration_token or "")))
        dynamic_registration.claim_invite(db, invite)
        try:
            body = dynamic_registration.client_registration(config, launch_url=tool.launch_url,
                                                            login_url=tool.login_url, jwks_url=tool.jwks_url)
            keys.ensure_key(db, tool.ring)  # the platform may fetch our JWKS right away
            answer = dynamic_registration.register_client(tool.http, config, registration_token, body)
            row = dynamic_registration.complete(db, tenant, invite, config, answer)
            db.commit()
        except Exception:
            dynamic_registration.release_invite(db, invite)
            raise
        log.info("LTI platform %s client %s registered for tenant %s", row.issuer, row.client_id, tenant.slug)
        # §3.7: the page tells the platform it may close the registration window.
        return _no_store(Response(render_template("lti/register_done.html", tenant=tenant, issuer=row.issuer)))


@bp.errorhandler(LtiError)
def _render_lti_error(err: LtiError) -> BaseResponse:
    if err.status >= 500:
        log.warning("LTI %s: %s", err.code, err.message)
    else:
        log.info("LTI request refused (%s %s): %s", err.status, err.code, err.message)
    page = render_template("lti/error.html", title=err.title, message=err.message, status=err.status, code=err.code)
    response = Response(page, status=err.status, content_type="text/html; charset=utf-8")
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'  # RFC 6750 §3
    return _no_store(response)


@bp.errorhandler(Exception)
def _render_unexpected(exc: Exception) -> BaseResponse:
    if not isinstance(exc, HTTPException):
        log.exception("unhandled error on %s %s", request.method, request.path)
    return _render_lti_error(as_lti_error(exc, "the LTI tool"))


def init_app(app: Flask, cfg: LtiConfig) -> LtiTool:
    http = TimeoutSession(cfg.http_timeout)
    tool = LtiTool(db=cfg.db, ring=keys.KeyRing.from_secret(cfg.secret_key), cache=make_cache(cfg.redis_url, cfg.db),
                   base_url=cfg.base_url.rstrip("/"), http=http,
                   platform_keys=PlatformKeys(http, min_age=cfg.jwks_min_age, max_age=cfg.jwks_max_age,
                                              refetch_interval=cfg.jwks_refetch_seconds),
                   token_margin=cfg.token_margin_seconds)
    app.extensions[EXTENSION] = tool
    app.register_blueprint(bp, url_prefix="/lti")
    app.register_blueprint(http_admin.bp, url_prefix="/lti/admin")
    # Proctoring Services 1.0: /lti/proctoring, and proctoring id_tokens posted to /lti/launch.
    http_proctoring.init_app(app)
    # The player's side: the instructor's roster page, and grades back to the LMS by AGS.
    roster_page.init_app(app)
    register_reporter(app, AGS_REPORTER, AgsReporter(comment=cfg.score_comment))
    if cfg.base_url.startswith("https://") and app.config.get("SESSION_COOKIE_SAMESITE") is None:
        # The player runs inside the LMS's iframe (a third-party context): the session cookie that
        # carries the launch must be SameSite=None; Secure or the browser will not send it back.
        app.config.update(SESSION_COOKIE_SAMESITE="None", SESSION_COOKIE_SECURE=True)
    return tool
