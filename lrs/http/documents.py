"""Document Resource handlers: State (xAPI 1.0.3 Part Three §2.3 / IEEE 9274.1.1 §4.1.6.2),
Agent Profile (§2.6 / §4.1.6.5) and Activity Profile (§2.7 / §4.1.6.6).

Thin: parse and check the parameters, authorise, call ``lrs.documents``, set the headers.
HEAD is served by Flask from the GET routes (Part Three §1.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Response, request

import schemas
from lrs import documents
from lrs import query_params as qp
from lrs.cmi5 import rules as cmi5_rules
from lrs.documents import DOC_ID_MAX_BYTES, Kind, Preconditions, Scope, compute_etag, quoted
from lrs.errors import BadRequest
from lrs.http.frame import bp, call, http_date, json_response
from lrs.identifiers import KEY_MAX_BYTES, agent_key, key_too_long
from lrs.storage import as_utc


@dataclass(frozen=True)
class Resource:
    """What tells the three resources apart: their key parameters and their scope."""

    kind: Kind
    id_param: str  # stateId | profileId
    key_params: tuple[str, ...]  # activityId / agent / registration, as the resource uses them
    scope: str  # the OAuth scope that writes it (Part Three §4.2)


STATE = Resource("state", "stateId", ("activityId", "agent", "registration"), "state")
ACTIVITY_PROFILE = Resource("activity_profile", "profileId", ("activityId",), "profile")
AGENT_PROFILE = Resource("agent_profile", "profileId", ("agent",), "profile")


@dataclass(frozen=True)
class Target:
    scope: Scope
    doc_id: str | None
    since: datetime | None


def _single(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"parameter {name} is given more than once")
    return values[0] if values else None


def _check_doc_id(name: str, doc_id: str) -> None:
    """stateId / profileId: any string (Part Three §2.3.s3.table1.row4), but not empty, with no NUL
    (PostgreSQL's text cannot hold one; SQLite's can, and the two must answer alike) and no longer
    than lrs.documents.DOC_ID_MAX_BYTES (with the other key parts, the most an index entry holds)."""
    if doc_id == "":
        raise BadRequest(f"parameter {name} must not be empty")
    problem = schemas.string_problem(doc_id)
    if problem is not None:
        raise BadRequest(f"parameter {name} {problem}")
    if len(doc_id) * 4 > DOC_ID_MAX_BYTES and len(doc_id.encode("utf-8")) > DOC_ID_MAX_BYTES:
        raise BadRequest(f"parameter {name} is longer than this LRS keeps ({DOC_ID_MAX_BYTES} bytes of UTF-8)")


def _parse(res: Resource) -> Target:
    method = "GET" if request.method == "HEAD" else request.method
    # since is a parameter of the multiple-document GET only (Part Three §2.3.s4, §2.6.s4, §2.7.s4).
    allowed = {*res.key_params, res.id_param, *(("since",) if method == "GET" else ())}
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise BadRequest(f"unknown parameter(s) for this request: {', '.join(unknown)}")

    activity_id = agent = ""
    if "activityId" in res.key_params:
        value = _single("activityId")
        if value is None:  # Part Three §2.3.s3.table1.row1, §2.7.s3.table1.row1: required
            raise BadRequest("the activityId parameter is required")
        qp.check_iri_param("activityId", value)  # format and length: what both databases can key
        activity_id = value
    if "agent" in res.key_params:
        value = _single("agent")
        if value is None:  # Part Three §2.3.s3.table1.row2, §2.6.s3.table1.row1: required
            raise BadRequest("the agent parameter is required")
        # Part Three §2.6.s3 note: an Agent, not a Group (an Identified Group's IFI in an Agent is fine).
        key = agent_key(qp.parse_agent(value, call().version, allow_group=False))
        if key is None:
            raise BadRequest("parameter agent must identify the Agent (mbox, mbox_sha1sum, openid or account)")
        if key_too_long(key):
            raise BadRequest(f"the agent's identifier is longer than this LRS keeps ({KEY_MAX_BYTES} bytes of UTF-8)")
        agent = key

    doc_id = _single(res.id_param)
    if doc_id is not None:
        _check_doc_id(res.id_param, doc_id)
    # The id is required to write; GET without it lists ids; DELETE without it is State-only.
    if doc_id is None and (method in ("PUT", "POST") or (method == "DELETE" and res.kind != "state")):
        raise BadRequest(f"the {res.id_param} parameter is required for {method}")

    registration: str | None = ""  # a single document sent without registration is keyed by ''
    if "registration" in res.key_params:
        value = _single("registration")
        if value is not None:
            if not schemas.is_uuid(value):  # Part Three §2.3.s3.table1.row3
                raise BadRequest("parameter registration must be a UUID")
            registration = value.lower()
        elif doc_id is None:
            registration = None  # §2.3.s4, §2.3.s5: without registration, every registration's state

    since = qp.parse_time("since", _single("since"))
    return Target(Scope(res.kind, activity_id, agent, registration), doc_id, since)


def _preconditions() -> Preconditions:
    return Preconditions(request.headers.get("If-Match"), request.headers.get("If-None-Match"))


def _doc_headers(etag: str, updated: datetime) -> dict[str, str]:
    # Part Three §3.1.s4.b1 (ETag), §2.2.s6.b1 (Last-Modified).
    return {"ETag": quoted(etag), "Last-Modified": http_date(as_utc(updated))}


def _get(target: Target) -> Response:
    c = call()
    tenant = c.principal.tenant_id
    if target.doc_id is None:
        ids, latest = documents.list_ids(c.session, tenant, target.scope, target.since)
        response = json_response(ids)
        # Part Three §3.1.s4.b1: every GET carries an ETag, the id list's included.
        response.headers["ETag"] = quoted(compute_etag(response.get_data()))
        if latest is not None:  # §2.2.s6.b2: when the most recently modified document was modified
            response.headers["Last-Modified"] = http_date(latest)
        return response
    doc = documents.get(c.session, tenant, target.scope, target.doc_id)
    # RFC 7232 §3.1: If-Match on GET too; If-None-Match gives 304 through make_conditional.
    documents.check_preconditions(Preconditions(if_match=request.headers.get("If-Match")), doc)
    response = Response(doc.content, status=200, content_type=doc.content_type,
                        headers=_doc_headers(doc.etag, doc.updated))
    response.make_conditional(request)  # RFC 7232 §4.1: turns itself into a 304 when it may
    return response


def _write(target: Target) -> Response:
    c = call()
    tenant, pre = c.principal.tenant_id, _preconditions()
    if request.method == "DELETE":
        if target.doc_id is None:
            # Part Three §2.3.s5: delete every state of the Activity + Agent (+ registration). No
            # single ETag describes that set, so If-Match / If-None-Match do not apply here.
            documents.delete_all(c.session, tenant, target.scope)
        else:
            documents.delete(c.session, tenant, target.scope, target.doc_id, pre)
        c.session.commit()
        return Response(status=204)
    assert target.doc_id is not None  # _parse requires it for PUT and POST
    body, ctype = request.get_data(), request.headers.get("Content-Type")
    if request.method == "PUT":
        written = documents.put(c.session, tenant, c.version, target.scope, target.doc_id, body, ctype, pre)
    else:
        written = documents.post(c.session, tenant, target.scope, target.doc_id, body, ctype, pre)
    c.session.commit()
    # Part Three §2.3.s3 etc.: 204 No Content; the new ETag saves the client a GET before its next write.
    return Response(status=204, headers=_doc_headers(written.etag, written.updated))


def _handle(res: Resource) -> Response:
    reading = request.method in ("GET", "HEAD")
    # Part Three §4.2: `state` / `profile` to write, those or `all/read` to read (`all` does all).
    # Authorise before looking at parameters, so a credential without the scope learns nothing.
    if reading:
        call().principal.require(res.scope, "all/read")
    else:
        call().principal.require(res.scope)
    target = _parse(res)
    principal = call().principal
    if cmi5_rules.applies(principal):  # an AU session's credential: its own learner, AU and registration
        sc = target.scope
        if cmi5_rules.check_document(call().session, principal, sc.kind, sc.activity_id, sc.agent_key,
                                     sc.registration, target.doc_id, not reading, request.get_data(),
                                     request.headers.get("Content-Type", "")):
            call().session.commit()  # the session now knows its AU read the learner preferences
    return _get(target) if reading else _write(target)


@bp.route("/activities/state", methods=["GET", "PUT", "POST", "DELETE"])
def activity_state() -> Response:
    return _handle(STATE)


@bp.route("/activities/profile", methods=["GET", "PUT", "POST", "DELETE"])
def activity_profile() -> Response:
    return _handle(ACTIVITY_PROFILE)


@bp.route("/agents/profile", methods=["GET", "PUT", "POST", "DELETE"])
def agent_profile() -> Response:
    return _handle(AGENT_PROFILE)
