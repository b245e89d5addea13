"""Talking to a target LRS: a thin adapter over tincan's ``RemoteLRS`` (tincan 1.0.0).

What tincan gives: the LRS endpoint and Basic credentials, the version header, its request and
response objects. What the adapter changes, and why:

* ``version``: tincan 1.0.0 accepts only 1.0.0-1.0.3 and raises "Unsupported Version" for
  "2.0.0"; the header is all that differs on the wire, so 2.0.0 is allowed here.
* statements are sent as stored, not rebuilt through tincan's ``Statement`` model (what
  ``save_statements`` does): that model rejects xAPI 2.0 properties (``contextAgents`` raises
  AttributeError), reformats timestamps and drops unknown properties — a forwarded copy must be
  the statement the source stored, or a signed statement's JWS no longer matches it.
* attachments: tincan has no multipart/mixed support. Statements whose attachment content the
  source holds (signatures included) go in one multipart/mixed request built by
  ``lrs.multipart.build_multipart`` (xAPI 1.0.3 Part Three §1.5.2); attachments given only by
  ``fileUrl`` have no content to send and travel as the statement says.
* transport: tincan's connection has no timeout (a silent target would hold a worker forever)
  and sends ``str`` bodies, which ``http.client`` encodes as Latin-1 (Vietnamese text fails) and
  which cannot carry binary attachment parts; ``_send_request`` is redone with both fixed.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode, urlsplit

from tincan import RemoteLRS
from tincan.http_request import HTTPRequest
from tincan.lrs_response import LRSResponse

from lrs.multipart import AttachmentPart, build_multipart

VERSIONS = ("1.0.3", "2.0.0")
ERROR_TEXT_MAX = 400

Kind = Literal["ok", "conflict", "reject", "transient"]


class XapiTarget(RemoteLRS):  # type: ignore[misc]  # tincan ships no types: its RemoteLRS is Any to mypy
    """tincan's RemoteLRS speaking 1.0.3 or 2.0.0, with a timeout and statements sent as stored."""

    _props: ClassVar[list[str]] = [*RemoteLRS._props, "timeout"]

    def __init__(self, *, endpoint: str, key: str, secret: str, version: str, timeout: float = 30.0) -> None:
        super().__init__(endpoint=endpoint, username=key, password=secret, version=version, timeout=timeout)

    @property
    def version(self) -> str:
        assert self._version is not None   # None only inside tincan's __init__, before the real value
        return self._version

    @version.setter
    def version(self, value: str | None) -> None:
        # tincan's Base sets every required property to None before the real values.
        if value is not None and value not in VERSIONS:
            raise ValueError(f"xAPI version {value!r} is not one of {', '.join(VERSIONS)}")
        self._version = value

    def _send_request(self, request: HTTPRequest) -> LRSResponse:
        headers = {"X-Experience-API-Version": self.version, "Authorization": self.auth, **request.headers}
        url = request.resource if request.resource.startswith("http") else self.endpoint + request.resource
        parts = urlsplit(url)
        path = parts.path + ("?" + urlencode(request.query_params) if request.query_params else "")
        conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(parts.hostname, parts.port, timeout=self.timeout)
        try:
            conn.request(request.method, path, body=request.content, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        return LRSResponse(success=200 <= response.status < 300, request=request, response=response,
                           data=data.decode("utf-8", "replace"))

    def post_statements(self, statements: list[dict[str, Any]], attachments: list[AttachmentPart]) -> LRSResponse:
        """POST a batch as stored (Part Three §2.1.2), multipart/mixed when attachments go along."""
        body = json.dumps(statements, ensure_ascii=False, separators=(",", ":")).encode()
        request = HTTPRequest(method="POST", resource="statements")
        content_type = "application/json"
        if attachments:
            content_type, body = build_multipart(body, attachments)
        request.headers["Content-Type"] = content_type
        # tincan's content setter decodes bytes as UTF-8 text; attachment parts are binary.
        request._content = body
        return self._send_request(request)


@dataclass(frozen=True)
class Outcome:
    """What one request came to, in the terms delivery acts on."""

    kind: Kind
    reason: str | None = None
    retry_after: float | None = None


# 4xx answers that say nothing about the statements sent: the target is misconfigured or busy, so
# the whole target backs off. Splitting the batch would only dead-letter good statements.
TARGET_LEVEL_4XX = {401, 403, 404, 405, 406, 407, 408, 410, 411, 421, 425, 426, 428, 429, 431, 451}


def _retry_after(response: http.client.HTTPResponse) -> float | None:
    value = response.getheader("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP-date: the backoff schedule decides instead


def _error_text(data: str) -> str:
    try:
        message = json.loads(data)["error"]["message"]  # our LRS's error shape
    except (ValueError, KeyError, TypeError):
        message = " ".join(data.split())
    return str(message)[:ERROR_TEXT_MAX]


def classify(response: LRSResponse) -> Outcome:
    """2xx: stored. 409: the target already holds one of these ids (xAPI 1.0.3 Part Three §2.1.2:
    an LRS MAY answer 409 for an id it has; it stores none of a rejected batch). 5xx, 429 and the
    target-level 4xx: back off and send again. Any other 4xx (400, 413, 415, 422...): something in
    the batch is refused — split it to find what."""
    status = response.response.status
    if 200 <= status < 300:
        return Outcome("ok")
    reason = f"{status} {response.response.reason}: {_error_text(response.data or '')}"
    if status == 409:
        return Outcome("conflict", reason)
    if status >= 500 or status in TARGET_LEVEL_4XX or status < 400:
        return Outcome("transient", reason, _retry_after(response.response))
    return Outcome("reject", reason)


def send(client: XapiTarget, statements: list[dict[str, Any]], attachments: list[AttachmentPart]) -> Outcome:
    try:
        return classify(client.post_statements(statements, attachments))
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, DNS, TLS
        return Outcome("transient", f"cannot reach the target: {type(exc).__name__}: {exc}"[:ERROR_TEXT_MAX])
