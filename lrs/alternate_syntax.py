"""xAPI 1.0.3 alternate request syntax (Part Three §1.3), as WSGI middleware.

A browser that cannot send custom headers or methods POSTs a form to ``?method=VERB``; the form's
header fields become headers, ``content`` becomes the body, the rest become query parameters.
The rewrite happens before routing so every resource handles such a request like any other.
IEEE 9274.1.1 (xAPI 2.0) removed the syntax, so 2.0 requests that use it are rejected.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode

from lrs.errors import BadRequest, PayloadTooLarge, XapiError

HEADER_FIELDS = {
    "authorization": "HTTP_AUTHORIZATION",
    "x-experience-api-version": "HTTP_X_EXPERIENCE_API_VERSION",
    "content-type": "CONTENT_TYPE",
    "content-length": "CONTENT_LENGTH",
    "if-match": "HTTP_IF_MATCH",
    "if-none-match": "HTTP_IF_NONE_MATCH",
}
METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def rewrite(environ: dict[str, Any], max_body: int) -> None:
    """Turn an alternate-syntax request into the request it stands for, in place."""
    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    method = dict(query)["method"].upper()
    if environ["REQUEST_METHOD"] != "POST":  # Part Three §1.3: "MUST be POST"
        raise BadRequest("the alternate request syntax must be sent with POST")
    if len(query) != 1:  # Part Three §1.3: only `method` may be in the query string
        raise BadRequest("with the alternate request syntax, every parameter but method goes in the form body")
    if method not in METHODS:
        raise BadRequest(f"method {method!r} is not an xAPI method")
    ctype = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise BadRequest("the alternate request syntax needs a application/x-www-form-urlencoded body")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > max_body:  # Part Three §3.2.s3.b11: too large is 413
        raise PayloadTooLarge("the request body is larger than this LRS accepts")
    raw = environ["wsgi.input"].read(length).decode("utf-8", "replace")
    form = parse_qsl(raw, keep_blank_values=True)
    version = environ.get("HTTP_X_EXPERIENCE_API_VERSION", "")
    version = next((v for k, v in form if k.lower() == "x-experience-api-version"), version)
    if version.startswith("2."):  # IEEE 9274.1.1 has no alternate request syntax
        raise BadRequest("xAPI 2.0 has no alternate request syntax; send the request as it is")
    params: list[tuple[str, str]] = []
    content = b""
    environ["CONTENT_TYPE"] = "application/json"
    for key, value in form:
        if key.lower() in HEADER_FIELDS:
            environ[HEADER_FIELDS[key.lower()]] = value
        elif key == "content":
            content = value.encode()
        else:
            params.append((key, value))
    environ["REQUEST_METHOD"] = method
    environ["QUERY_STRING"] = urlencode(params)
    environ["CONTENT_LENGTH"] = str(len(content))
    environ["wsgi.input"] = io.BytesIO(content)


class AlternateRequestSyntax:
    def __init__(self, app: WsgiApp, prefix: str = "/xapi/", max_body: int = 64 * 1024 * 1024) -> None:
        self.app, self.prefix, self.max_body = app, prefix, max_body

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.prefix) and "method" in dict(parse_qsl(environ.get("QUERY_STRING", ""))):
            try:
                rewrite(environ, self.max_body)
            except XapiError as err:
                body = json.dumps(err.body()).encode()
                start_response(f"{err.status} {HTTPStatus(err.status).phrase}", [
                    ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                    ("X-Experience-API-Version", "1.0.3")])
                return [body]
        return self.app(environ, start_response)
