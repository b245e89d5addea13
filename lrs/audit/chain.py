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

from lrs.audit import pg_append

# The signers lived here; their names stay importable from here (hocvu.app, tests).
from lrs.audit.signers import ALGORITHM as ALGORITHM
from lrs.audit.signers import CheckpointSigner
from lrs.audit.signers import JwsSigner as JwsSigner
from lrs.audit.signers import LazySigner as LazySigner
from lrs.jcs import canonical_flat, canonical_json
from lrs.pg_ingest import json_text
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


def _entry_text(tenant_id: int, position: int, kind: str, statement_id: str | None, content: str | None,
                detail: dict[str, Any] | None, recorded: datetime | str) -> bytes:
    """JCS of an entry's hashed fields."""
    fields: dict[str, Any] = {"tenant_id": tenant_id, "position": position, "kind": kind, "statement_id": statement_id,
              "content_hash": content, "detail": detail,
              "recorded": recorded if isinstance(recorded, str) else iso(recorded)}
    flat = detail is None and type(statement_id) in (str, type(None)) and type(content) in (str, type(None))
    return canonical_flat(fields) if flat else canonical_json(fields)


def entry_hash(prev_hash: str, tenant_id: int, position: int, kind: str, statement_id: str | None,
               content: str | None, detail: dict[str, Any] | None, recorded: datetime | str) -> str:
    text = _entry_text(tenant_id, position, kind, statement_id, content, detail, recorded)
    return sha256_hex(prev_hash.encode("ascii") + text)


# A position no chain reaches (JCS writes it as plain digits: it is 2^53 - 1), marking where the
# position goes in an entry's text.
_POSITION_MARK: Final = 2**53 - 1


def entry_text_parts(tenant_id: int, kind: str, statement_id: str | None, content: str | None,
                     detail: dict[str, Any] | None, recorded: str) -> tuple[str, str]:
    """An entry's JCS text before and after its position's digits, so that whoever knows the
    position (the database, under the head's lock: ``lrs.audit.pg_append``) can finish the hash:
    entry_hash = H(prev_hash ‖ prefix ‖ position ‖ suffix). Keys are sorted, so the top-level
    "position" comes after "detail" (whatever that holds) and before "recorded": the last match."""
    text = _entry_text(tenant_id, _POSITION_MARK, kind, statement_id, content, detail, recorded).decode("utf-8")
    mark = f',"position":{_POSITION_MARK},'
    cut = text.rindex(mark)
    return text[:cut] + ',"position":', "," + text[cut + len(mark):]


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


def append(session: Session, tenant_id: int, entries: list[NewEntry], policy: AuditPolicy | None = None) -> list[int]:
    """Append ``entries`` in order to the tenant's chain, in the caller's transaction (no commit);
    returns their positions. Checkpoints when one is due. On PostgreSQL the head is locked, the
    entries chained, inserted and the head moved in one statement (``lrs.audit.pg_append``): the
    head's lock is held from that statement to the commit, no round trip of the hub's in between."""
    policy = policy or policy_of(session)
    if not entries or not policy.append:
        return []
    for e in entries:
        if e.kind not in KINDS:
            raise ValueError(f"unknown audit entry kind {e.kind!r}")
    now = datetime.now(UTC)
    if pg_append.available(session):
        return _append_on_server(session, tenant_id, entries, policy, now)
    head = lock_head(session, tenant_id, now)
    rows = _chain_rows(session, tenant_id, head, entries, policy, now)
    _checkpoint_if_due(session, tenant_id, head, policy, now, force=False)  # its row needs no entry row first
    _write_entries(session, tenant_id, rows, head.changed)
    return [r["position"] for r in rows]


def _append_on_server(session: Session, tenant_id: int, entries: list[NewEntry], policy: AuditPolicy,
                      now: datetime) -> list[int]:
    stamp = iso(now)
    parts = [entry_text_parts(tenant_id, e.kind, e.statement_id, e.content_hash, e.detail, stamp) for e in entries]
    done = pg_append.append(session, tenant_id, entries, parts, now)
    # The head before the append, already locked: the checkpoints due along the new entries, as the
    # hub's own path makes them (_chain_rows), then the head's checkpoint columns if one was made.
    head = _Head(done[0].position - 1, GENESIS, done[0].checkpoint_position, as_utc(done[0].checkpoint_time))
    _checkpoints_along(session, tenant_id, head, [(d.position, d.entry_hash) for d in done], policy, now)
    _checkpoint_if_due(session, tenant_id, head, policy, now, force=False)
    moved = {k: v for k, v in head.changed.items() if k.startswith("checkpoint_")}
    if moved:
        session.execute(update(AuditHead).where(AuditHead.tenant_id == tenant_id).values(**moved))
    return [d.position for d in done]


def _chain_rows(session: Session, tenant_id: int, head: _Head, entries: list[NewEntry], policy: AuditPolicy,
                now: datetime) -> list[dict[str, Any]]:
    """The entry rows of ``entries`` chained on ``head``, which moves to the last of them (the
    changed head columns in ``head.changed``), with the checkpoints due inside a long batch."""
    rows: list[dict[str, Any]] = []
    prev, stamp = head.entry_hash, iso(now)
    for position, e in enumerate(entries, start=head.position + 1):
        h = entry_hash(prev, tenant_id, position, e.kind, e.statement_id, e.content_hash, e.detail, stamp)
        rows.append({"tenant_id": tenant_id, "position": position, "kind": e.kind, "statement_id": e.statement_id,
                     "content_hash": e.content_hash, "detail": e.detail, "recorded": now,
                     "prev_hash": prev, "entry_hash": h})
        prev = h
    _checkpoints_along(session, tenant_id, head, [(r["position"], r["entry_hash"]) for r in rows], policy, now)
    return rows


def _checkpoints_along(session: Session, tenant_id: int, head: _Head, chained: list[tuple[int, str]],
                       policy: AuditPolicy, now: datetime) -> None:
    """Move ``head`` along the new entries' (position, entry_hash), checkpointing inside a batch
    larger than the cadence: at every cadence step, not only at the batch's end, so no stretch of
    the chain goes longer unsigned than the cadence says (`hocvu audit verify` holds the chain to
    it, lrs.audit.verify). A signer that fails is not asked again for this batch (it logged why;
    the end of the batch tries once more)."""
    last, signing = chained[-1][0], policy.signer is not None
    for position, h in chained:
        if signing and position < last and position - head.checkpoint_position >= policy.checkpoint_every:
            head.position, head.entry_hash = position, h
            signing = _checkpoint_if_due(session, tenant_id, head, policy, now, force=False) is not None
    head.position, head.entry_hash = chained[-1]
    head.changed.update(position=head.position, entry_hash=head.entry_hash)


def append_statements(session: Session, tenant_id: int, stored: Iterable[tuple[str, dict[str, Any]]],
                      voided: Iterable[tuple[str, str]], policy: AuditPolicy | None = None) -> list[int]:
    """The hook of ``lrs.statements.store``: one 'stored' entry per newly stored statement (in
    ``seq`` order), then one 'voided' entry per statement this batch voided (target, voiding id)."""
    entries = [NewEntry("stored", sid, content_hash(full)) for sid, full in stored]
    entries += [NewEntry("voided", target, None, {"voided_by": by}) for target, by in voided]
    return append(session, tenant_id, entries, policy)


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
