"""The three Document Resources (State, Activity Profile, Agent Profile) without Flask.

xAPI 1.0.3 Part Three §2.2-§2.3, §2.6-§2.7, §3.1 / IEEE 9274.1.1 §4.1.4, §4.1.6.2, §4.1.6.5,
§4.1.6.6. Callers pass a session and the tenant; the HTTP layer parses parameters and commits.
Every query is scoped by ``tenant_id`` so one tenant never sees another's documents.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, cast

from marshmallow import ValidationError
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy import delete as sa_delete
from sqlalchemy.orm import Session

import schemas
from lrs.errors import BadRequest, Conflict, NotFound, PreconditionFailed
from lrs.json_text import loads_strict
from lrs.statements import validation_message
from lrs.storage import Document, as_utc, dialect_insert
from lrs.versions import XapiVersion

Kind = Literal["state", "activity_profile", "agent_profile"]
JSON_TYPE = "application/json"
DEFAULT_TYPE = "application/octet-stream"  # what a document sent without a Content-Type is kept as
CONTENT_TYPE_LEN = 255  # Document.content_type's size
# Key parts of a document (the Activity id, the Agent's key) longer than this are kept as their
# SHA-256 ("#sha256:<hex>", which no IRI or Agent key can be): the documents' unique key spans
# Activity, Agent, registration and document id, and PostgreSQL cannot index an entry past 2704
# bytes (two 2048-byte IRIs would not fit, a lone 3-byte-letter IRI neither). Shorter parts are
# kept as they are, so looking one up needs nothing but the same function (migration 0021).
KEY_INLINE_BYTES: Final = 512
# The longest stateId / profileId kept (bytes of UTF-8): with the parts above, the key fits the index.
DOC_ID_MAX_BYTES: Final = 1024
CONFLICT_ADVICE = ("the document already exists: GET it to check its current state, then send the "
                   "write again with If-Match set to its current ETag (or If-None-Match: * to create only)")


@dataclass(frozen=True)
class Scope:
    """Where documents live: the key parts besides the document id. Parts a kind does not use
    are '' (the storage convention). ``registration`` None means "any registration", which only
    the State multiple-document GET and DELETE use (Part Three §2.3.s4, §2.3.s5)."""

    kind: Kind
    activity_id: str = ""
    agent_key: str = ""
    registration: str | None = ""


@dataclass(frozen=True)
class Preconditions:
    """The request's If-Match / If-None-Match headers, as sent (None when absent)."""

    if_match: str | None = None
    if_none_match: str | None = None

    @property
    def sent(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None


def key_part(value: str) -> str:
    """How a document's Activity id or Agent key is kept (see KEY_INLINE_BYTES)."""
    if len(value) * 4 <= KEY_INLINE_BYTES:
        return value
    data = value.encode("utf-8", "surrogatepass")
    return value if len(data) <= KEY_INLINE_BYTES else "#sha256:" + hashlib.sha256(data).hexdigest()


def compute_etag(content: bytes) -> str:
    # Part Three §3.1.s4.b2: the ETag is the lowercase hex SHA-1 of the contents. IEEE 9274.1.1
    # no longer fixes the algorithm, but a document written through 2.0 can be read through
    # 1.0.3, so one algorithm for both versions keeps every stored ETag valid for every reader.
    return hashlib.sha1(content, usedforsecurity=False).hexdigest()  # an entity tag, not a secret


def quoted(etag: str) -> str:
    return f'"{etag}"'  # Part Three §3.1.s4.b4: the ETag header is enclosed in quotes


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    return _media_type(content_type) == JSON_TYPE


# --- preconditions (RFC 7232 §3.1-§3.2, §6, as Part Three §3.1 / IEEE §4.1.4 require) ---------

def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def _opaque(tag: str) -> str:
    # Tolerate unquoted tags from lax clients: the opaque value is what is compared.
    return tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else tag


def _if_match_passes(header: str, current: str | None) -> bool:
    if current is None:
        return False  # RFC 7232 §3.1: If-Match fails when there is no current representation
    tags = _tags(header)
    if "*" in tags:
        return True
    # Strong comparison: a weak tag never matches for If-Match.
    return any(not t.startswith("W/") and _opaque(t) == current for t in tags)


def _if_none_match_passes(header: str, current: str | None) -> bool:
    if current is None:
        return True
    tags = _tags(header)
    if "*" in tags:
        return False
    # Weak comparison: W/"x" and "x" both name the current document.
    return all(_opaque(t.removeprefix("W/")) != current for t in tags)


def check_preconditions(pre: Preconditions, current: Document | None) -> None:
    """Part Three §3.1.s4.b5-b12 / IEEE §4.1.4: a failed If-Match or If-None-Match precondition is
    412 Precondition Failed and the document is left as it was."""
    etag = current.etag if current is not None else None
    if pre.if_match is not None and not _if_match_passes(pre.if_match, etag):
        raise PreconditionFailed("If-Match does not match the document's current ETag"
                                 + ("" if current is not None else " (no such document exists)"))
    if pre.if_none_match is not None and not _if_none_match_passes(pre.if_none_match, etag):
        raise PreconditionFailed("If-None-Match matches the document's current ETag (the document exists)")


def _check_put_headers(kind: Kind, version: XapiVersion, pre: Preconditions, current: Document | None) -> None:
    """Which PUTs must carry If-Match or If-None-Match, by version and resource."""
    if pre.sent:
        return
    if version == "1.0.3":
        if kind == "state":
            return  # Part Three §3.1.s3: the State Resource permits writes without concurrency headers
        if current is not None:
            raise Conflict(CONFLICT_ADVICE)  # Part Three §3.1.s4.b13-b15
        # Part Three §3.1.s3.b1: a PUT to a profile MUST carry one of the headers (the ADL 1.0.3
        # suite, XAPI-00273, expects 400 for a new profile document sent without either).
        raise BadRequest("a PUT to a profile document needs an If-Match or If-None-Match header "
                         "(If-None-Match: * to create a new document)")
    # IEEE 9274.1.1 §4.1.4 lists State with the profiles and drops 1.0.3's State exemption:
    # a PUT without either header to an existing document of any kind is 409.
    if current is not None:
        raise Conflict(CONFLICT_ADVICE)


# --- reads ------------------------------------------------------------------------------------

def _scope_conditions(tenant_id: int, scope: Scope) -> list[Any]:
    conds: list[Any] = [Document.tenant_id == tenant_id, Document.kind == scope.kind,
                        Document.activity_id == key_part(scope.activity_id),
                        Document.agent_key == key_part(scope.agent_key)]
    if scope.registration is not None:
        conds.append(Document.registration == scope.registration)
    return conds


def _find(session: Session, tenant_id: int, scope: Scope, doc_id: str, *, lock: bool = False) -> Document | None:
    if scope.registration is None:
        raise ValueError("a single document needs a definite registration ('' for none)")
    stmt = (select(Document).where(*_scope_conditions(tenant_id, scope), Document.doc_id == doc_id)
            .execution_options(populate_existing=True))  # a retry must see the row as it is now
    if lock:
        # PostgreSQL: hold the row so a concurrent writer waits and then sees our ETag change.
        # SQLite ignores FOR UPDATE; the ETag-guarded write (see "writes") covers it there.
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def get(session: Session, tenant_id: int, scope: Scope, doc_id: str) -> Document:
    """Part Three §2.3.s3, §2.6.s3, §2.7.s3: GET of a single document; 404 when absent."""
    doc = _find(session, tenant_id, scope, doc_id)
    if doc is None:
        raise NotFound(f"no document with id {doc_id!r} here")
    return doc


def list_ids(session: Session, tenant_id: int, scope: Scope,
             since: datetime | None = None) -> tuple[list[str], datetime | None]:
    """Part Three §2.3.s4, §2.6.s4, §2.7.s4: the ids in ``scope``, only those updated after
    ``since`` (exclusive) when given; also the latest ``updated`` among them, for Last-Modified
    (§2.2.s6.b2)."""
    conds = _scope_conditions(tenant_id, scope)
    if since is not None:
        conds.append(Document.updated > as_utc(since))
    rows = session.execute(
        select(Document.doc_id, func.max(Document.updated)).where(*conds)
        .group_by(Document.doc_id).order_by(Document.doc_id)  # an id under several registrations once
    ).all()
    latest = max((as_utc(r[1]) for r in rows), default=None)
    return [r[0] for r in rows], latest


# --- writes -----------------------------------------------------------------------------------
#
# A write reads the document, checks the preconditions against it, then changes it only if it is
# still what was read: UPDATE/DELETE ... WHERE etag = <the ETag read>, INSERT ... ON CONFLICT DO
# NOTHING. PostgreSQL's FOR UPDATE already serialises writers; SQLite's driver reads outside any
# transaction, so without the guard two writers holding one ETag could both pass If-Match. A write
# that loses the race starts over from a fresh read (now under the writer lock), a few times.

ATTEMPTS = 3


@dataclass(frozen=True)
class Written:
    """What the HTTP layer needs after a write: the new ETag and modification time."""

    etag: str
    updated: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def _insert_if_absent(session: Session, values: dict[str, Any]) -> bool:
    stmt = dialect_insert(session)(Document).values(**values).on_conflict_do_nothing()
    return bool(cast(CursorResult[Any], session.execute(stmt)).rowcount)


def _store(session: Session, tenant_id: int, scope: Scope, doc_id: str, current: Document | None,
           content: bytes, content_type: str) -> Written | None:
    """Write the document unless it changed since ``current`` was read; None if it did."""
    etag, now = compute_etag(content), _now()
    # Part Three §2.2.s2: "updated", served as Last-Modified and compared with `since`.
    values = {"content": content, "content_type": content_type, "etag": etag, "updated": now}
    if current is None:
        key = {"tenant_id": tenant_id, "kind": scope.kind, "activity_id": key_part(scope.activity_id),
               "agent_key": key_part(scope.agent_key), "registration": scope.registration or "", "doc_id": doc_id}
        return Written(etag, now) if _insert_if_absent(session, {**key, **values}) else None
    result: Any = session.execute(
        update(Document).where(Document.tenant_id == current.tenant_id, Document.id == current.id,
                               Document.etag == current.etag)
        .values(**values).execution_options(synchronize_session=False))
    session.expire(current)
    return Written(etag, now) if result.rowcount == 1 else None


def json_document(content: bytes, what: str) -> Any:
    """A document sent as application/json: RFC 8259 JSON (strict: no NaN, no key twice) that keeps
    the rule statements keep (schemas.xapi_limits: finite numbers, bounded nesting, Unicode text),
    so a later POST can merge it and write it back whole (Part Three §2.2.s7-s8)."""
    value = loads_strict(content, what)
    try:
        schemas.check_json(value)
    except ValidationError as err:
        raise BadRequest(validation_message(err, lead=f"{what} cannot be kept: ")) from None
    return value


def _json_object(content: bytes, what: str) -> dict[str, Any]:
    value = json_document(content, what)
    if not isinstance(value, dict):
        raise BadRequest(f"{what} is not a JSON object, so it cannot be merged")
    return value


def _raced() -> Conflict:
    return Conflict("the document kept changing while this request was handled; GET it and retry")


def put(session: Session, tenant_id: int, version: XapiVersion, scope: Scope, doc_id: str,
        content: bytes, content_type: str | None, pre: Preconditions) -> Written:
    """Store ``content`` as the document, replacing any existing one (Part Three §2.3.s3 etc.)."""
    ctype = (content_type or "").strip() or DEFAULT_TYPE  # Part Three §1.5.b1: documents can have any type
    if len(ctype) > CONTENT_TYPE_LEN:
        raise BadRequest(f"the Content-Type is longer than this LRS keeps ({CONTENT_TYPE_LEN} characters)")
    if is_json(ctype):
        json_document(content, "the document (sent as application/json)")  # or a later POST merge breaks
    for _ in range(ATTEMPTS):
        current = _find(session, tenant_id, scope, doc_id, lock=True)
        check_preconditions(pre, current)
        _check_put_headers(scope.kind, version, pre, current)
        written = _store(session, tenant_id, scope, doc_id, current, content, ctype)
        if written is not None:
            return written
    raise _raced()


def post(session: Session, tenant_id: int, scope: Scope, doc_id: str,
         content: bytes, content_type: str | None, pre: Preconditions) -> Written:
    """Part Three §2.2.s7-s8: merge a posted JSON object into the stored one, top level only;
    with no stored document the posted one is stored as a PUT would store it."""
    ctype = (content_type or "").strip()
    # Part Three §2.2.s8.b1: the posted document must be application/json and a JSON object.
    if not is_json(ctype):
        raise BadRequest(f"a POST to a document must be application/json (a JSON object), not {ctype or 'untyped'}")
    posted = _json_object(content, "the posted document")
    for _ in range(ATTEMPTS):
        current = _find(session, tenant_id, scope, doc_id, lock=True)
        # Part Three §3.1.s4.b7-b8, IEEE §4.1.4: If-Match / If-None-Match are honoured on POST too.
        check_preconditions(pre, current)
        if current is None:
            merged = posted
        else:
            if not is_json(current.content_type):  # §2.2.s8.b1: the stored one must be JSON too
                raise BadRequest(f"the stored document is {current.content_type}, not application/json, "
                                 "so it cannot be merged; PUT to replace it")
            merged = _json_object(current.content, "the stored document")
            merged.update(posted)  # §2.2.s7.b2: each top-level property posted replaces the stored one
        body = json.dumps(merged, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        written = _store(session, tenant_id, scope, doc_id, current, body, JSON_TYPE)
        if written is not None:
            return written
    raise _raced()


def delete(session: Session, tenant_id: int, scope: Scope, doc_id: str, pre: Preconditions) -> None:
    """Part Three §2.3.s3 etc.: delete one document. Deleting an absent one is still 204 (the ADL
    suite, XAPI-00285, deletes a profile never written), unless a precondition says otherwise."""
    for _ in range(ATTEMPTS):
        current = _find(session, tenant_id, scope, doc_id, lock=True)
        check_preconditions(pre, current)  # Part Three §3.1.s4.b7 / IEEE §4.1.4: If-Match on DELETE
        if current is None:
            return
        result: Any = session.execute(
            sa_delete(Document).where(Document.tenant_id == current.tenant_id, Document.id == current.id,
                                      Document.etag == current.etag)
            .execution_options(synchronize_session=False))
        session.expunge(current)
        if result.rowcount == 1:
            return
    raise _raced()


def delete_all(session: Session, tenant_id: int, scope: Scope) -> int:
    """Part Three §2.3.s5: DELETE State without stateId removes every state document of the
    Activity + Agent (+ registration when given). Returns how many were removed."""
    if scope.kind != "state":
        raise ValueError("only the State Resource deletes many documents at once")
    result: Any = session.execute(sa_delete(Document).where(*_scope_conditions(tenant_id, scope))
                                  .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)
