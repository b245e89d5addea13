"""The installable web app: its manifest, its service worker and the page shown offline.

- ``GET /manifest.webmanifest``: the Web App Manifest (W3C Web Application Manifest), so a phone can
  install the player; it opens at "my learning".
- ``GET /sw.js``: the service worker, built with Workbox from npm at build time (``player/web/``,
  ``make assets``) into ``player/static/player/sw.js``. Served at the site's root so its scope is the
  whole site; the precache list (``self.__WB_MANIFEST``, Workbox's injection point) is filled in
  here with the fingerprinted URLs of the static files the player needs offline, so it always
  agrees with the files this process serves. Never cached by HTTP: the browser checks it each visit.
- ``GET /offline``: what the service worker shows for a page that was never kept on the device.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from player import pages
from player.i18n import t

bp = Blueprint("webapp", __name__)
STATIC = Path(__file__).resolve().parent / "static" / "player"
THEME = "#b3261e"
INJECTION_POINT = "self.__WB_MANIFEST"


def init_webapp(app: Flask) -> None:
    app.register_blueprint(bp)


@cache
def _built_worker() -> str:
    return (STATIC / "sw.js").read_text(encoding="utf-8")


def precache_urls() -> list[str]:
    """What the device keeps from its first visit on: the player's look and behaviour, and the page
    shown for pages never kept (the pages themselves are kept as the learner opens them)."""
    static = [url_for("player.static", filename=name) for name in ("player.css", "player.js", "icon.svg")]
    return [*static, url_for("webapp.offline"), url_for("webapp.manifest")]


@bp.get("/sw.js")
def worker() -> BaseResponse:
    urls = precache_urls()
    # Static URLs carry their fingerprint; the offline page and the manifest change with them.
    revision = hashlib.sha256("|".join(urls).encode()).hexdigest()[:12]
    entries = [{"url": u, "revision": None if "v=" in u else revision} for u in urls]
    body = _built_worker().replace(INJECTION_POINT, json.dumps(entries), 1)
    response = Response(body, content_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})
    # Each page's registration asks whether the worker changed: an unchanged one is a 304, not 9 KB.
    response.set_etag(hashlib.sha256(body.encode()).hexdigest()[:16])
    return response.make_conditional(request)


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    lang = pages.locale()
    data: dict[str, Any] = {
        "name": t("app.name", lang), "short_name": t("app.short_name", lang),
        "description": t("front.what", lang), "lang": lang, "dir": "ltr",
        "start_url": url_for("learning.mine"), "scope": "/", "display": "standalone",
        "background_color": "#f6f7fa", "theme_color": THEME,
        "icons": [
            {"src": url_for("player.static", filename="icon.svg"), "sizes": "any", "type": "image/svg+xml",
             "purpose": "any"},
            {"src": url_for("player.static", filename="icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": url_for("player.static", filename="icon-512.png"), "sizes": "512x512", "type": "image/png",
             "purpose": "any maskable"},
        ],
    }
    return Response(json.dumps(data, ensure_ascii=False), content_type="application/manifest+json; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


@bp.get("/offline")
def offline() -> Response:
    response = pages.render("player/offline.html")
    response.headers["Cache-Control"] = "no-cache"
    return response
