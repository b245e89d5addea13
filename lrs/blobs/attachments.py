"""Attachments of a tenant's statements: metadata rows (``lrs.storage.Attachment``) over bytes in
the blob store (``lrs.blobs``). Every reader and writer of attachment bytes goes through here.

Tenancy (DESIGN.md, Data): the bytes of a hash are shared by every tenant that sent them, but a
tenant reads them only through its own row, so knowing another tenant's hash gives nothing.
Integrity: bytes are checked against their hash every time they are served; altered or missing
bytes are a 500 with their own error code, never served.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Text, cast, delete, event, select
from sqlalchemy.orm import Session

from lrs.blobs import BlobStore, archived, blob_store
from lrs.errors import ServerError, ServiceUnavailable
from lrs.multipart import AttachmentPart, sha2_matches
from lrs.storage import Attachment, Statement, dialect_insert

log = logging.getLogger(__name__)
CHUNK = 500  # hashes per IN (...) list
RETRY_AFTER = 5  # seconds, when the blob store failed


class AttachmentMissing(ServerError):
    """A tenant's attachment row whose bytes are in neither the row nor the blob store."""

    code = "attachment_missing"


class AttachmentStoreUnavailable(ServiceUnavailable):
    """The blob store failed (unreachable, disk full...): a 503, and nothing of the request is kept."""

    code = "attachment_store_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=RETRY_AFTER)


class AttachmentCorrupt(ServerError):
    """Stored bytes that no longer hash to their sha2: altered at rest, so they are not served."""

    code = "attachment_corrupt"


def declared_hashes(statements: Iterable[dict[str, Any]]) -> set[str]:
    """The lower-case sha2 of every attachment of ``statements`` and of their SubStatements
    (2.0 §4.2.2.3 lets a SubStatement carry attachments)."""
    found: set[str] = set()
    for statement in statements:
        obj = statement.get("object")
        sub = obj.get("attachments") if isinstance(obj, dict) and obj.get("objectType") == "SubStatement" else None
        for attachments in (statement.get("attachments"), sub):
            for attachment in attachments if isinstance(attachments, list) else ():
                if isinstance(attachment, dict) and isinstance(attachment.get("sha2"), str):
                    found.add(attachment["sha2"].lower())
    return found


def put_bytes(session: Session, parts: Mapping[str, AttachmentPart]) -> None:
    """Send ``parts``' bytes (by lower-case sha2) to the blob store, before the request writes any
    row: a slow or failing store (S3 over a network) then holds no row lock, no claimed statement id
    and no chain head, and a failure stores nothing (503). A request that later rolls back, or whose
    statements were already stored, leaves a blob no row names: harmless, the sweep removes it."""
    store = blob_store(session)
    if store is None:
        return
    for sha2 in sorted(parts):
        # Written even when this tenant or another already has it: a rewrite refreshes the
        # blob's time (the sweep's grace counts from it) and repairs a blob lost at rest.
        try:
            store.put(sha2, parts[sha2].body)
        except OSError as err:
            log.error("attachment %s: the %s blob store failed: %s", sha2, store.name, err)
            raise AttachmentStoreUnavailable(f"the attachment store could not take attachment {sha2}; "
                                             "nothing was stored, try again") from None


def save(session: Session, tenant_id: int, parts: Mapping[str, AttachmentPart], *, bytes_sent: bool = False) -> None:
    """Store ``parts`` (by lower-case sha2, verified against their bytes by ``lrs.multipart``) for a
    tenant: the bytes to the blob store first (unless ``bytes_sent``: ``put_bytes`` ran before the
    request's first write), then the rows, in this transaction."""
    if not parts:
        return
    if not bytes_sent:
        put_bytes(session, parts)
    store = blob_store(session)
    ordered = sorted(parts)  # hash order: two requests with the same attachments lock rows in one order
    session.execute(
        dialect_insert(session)(Attachment.__table__).on_conflict_do_nothing(index_elements=["tenant_id", "sha2"]),
        # No store registered (a bare Database used as a library): the bytes stay in the row, which
        # every reader understands and `hocvu attachments migrate` moves out later.
        [{"tenant_id": tenant_id, "sha2": h, "content_type": parts[h].content_type, "length": len(parts[h].body),
          "content": None if store is not None else parts[h].body} for h in ordered],
    )


def load(session: Session, tenant_id: int, hashes: Iterable[str], *, skip_bad: bool = False) -> list[AttachmentPart]:
    """The tenant's attachments among ``hashes``, bytes verified (hashes with no row of this tenant
    are left out: attachments given only by fileUrl, or another tenant's). Raises AttachmentMissing
    or AttachmentCorrupt (500) rather than serve nothing or altered bytes in their place; with
    ``skip_bad`` (auditors, whose pages show a missing signature as a failed check) such an
    attachment is logged and left out instead."""
    wanted = sorted({h.lower() for h in hashes})
    store = blob_store(session)
    parts: list[AttachmentPart] = []
    for i in range(0, len(wanted), CHUNK):
        rows = session.execute(select(Attachment.sha2, Attachment.content_type, Attachment.content).where(
            Attachment.tenant_id == tenant_id, Attachment.sha2.in_(wanted[i:i + CHUNK]))).all()
        for sha2, content_type, content in rows:
            try:
                body = content if content is not None else _fetch(store, sha2)
                if not sha2_matches(sha2, body):
                    # Bytes altered at rest (disk, bucket, or the row itself): an operator must look.
                    log.error("attachment %s of tenant %s: stored bytes do not match their hash", sha2, tenant_id)
                    raise AttachmentCorrupt(f"the stored bytes of attachment {sha2} do not match its sha2; "
                                            "they are not served (the operator has been told)")
            except (AttachmentMissing, AttachmentCorrupt):
                if skip_bad:
                    continue
                raise
            parts.append(AttachmentPart(sha2=sha2, content_type=content_type, body=body))
    return parts


def _fetch(store: BlobStore | None, sha2: str) -> bytes:
    try:
        body = store.get(sha2) if store is not None else None
    except OSError as err:
        log.error("attachment %s: the blob store failed: %s", sha2, err)
        raise AttachmentStoreUnavailable(f"the attachment store could not give attachment {sha2}; try again") \
            from None
    if body is None:
        where = f"the {store.name} blob store" if store is not None else "no blob store (none is configured)"
        log.error("attachment %s: its bytes are not in %s", sha2, where)
        raise AttachmentMissing(f"the bytes of attachment {sha2} are missing from {where}")
    return body


def cited_by(session: Session, tenant_id: int, seqs: list[int]) -> set[str]:
    """The attachment hashes the tenant's statements ``seqs`` carry (erasure reads them before the
    statements go)."""
    found: set[str] = set()
    for i in range(0, len(seqs), CHUNK):
        docs = session.scalars(select(Statement.full).where(Statement.tenant_id == tenant_id,
                                                            Statement.seq.in_(seqs[i:i + CHUNK])))
        found |= declared_hashes(d for d in docs if isinstance(d, dict))
    return found


@dataclass(frozen=True)
class Forgotten:
    gone: list[str]  # hashes whose rows went
    deferred: list[str]  # kept only because an archived month not listed yet may cite them


def forget(session: Session, tenant_id: int, hashes: Iterable[str]) -> Forgotten:
    """Erasure: delete the tenant's attachment rows among ``hashes`` that none of its remaining
    statements cites, live, detached or archived to the lake (lrs.blobs.archived), and, once the
    transaction commits, the blobs no tenant's row names any more.

    "Cites", of a live or detached statement, is a text search of the hash in the stored statement
    (JSON text): a 56-128 digit hash found anywhere keeps the row. It may keep a row a finer test
    would drop, never the reverse; and it reads the tenant's statements, which is acceptable for an
    erasure (rare, operator-run). Of an archived one, the month's list of cited hashes; while the
    tenant has an archived month not listed yet, nothing goes (``deferred``: the caller records them
    for ``hocvu lake erase``, which lists the month and forgets them)."""
    unused = [h for h in sorted(set(hashes)) if session.scalar(select(Statement.seq).where(
        Statement.tenant_id == tenant_id, cast(Statement.full, Text).contains(h)).limit(1)) is None]
    found = archived.citations(session, tenant_id, unused)
    unused = [h for h in unused if h not in found.cited]
    if found.unknown:
        return Forgotten([], unused)
    for i in range(0, len(unused), CHUNK):
        session.execute(delete(Attachment).where(Attachment.tenant_id == tenant_id,
                                                 Attachment.sha2.in_(unused[i:i + CHUNK])))
    store = blob_store(session)
    if unused and store is not None:
        _remove_after_commit(session, store, unused)
    return Forgotten(unused, [])


def _remove_after_commit(session: Session, store: BlobStore, hashes: list[str]) -> None:
    """Delete the blobs of ``hashes`` that no row names, after the erasure commits (before, a
    rollback would leave rows without bytes). Checked again then, on a new connection: another
    tenant may have stored the same bytes meanwhile, and its row keeps the blob."""
    # The engine, not the session's connection: after the commit it is handed back to the pool.
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind

    def remove(_session: Session) -> None:
        with engine.connect() as conn:
            named = set(conn.scalars(select(Attachment.sha2).where(Attachment.sha2.in_(hashes))))
        for sha2 in hashes:
            if sha2 not in named:
                try:
                    store.delete(sha2)
                except Exception:  # the rows are gone (committed); the sweep removes it later
                    log.exception("attachment %s: its blob could not be deleted after erasure", sha2)

    event.listen(session, "after_commit", remove, once=True)
