"""A person's browser session with the hub, as every page sees it: their language, their form token,
and where a form may send them back to. Shared by identity's pages, the identity gate and the course
player (which may import ``identity``), so one browser has one language and one token.

Everything lives in Flask's signed session cookie: web processes stay stateless (DESIGN.md, Scale).
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any

from flask import redirect, request, session
from werkzeug.wrappers import Response as BaseResponse

LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"     # Vietnamese first; English on request
LOCALE_KEY = "locale"     # the language the person chose with a page's switch
CSRF_KEY = "csrf"

# A path on this site and nothing else: never "//host" or "/\\host" (protocol-relative), nor control
# characters or spaces, which browsers strip ("/\t/host" would become "//host"): no open redirect.
_SAME_SITE_PATH = re.compile(r"/(?![/\\])[^\x00-\x20\x7f\\]*")


def normalise(locale: str | None) -> str:
    """One of LOCALES for a language tag ("en-GB" → "en"); Vietnamese for anything else."""
    base = (locale or "").split("-")[0].lower()
    return base if base in LOCALES else DEFAULT_LOCALE


def chosen_locale() -> str | None:
    chosen = session.get(LOCALE_KEY)
    return chosen if chosen in LOCALES else None


def choose_locale(value: str | None) -> str:
    locale = session[LOCALE_KEY] = normalise(value)
    return locale


def page_locale(default: str | None = None) -> str:
    """The language of a page: the person's choice, else the caller's ``default`` (what the LMS or
    the course said), else the browser's Accept-Language."""
    chosen = chosen_locale()
    if chosen is not None:
        return chosen
    if default:
        return normalise(default)
    return normalise(request.accept_languages.best_match(LOCALES))


def csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = session[CSRF_KEY] = secrets.token_urlsafe(24)
    return token


def csrf_ok(sent: Any) -> bool:
    """Forms and beacons carry the token from the page: a third-party page cannot read it, so it
    cannot post as the person (the session cookie is SameSite=None inside an LMS iframe)."""
    expected = session.get(CSRF_KEY)
    return isinstance(sent, str) and isinstance(expected, str) and hmac.compare_digest(sent.encode(),
                                                                                     expected.encode())


def is_same_site_path(value: str | None) -> bool:
    return bool(value) and _SAME_SITE_PATH.fullmatch(value or "") is not None


def see_other(url: str) -> BaseResponse:
    # 303: after a POST the browser GETs the page, so a reload never posts twice.
    return redirect(url, 303)


def wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"
