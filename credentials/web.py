"""The credentials blueprint and its request plumbing, shared by the public routes (``credentials.http``)
and the learner's (``credentials.learner``): the configuration, a session per request, the page's
language (Vietnamese first; ``?lang=en``), page rendering and the credential media type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from flask import Blueprint, Response, current_app, render_template, request
from sqlalchemy.orm import Session

from credentials.config import CredentialsConfig
from credentials.texts import t
from identity import web

CONFIG_EXT: Final = "credentials.config"
VC_TYPE: Final = "application/vc"  # VC Data Model 2.0 §6.3 media type
bp = Blueprint("credentials", __name__, template_folder="templates", static_folder="static/credentials",
               static_url_path="/credentials/static")


def config() -> CredentialsConfig:
    cfg: CredentialsConfig = current_app.extensions[CONFIG_EXT]
    return cfg


@contextmanager
def db() -> Iterator[Session]:
    with config().db.transaction() as s:
        yield s


def locale() -> str:
    asked = request.args.get("lang")
    return web.normalise(asked) if asked else web.page_locale()


def day(value: str | None, lang: str) -> str:
    """A dateTimeStamp's day as people write it: 07/12/2026 in Vietnamese, 2026-12-07 otherwise."""
    if not value or len(value) < 10:
        return value or ""
    year, month, dom = value[:10].split("-")
    return f"{dom}/{month}/{year}" if lang == "vi" else value[:10]


def render(template: str, status: int = 200, **ctx: Any) -> Response:
    lang = locale()
    html = render_template(template, locale=lang, other="en" if lang == "vi" else "vi",
                           t=lambda key, **kw: t(key, lang, **kw), day=lambda v: day(v, lang), **ctx)
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def vc_json(document: dict[str, Any], *, download: str | None = None) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2)
    res = Response(body, content_type=f"{VC_TYPE}; charset=utf-8")
    if download:
        res.headers["Content-Disposition"] = f'attachment; filename="{download}"'
    return res


