"""Writing a month of statements to the lake with its chain proof, then dropping its partition.

``write_month`` reads the month's partition (attached or detached, one REPEATABLE READ snapshot) and
writes each tenant's statements, chain segment and manifest (connectors.archive.layout), each file
under a temporary name, fsynced, renamed, and the directories fsynced; then reads everything back
from disk and checks it: file SHA-256s and row counts, every statement's canonical hash against its
chain entry, the segment's links and the checkpoint's signature. Only then may ``finish`` run: in
one transaction it locks the partition, makes sure no row changed meanwhile (a voiding), records
each tenant's archive in ``statement_archives`` and drops the partition (lrs.partitions.drop_month).
The chain entries stay in the database. A failure at any step leaves the partition as it was.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from connectors.archive.layout import (
    CHAIN_FILE,
    COLUMNS,
    FORMAT,
    MANIFEST_FILE,
    STATEMENTS_FILE,
    month_dir,
    runs,
    where,
)
from connectors.archive.reader import file_sha256, read_month, walk_chain
from connectors.rollups import archived as rollups_archived
from lrs import partitions
from lrs.audit.chain import STATEMENT_KINDS, entry_dict
from lrs.audit.verify import checkpoint_dict, covering_checkpoint
from lrs.blobs import archived
from lrs.blobs.attachments import declared_hashes
from lrs.jcs import canonical_json
from lrs.storage import AuditCheckpoint, AuditEntry, StatementArchive

BATCH = 5000


class ArchiveError(Exception):
    """Archiving cannot go on; the partition is left as it was."""


@dataclass(frozen=True)
class Written:
    tenant_id: int
    tenant: str
    month: date
    statements: int
    voided: int
    positions: list[list[int]]
    manifest_sha256: str
    directory: Path
    bytes: int
    attachments: frozenset[str] = frozenset()  # the hashes its statements cite (lrs.blobs.archived)


def write_month(session: Session, month: date, root: Path, certificates: list[bytes], *,
                batch: int = BATCH) -> list[Written]:
    """Write and check the archive of every tenant with statements in ``month``'s partition."""
    found = partitions.month_table(session.connection(), month)
    if found is None:
        raise ArchiveError(f"no partition of {month:%Y-%m} (never made, or already archived)")
    name = found[0]
    tenants = session.execute(text(f"SELECT DISTINCT s.tenant_id, t.slug FROM {name} s "
                                   "JOIN tenants t ON t.id = s.tenant_id ORDER BY 1")).all()
    return [_write_tenant(session, name, tid, slug, month, root, certificates, batch) for tid, slug in tenants]


def _write_tenant(session: Session, name: str, tenant_id: int, slug: str, month: date, root: Path,
                  certificates: list[bytes], batch: int) -> Written:
    directory = month_dir(root, slug, month)
    directory.mkdir(parents=True, exist_ok=True)
    count, voided, cited = _write_statements(session, name, tenant_id, directory / STATEMENTS_FILE, batch)
    positions = _positions(session, name, tenant_id)
    if len(positions) != count:
        raise ArchiveError(f"{where(slug, month)}: {count - len(positions)} statement(s) have no chain entry "
                           "(`hocvu audit verify` names them); nothing archived")
    low, high = min(positions.values()), max(positions.values())
    cp = covering_checkpoint(session, tenant_id, high)
    if cp is None:
        raise ArchiveError(f"{where(slug, month)}: no signed checkpoint covers position {high} yet "
                           "(`hocvu audit checkpoint` makes the due ones); nothing archived")
    segment = _write_chain(session, tenant_id, low, cp["position"], directory / CHAIN_FILE, batch)
    checkpoints = [checkpoint_dict(c) for c in session.scalars(select(AuditCheckpoint).where(
        AuditCheckpoint.tenant_id == tenant_id, AuditCheckpoint.position >= low,
        AuditCheckpoint.position <= cp["position"])
        .order_by(AuditCheckpoint.position))]
    rows = {STATEMENTS_FILE: count, CHAIN_FILE: segment}
    sizes = {n: (directory / n).stat().st_size for n in rows}
    files = {n: {"sha256": file_sha256(directory / n), "bytes": sizes[n], "rows": rows[n]} for n in rows}
    archived = runs(list(positions.values()))
    manifest = {"format": FORMAT, "tenant": slug, "tenant_id": tenant_id, "month": f"{month:%Y-%m}",
                "partition": name, "statements": count, "voided": voided, "positions": archived,
                "checkpoint": cp, "checkpoints": checkpoints, "files": files,
                "created": datetime.now(UTC).isoformat(timespec="seconds")}
    raw = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")
    write_file(directory / MANIFEST_FILE, raw)
    for d in (directory, directory.parent, root):
        fsync_dir(d)
    sha = _check(directory, slug, month, positions, count, voided, certificates)
    return Written(tenant_id, slug, month, count, voided, archived, sha, directory, sum(sizes.values()) + len(raw),
                   frozenset(cited))


def _schema() -> Any:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    types = {"seq": pa.int64(), "timestamp": ts, "stored": ts, "voided": pa.bool_(), "is_voiding": pa.bool_(),
             "credential_id": pa.int64()}
    return pa.schema([pa.field(c, types.get(c, pa.string())) for c in (*COLUMNS, "statement")],
                     metadata={"format": FORMAT})


def _write_statements(session: Session, name: str, tenant_id: int, path: Path,
                      batch: int) -> tuple[int, int, set[str]]:
    """The tenant's rows in seq order, the statement as canonical JSON; returns (rows, voided rows,
    the attachment hashes they cite)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema()
    columns = ", ".join(f'"{c}"' for c in COLUMNS)
    result = session.execute(text(f'SELECT {columns}, "full" FROM {name} WHERE tenant_id = :t ORDER BY seq'),
                             {"t": tenant_id}, execution_options={"stream_results": True, "max_row_buffer": batch})
    count = voided = 0
    cited: set[str] = set()
    tmp = path.with_name(f".{path.name}.tmp")
    with pq.ParquetWriter(tmp, schema, compression="zstd") as out:
        for rows in result.partitions(batch):
            cols = [list(c) for c in zip(*rows, strict=True)]
            cited |= declared_hashes(full for full in cols[-1] if isinstance(full, dict))
            cols[-1] = [canonical_json(full).decode("utf-8") for full in cols[-1]]
            out.write_batch(pa.RecordBatch.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, schema,
                                                                                                   strict=True)],
                                                       schema=schema))
            count += len(rows)
            voided += sum(bool(v) for v in cols[COLUMNS.index("voided")])
    fsync_file(tmp)
    os.replace(tmp, path)
    return count, voided, cited


def _write_chain(session: Session, tenant_id: int, first: int, last: int, path: Path, batch: int) -> int:
    """Entries ``first``..``last`` as JSON Lines (``entry_dict``), a batch at a time; returns how many."""
    tmp, count = path.with_name(f".{path.name}.tmp"), 0
    with tmp.open("wb") as f:
        for start in range(first, last + 1, batch):
            rows = session.scalars(select(AuditEntry).where(
                AuditEntry.tenant_id == tenant_id, AuditEntry.position >= start,
                AuditEntry.position <= min(last, start + batch - 1)).order_by(AuditEntry.position)).all()
            f.write("".join(json.dumps(entry_dict(r), sort_keys=True, ensure_ascii=False) + "\n"
                            for r in rows).encode("utf-8"))
            count += len(rows)
            session.expunge_all()  # nothing to write back: keep memory to one batch
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return count


def _positions(session: Session, name: str, tenant_id: int) -> dict[str, int]:
    """Each archived statement's chain position (its latest 'stored' or 'adopted' entry)."""
    kinds = ", ".join(f"'{k}'" for k in STATEMENT_KINDS)
    return {sid: int(pos) for sid, pos in session.execute(text(
        f"SELECT e.statement_id, max(e.position) FROM audit_entries e JOIN {name} s "
        "ON s.tenant_id = e.tenant_id AND s.statement_id = e.statement_id "
        f"WHERE e.tenant_id = :t AND e.kind IN ({kinds}) GROUP BY e.statement_id"), {"t": tenant_id})}


def _check(directory: Path, slug: str, month: date, positions: dict[str, int], count: int, voided: int,
           certificates: list[bytes]) -> str:
    """Read the written archive back from disk; raise unless it proves every statement. Returns the
    manifest's SHA-256."""
    label = where(slug, month)
    back = read_month(directory)
    if back.problem:
        raise ArchiveError(f"{label}: read back: {back.problem}")
    if len(back.hashes) != count or back.voided != voided:
        raise ArchiveError(f"{label}: read back {len(back.hashes)} rows ({back.voided} voided), wrote {count} "
                           f"({voided} voided)")
    entries, failure = walk_chain(directory, back.manifest["checkpoint"], certificates)
    if failure is not None:
        raise ArchiveError(f"{label}: the chain segment does not verify: {failure}")
    for sid, pos in positions.items():
        if entries.get(pos) != (sid, back.hashes.get(sid)):
            raise ArchiveError(f"{label}: read back, statement {sid} does not match its entry at position {pos}")
    return back.manifest_sha256


def finish(session: Session, month: date, written: list[Written], location: str) -> str | None:
    """In the caller's transaction: lock the month's partition, check that no row changed since it
    was written, record the archives and drop the partition; returns its name."""
    conn = session.connection()
    found = partitions.month_table(conn, month)
    if found is None:
        raise ArchiveError(f"the partition of {month:%Y-%m} is gone already")
    name = found[0]
    conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
    conn.exec_driver_sql(f"LOCK TABLE {name} IN EXCLUSIVE MODE")  # no voiding between the check and the drop
    now = {int(t): (int(n), int(v)) for t, n, v in conn.exec_driver_sql(
        f"SELECT tenant_id, count(*), count(*) FILTER (WHERE voided) FROM {name} GROUP BY tenant_id")}
    if now != {w.tenant_id: (w.statements, w.voided) for w in written}:
        raise ArchiveError(f"{name} changed while it was archived (a statement voided?): run the archive again")
    # The month's figures stay in the rollups after its statements leave (a rebuild or a recompute
    # starts from these sums): read from the files just checked, refused if a watermark is behind.
    try:
        rollups_archived.take_month(session, name, month, [(w.tenant_id, w.tenant, w.directory / STATEMENTS_FILE)
                                                           for w in written])
    except rollups_archived.ArchiveRefused as err:
        raise ArchiveError(str(err)) from None
    stamp = datetime.now(UTC)
    for w in written:
        session.add(StatementArchive(tenant_id=w.tenant_id, month=month, statements=w.statements,
                                     positions=w.positions, manifest_sha256=w.manifest_sha256,
                                     location=location, archived=stamp, attachments_listed=True))
    session.flush()
    for w in written:  # their attachment rows stay: an erasure keeps those the lake's statements cite
        archived.record(session, w.tenant_id, month, w.attachments)
    return partitions.drop_month(conn, month)


def write_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
