"""How the hub's pages and files travel on weak networks (issue 14): static files fingerprinted and
cached immutably, HTML and API responses compressed.

- Fingerprints: every ``url_for("<blueprint>.static", filename=...)`` (and the app's own ``static``)
  gets ``v=<first 12 hex of the file's SHA-256>``; a request carrying the file's current fingerprint
  is answered ``Cache-Control: public, max-age=31536000, immutable`` (RFC 8246), so a phone never
  asks again, and a changed file gets a new URL. Without the right fingerprint: revalidated as before.
- Compression (``flask-compress``): HTML, CSS, JavaScript, JSON, CSV, SVG, WebVTT and the manifest,
  brotli or gzip as the browser asks (RFC 9110 §8.4), from 500 bytes. Not under ``/xapi/``: the LRS's
  document ETags are compared byte for byte by clients (xAPI 1.0.3 Part Three §3.1 concurrency), and
  flask-compress suffixes ETags with the encoding.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from flask_compress import Compress

IMMUTABLE = "public, max-age=31536000, immutable"
COMPRESSED_TYPES = ("text/html", "text/css", "text/javascript", "application/javascript", "application/json",
                    "text/csv", "image/svg+xml", "text/vtt", "application/manifest+json")
NOT_COMPRESSED_PREFIXES = ("/xapi/",)


@lru_cache(maxsize=1024)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def _static_folder(app: Flask, endpoint: str) -> str | None:
    if endpoint == "static":
        return app.static_folder
    blueprint = app.blueprints.get(endpoint.rsplit(".", 1)[0])
    return blueprint.static_folder if blueprint is not None else None


def fingerprint(app: Flask, endpoint: str, filename: str) -> str | None:
    """The file's fingerprint, or None when it is not a static file of the app."""
    folder = _static_folder(app, endpoint)
    if not folder or not filename:
        return None
    path = (Path(folder) / filename).resolve()
    if not path.is_file() or Path(folder).resolve() not in path.parents:
        return None
    stat = path.stat()
    return _digest(str(path), stat.st_mtime_ns, stat.st_size)


def _is_static(endpoint: str | None) -> bool:
    return endpoint is not None and (endpoint == "static" or endpoint.endswith(".static"))


def init_fingerprints(app: Flask) -> None:
    @app.url_defaults
    def _add_fingerprint(endpoint: str, values: dict[str, Any]) -> None:
        if _is_static(endpoint) and "v" not in values:
            version = fingerprint(app, endpoint, str(values.get("filename") or ""))
            if version:
                values["v"] = version

    @app.after_request
    def _cache_for_good(response: Response) -> Response:
        endpoint = request.endpoint
        if not _is_static(endpoint):  # first: the query string is parsed only for a static file
            return response
        version = request.args.get("v")
        if version and response.status_code == 200 and request.view_args and \
                version == fingerprint(app, str(endpoint), str(request.view_args.get("filename") or "")):
            response.headers["Cache-Control"] = IMMUTABLE
        return response


def init_compression(app: Flask) -> Compress:
    app.config.update(COMPRESS_REGISTER=False, COMPRESS_MIMETYPES=list(COMPRESSED_TYPES), COMPRESS_MIN_SIZE=500,
                      COMPRESS_ALGORITHM=["br", "gzip"], COMPRESS_BR_LEVEL=5, COMPRESS_LEVEL=6)
    compress = Compress(app)

    @app.after_request
    def _compress(response: Response) -> Response:
        if request.path.startswith(NOT_COMPRESSED_PREFIXES):
            return response
        return compress.after_request(response)

    return compress


def init_delivery(app: Flask) -> None:
    """Flask runs an app's after-request hooks last registered first: compression is registered
    before the fingerprint hook, so it sees the response with its final headers."""
    init_compression(app)
    init_fingerprints(app)
