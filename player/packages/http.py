"""Package files for the browser, at /player/content/<package id>/<path>, with the headers of
``store.content_headers`` (a sandboxed opaque origin: see ``player.packages.store``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, request, send_file
from werkzeug.wrappers import Response as BaseResponse

from player.packages.errors import PackageError
from player.packages.store import PackageStore, StoreConfig, content_headers

STORE_EXT = "player.packages.store"
bp = Blueprint("packages", __name__)


def init_packages(app: Flask, config: StoreConfig) -> PackageStore:
    """Mount the content route and keep the store where the player's other parts find it."""
    store = PackageStore(config)
    app.extensions[STORE_EXT] = store
    app.register_blueprint(bp, url_prefix="/player/content")
    return store


def package_store(app: Flask | None = None) -> PackageStore:
    store: PackageStore = (app or current_app).extensions[STORE_EXT]
    return store


@bp.get("/<package_id>/<path:name>")
def content(package_id: str, name: str) -> BaseResponse:
    store = package_store()
    origin = store.config.content_origin
    if origin is not None and urlsplit(origin).netloc != request.host:
        # With a content origin the sandbox allows same-origin: served on the hub's own host, that would
        # put the package in the hub's origin, beside its cookies. Send it where it belongs instead.
        return redirect(origin.rstrip("/") + request.full_path.rstrip("?"), code=308)
    path = store.file(package_id, name)
    response = send_file(path, conditional=True, max_age=0)
    for key, value in store_headers(store, name).items():
        response.headers[key] = value
    # Package files are fixed once imported (a re-import is a new id), but a removal must take
    # effect: revalidate with the ETag send_file set.
    response.headers["Cache-Control"] = "no-cache"
    return response


def store_headers(store: PackageStore, name: str) -> dict[str, str]:
    return content_headers(name, separate_origin=store.config.content_origin is not None)


@bp.errorhandler(PackageError)
def _package_error(err: PackageError) -> tuple[Response, int]:
    return jsonify(err.body()), err.status
