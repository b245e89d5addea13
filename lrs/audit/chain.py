"""The audit chain: an append-only hash chain per tenant over every stored, voided and erased
statement and every auditor access, with checkpoints signed by the hub (DESIGN.md, Data: Audit trail).

Hashes (SHA-256, lowercase hex):

* ``content_hash`` = H(JCS(statement)), the statement exactly as stored (the ``full`` column), in
  the JSON Canonicalization Scheme of RFC 8785 (``lrs.jcs``).
* ``entry_hash`` = H(prev_hash as ASCII hex ‖ JCS({tenant_id, position, kind, statement_id,
  content_hash, detail, recorded})), ``recorded`` as ISO 8601 UTC with microseconds; the first
  entry's ``prev_hash`` is 64 zeros.

Appending is part of the caller's transaction (``lrs.statements.store`` calls ``append_statements``),
so a statement is never stored without its entry. Appenders serialise on the tenant's ``AuditHead``
row, locked as the *last* lock of a write transaction: the holder of the head takes no other lock
before it commits, so it cannot be part of a deadlock with the ordered locks taken earlier.

Stores older than the chain (migration 0006) hold statements with no entry; ``lrs.audit.adoption``
gives each an 'adopted' entry: the hash of the statement as it is at adoption. It proves the
statement has not changed *since*, and nothing about before; the kind keeps that difference visible
to auditors. A privacy request's erasure appends 'erased' entries: ``lrs.audit.erasure``.

A checkpoint is a compact JWS (RFC 7515, RS256, ``x5c`` = the hub's certificate) over
JCS({chain, tenant_id, tenant, position, entry_hash, time}), made every ``checkpoint_every``
entries or when ``checkpoint_minutes`` have passed, by a signer the composition root injects
(``lrs`` never imports ``identity``: DESIGN.md, one-way imports). Verification: ``lrs.audit.verify``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

# The signers lived here; their names stay importable from here (hocvu.app, tests).
from lrs.audit.signers import ALGORITHM as ALGORITHM
from lrs.audit.signers import CheckpointSigner
from lrs.audit.signers import JwsSigner as JwsSigner
from lrs.audit.signers import LazySigner as LazySigner
from lrs.jcs import canonical_flat, canonical_json
from lrs.pg_ingest import SeenHead, json_text
from lrs.storage import AuditCheckpoint, AuditEntry, AuditHead, Base, Tenant, as_utc, dialect_insert

log = logging.getLogger(__name__)

CHAIN_VERSION: Final = "hocvu-audit-chain/1"
GENESIS: Final = "0" * 64
KINDS: Final = ("stored", "voided", "erased", "access", "adopted")
# The kinds that account for a statement row: the hub stored it, or found it and adopted it.
STATEMENT_KINDS: Final = ("stored", "adopted")
POLICY_KEY: Final = "hocvu.audit_policy"  # Session.info key: the policy travels with the database's sessions
MAX_ACCESS_DETAIL: Final = 4096  # bytes of canonical JSON: an access entry is a note, not a payload


# --- canonical form and hashes -------------------------------------------------------------------


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(statement: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(statement))


def iso(value: datetime) -> str:
    """UTC, microseconds, 'Z' (DESIGN.md Conventions). A naive value (SQLite) is UTC."""
    return as_utc(value).isoformat(timespec="microseconds").replace("+00:00", "Z")


def entry_hash(prev_hash: str, tenant_id: int, position: int, kind: str, statement_id: str | None,
               content: str | None, detail: dict[str, Any] | None, recorded: datetime | str) -> str:
    fields: dict[str, Any] = {"tenant_id": tenant_id, "position": position, "kind": kind, "statement_id": statement_id,
              "content_hash": content, "detail": detail,
              "recorded": recorded if isinstance(recorded, str) else iso(recorded)}
    flat = detail is None and type(statement_id) in (str, type(None)) and type(content) in (str, type(None))
    return sha256_hex(prev_hash.encode("ascii") + (canonical_flat(fields) if flat else canonical_json(fields)))


def entry_dict(row: AuditEntry) -> dict[str, Any]:
    """An entry as auditors and proof bundles see it: every hashed field, as hashed."""
    return {"tenant_id": row.tenant_id, "position": row.position, "kind": row.kind,
            "statement_id": row.statement_id, "content_hash": row.content_hash, "detail": row.detail,
            "recorded": iso(row.recorded), "prev_hash": row.prev_hash, "entry_hash": row.entry_hash}


def recompute_entry_hash(entry: dict[str, Any]) -> str:
    """The hash ``entry`` (as ``entry_dict`` gives it) should carry."""
    return entry_hash(entry["prev_hash"], entry["tenant_id"], entry["position"], entry["kind"],
                      entry["statement_id"], entry["content_hash"], entry["detail"], entry["recorded"])


@dataclass(frozen=True)
class AuditPolicy:
    """How a database's writers append: the checkpoint signer and when to checkpoint."""

    signer: CheckpointSigner | None = None
    checkpoint_every: int = 1000  # HOCVU_AUDIT_CHECKPOINT_EVERY
    checkpoint_minutes: float = 60.0  # HOCVU_AUDIT_CHECKPOINT_MINUTES
    # BENCHMARK ONLY (HOCVU_BENCH_NO_AUDIT_CHAIN, bench/chain.py): False skips appending, so the
    # chain's share of ingest can be measured. A store written this way does not verify.
    append: bool = True


DEFAULT_POLICY: Final = AuditPolicy()


def policy_of(session: Session) -> AuditPolicy:
    """The policy ``lrs.http.init_app`` attached to every session of the app's database."""
    policy = session.info.get(POLICY_KEY)
    return policy if isinstance(policy, AuditPolicy) else DEFAULT_POLICY


def always_appending(policy: AuditPolicy) -> AuditPolicy:
    """``policy`` with appending on: the bench switch skips only ingest's entries, never the record
    of an access, an erasure or an adoption (those are the audit trail's own acts)."""
    return policy if policy.append else AuditPolicy(policy.signer, policy.checkpoint_every, policy.checkpoint_minutes)


# --- appending -----------------------------------------------------------------------------------


@dataclass
class NewEntry:
    kind: str
    statement_id: str | None = None
    content_hash: str | None = None
    detail: dict[str, Any] | None = None


@dataclass
class _Head:
    position: int
    entry_hash: str
    checkpoint_position: int
    checkpoint_time: datetime
    changed: dict[str, Any] = field(default_factory=dict)


def lock_head(session: Session, tenant_id: int, now: datetime) -> _Head:
    """Create-or-lock the tenant's head in one round trip: INSERT ... ON CONFLICT DO UPDATE takes
    the row lock on PostgreSQL (as SELECT ... FOR UPDATE would) and returns the row; on SQLite any
    write holds the database's one write lock until commit."""
    table = AuditHead.__table__
    stmt = (dialect_insert(session)(table)
            .values(tenant_id=tenant_id, position=0, entry_hash=GENESIS, checkpoint_position=0, checkpoint_time=now)
            .on_conflict_do_update(index_elements=["tenant_id"], set_={"position": table.c.position})
            .returning(table.c.position, table.c.entry_hash, table.c.checkpoint_position, table.c.checkpoint_time))
    row = session.execute(stmt).one()
    cp_time = as_utc(row.checkpoint_time)
    return _Head(int(row.position), row.entry_hash, int(row.checkpoint_position), cp_time)


_ENTRY_COLUMNS: Final = ("tenant_id", "position", "kind", "statement_id", "content_hash", "detail", "recorded",
                          "prev_hash", "entry_hash")


def _table(model: type[Base]) -> Table:
    """A mapped class's Table, as SQLAlchemy Core's insert() types it (``__table__`` is typed as a FromClause)."""
    return cast(Table, model.__table__)


_NAMES: Final = ", ".join(_ENTRY_COLUMNS)
# PostgreSQL: the entries and the head's new values in one statement, one round trip while the
# head's lock is held (it was a COPY, two round trips, and an UPDATE, one more): the entries come as
# one JSON text the server reads into rows, as lrs.pg_ingest does for statements.
_APPEND_PG: Final = (f"WITH e AS (INSERT INTO audit_entries ({_NAMES}) SELECT {_NAMES} FROM "
                     "json_populate_recordset(NULL::audit_entries, %(entries)s::json)) "
                     "UPDATE audit_heads SET {sets} WHERE tenant_id = %(tenant)s")


def _write_entries(session: Session, tenant_id: int, rows: list[dict[str, Any]], head: dict[str, Any]) -> None:
    """Insert ``rows`` and set the head's changed columns ``head``, in the caller's transaction."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(_table(AuditEntry)), rows)
        session.execute(update(AuditHead).where(AuditHead.tenant_id == tenant_id).values(**head))
        return
    raw: Any = session.connection().connection.dbapi_connection  # psycopg's Connection
    sets = ", ".join(f"{column} = %(h_{column})s" for column in sorted(head))
    with raw.cursor() as cur:
        cur.execute(_APPEND_PG.format(sets=sets), {"entries": json_text(rows), "tenant": tenant_id,
                                                   **{f"h_{c}": v for c, v in head.items()}})


def append(session: Session, tenant_id: int, entries: list[NewEntry], policy: AuditPolicy | None = None, *,
           seen: SeenHead | None = None) -> list[int]:
    """Append ``entries`` in order to the tenant's chain, in the caller's transaction (no commit);
    returns their positions. Checkpoints when one is due. ``seen``: the head as this transaction
    read it without its lock (``lrs.pg_ingest``); on PostgreSQL the entries are then chained on it
    and written in one statement that takes the head's lock (held from there to the commit: one
    round trip, not two) and writes only if no one has moved the head since; if someone has, it
    returns the head as it is, locked, and the entries are chained on that. A checkpoint due: the
    head is locked and read first, as without ``seen``."""
    policy = policy or policy_of(session)
    if not entries or not policy.append:
        return []
    now = datetime.now(UTC)
    moved: _Head | None = None
    if seen is not None and not _checkpoint_may_fall(seen, policy, now, len(entries)) \
            and session.get_bind().dialect.name == "postgresql":
        guess = _Head(seen.position, seen.entry_hash, seen.checkpoint_position, as_utc(seen.checkpoint_time))
        rows = _chain_rows(session, tenant_id, guess, entries, policy, now)
        appended, moved = _write_if_unmoved(session, tenant_id, rows, seen)
        if appended:
            return [r["position"] for r in rows]
    head = moved or lock_head(session, tenant_id, now)
    rows = _chain_rows(session, tenant_id, head, entries, policy, now)
    _checkpoint_if_due(session, tenant_id, head, policy, now, force=False)  # its row needs no entry row first
    _write_entries(session, tenant_id, rows, head.changed)
    return [r["position"] for r in rows]


def _checkpoint_may_fall(seen: SeenHead, policy: AuditPolicy, now: datetime, count: int) -> bool:
    """Could appending ``count`` entries on ``seen`` make a checkpoint? (Then the head is locked
    first: a checkpoint is written while the head is held.) A head someone moved since was
    checkpointed no earlier, so a False here holds for it too."""
    return policy.signer is not None and (
        seen.position + count - seen.checkpoint_position >= policy.checkpoint_every
        or now - as_utc(seen.checkpoint_time) >= timedelta(minutes=policy.checkpoint_minutes))


def _chain_rows(session: Session, tenant_id: int, head: _Head, entries: list[NewEntry], policy: AuditPolicy,
                now: datetime) -> list[dict[str, Any]]:
    """The entry rows of ``entries`` chained on ``head``, which moves to the last of them (the
    changed head columns in ``head.changed``), with the checkpoints due inside a long batch."""
    rows: list[dict[str, Any]] = []
    prev, stamp = head.entry_hash, iso(now)
    last, signing = head.position + len(entries), policy.signer is not None
    for position, e in enumerate(entries, start=head.position + 1):
        if e.kind not in KINDS:
            raise ValueError(f"unknown audit entry kind {e.kind!r}")
        h = entry_hash(prev, tenant_id, position, e.kind, e.statement_id, e.content_hash, e.detail, stamp)
        rows.append({"tenant_id": tenant_id, "position": position, "kind": e.kind, "statement_id": e.statement_id,
                     "content_hash": e.content_hash, "detail": e.detail, "recorded": now,
                     "prev_hash": prev, "entry_hash": h})
        prev = h
        if signing and position < last and position - head.checkpoint_position >= policy.checkpoint_every:
            # Inside a batch larger than the cadence: a checkpoint at every cadence step, not only at
            # the batch's end, so no stretch of the chain goes longer unsigned than the cadence says
            # (`hocvu audit verify` holds the chain to it, lrs.audit.verify). A signer that fails is
            # not asked again for this batch (it logged why; the end of the batch tries once more).
            head.position, head.entry_hash = position, h
            signing = _checkpoint_if_due(session, tenant_id, head, policy, now, force=False) is not None
    head.position, head.entry_hash = rows[-1]["position"], prev
    head.changed.update(position=head.position, entry_hash=prev)
    return rows


# The entries and the head's move, only if the head is still where ``seen`` found it. The UPDATE
# always takes the head's row lock (waiting for a writer that holds it) and judges the head as it is
# then (READ COMMITTED re-evaluates the SET on the newest row), moving it only if it is unmoved;
# the entries go in only if it did. Either way it returns the head it leaves, locked by this
# transaction: a writer that lost the race chains on that, with no second wait for the lock.
# Positions only grow, so an unmoved head is one no entry was appended to since.
_UNMOVED: Final = "position = %(seen_position)s::bigint AND entry_hash = %(seen_hash)s"
_APPEND_IF_UNMOVED_PG: Final = (
    f"WITH h AS (UPDATE audit_heads SET position = CASE WHEN {_UNMOVED} THEN %(position)s::bigint ELSE position END, "
    f"entry_hash = CASE WHEN {_UNMOVED} THEN %(entry_hash)s ELSE entry_hash END WHERE tenant_id = %(tenant)s "
    "RETURNING position, entry_hash, checkpoint_position, checkpoint_time), "
    f"e AS (INSERT INTO audit_entries ({_NAMES}) SELECT {_NAMES} FROM "
    "json_populate_recordset(NULL::audit_entries, %(entries)s::json) "
    "WHERE EXISTS (SELECT FROM h WHERE h.entry_hash = %(entry_hash)s)) "
    "SELECT position, entry_hash, checkpoint_position, checkpoint_time FROM h")


def _write_if_unmoved(session: Session, tenant_id: int, rows: list[dict[str, Any]],
                      seen: SeenHead) -> tuple[bool, _Head | None]:
    """Append ``rows`` on ``seen`` if the head is unmoved: (True, None). Else nothing is written:
    (False, the head as it is, now locked by this transaction), or (False, None) with no head row."""
    raw: Any = session.connection().connection.dbapi_connection  # psycopg's Connection
    with raw.cursor() as cur:
        cur.execute(_APPEND_IF_UNMOVED_PG, {"entries": json_text(rows), "tenant": tenant_id,
                                            "position": rows[-1]["position"], "entry_hash": rows[-1]["entry_hash"],
                                            "seen_position": seen.position, "seen_hash": seen.entry_hash})
        row = cur.fetchone()
    if row is None:
        return False, None
    if row[1] == rows[-1]["entry_hash"]:
        return True, None
    return False, _Head(int(row[0]), row[1], int(row[2]), as_utc(row[3]))


def append_statements(session: Session, tenant_id: int, stored: Iterable[tuple[str, dict[str, Any]]],
                      voided: Iterable[tuple[str, str]], policy: AuditPolicy | None = None, *,
                      seen: SeenHead | None = None) -> list[int]:
    """The hook of ``lrs.statements.store``: one 'stored' entry per newly stored statement (in
    ``seq`` order), then one 'voided' entry per statement this batch voided (target, voiding id).
    ``seen``: the head as the store read it (``append``)."""
    entries = [NewEntry("stored", sid, content_hash(full)) for sid, full in stored]
    entries += [NewEntry("voided", target, None, {"voided_by": by}) for target, by in voided]
    return append(session, tenant_id, entries, policy, seen=seen)


def record_access(session: Session, tenant_id: int, actor: str, detail: dict[str, Any]) -> int:
    """Log that ``actor`` (an auditor's credential key, say) read something of the tenant's, as an
    'access' entry in the caller's transaction; returns its position. ``detail`` is small JSON
    (what was read: a page, a filter, statement ids)."""
    note = {"actor": actor, "detail": detail}
    if len(canonical_json(note)) > MAX_ACCESS_DETAIL:
        raise ValueError(f"an access entry's detail must stay under {MAX_ACCESS_DETAIL} bytes of JSON")
    return append(session, tenant_id, [NewEntry("access", None, None, note)], always_appending(policy_of(session)))[0]


# --- checkpoints ---------------------------------------------------------------------------------


def checkpoint_payload(tenant_id: int, slug: str, position: int, entry_hash_: str, time: datetime | str) -> bytes:
    return canonical_json({"chain": CHAIN_VERSION, "tenant_id": tenant_id, "tenant": slug, "position": position,
                           "entry_hash": entry_hash_, "time": time if isinstance(time, str) else iso(time)})


def _checkpoint_if_due(session: Session, tenant_id: int, head: _Head, policy: AuditPolicy, now: datetime, *,
                       force: bool) -> AuditCheckpoint | None:
    if policy.signer is None or head.position <= head.checkpoint_position:
        return None
    due = (head.position - head.checkpoint_position >= policy.checkpoint_every
           or now - head.checkpoint_time >= timedelta(minutes=policy.checkpoint_minutes))
    if not (due or force):
        return None
    slug = session.scalar(select(Tenant.slug).where(Tenant.id == tenant_id)) or ""
    try:
        token = policy.signer.sign(checkpoint_payload(tenant_id, slug, head.position, head.entry_hash, now))
    except Exception:
        if force:
            raise
        # Ingest must not stop because the key is unreadable: the entries are appended, the next
        # append (or `hocvu audit checkpoint`) tries again, and the operator has the log.
        log.exception("could not sign the audit checkpoint of tenant %s at position %s", tenant_id, head.position)
        return None
    cp = AuditCheckpoint(tenant_id=tenant_id, position=head.position, entry_hash=head.entry_hash, created=now,
                         jws=token)
    session.execute(insert(_table(AuditCheckpoint)), [{"tenant_id": tenant_id, "position": head.position,
                                                         "entry_hash": head.entry_hash, "created": now, "jws": token}])
    head.checkpoint_position, head.checkpoint_time = head.position, now
    head.changed.update(checkpoint_position=head.position, checkpoint_time=now)
    return cp


def make_checkpoint(session: Session, tenant_id: int, policy: AuditPolicy, *,
                    force: bool = False) -> AuditCheckpoint | None:
    """Checkpoint the tenant's head if due (or ``force``) and not already checkpointed; no commit.
    `hocvu audit checkpoint` runs this for every tenant, e.g. from cron every T minutes."""
    now = datetime.now(UTC)
    head = lock_head(session, tenant_id, now)
    cp = _checkpoint_if_due(session, tenant_id, head, policy, now, force=force)
    if head.changed:
        session.execute(update(AuditHead).where(AuditHead.tenant_id == tenant_id).values(**head.changed))
    return cp
