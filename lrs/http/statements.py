"""Statement Resource handlers (xAPI 1.0.3 Part Three §2.1 / IEEE 9274.1.1 §4.1.6.1): parse,
authorise, call the domain, serialise."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Response, request
from sqlalchemy import select

import schemas
from lrs import query_params as qp
from lrs import statement_query as sq
from lrs import statements
from lrs.blobs import attachments as attachment_store
from lrs.errors import BadRequest
from lrs.formats import FORMATS_ALLOWED, apply_format
from lrs.http.frame import bp, call, config, http_date, json_response, read_json_body
from lrs.multipart import AttachmentPart, build_multipart, parse_multipart
from lrs.readable import readable
from lrs.statement_retry import store_committed
from lrs.storage import Activity

log = logging.getLogger(__name__)
WRITE_PARAMS = {"statementId"}


def _consistency_headers(last: datetime | None = None) -> dict[str, str]:
    now = datetime.now(UTC)
    # Part Three §2.1.3: X-Experience-API-Consistent-Through on every statement GET. Each write
    # commits before it answers, so everything stored up to now is visible.
    headers = {"X-Experience-API-Consistent-Through": statements.format_time(now)}
    headers["Last-Modified"] = http_date(last or now)
    return headers


def _statement_payload() -> tuple[Any, list[AttachmentPart]]:
    ctype = request.headers.get("Content-Type", "")
    mime = ctype.split(";")[0].strip().lower()
    if mime == "multipart/mixed":
        return parse_multipart(ctype, request.get_data(), call().version)
    if mime != "application/json":
        # Part Three §1.5: statements come as application/json or multipart/mixed.
        raise BadRequest(f"statements must be sent as application/json or multipart/mixed, not {mime or 'nothing'}")
    return read_json_body(), []


def _reject_unknown(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise BadRequest(f"unknown parameter(s) for this resource: {', '.join(unknown)}")


@bp.route("/statements", methods=["PUT"])
def put_statement() -> Response:
    _reject_unknown(WRITE_PARAMS)
    statement_id = request.args.get("statementId")
    if statement_id is None:
        raise BadRequest("PUT /statements needs the statementId parameter")  # Part Three §2.1.1
    if not schemas.is_uuid(statement_id):
        raise BadRequest("parameter statementId must be a UUID")
    body, parts = _statement_payload()
    c = call()
    # store_committed: the store and its commit, re-run whole if the database picks it as a
    # deadlock victim; 503 rather than 500 if that keeps happening.
    store_committed(c.session, c.principal, c.version, body, parts, statement_id=statement_id.lower())
    return Response(status=204)


@bp.route("/statements", methods=["POST"])
def post_statements() -> Response:
    _reject_unknown(set())
    body, parts = _statement_payload()
    c = call()
    ids = store_committed(c.session, c.principal, c.version, body, parts)
    return json_response(ids)


def _definitions(tenant_id: int, readable_only: bool = False) -> Any:
    """The Activity definitions the canonical format shows; ``readable_only``: made readable first
    (lrs.readable), for a page that could not be rendered as stored (definitions are legacy too)."""
    def load(ids: set[str]) -> dict[str, dict[str, Any]]:
        rows = call().session.scalars(select(Activity).where(Activity.tenant_id == tenant_id,
                                                             Activity.activity_id.in_(ids)))
        if not readable_only:
            return {r.activity_id: r.definition for r in rows}
        found = {}
        for r in rows:
            found[r.activity_id], notes = readable(r.definition)
            if notes:
                log.warning("tenant %s, Activity %s: definition cannot be read as stored; served with %s",
                            tenant_id, r.activity_id, "; ".join(notes[:5]))
        return found
    return load


# What a stored statement that breaks today's rule (a legacy row) makes a reader raise: a writer
# refusing Infinity/NaN (ValueError), a walk or copy hundreds of levels deep (RecursionError), a
# lone surrogate meeting UTF-8 (UnicodeEncodeError, a ValueError too).
UNREADABLE = (ValueError, RecursionError)


def _answer(statements: list[dict[str, Any]],
            render: Callable[[list[dict[str, Any]], bool], Response]) -> Response:
    """``render(statements, False)``; when a stored statement cannot be rendered as it is, every
    statement of the page is made readable (lrs.readable: clamped, cut, logged) and the page
    rendered again with ``True`` (definitions made readable too), so one legacy row never fails the
    page it is on (issue 13: readers defend themselves)."""
    try:
        return render(statements, False)
    except UNREADABLE as err:
        fixed = []
        for st in statements:
            copy, notes = readable(st)
            if notes:
                log.warning("tenant %s, statement %s cannot be read as stored (%s); served with %s",
                            call().principal.tenant_id, st.get("id") if isinstance(st, dict) else "?",
                            type(err).__name__, "; ".join(notes[:5]))
            fixed.append(copy)
        return render(fixed, True)


def _respond(payload: Any, docs: list[dict[str, Any]], with_attachments: bool, last: datetime | None) -> Response:
    headers = _consistency_headers(last)
    if not with_attachments:
        return json_response(payload, headers=headers)
    # Bytes through the blob store, verified against their hash (lrs.blobs.attachments).
    parts = attachment_store.load(call().session, call().principal.tenant_id, attachment_store.declared_hashes(docs))
    ctype, body = build_multipart(json.dumps(payload, ensure_ascii=False, allow_nan=False).encode(), parts)
    return Response(body, headers={**headers, "Content-Type": ctype})


@bp.route("/statements", methods=["GET"])
def get_statements() -> Response:
    c = call()
    cfg = config()
    args: dict[str, str] = request.args.to_dict()
    fmt = args.get("format", "exact")
    if fmt not in FORMATS_ALLOWED:
        raise BadRequest(f"parameter format must be one of {', '.join(FORMATS_ALLOWED)}")
    with_attachments = qp.parse_bool("attachments", args.get("attachments"))
    lang = request.headers.get("Accept-Language")
    single = [p for p in qp.SINGLE if p in args]
    if single:
        extra = set(args) - {single[0], *qp.SINGLE_COMPANIONS}
        if len(single) > 1 or extra:
            # Part Three §2.1.3: statementId/voidedStatementId go only with attachments and format.
            raise BadRequest(f"{single[0]} cannot be combined with {', '.join(sorted(extra) or single[1:])}")
        row = sq.get_one(c.session, c.principal, args[single[0]], voided=single[0] == "voidedStatementId")
        return _answer([row.full], lambda sts, safe: _respond(
            apply_format(sts, fmt, lang, _definitions(c.principal.tenant_id, safe))[0], sts, with_attachments,
            row.stored))
    if "more" in args:
        if len(args) > 1:
            raise BadRequest("a more cursor already carries the query; send it alone")
        params, after = sq.decode_cursor(cfg.cursor_secret, c.principal.tenant_id, args["more"])
        q = dataclasses.replace(qp.parse_filters(params, c.version), after_seq=after)
        fmt = params.get("format", "exact")
        with_attachments = params.get("attachments") == "true"
    else:
        _reject_unknown(set(qp.FILTERS))
        params = args
        q = qp.parse_filters(args, c.version)
    page = sq.run_query(c.session, c.principal, q, page_cap=cfg.page_cap, cursor_secret=cfg.cursor_secret,
                        raw_params=params)
    # Part Three §2.1.3: `more` is an IRL relative to the LRS; empty string when there is no more.
    more = f"{request.script_root}/xapi/statements?more={page.more}" if page.more else ""
    return _answer(page.statements, lambda sts, safe: _respond(
        {"statements": apply_format(sts, fmt, lang, _definitions(c.principal.tenant_id, safe)), "more": more}, sts,
        with_attachments, page.last_stored))
