"""Applying the pending erasures to archived months (issue 17 item 2 follow-up; privacy).

``hocvu audit erase`` leaves one ``archive_erasures`` row per archived month of the tenant
(lrs.audit.archive_erasure: the learner as a keyed digest). ``apply_pending`` rewrites each such
month without the rows whose related agents meet a pending digest, in steps a crash can stop
anywhere and a rerun finishes:

1. ``statements.parquet`` and ``manifest.json`` (counts, the files' SHA-256s and, under
   ``erasures``, the removed ids with the manifest they replace) are written under temporary names
   and fsynced; nothing visible has changed;
2. the new manifest's SHA-256 is recorded on the pending rows (``rewrite_sha256``) and committed:
   from here a manifest with that hash is the hub's own rewrite, anything else is an altered archive;
3. the files are renamed over the old ones (statements first, manifest last) and the folder fsynced;
4. one transaction pins the new manifest in ``statement_archives``, deletes the pending rows it
   applied, frees the removed ids (as a live erasure does) and appends 'erased' chain entries naming
   them, so ``hocvu audit verify --archive`` counts them erased, not deleted; the month's list of
   cited attachments (lrs.blobs.archived) loses those only the removed rows cited, and the tenant's
   attachments no statement cites any more, live, detached or in any archived month, go.

Months archived before those lists existed are listed first (connectors.archive.listing), so an
attachment another learner's archived statement cites is never forgotten.

A rerun reads the disk against the registry: the pinned manifest (intact files) is a fresh start;
the pinned manifest with a renamed statements file and the recorded temporary manifest is the
crash between the two renames (the manifest's rename is finished); a recorded manifest is the crash
before step 4 (step 4 runs). A month whose rows meet no digest loses only its pending rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from connectors.archive import listing
from connectors.archive.layout import MANIFEST_FILE, STATEMENTS_FILE, month_dir, where
from connectors.archive.reader import file_sha256, read_month
from connectors.archive.writer import fsync_dir, fsync_file
from connectors.rollups import archived as rollups_archived
from lrs import partitions
from lrs.audit import archive_erasure
from lrs.audit.chain import NewEntry, always_appending, append, policy_of
from lrs.audit.erasure import ERASED_IDS_PER_ENTRY
from lrs.blobs import archived
from lrs.blobs import attachments as attachment_store
from lrs.blobs.attachments import declared_hashes
from lrs.storage import ArchiveErasure, Database, StatementArchive, StatementId, Tenant

TEMP: Final = ".erasing"  # the rewrite's files before their rename: .statements.parquet.erasing, ...
_BATCH: Final = 10_000
REWRITE_LOCK: Final = 0x686F637675_0E  # pg advisory lock: one rewriter at a time ("hocvu" + erase)


class EraseError(Exception):
    """An archived month cannot be rewritten now; its files and pending erasures stay as they were."""


@dataclass(frozen=True)
class MonthErased:
    tenant: str
    month: date
    removed: list[str]  # statement ids removed from the archive (empty: the learner had none there)
    positions: list[int]  # the 'erased' chain entries naming them
    resumed: bool = False  # finished a rewrite a crash had interrupted
    detached: bool = False  # a detached month not archived yet: the rows went from its table


def temp_of(path: Path) -> Path:
    return path.with_name(f".{path.name}{TEMP}")


def apply_pending(database: Database, root: Path, key: bytes, *, actor: str, reason: str = "privacy request",
                  tenant_slug: str | None = None) -> tuple[list[MonthErased], list[str]]:
    """Rewrite every archived month with pending erasures (of one tenant with ``tenant_slug``);
    returns what was done and, per month that could not be, why (it stays pending)."""
    with database.engine.connect() as lock:
        got = lock.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": REWRITE_LOCK})
        lock.commit()  # the lock is the session's: no transaction left idle for the whole run
        if not got:
            raise EraseError("another `hocvu lake erase` is running; run it again when it has finished")
        try:
            return _apply(database, root, key, actor, reason, tenant_slug)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": REWRITE_LOCK})
            lock.commit()


def _apply(database: Database, root: Path, key: bytes, actor: str, reason: str,
           tenant_slug: str | None) -> tuple[list[MonthErased], list[str]]:
    with database.session() as s:
        slugs = {int(t): str(slug) for t, slug in s.execute(select(Tenant.id, Tenant.slug))}
        ids = [t for t, slug in slugs.items() if slug == tenant_slug] if tenant_slug is not None else None
        if ids == []:
            raise EraseError(f"no tenant {tenant_slug!r}")
        todo = archive_erasure.pending(s, ids)
    # Months archived before their attachments were listed: listed first, so the attachments the
    # erasures forget are checked against every archived month (lrs.blobs.archived).
    # A month that cannot be listed and is pending fails below, as its rewrite needs the same files.
    failed = [why for t, m, why in listing.list_months(database, root, sorted({t for t, _ in todo}), slugs)
              if (t, m) not in todo]
    done: list[MonthErased] = []
    for tenant_id, month in todo:
        try:
            done.append(apply_month(database, root, key, tenant_id, slugs[tenant_id], month, actor=actor,
                                    reason=reason))
        except EraseError as err:
            failed.append(str(err))
    return done, failed


def apply_month(database: Database, root: Path, key: bytes, tenant_id: int, slug: str, month: date, *,
                actor: str, reason: str) -> MonthErased:
    label, directory = where(slug, month), month_dir(root, slug, month)
    with database.session() as s:
        rows = s.scalars(select(ArchiveErasure).where(ArchiveErasure.tenant_id == tenant_id,
                                                      ArchiveErasure.month == month)).all()
        registry = s.get(StatementArchive, (tenant_id, month))
        if not rows:
            return MonthErased(slug, month, [], [])
        if any(r.key_id != archive_erasure.key_id(key) for r in rows):
            raise EraseError(f"{label}: its pending erasures were recorded under another secret key "
                             "(HOCVU_SECRET_KEY changed?): restore that key to apply them")
        digests = {r.agent_digest for r in rows}
        deferred = sorted({h for r in rows for h in r.attachments or ()})  # what erasures could not forget yet
        if registry is None:  # detached when the learner was erased, not archived yet
            return erase_detached_month(s, key, tenant_id, slug, month, digests, actor=actor, reason=reason,
                                        deferred=deferred)
        pinned, intents = registry.manifest_sha256, {r.rewrite_sha256 for r in rows if r.rewrite_sha256}
        listed = registry.attachments_listed
    current = _state(directory, label, pinned, intents)
    resumed = current != pinned
    if not resumed:
        new_sha = _rewrite(directory, key, digests, pinned)
        with database.session() as s:
            applied = s.scalars(select(ArchiveErasure).where(
                ArchiveErasure.tenant_id == tenant_id, ArchiveErasure.month == month,
                ArchiveErasure.agent_digest.in_(digests)).with_for_update()).all()
            if new_sha is None:  # none of the learners' rows is in this month: nothing to rewrite
                for r in applied:
                    s.delete(r)
                s.flush()
                if not listed:  # and could not be before (listing.list_months): from the file just read
                    archived.record(s, tenant_id, month, listing.hashes_in(directory / STATEMENTS_FILE))
                _forget(s, tenant_id, deferred)
                s.commit()
                return MonthErased(slug, month, [], [])
            for r in applied:
                r.rewrite_sha256 = new_sha
            s.commit()  # step 2: before any file of the archive changes
        swap_files(directory)
        current = new_sha
    return commit_month(database, directory, label, tenant_id, slug, month, pinned, current, actor=actor,
                        reason=reason, resumed=resumed, deferred=deferred)


def _state(directory: Path, label: str, pinned: str, intents: set[str]) -> str:
    """The SHA-256 of the manifest to go on from: ``pinned`` (intact, start afresh) or a recorded
    rewrite's (finish it); raises when the archive is neither."""
    manifest = directory / MANIFEST_FILE
    if not manifest.exists():
        raise EraseError(f"{label}: {MANIFEST_FILE} not found under the archive given; its erasures stay pending")
    current = file_sha256(manifest)
    if current == pinned:
        problem = read_month(directory).problem
        if problem is None:
            return current
        staged = temp_of(manifest)
        # A crash between the renames: the statements are the rewrite's, its manifest still staged.
        if staged.exists() and file_sha256(staged) in intents:
            os.replace(staged, manifest)
            fsync_dir(directory)
            return _state(directory, label, pinned, intents)
        raise EraseError(f"{label}: {problem}; nothing rewritten")
    if current not in intents:
        raise EraseError(f"{label}: {MANIFEST_FILE} differs from the one the hub recorded and from any rewrite "
                         "it began (altered); nothing rewritten")
    problem = read_month(directory).problem
    if problem is not None:
        raise EraseError(f"{label}: the interrupted rewrite's files do not match its manifest: {problem}")
    return current


def _rewrite(directory: Path, key: bytes, digests: set[str], pinned: str) -> str | None:
    """Steps 1: the statements without the learners' rows and the manifest saying so, staged and
    fsynced; returns the staged manifest's SHA-256 (None when no row is the learners')."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.ParquetFile(directory / STATEMENTS_FILE)
    staged = temp_of(directory / STATEMENTS_FILE)
    removed: list[str] = []
    kept = voided = 0
    cited: dict[bool, set[str]] = {True: set(), False: set()}  # attachments of kept / removed rows
    with pq.ParquetWriter(staged, source.schema_arrow, compression="zstd") as out:
        for batch in source.iter_batches(_BATCH):
            ids, actors, texts = (batch.column(c).to_pylist() for c in ("statement_id", "actor_key", "statement"))
            statements = [json.loads(t) for t in texts]
            keep = [not (archive_erasure.row_digests(key, st, a) & digests)
                    for st, a in zip(statements, actors, strict=True)]
            for st, k in zip(statements, keep, strict=True):
                cited[k] |= declared_hashes([st])
            removed += [sid for sid, k in zip(ids, keep, strict=True) if not k]
            rows = batch.filter(pa.array(keep, type=pa.bool_()))
            out.write_batch(rows)
            kept += rows.num_rows
            voided += sum(bool(v) for v in rows.column("voided").to_pylist())
    if not removed:
        staged.unlink()
        return None
    fsync_file(staged)
    manifest = json.loads((directory / MANIFEST_FILE).read_bytes())
    manifest["statements"], manifest["voided"] = kept, voided
    manifest["files"][STATEMENTS_FILE] = {"sha256": file_sha256(staged), "bytes": staged.stat().st_size,
                                          "rows": kept}
    manifest["erasures"] = [*manifest.get("erasures", []), {
        "statements": removed, "previous_manifest_sha256": pinned,
        # Their attachments no row left here cites: the store forgets those no live statement cites.
        "attachments": sorted(cited[False] - cited[True]),
        "time": datetime.now(UTC).isoformat(timespec="seconds")}]
    raw = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")
    path = temp_of(directory / MANIFEST_FILE)
    with path.open("wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())
    fsync_dir(directory)
    return file_sha256(path)


def swap_files(directory: Path) -> None:
    """Step 3: the staged files over the archive's, the manifest last (a crash between the two is
    recognised by ``_state``), then the folder fsynced."""
    for name in (STATEMENTS_FILE, MANIFEST_FILE):
        os.replace(temp_of(directory / name), directory / name)
    fsync_dir(directory)


def commit_month(database: Database, directory: Path, label: str, tenant_id: int, slug: str, month: date,
                 pinned: str, current: str, *, actor: str, reason: str, resumed: bool,
                 deferred: Sequence[str] = ()) -> MonthErased:
    """Step 4, in one transaction: the registry pins the rewritten manifest, the pending rows it
    applied go, the removed ids are freed and 'erased' entries name them; the month's list of cited
    attachments loses those only the removed rows cited, and the attachments no statement of the
    tenant cites any more go (``deferred``: those earlier erasures could not forget yet)."""
    manifest: dict[str, Any] = json.loads((directory / MANIFEST_FILE).read_bytes())
    last = (manifest.get("erasures") or [{}])[-1]
    if last.get("previous_manifest_sha256") != pinned:
        raise EraseError(f"{label}: the rewritten manifest does not follow the one the hub recorded")
    removed = [str(sid) for sid in last["statements"]]
    with database.session() as s:
        registry = s.get(StatementArchive, (tenant_id, month), with_for_update=True)
        if registry is None or registry.manifest_sha256 != pinned:
            raise EraseError(f"{label}: the registry changed meanwhile (another rewrite?); run it again")
        registry.manifest_sha256, registry.statements = current, int(manifest["statements"])
        s.execute(delete(ArchiveErasure).where(ArchiveErasure.tenant_id == tenant_id, ArchiveErasure.month == month,
                                               ArchiveErasure.rewrite_sha256 == current))
        uncited = [str(h) for h in last.get("attachments", [])]
        if registry.attachments_listed:
            archived.uncite(s, tenant_id, month, uncited)
        else:  # not listed (archived before the lists): from the rewritten file, checked by _state
            archived.record(s, tenant_id, month, listing.hashes_in(directory / STATEMENTS_FILE))
        positions = _recorded(s, tenant_id, removed, sorted({*uncited, *deferred}),
                              {"actor": actor, "reason": reason, "archive": f"{month:%Y-%m}"})
        # The month's rollup sums follow its rewritten file (other learners' rows that named her go).
        rollups_archived.restate_month(s, tenant_id, slug, month, directory / STATEMENTS_FILE)
        s.commit()
    return MonthErased(slug, month, removed, positions, resumed)


def erase_detached_month(session: Session, key: bytes, tenant_id: int, slug: str, month: date, digests: set[str],
                         *, actor: str, reason: str, deferred: Sequence[str] = ()) -> MonthErased:
    """A month detached (``hocvu db partitions --detach``) and not archived when the learner was
    erased: her rows go from its table, in one transaction with the chain's 'erased' entries, so
    ``hocvu lake archive`` never carries them to the lake."""
    label = where(slug, month)
    found = partitions.month_table(session.connection(), month)
    if found is not None and found[1]:
        raise EraseError(f"{label}: the month is attached again: its rows are the store's, erase the learner "
                         "again with `hocvu audit erase`")
    hit = archive_erasure.erase_detached(session, tenant_id, month, key, digests) if found else []
    ids = [sid for _, sid, _ in hit]
    hashes = declared_hashes(full for _, _, full in hit)
    session.execute(delete(ArchiveErasure).where(ArchiveErasure.tenant_id == tenant_id,
                                                 ArchiveErasure.month == month,
                                                 ArchiveErasure.agent_digest.in_(digests)))
    session.flush()
    positions = _recorded(session, tenant_id, ids, sorted(hashes),
                          {"actor": actor, "reason": reason, "detached": f"{month:%Y-%m}"}) if ids else []
    _forget(session, tenant_id, deferred)
    session.commit()
    return MonthErased(slug, month, ids, positions, detached=True)


def _recorded(session: Session, tenant_id: int, ids: list[str], attachments: list[str],
              detail: dict[str, Any]) -> list[int]:
    """What a live erasure does besides deleting, for statements that left the store before it: the
    ids are free again (``lrs.audit.erasure.erase_agent``), the attachments no remaining statement
    cites go (lrs.blobs), and 'erased' entries name the ids. Returns the entries' positions."""
    for i in range(0, len(ids), 1000):
        session.execute(delete(StatementId).where(StatementId.tenant_id == tenant_id,
                                                  StatementId.statement_id.in_(ids[i:i + 1000])))
    _forget(session, tenant_id, attachments)
    chunks = [ids[i:i + ERASED_IDS_PER_ENTRY] for i in range(0, len(ids), ERASED_IDS_PER_ENTRY)]
    entries = [NewEntry("erased", None, None, {"statements": chunk, "documents": 0, **detail}) for chunk in chunks]
    return append(session, tenant_id, entries, always_appending(policy_of(session)))


def _forget(session: Session, tenant_id: int, hashes: Sequence[str]) -> None:
    """The attachments among ``hashes`` no statement of the tenant cites, live, detached or archived,
    go (lrs.blobs); those an archived month not listed yet may cite stay pending on its erasures."""
    if hashes:
        archive_erasure.defer(session, tenant_id, attachment_store.forget(session, tenant_id, hashes).deferred)
