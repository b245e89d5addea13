"""The xAPI blueprint's frame: version negotiation, authentication, sessions, headers, errors.

Resource handlers live in ``lrs.http.statements``, ``documents`` and ``resources``; this module wires them
onto one blueprint mounted at ``/xapi`` and renders every error as ``{"error": {...}}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from lrs.audit.chain import AuditPolicy
from lrs.credentials import CredentialCache, Principal, authenticate, parse_basic
from lrs.errors import BadRequest, PayloadTooLarge, ServerError, XapiError
from lrs.json_text import loads_strict
from lrs.reserved_extensions import ReservedCheck
from lrs.statements import MAX_STATEMENT_BYTES
from lrs.storage import Database
from lrs.versions import ABOUT_VERSIONS, VERSION_HEADER, XapiVersion, negotiate

log = logging.getLogger(__name__)
bp = Blueprint("xapi", __name__)
PREFIX = "/xapi"
CONSISTENT_THROUGH = "X-Experience-API-Consistent-Through"
CREDENTIAL_CACHE = "lrs.credential_cache"  # app.extensions key (lrs.http.init_app)
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "HEAD, GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match, If-None-Match, "
                                    "X-Experience-API-Version, Accept-Language",
    "Access-Control-Expose-Headers": "ETag, Last-Modified, X-Experience-API-Version, "
                                     "X-Experience-API-Consistent-Through",
}


# The xAPI version each credential key last used, per process (a hint, never an authority).
_last_spoken: dict[str, XapiVersion] = {}


@dataclass(frozen=True)
class LrsConfig:
    db: Database
    cursor_secret: bytes
    page_cap: int = 500
    # The audit chain's checkpoint signer and schedule (lrs.audit.chain); the signer is injected
    # by the composition root, lrs never reaches for identity's key itself.
    audit: AuditPolicy = field(default_factory=AuditPolicy)
    # Extensions only a trusted signer may write (lrs.reserved_extensions.ReservedCheck), e.g. the identity
    # stamp; injected by the composition root for the same reason as the signer.
    reserved_extensions: Mapping[str, ReservedCheck] = field(default_factory=dict)
    # The largest statement kept, as compact JSON (lrs.statements; 413 beyond).
    max_statement_bytes: int = MAX_STATEMENT_BYTES
    # ANALYZE the statement tables after this many statements stored by the process (lrs.maintenance; 0: never).
    analyze_every: int = 50_000
    # How long a verified credential is trusted without a look-up (lrs.credentials.CredentialCache; 0: never).
    credential_cache_seconds: float = 5.0


@dataclass
class Call:
    """What every handler needs: the tenant's principal, the negotiated version, a session."""

    principal: Principal
    version: XapiVersion
    session: Session


def config() -> LrsConfig:
    cfg: LrsConfig = current_app.extensions["lrs"]
    return cfg


def call() -> Call:
    return g.xapi_call  # type: ignore[no-any-return]


def http_date(value: datetime) -> str:
    from email.utils import format_datetime
    return format_datetime(value.astimezone(UTC), usegmt=True)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # allow_nan=False: never a body that is not JSON (RFC 8259 §6 has no Infinity); a reader of
    # stored values that fails here makes them readable first (lrs.http.statements, lrs.readable).
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Response(body, status=status, headers=headers or {}, content_type="application/json; charset=utf-8")


@bp.before_request
def _open_call() -> Response | None:
    if request.method == "OPTIONS":  # CORS preflight: browsers send it without credentials
        return Response(status=204, headers=CORS_HEADERS)
    if request.endpoint == "xapi.about":
        return None
    key, secret = parse_basic(request.headers.get("Authorization"))
    try:
        version = negotiate(request.headers.get(VERSION_HEADER))
    except BadRequest:
        # Part Three §3.3: every response names a version. When the request names none we answer
        # in the dialect this client spoke last (its error is then readable by it), else the newest.
        g.xapi_version = _last_spoken.get(key, ABOUT_VERSIONS[-1])
        raise
    if len(_last_spoken) > 10_000:
        _last_spoken.clear()
    _last_spoken[key] = version
    g.xapi_version = version
    session = config().db.session()
    g.xapi_session = session
    cache: CredentialCache | None = current_app.extensions.get(CREDENTIAL_CACHE)
    g.xapi_call = Call(authenticate(session, key, secret, cache), version, session)
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers[VERSION_HEADER] = getattr(g, "xapi_version", ABOUT_VERSIONS[-1])
    response.headers.update(CORS_HEADERS)
    if request.endpoint == "xapi.get_statements" and CONSISTENT_THROUGH not in response.headers:
        # Part Three §2.1.3: every statement GET answer carries it, errors included.
        response.headers[CONSISTENT_THROUGH] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return response


@bp.teardown_request
def _close(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("xapi_session", None)
    if session is not None:
        if _exc is None and session.in_transaction():
            # A request that went well and left its (reading) transaction open: COMMIT, where
            # closing would ROLLBACK. The same to PostgreSQL, but psycopg forgets the connection's
            # prepared statements at every ROLLBACK (lrs.storage), ingest's among them. An
            # answered error was rolled back already (render_error).
            session.commit()
        session.close()


def render_error(err: XapiError) -> Response:
    session: Session | None = g.get("xapi_session")
    if session is not None:
        session.rollback()  # nothing partial is written on a rejected request
    headers = {**err.headers, **CORS_HEADERS, VERSION_HEADER: getattr(g, "xapi_version", ABOUT_VERSIONS[-1])}
    return json_response(err.body(), err.status, headers)


def render_http(exc: HTTPException) -> Response | HTTPException:
    if not request.path.startswith(PREFIX):
        return exc
    if exc.code == 413:
        return render_error(PayloadTooLarge("the request body is larger than this LRS accepts"))
    err = XapiError(exc.description or exc.name)
    err.status, err.code = exc.code or 400, exc.name.lower().replace(" ", "_")
    response = render_error(err)
    allow = dict(exc.get_headers()).get("Allow")
    if allow:  # RFC 9110 §15.5.6: a 405 says which methods are allowed
        response.headers["Allow"] = allow
    return response


def render_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return render_http(exc)  # type: ignore[return-value]
    if not request.path.startswith(PREFIX):
        raise exc
    # Never a stack trace on the wire; the log keeps it for operators.
    log.exception("unhandled error on %s %s", request.method, request.path)
    return render_error(ServerError("the LRS failed to handle this request; it has been logged"))


def read_json_body() -> Any:
    return loads_strict(request.get_data())
