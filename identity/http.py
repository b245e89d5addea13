"""The identity blueprint at ``/identity``: sign in with VNeID, the callback, sign out, and a small
page showing who is signed in. Thin (DESIGN.md): parse, call ``identity.oidc_client`` and
``identity.storage``, render. Page text is Vietnamese by default, English with ``?lang=en``.

The login in progress (state, nonce, PKCE verifier) and the signed-in account id live in Flask's
signed session cookie: web processes stay stateless (DESIGN.md, Scale), and only the browser that
started a login can finish it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import requests
from flask import Blueprint, Flask, Response, current_app, redirect, render_template_string, request, session
from werkzeug.wrappers import Response as BaseResponse

from identity import storage, web
from identity.errors import BadRequest, IdentityError, InvalidState
from identity.oidc_client import OidcClient, PendingLogin
from identity.settings import IdentitySettings
from lrs.storage import Database

log = logging.getLogger(__name__)
bp = Blueprint("identity", __name__)
PREFIX = "/identity"
PENDING_KEY, ACCOUNT_KEY = "identity.pending", "identity.account"
MAX_PENDING = 3  # logins in progress per browser (a few tabs), bounded so the cookie stays small


@dataclass(frozen=True)
class IdentityConfig:
    settings: IdentitySettings
    db: Database
    client: OidcClient


def config() -> IdentityConfig:
    cfg: IdentityConfig = current_app.extensions["identity"]
    return cfg


def signed_in_account_id() -> int | None:
    """The VNeID account signed in in this browser session, for other blueprints (LTI)."""
    value = session.get(ACCOUNT_KEY)
    return value if isinstance(value, int) else None


TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Định danh VNeID", "signed_in_as": "Đang đăng nhập", "name": "Họ và tên",
        "birthdate": "Ngày sinh", "level": "Mức định danh", "issuer": "Nhà cung cấp định danh",
        "citizen_id": "Số định danh cá nhân", "citizen_id_kept": "đã xác minh; chỉ lưu mã băm có khoá, không lưu số",
        "citizen_id_none": "không có", "not_signed_in": "Bạn chưa đăng nhập.", "login": "Đăng nhập bằng VNeID",
        "logout": "Đăng xuất", "logout_confirm": "Bạn muốn đăng xuất khỏi hocvu?", "error": "Không đăng nhập được",
        "code": "Mã lỗi", "back": "Quay lại", "switch": "English", "switch_lang": "en",
    },
    "en": {
        "title": "VNeID identity", "signed_in_as": "Signed in", "name": "Full name", "birthdate": "Date of birth",
        "level": "Identification level", "issuer": "Identity provider", "citizen_id": "Personal ID number",
        "citizen_id_kept": "verified; kept only as a keyed hash, never the number", "citizen_id_none": "none",
        "not_signed_in": "You are not signed in.", "login": "Sign in with VNeID", "logout": "Sign out",
        "logout_confirm": "Sign out of hocvu?", "error": "Sign-in failed", "code": "Error code", "back": "Back",
        "switch": "Tiếng Việt", "switch_lang": "vi",
    },
}
# What the person can do about an error, by code; the technical message is shown under it.
HINTS: dict[str, dict[str, str]] = {
    "vi": {
        "invalid_state": "Phiên đăng nhập đã hết hạn hoặc không khớp. Vui lòng đăng nhập lại.",
        "login_rejected": "Nhà cung cấp định danh đã từ chối đăng nhập.",
        "insufficient_level": "Dịch vụ này cần tài khoản định danh điện tử mức cao hơn.",
        "identity_not_configured": "Chưa cấu hình đăng nhập VNeID.",
        "provider_unavailable": "Không kết nối được nhà cung cấp định danh. Vui lòng thử lại sau.",
    },
    "en": {
        "invalid_state": "The sign-in expired or does not match. Please sign in again.",
        "login_rejected": "The identity provider refused the sign-in.",
        "insufficient_level": "This service needs a higher identification level.",
        "identity_not_configured": "VNeID sign-in is not configured.",
        "provider_unavailable": "The identity provider cannot be reached. Please try again later.",
    },
}
PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t.title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;overflow-wrap:anywhere}
dt{font-weight:600}dd{margin:0 0 .6rem}.err{color:#a33}small{color:#595959}</style></head><body>
<p style="text-align:right"><a href="?lang={{ t.switch_lang }}">{{ t.switch }}</a></p>
<h1>{{ t.title }}</h1>
{% if error %}<h2 class="err">{{ t.error }}</h2><p>{{ hint }}</p>
<p><small>{{ t.code }}: {{ error.code }} — {{ error.message }}</small></p>
<p><a href="{{ url_for('identity.page') }}">{{ t.back }}</a></p>
{% elif confirm_logout %}<form method="post" action="{{ url_for('identity.logout') }}">
<p>{{ t.logout_confirm }}</p><input type="hidden" name="csrf" value="{{ csrf }}">
<button>{{ t.logout }}</button></form>
{% elif account %}<h2>{{ t.signed_in_as }}</h2><dl>
<dt>{{ t.name }}</dt><dd>{{ account.full_name or "—" }}</dd>
<dt>{{ t.birthdate }}</dt><dd>{{ account.birthdate.strftime("%d/%m/%Y") if account.birthdate else "—" }}</dd>
<dt>{{ t.level }}</dt><dd>{{ account.level or "—" }}</dd>
<dt>{{ t.citizen_id }}</dt><dd>{{ t.citizen_id_kept if account.citizen_id_hmac else t.citizen_id_none }}</dd>
<dt>{{ t.issuer }}</dt><dd><small>{{ account.issuer }}</small></dd></dl>
<form method="post" action="{{ url_for('identity.logout') }}"><input type="hidden" name="csrf" value="{{ csrf }}">
<button>{{ t.logout }}</button></form>
{% else %}<p>{{ t.not_signed_in }}</p><p><a href="{{ url_for('identity.login') }}">{{ t.login }}</a></p>{% endif %}
</body></html>"""


def _lang() -> str:
    asked = request.args.get("lang")
    if asked in TEXT:
        web.choose_locale(asked)
    return web.chosen_locale() or web.DEFAULT_LOCALE


def _render(status: int = 200, **context: Any) -> Response:
    lang = _lang()
    err = context.get("error")
    hint = HINTS[lang].get(err.code, "") if err is not None else ""
    html = render_template_string(PAGE, lang=lang, t=TEXT[lang], hint=hint, csrf=web.csrf_token(), **context)
    return Response(html, status=status, content_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


def _safe_next(value: str | None) -> str:
    return value if value and web.is_same_site_path(value) else PREFIX + "/"


@bp.get("/")
def page() -> Response:
    account = None
    account_id = signed_in_account_id()
    if account_id is not None:
        with config().db.session() as db_session:
            account = db_session.get(storage.IdentityAccount, account_id)
        if account is None:  # deleted since: forget it
            session.pop(ACCOUNT_KEY, None)
    return _render(account=account)


@bp.get("/login")
def login() -> BaseResponse:
    _lang()
    start = config().client.begin(next_url=_safe_next(request.args.get("next")))
    pending = dict(session.get(PENDING_KEY) or {})
    # Oldest first out, so a person who opened several tabs can still finish the latest ones.
    for state in sorted(pending, key=lambda s: pending[s].get("created", 0))[: max(0, len(pending) - MAX_PENDING + 1)]:
        del pending[state]
    pending[start.pending.state] = start.pending.to_dict()
    session[PENDING_KEY] = pending
    response = redirect(start.url, code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/callback")
def callback() -> BaseResponse:
    pending_all = dict(session.get(PENDING_KEY) or {})
    state = request.args.get("state", "")
    # RFC 6749 §10.12: the state must be one this browser sent; it is used once (removed now,
    # whatever the outcome), so a replayed callback URL finds nothing.
    raw = pending_all.pop(state, None) if state else None
    session[PENDING_KEY] = pending_all
    if raw is None:
        raise InvalidState("this sign-in response does not belong to a sign-in started in this browser")
    try:
        pending = PendingLogin.from_dict(raw)
    except (KeyError, TypeError):
        raise InvalidState("the sign-in in progress could not be read; please start again") from None
    if any(len(values) > 1 for values in request.args.listvalues()):
        # RFC 6749 §3.1: request and response parameters MUST NOT be included more than once.
        raise InvalidState("the sign-in response repeats a parameter")
    cfg = config()
    identity = cfg.client.complete(pending, request.args.to_dict())
    with cfg.db.session() as db_session:
        account = storage.record_sign_in(db_session, identity)
        db_session.commit()
        account_id = account.id
    session[ACCOUNT_KEY] = account_id
    session["identity.signed_in_at"] = int(time.time())
    log.info("identity: account %s signed in (level %s)", account_id, identity.level)
    response = redirect(pending.next_url, code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/logout")
def logout_confirm() -> Response:
    return _render(confirm_logout=True)


@bp.post("/logout")
def logout() -> BaseResponse:
    if not web.csrf_ok(request.form.get("csrf", "")):
        raise BadRequest("the sign-out form has expired; please try again")
    for key in (ACCOUNT_KEY, "identity.signed_in_at", PENDING_KEY):
        session.pop(key, None)
    return redirect(PREFIX + "/", code=303)


def _render_error(err: IdentityError) -> Response:
    log.warning("identity: %s on %s %s: %s", err.code, request.method, request.path, err.message)
    if request.accept_mimetypes.best == "application/json":
        return Response(current_app.json.dumps(err.body()), status=err.status, content_type="application/json")
    return _render(status=err.status, error=err)


bp.register_error_handler(IdentityError, _render_error)


def init_app(app: Flask, settings: IdentitySettings, db: Database, *, http: requests.Session | None = None) -> None:
    """Mounts /identity (and /demo-vneid when the demo provider is on). ``http`` lets a caller
    give the client its own requests session (proxies, CA bundle)."""
    settings.validate()
    app.extensions["identity"] = IdentityConfig(settings=settings, db=db, client=OidcClient(settings, http))
    app.register_blueprint(bp, url_prefix=PREFIX)
    if settings.demo_idp:
        from identity.demo_provider import init_demo

        init_demo(app, settings)
