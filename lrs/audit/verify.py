"""Checking the audit chain (``lrs.audit.chain``) and reading the pieces of a proof.

``verify_tenant`` recomputes one tenant's chain from the database, streaming it in chunks of
entries (each chunk with its statements), and stops at the first entry that does not hold:

* positions run 1, 2, 3... (a gap or a repeat is a deleted or reordered entry);
* each ``prev_hash`` is the previous ``entry_hash`` and each ``entry_hash`` recomputes;
* each 'stored' entry's statement is present with the same canonical hash, unless a later
  'erased' entry names it; an 'adopted' entry (``lrs.audit.adoption.adopt``) is checked the same way;
  a statement of a month archived to the lake is checked in its archive (``lrs.audit.archived``);
* each checkpoint's JWS verifies with the hub's certificate (the certificate only, never the
  ``x5c`` in the token) and signs the hash the chain has at that position;
* after the walk: the head agrees with the last entry, no checkpoint names a position past it,
  the ``voided`` flags agree with the 'voided' entries, and no statement row lacks an entry.

``verify_segment`` does the same for a proof bundle's segment with no database at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import jwt
from cryptography import x509
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from lrs.audit import cadence as cadence_rules
from lrs.audit.archived import ArchiveCheck, ArchiveSource
from lrs.audit.chain import (
    CHAIN_VERSION,
    GENESIS,
    KINDS,
    STATEMENT_KINDS,
    content_hash,
    entry_dict,
    iso,
    recompute_entry_hash,
)
from lrs.errors import NotFound
from lrs.jcs import canonical_json
from lrs.storage import AuditCheckpoint, AuditEntry, AuditHead, Statement, Tenant

CHUNK = 2000


@dataclass
class Failure:
    """The first thing that does not hold: where (position / statement) and why."""

    reason: str
    position: int | None = None
    statement_id: str | None = None


@dataclass
class TenantReport:
    tenant_id: int
    tenant: str
    entries: int = 0
    checkpoints: int = 0
    last_checkpoint: int = 0
    # 'adopted' entries: statements the chain vouches for only from their adoption on.
    adopted: int = 0
    failure: Failure | None = None
    # Stretches (first, last position) between checkpoints longer than the cadence: reported, not
    # failed (the later checkpoint covers them; lrs.audit.cadence says why).
    gaps: list[tuple[int, int]] = field(default_factory=list)
    # Archived statements (lrs.audit.archived): checked, unchecked (no --archive), months not found, erased.
    archived_checked: int = 0
    archived_unchecked: int = 0
    archives_missing: list[str] = field(default_factory=list)
    archived_erased: int = 0

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def uncovered(self) -> int:
        """Entries newer than the latest checkpoint: chained, but not yet signed."""
        return max(0, self.entries - self.last_checkpoint)

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "tenant_id": self.tenant_id, "ok": self.ok, "entries": self.entries,
                "checkpoints": self.checkpoints, "last_checkpoint": self.last_checkpoint, "adopted": self.adopted,
                "uncovered": self.uncovered, "failure": asdict(self.failure) if self.failure else None,
                "gaps": [list(g) for g in self.gaps],
                "archived": {"checked": self.archived_checked, "unchecked": self.archived_unchecked,
                             "missing": self.archives_missing, "erased": self.archived_erased}}


class CheckpointInvalid(Exception):
    """A checkpoint that does not verify; the message says why."""


# --- checkpoints -------------------------------------------------------------------------------


def verify_checkpoint_jws(token: str, certificates: Sequence[bytes]) -> dict[str, Any]:
    """The payload of a checkpoint JWS that verifies (RS256) with one of ``certificates`` (PEM)."""
    if not certificates:
        raise CheckpointInvalid("no certificate of the hub was given to check checkpoint signatures")
    for pem in certificates:
        key = x509.load_pem_x509_certificate(pem).public_key()
        try:
            payload = jwt.PyJWS().decode_complete(token, key=key, algorithms=["RS256"])["payload"]  # type: ignore[arg-type]
        except jwt.PyJWTError:
            continue
        try:
            data = json.loads(payload)
        except ValueError:
            raise CheckpointInvalid("the checkpoint's signed payload is not JSON") from None
        if not isinstance(data, dict):
            raise CheckpointInvalid("the checkpoint's signed payload is not a JSON object")
        return data
    raise CheckpointInvalid("its signature does not verify with the hub's certificate (forged or altered)")


def check_checkpoint(cp: Mapping[str, Any], chain_hash: str | None, certificates: Sequence[bytes]) -> str | None:
    """Why checkpoint ``cp`` (``checkpoint_dict`` form) fails, given the chain's entry hash at its
    position (None: no entry there); None when it holds."""
    where = f"checkpoint at position {cp['position']}"
    if chain_hash is None:
        return f"{where} names an entry that is not in the chain (entries deleted from its end?)"
    if cp["entry_hash"] != chain_hash:
        return f"{where} records hash {cp['entry_hash'][:16]}..., the chain has {chain_hash[:16]}... there"
    try:
        signed = verify_checkpoint_jws(cp["jws"], certificates)
    except CheckpointInvalid as err:
        return f"{where}: {err}"
    expected = {"chain": CHAIN_VERSION, "tenant_id": cp["tenant_id"], "position": cp["position"],
                "entry_hash": chain_hash, "time": cp["created"]}
    wrong = sorted(k for k, v in expected.items() if signed.get(k) != v)
    if wrong:
        return f"{where}: the signed payload disagrees on {', '.join(wrong)}"
    return None


def checkpoint_dict(cp: AuditCheckpoint) -> dict[str, Any]:
    return {"tenant_id": cp.tenant_id, "position": cp.position, "entry_hash": cp.entry_hash,
            "created": iso(cp.created), "jws": cp.jws}


# --- the whole chain, from the database -----------------------------------------------------------


def _snapshot(session: Session) -> None:
    """Read one consistent state while writers keep appending: REPEATABLE READ on PostgreSQL; an
    explicit read transaction on SQLite (WAL keeps its snapshot until it ends). A session already
    in a transaction (a caller's) is read as it is."""
    if session.in_transaction():
        return
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return
    conn = session.connection()
    if not getattr(conn.connection.dbapi_connection, "in_transaction", True):
        conn.exec_driver_sql("BEGIN")  # pysqlite opens none for reads by itself


def _erasures(session: Session, tenant_id: int) -> dict[str, int]:
    """Statement id -> position of the latest 'erased' entry naming it (erasures are few)."""
    erased: dict[str, int] = {}
    for pos, detail in session.execute(select(AuditEntry.position, AuditEntry.detail).where(
            AuditEntry.tenant_id == tenant_id, AuditEntry.kind == "erased").order_by(AuditEntry.position)):
        for sid in (detail or {}).get("statements") or []:
            erased[str(sid)] = pos
    return erased


def verify_tenant(session: Session, tenant_id: int, certificates: Sequence[bytes], *,
                  chunk: int = CHUNK, archives: ArchiveSource | None = None) -> TenantReport:
    """Recompute one tenant's chain; the report names the first failure. ``archives`` reads the
    months archived to the lake (without it, their statements are counted unchecked)."""
    slug = session.scalar(select(Tenant.slug).where(Tenant.id == tenant_id)) or str(tenant_id)
    report = TenantReport(tenant_id, slug)
    archive = ArchiveCheck.of(session, tenant_id, slug, archives)
    erased = _erasures(session, tenant_id)
    cps = {cp.position: checkpoint_dict(cp) for cp in session.scalars(
        select(AuditCheckpoint).where(AuditCheckpoint.tenant_id == tenant_id).order_by(AuditCheckpoint.position))}
    report.checkpoints = len(cps)
    report.last_checkpoint = max(cps, default=0)
    voided_rows: dict[str, int] = {}  # statement marked voided -> its stored entry's position
    voided_entries: dict[str, int] = {}  # target of a 'voided' entry -> that entry's position
    expected, prev = 1, GENESIS

    def fail(reason: str, position: int | None = None, statement_id: str | None = None) -> TenantReport:
        report.failure = Failure(reason, position, statement_id)
        return report

    while True:
        rows = session.scalars(select(AuditEntry).where(
            AuditEntry.tenant_id == tenant_id, AuditEntry.position >= expected)
            .order_by(AuditEntry.position).limit(chunk)).all()
        if not rows:
            break
        wanted = [r.statement_id for r in rows if r.kind in STATEMENT_KINDS and r.statement_id]
        present = {sid: (full, voided) for sid, full, voided in session.execute(
            select(Statement.statement_id, Statement.full, Statement.voided).where(
                Statement.tenant_id == tenant_id, Statement.statement_id.in_(wanted)))} if wanted else {}
        for row in rows:
            e = entry_dict(row)
            pos, sid = e["position"], e["statement_id"]
            if pos != expected:
                return fail(f"expected position {expected}, found {pos}: an entry was deleted or reordered", pos, sid)
            if e["kind"] not in KINDS:
                return fail(f"unknown entry kind {e['kind']!r}", pos, sid)
            if e["prev_hash"] != prev:
                return fail("prev_hash is not the entry_hash of the entry before it (entries reordered or replaced)",
                            pos, sid)
            if recompute_entry_hash(e) != e["entry_hash"]:
                return fail("entry_hash does not match the entry's fields (the entry was altered)", pos, sid)
            if e["kind"] == "adopted":
                report.adopted += 1
                if sid is not None and "voided_by" in (e["detail"] or {}):
                    voided_entries[sid] = pos  # the adopted state includes the voiding
            if e["kind"] in STATEMENT_KINDS and sid is not None and erased.get(sid, 0) <= pos:
                if sid not in present:  # deleted, unless archived to the lake: checked there (lrs.audit.archived)
                    if reason := archive.entry(pos, sid, e["content_hash"]):
                        return fail(reason, pos, sid)
                elif content_hash(present[sid][0]) != e["content_hash"]:
                    return fail("the stored statement's canonical hash differs from its entry (content altered)",
                                pos, sid)
                elif present[sid][1]:
                    voided_rows[sid] = pos
            elif e["kind"] in STATEMENT_KINDS and sid not in present:
                archive.erased_entry(pos)  # erased after it was archived: named by the 'erased' entry
            elif e["kind"] == "voided" and sid is not None:
                voided_entries[sid] = pos
            if pos in cps:
                reason = check_checkpoint(cps[pos], e["entry_hash"], certificates)
                if reason:
                    return fail(reason, pos, sid)
            prev, expected = e["entry_hash"], pos + 1
    report.entries = last = expected - 1
    report.failure = _after_walk(session, tenant_id, last, prev, cps, certificates, erased, voided_rows,
                                 voided_entries)
    if report.failure is None and (altered := archive.after()):
        report.failure = Failure(altered)
    report.archived_checked, report.archived_unchecked = archive.checked, archive.unchecked
    report.archives_missing, report.archived_erased = archive.missing, archive.erased
    return report


def _after_walk(session: Session, tenant_id: int, last: int, last_hash: str, cps: dict[int, dict[str, Any]],
                certificates: Sequence[bytes], erased: dict[str, int], voided_rows: dict[str, int],
                voided_entries: dict[str, int]) -> Failure | None:
    fail = Failure
    for pos, cp in cps.items():
        if pos > last:
            return fail(check_checkpoint(cp, None, certificates) or "", pos, None)
    head = session.get(AuditHead, tenant_id)
    if head is not None and (head.position != last or head.entry_hash != last_hash):
        return fail(f"the chain head says position {head.position}, the chain ends at {last} "
                    "(entries deleted from its end?)", last or None, None)
    for sid, pos in sorted(voided_rows.items(), key=lambda kv: kv[1]):
        if sid not in voided_entries:
            return fail("the statement is marked voided but no 'voided' entry records it", pos, sid)
    targets = sorted(voided_entries)
    for i in range(0, len(targets), 1000):
        not_voided = session.scalars(select(Statement.statement_id).where(
            Statement.tenant_id == tenant_id, Statement.statement_id.in_(targets[i:i + 1000]),
            Statement.voided.is_(False))).all()
        if not_voided:
            sid = min(not_voided, key=lambda s: voided_entries[s])
            return fail("a 'voided' entry records the statement but it is not marked voided",
                        voided_entries[sid], sid)
    e = AuditEntry
    orphan = session.execute(select(Statement.seq, Statement.statement_id).where(
        Statement.tenant_id == tenant_id,
        ~exists().where(e.tenant_id == Statement.tenant_id, e.statement_id == Statement.statement_id,
                        e.kind.in_(STATEMENT_KINDS))).order_by(Statement.seq).limit(1)).first()
    if orphan is not None:
        return fail(f"the statement (seq {orphan.seq}) has no chain entry (inserted outside the store; "
                    "if it predates the chain, `hocvu audit adopt` gives it one)",
                    None, orphan.statement_id)
    back = sorted(erased)
    for i in range(0, len(back), 1000):
        for sid in session.scalars(select(Statement.statement_id).where(
                Statement.tenant_id == tenant_id, Statement.statement_id.in_(back[i:i + 1000]))):
            stored_again = session.scalar(select(func.max(e.position)).where(
                e.tenant_id == tenant_id, e.kind.in_(STATEMENT_KINDS), e.statement_id == sid)) or 0
            if stored_again < erased[sid]:
                return fail(f"the statement was erased at position {erased[sid]} but its row is back "
                            "with no later 'stored' entry", None, sid)
    return None


def verify_all(session: Session, certificates: Sequence[bytes], tenant_slug: str | None = None,
               cadence: cadence_rules.Cadence | None = None,
               archives: ArchiveSource | None = None) -> list[TenantReport]:
    """Every tenant's chain (or one tenant's), in tenant id order, from one snapshot. With
    ``cadence``, an intact chain must also have its checkpoints (lrs.audit.cadence); with
    ``archives``, archived months are checked in the lake (lrs.audit.archived)."""
    _snapshot(session)
    q = select(Tenant.id, Tenant.slug).order_by(Tenant.id)
    if tenant_slug is not None:
        q = q.where(Tenant.slug == tenant_slug)
    tenants = session.execute(q).all()
    if tenant_slug is not None and not tenants:
        raise NotFound(f"no tenant {tenant_slug!r}")
    reports = [verify_tenant(session, t.id, certificates, archives=archives) for t in tenants]
    if cadence is not None:
        for report in reports:
            report.gaps = cadence_rules.gaps(cadence_rules.checkpoint_positions(session, report.tenant_id), cadence)
            missing = cadence_rules.check(session, report.tenant_id, report.entries, report.last_checkpoint, cadence)
            if report.ok and missing is not None:
                report.failure = Failure(missing.reason, missing.position, None)
    return reports


# --- proof material: segments and checkpoints ------------------------------------------------------


def positions_of(session: Session, tenant_id: int, statement_ids: Iterable[str]) -> dict[str, int]:
    """The position of each statement's (latest) 'stored' entry; ids with no entry are absent."""
    ids = sorted({s.lower() for s in statement_ids})
    found: dict[str, int] = {}
    for i in range(0, len(ids), 1000):
        for sid, pos in session.execute(select(AuditEntry.statement_id, AuditEntry.position).where(
                AuditEntry.tenant_id == tenant_id, AuditEntry.kind == "stored",
                AuditEntry.statement_id.in_(ids[i:i + 1000]))):
            if sid is not None:  # a 'stored' entry always names its statement
                found[sid] = max(pos, found.get(sid, 0))
    return found


def chain_segment(session: Session, tenant_id: int, from_position: int, to_position: int) -> list[dict[str, Any]]:
    """Entries ``from_position``..``to_position`` inclusive, in order, as ``entry_dict`` gives them."""
    rows = session.scalars(select(AuditEntry).where(
        AuditEntry.tenant_id == tenant_id, AuditEntry.position >= from_position, AuditEntry.position <= to_position)
        .order_by(AuditEntry.position))
    return [entry_dict(r) for r in rows]


def covering_checkpoint(session: Session, tenant_id: int, position: int) -> dict[str, Any] | None:
    """The first checkpoint at or after ``position`` (it signs a hash that chains back over that
    entry), or None when the entry is newer than the latest checkpoint."""
    cp = session.scalars(select(AuditCheckpoint).where(
        AuditCheckpoint.tenant_id == tenant_id, AuditCheckpoint.position >= position)
        .order_by(AuditCheckpoint.position).limit(1)).first()
    return checkpoint_dict(cp) if cp else None


def proof_material(session: Session, tenant_id: int,
                   statement_ids: Iterable[str]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """For a proof bundle: the segment from the first given statement's entry to the checkpoint
    covering the last one (to the head when none covers it yet), and that checkpoint."""
    positions = positions_of(session, tenant_id, statement_ids)
    if not positions:
        return [], None
    low, high = min(positions.values()), max(positions.values())
    cp = covering_checkpoint(session, tenant_id, high)
    end = cp["position"] if cp else int(session.scalar(select(AuditHead.position).where(
        AuditHead.tenant_id == tenant_id)) or high)
    return chain_segment(session, tenant_id, low, end), cp


def verify_segment(entries: Sequence[Mapping[str, Any]], checkpoint: Mapping[str, Any] | None,
                   certificates: Sequence[bytes], statements: Mapping[str, Mapping[str, Any]] | None = None, *,
                   require_checkpoint: bool = True) -> Failure | None:
    """Check a proof bundle with no database and no network: the segment's links and hashes, each
    given statement (id -> statement as stored) against its 'stored' entry, and the checkpoint's
    signature over the segment's hash at its position. Returns the first failure, or None."""
    if not entries:
        return Failure("the chain segment is empty")
    by_position: dict[int, str] = {}
    stored: dict[str, Mapping[str, Any]] = {}
    prev: Mapping[str, Any] | None = None
    for e in entries:
        pos, sid = e["position"], e.get("statement_id")
        if prev is not None and pos != prev["position"] + 1:
            return Failure(f"expected position {prev['position'] + 1}, found {pos}", pos, sid)
        if prev is not None and e["prev_hash"] != prev["entry_hash"]:
            return Failure("prev_hash is not the entry_hash of the entry before it", pos, sid)
        if recompute_entry_hash(dict(e)) != e["entry_hash"]:
            return Failure("entry_hash does not match the entry's fields", pos, sid)
        if e["kind"] == "stored" and sid:
            stored[sid] = e
        by_position[pos] = e["entry_hash"]
        prev = e
    for sid, statement in sorted((statements or {}).items()):
        entry = stored.get(sid.lower())
        if entry is None:
            return Failure("no 'stored' entry of the segment names the statement", None, sid)
        if content_hash(dict(statement)) != entry["content_hash"]:
            return Failure("the statement's canonical hash differs from its entry", entry["position"], sid)
    if checkpoint is None:
        return Failure("no signed checkpoint covers the segment yet") if require_checkpoint else None
    reason = check_checkpoint(checkpoint, by_position.get(checkpoint["position"]), certificates)
    return Failure(reason, checkpoint["position"]) if reason else None


__all__ = ["CheckpointInvalid", "Failure", "TenantReport", "canonical_json", "chain_segment", "check_checkpoint",
           "checkpoint_dict", "covering_checkpoint", "positions_of", "proof_material", "verify_all",
           "verify_checkpoint_jws", "verify_segment", "verify_tenant"]
