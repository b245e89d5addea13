"""Storing statements: the write rules of xAPI 1.0.3 Part Three §2.1 / IEEE 9274.1.1 §4.1.6.1.

Flask-free: callers pass a session and a Principal; the HTTP layer commits (``lrs.statement_retry``,
which also re-runs a deadlock victim). Nothing is written unless every statement of the request is
valid (a batch is atomic). The rules ``store`` applies through other modules: reserved extensions
(``lrs.reserved_extensions``) and Activity definitions (``lrs.activity_definitions``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

import orjson
from marshmallow import ValidationError
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

import schemas
from lrs import pg_one_trip
from lrs.activity_definitions import latest_definitions, store_definitions
from lrs.audit import chain as audit_chain
from lrs.blobs import attachments as attachment_store
from lrs.cmi5 import rules as cmi5_rules
from lrs.comparison import equivalent
from lrs.credentials import Principal
from lrs.errors import BadRequest, Conflict, PayloadTooLarge
from lrs.identifiers import KEY_MAX_BYTES, actor_key, agent_key, key_too_long
from lrs.multipart import AttachmentPart, check_attachments
from lrs.pg_ingest import SideRow, pg_ingest
from lrs.related import related
from lrs.reserved_extensions import RESERVED_KEY, ReservedCheck, check_reserved, may_carry, reserved_needles
from lrs.signatures import signature_parts, verify_signed_statement
from lrs.storage import (
    Statement,
    StatementActivity,
    StatementAgent,
    dialect_insert,
)
from lrs.versions import XapiVersion

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
# The largest statement kept, as compact JSON (HOCVU_MAX_STATEMENT_BYTES; README "What the LRS
# accepts"). The app's sessions carry the configured value under MAX_STATEMENT_BYTES_KEY.
MAX_STATEMENT_BYTES: Final = 1024 * 1024
MAX_STATEMENT_BYTES_KEY: Final = "hocvu.max_statement_bytes"


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds (DESIGN.md: microsecond precision kept)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def validation_message(err: ValidationError, prefix: str = "", lead: str = "invalid statement: ") -> str:
    """Flatten marshmallow's nested messages into 'path: problem; ...' for the 400 body."""
    parts: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, sub in node.items():
                walk(sub, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list) and node and all(isinstance(x, str) for x in node):
            parts.append(f"{path or 'statement'}: {' '.join(node)}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{path}[{i}]")
        else:
            parts.append(f"{path or 'statement'}: {node}")

    walk(err.messages, prefix)
    return lead + "; ".join(parts)


@dataclass
class Indexed:
    """A statement ready to insert: the JSON as it will be stored plus its index values."""

    statement: dict[str, Any]
    row: dict[str, Any]
    agents: list[tuple[str, bool]]
    activities: list[tuple[str, bool]]
    text: bytes | None = None  # the statement as sent, compact JSON (None: orjson could not write it)


def _arrays_of_context_activities(statement: dict[str, Any]) -> None:
    """Part Two §2.4.6.2: the LRS returns every contextActivities value as an array, even when a
    single Activity object was sent; normalise on the way in (the comparison rules allow it)."""
    for st in (statement, statement["object"]):
        ctx = st.get("context")
        if isinstance(ctx, dict) and isinstance(ctx.get("contextActivities"), dict):
            ctx = st["context"] = dict(ctx)
            ctx["contextActivities"] = {k: v if isinstance(v, list) else [v]
                                        for k, v in ctx["contextActivities"].items()}


def _compact(raw: Any) -> bytes | None:
    """``raw`` as compact UTF-8 JSON; None when orjson cannot write it (nesting past 255, integers
    past 64 bits, lone surrogates: the schema's rule judges those first)."""
    try:
        return orjson.dumps(raw)
    except TypeError:  # orjson.JSONEncodeError
        return None


def _check_size(raw: Any, size: int | None, max_bytes: int) -> None:
    if size is None:  # validated by now: nesting is bounded, so the stdlib writer cannot recurse away
        size = len(json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > max_bytes:
        # xAPI 1.0.3 Part Three §3.2.s3.b11 / IEEE 9274.1.1 §4.1.6: a statement larger than the LRS
        # allows is 413, whatever the size of the request around it.
        raise PayloadTooLarge(f"a statement is {size} bytes as compact JSON; this LRS keeps statements "
                              f"of at most {max_bytes} bytes")


def _check_keys(row: dict[str, Any], agents: list[tuple[str, bool]]) -> None:
    keys = [row["actor_key"], row["object_agent_key"], *(k for k, _ in agents)]
    if any(key_too_long(k) for k in keys):
        raise BadRequest("invalid statement: an Agent's or Group's identifier (mbox, openid, or account homePage "
                         f"and name together) is longer than this LRS keeps ({KEY_MAX_BYTES} bytes of UTF-8)")


def prepare(raw: Any, principal: Principal, version: XapiVersion, stored: datetime,
            *, statement_id: str | None = None, max_bytes: int = MAX_STATEMENT_BYTES) -> Indexed:
    """Validate one statement and complete the properties the LRS sets. ``max_bytes``: the
    largest statement kept (HOCVU_MAX_STATEMENT_BYTES), as compact JSON."""
    text = _compact(raw)
    size = None if text is None else len(text)
    if size is not None:
        _check_size(raw, size, max_bytes)  # before validating: a huge statement is refused cheaply
    # The common shapes are judged by the fast pre-check (schemas.xapi_precheck), which accepts
    # only what the schemas accept; the rest, and every refusal with its message, by the schemas.
    if not schemas.precheck_accepts(raw, version, text):
        try:
            schemas.validate_statement(raw, version)
        except ValidationError as err:
            raise BadRequest(validation_message(err)) from None
    if size is None:
        _check_size(raw, None, max_bytes)
    statement: dict[str, Any] = dict(raw)
    if statement["object"].get("objectType") == "SubStatement":
        statement["object"] = dict(statement["object"])
    _arrays_of_context_activities(statement)
    if statement_id is not None:
        if "id" in statement and statement["id"].lower() != statement_id:
            # xAPI 1.0.3 Part Three §2.1.1: the statementId parameter and the id must agree.
            raise BadRequest("the statement's id does not match the statementId parameter")
        statement.setdefault("id", statement_id)
    if "id" not in statement:  # not setdefault: a uuid4 drawn for every statement is measurable at 5,000/s
        statement["id"] = str(uuid.uuid4())  # xAPI 1.0.3 Part Two §2.4.1: LRS assigns a missing id
    stored_text = format_time(stored)
    statement["stored"] = stored_text  # Part Two §2.4.8: set by the LRS, whatever was sent
    statement.setdefault("timestamp", stored_text)  # Part Two §2.4.7: missing timestamp = stored
    statement["authority"] = principal.authority  # Part Two §2.4.9: the LRS vouches with the credential
    # Part Two §2.4.10 / IEEE 9274.1.1 §4.2.4.3: a missing version is set by the LRS.
    statement.setdefault("version", "1.0.0" if version == "1.0.3" else "2.0.0")
    obj = statement["object"]
    kind = obj.get("objectType", "Activity")
    # Part Two §2.3.2: a voiding statement's object is a StatementRef (schemas.validate_statement checks it).
    is_voiding = statement["verb"]["id"] == VOIDED
    agents, activities = related(statement)
    reg = (statement.get("context") or {}).get("registration")
    row = {
        "tenant_id": principal.tenant_id,
        "statement_id": statement["id"].lower(),
        "verb_id": statement["verb"]["id"],
        "actor_key": actor_key(statement["actor"]),
        "object_type": kind,
        "object_activity_id": obj["id"] if kind == "Activity" else None,
        "object_agent_key": agent_key(obj) if kind in ("Agent", "Group") else None,
        "object_statement_id": obj["id"].lower() if kind == "StatementRef" else None,
        "registration": reg.lower() if reg else None,
        "timestamp": schemas.parse_timestamp(statement["timestamp"]),
        "stored": stored,
        "voided": False,
        "is_voiding": is_voiding,
        "credential_id": principal.credential_id,
        "full": statement,
    }
    _check_keys(row, agents)
    return Indexed(statement, row, agents, activities, text)


def store(session: Session, principal: Principal, version: XapiVersion, raw: Any,
          parts: list[AttachmentPart], *, statement_id: str | None = None,
          audit: audit_chain.AuditPolicy | None = None, own_transaction: bool = False) -> list[str]:
    """Validate and store one statement or a batch; returns the ids in request order.
    Statements already stored with an equivalent body are not stored again (idempotent retries).
    ``audit``: the chain's checkpoint policy, by default the one attached to the session.
    ``own_transaction``: the caller commits right after and nothing else (``lrs.statement_retry``),
    so a small request may be stored and committed in one round trip (``lrs.pg_one_trip``)."""
    principal.require("statements/write")
    batch = raw if isinstance(raw, list) else [raw]
    if statement_id is not None and isinstance(raw, list):
        raise BadRequest("PUT takes one statement, not an array")
    if not batch:
        raise BadRequest("an empty array holds no statements to store")
    stored = datetime.now(UTC)
    max_bytes = session.info.get(MAX_STATEMENT_BYTES_KEY, MAX_STATEMENT_BYTES)
    prepared = [prepare(s, principal, version, stored, statement_id=statement_id, max_bytes=max_bytes)
                for s in batch]
    ids = [p.row["statement_id"] for p in prepared]
    if len(set(ids)) != len(ids):
        # Part Three §2.1.2: a batch with the same id twice is rejected as a whole.
        raise BadRequest("the batch contains the same statement id more than once")
    statements = [p.statement for p in prepared]
    check_attachments(statements, parts)
    by_hash = {p.sha2: p for p in parts}
    # Extensions only a trusted signer may write, as the composition root configured them.
    reserved: Mapping[str, ReservedCheck] = session.info.get(RESERVED_KEY) or {}
    needles = reserved_needles(reserved)
    for p, statement in zip(prepared, statements, strict=True):
        sigs = signature_parts(statement, parts)
        for sig in sigs:
            verify_signed_statement(statement, sig.body)
        if reserved and may_carry(p.text, needles):
            check_reserved(statement, [sig.body for sig in sigs], reserved)

    # An AU session's credential (cmi5): the cmi5 statement rules, before anything is written.
    cmi5_after = cmi5_rules.check_batch(session, principal, statements, stored, batch) \
        if cmi5_rules.applies(principal) else None
    if own_transaction and audit is None and _one_trip(session, principal, prepared, bool(by_hash),
                                                       cmi5_after is not None):
        return [p.statement["id"] for p in prepared]
    _check_voiding(session, principal, prepared)
    if by_hash:  # attachment bytes before the first write of the request (lrs.blobs.attachments.put_bytes)
        attachment_store.put_bytes(session, {h: by_hash[h] for h in attachment_store.declared_hashes(statements)
                                             if h in by_hash})
    inserted, newly_voided = _insert(session, principal, prepared, by_hash)
    if len(inserted) < len(prepared):
        _check_resent(session, principal, [(p, sent) for p, sent in zip(prepared, batch, strict=True)
                                           if p.row["statement_id"] not in inserted])
    # The audit chain, in this transaction: no statement is stored without its entry. Last, so the
    # chain head is the last lock taken (lrs.audit.chain) and a rejected batch never reaches it.
    fresh = sorted((p for p in prepared if p.row["statement_id"] in inserted),
                   key=lambda p: inserted[p.row["statement_id"]])
    audit_chain.append_statements(session, principal.tenant_id,
                                  [(p.row["statement_id"], p.statement) for p in fresh], newly_voided, audit)
    if cmi5_after is not None:
        cmi5_after()  # the session's state, then the LMS's follow-up (satisfied), in this transaction
    return [p.statement["id"] for p in prepared]


def _one_trip(session: Session, principal: Principal, prepared: list[Indexed], attachments: bool,
              cmi5: bool) -> bool:
    """The request stored and committed by one statement, when it qualifies and the database
    agrees (``lrs.pg_one_trip``); False: nothing was written, store it the usual way."""
    rows = [p.row for p in prepared]
    if not pg_one_trip.eligible(session, rows, attachments, cmi5):
        return False
    return pg_one_trip.store(session, principal.tenant_id, rows, *_side_rows(prepared), principal.has_any("define"))


def _side_rows(prepared: list[Indexed]) -> tuple[list[SideRow], list[SideRow]]:
    """The agents' and the Activities' side-table rows, each by its statement's place in the request."""
    return ([(i, k, d) for i, p in enumerate(prepared, start=1) for k, d in p.agents],
            [(i, a, d) for i, p in enumerate(prepared, start=1) for a, d in p.activities])


def _check_resent(session: Session, principal: Principal, resent: list[tuple[Indexed, Any]]) -> None:
    """Ids that were already stored: a re-send of the same statement is a no-op (idempotent
    retries), a different statement under a used id is a conflict (Part Three §2.1.1/§2.1.2)."""
    ids = [p.row["statement_id"] for p, _ in resent]
    stored: dict[str, Any] = dict(session.execute(select(Statement.statement_id, Statement.full).where(
        Statement.tenant_id == principal.tenant_id, Statement.statement_id.in_(ids))).all())
    for p, sent in resent:
        if p.row["statement_id"] not in stored:
            # PostgreSQL: the id is taken by a statement whose month was detached (lrs.partitions).
            raise Conflict(f"statement {p.row['statement_id']} already exists (archived)")
        if not equivalent(stored[p.row["statement_id"]], sent):
            # Raising rolls back the whole request: nothing of the batch is kept.
            raise Conflict(f"statement {p.row['statement_id']} already exists with different content")


def _check_voiding(session: Session, principal: Principal, prepared: list[Indexed]) -> None:
    targets = [p.row["object_statement_id"] for p in prepared if p.row["is_voiding"]]
    if not targets:
        return
    voiding_targets = session.scalars(
        select(Statement.statement_id).where(
            Statement.tenant_id == principal.tenant_id,
            Statement.statement_id.in_(targets),
            Statement.is_voiding.is_(True),
        )
    ).all()
    if voiding_targets:
        # Part Two §2.3.2: "A Voiding Statement cannot Target another Voiding Statement" (MAY reject).
        raise BadRequest(f"statement {voiding_targets[0]} is itself a voiding statement and cannot be voided")


def _insert(session: Session, principal: Principal, prepared: list[Indexed],
            by_hash: dict[str, AttachmentPart]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Insert the statements whose ids are new, with their side-table rows; returns those ids
    (with their ``seq``) and the (target, voiding id) pairs of statements this batch voided.

    One INSERT ... ON CONFLICT DO NOTHING RETURNING per batch: no look-up of existing ids first
    (a round trip, and a race with concurrent writers), and Core rather than ORM persistence
    because this is the hot path of ingest.

    Lock order (PostgreSQL). A write transaction takes its locks in phases, each in one canonical
    order, so no two writers can each hold what the other waits for: statement ids (unique-key
    inserts, sorted here), voided targets (row locks, sorted by id), attachment hashes (sorted),
    Activity ids (sorted, ``lrs.activity_definitions``), and last the tenant's audit head. Inserting a
    batch in request order let two batches with the same ids in opposite orders deadlock."""
    tenant = principal.tenant_id
    rows = [p.row for p in prepared]
    defines = principal.has_any("define")
    known: dict[str, Any] | None = None
    latest = latest_definitions([p.statement for p in prepared]) if defines else {}
    if session.get_bind().dialect.name == "postgresql":
        # One statement, one round trip: the rows, their ids' claim and their side-table rows, and
        # the stored definitions of the Activities it defines (read in passing, for the merge).
        done = pg_ingest(session, tenant, rows, *_side_rows(prepared), defined=sorted(latest))
        seq_of, known = done.seq_of, done.definitions
        fresh = [p for p in prepared if p.row["statement_id"] in seq_of]
    else:
        # SQLite has one write lock per database: its writers queue and cannot deadlock.
        stmt = (dialect_insert(session)(Statement.__table__)
                .on_conflict_do_nothing(index_elements=["tenant_id", "statement_id"])
                .returning(Statement.seq, Statement.statement_id))
        seq_of = {sid: seq for seq, sid in session.execute(stmt, rows)}
        fresh = [p for p in prepared if p.row["statement_id"] in seq_of]
        agent_rows = [(seq_of[p.row["statement_id"]], tenant, k, d) for p in fresh for k, d in p.agents]
        activity_rows = [(seq_of[p.row["statement_id"]], tenant, a, d) for p in fresh for a, d in p.activities]
        tables = cast(tuple[Table, Table], (StatementAgent.__table__, StatementActivity.__table__))  # mapped Tables
        for table, rows_ in ((tables[0], agent_rows), (tables[1], activity_rows)):
            if rows_:
                session.execute(insert(table), [dict(zip(table.columns.keys(), r, strict=True)) for r in rows_])
    voided_by: dict[str, str] = {}
    for p in sorted(fresh, key=lambda p: seq_of[p.row["statement_id"]]):
        if p.row["is_voiding"]:
            voided_by.setdefault(p.row["object_statement_id"], p.row["statement_id"])
    newly_voided: list[tuple[str, str]] = []
    if voided_by:
        # Lock the targets in id order first: an UPDATE locks rows in whatever order its plan
        # visits them, which two batches voiding the same statements need not share.
        session.execute(select(Statement.seq).where(Statement.tenant_id == tenant,
                                                    Statement.statement_id.in_(voided_by))
                        .order_by(Statement.statement_id).with_for_update())
        # RETURNING the rows that were not voided yet: each gets one 'voided' chain entry.
        targets = set(session.scalars(
            update(Statement)
            .where(Statement.tenant_id == tenant, Statement.statement_id.in_(voided_by),
                   Statement.is_voiding.is_(False), Statement.voided.is_(False))
            .values(voided=True)
            .returning(Statement.statement_id)
        ))
        newly_voided = [(t, by) for t, by in voided_by.items() if t in targets]
    _store_attachments(session, tenant, fresh, by_hash)
    if defines:
        store_definitions(session, tenant, [p.statement for p in fresh], known,
                          latest if len(fresh) == len(prepared) else None)
    return seq_of, newly_voided


def _store_attachments(session: Session, tenant: int, fresh: list[Indexed], by_hash: dict[str, AttachmentPart]) -> None:
    # Only the attachments of statements stored now (a re-sent statement's are there already), its
    # SubStatement's included; hashes compared in lower case, as lrs.multipart matched them. The
    # bytes went to the blob store before the first write (``store``); the metadata row is inserted
    # once per tenant, however many statements (or concurrent requests) cite it (lrs.blobs.attachments).
    wanted = attachment_store.declared_hashes(p.statement for p in fresh) & by_hash.keys()
    attachment_store.save(session, tenant, {h: by_hash[h] for h in wanted}, bytes_sent=True)
