"""Reading an archived month back (connectors.archive.layout): for the writer's check before the
partition is dropped, for ``hocvu audit verify --archive DIR`` (an ``lrs.audit.archived.ArchiveSource``)
and for proof bundles of archived statements (``ArchivedRows.find``: chosen rows only)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from connectors.archive.layout import CHAIN_FILE, MANIFEST_FILE, STATEMENTS_FILE, month_dir, where
from lrs.audit.archived import ArchivedStatement, ArchiveMissing, LoadedArchive
from lrs.audit.chain import STATEMENT_KINDS, content_hash, recompute_entry_hash
from lrs.audit.verify import check_checkpoint

_BLOCK = 1 << 20
_BATCH = 10_000


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ReadBack:
    manifest: dict[str, Any]
    manifest_sha256: str
    hashes: dict[str, str]  # statement id -> canonical hash of the archived statement
    voided: int  # rows marked voided
    problem: str | None  # the first file-level disagreement (SHA-256, rows, columns), if any


def read_month(directory: Path) -> ReadBack:
    """An archived month's manifest and rows, with what does not match (``FileNotFoundError`` when a
    file is missing)."""
    import pyarrow.parquet as pq

    raw = (directory / MANIFEST_FILE).read_bytes()
    problem = None
    try:
        manifest = json.loads(raw)
        files = dict(manifest["files"])
    except (ValueError, KeyError, TypeError):
        manifest, files = {}, {}
        problem = f"{MANIFEST_FILE} is not an archive manifest (altered)"
    for name, meta in sorted(files.items()):
        if file_sha256(directory / name) != meta.get("sha256"):
            problem = problem or f"{name} altered (its SHA-256 differs from the manifest's)"
    hashes: dict[str, str] = {}
    voided = rows = 0
    # In batches: a month of a large tenant is millions of rows; only their hashes are kept.
    for batch in pq.ParquetFile(directory / STATEMENTS_FILE).iter_batches(
            _BATCH, columns=["statement_id", "verb_id", "voided", "statement"]):
        for sid, verb, is_voided, text in zip(*(c.to_pylist() for c in batch.columns), strict=True):
            try:
                statement = json.loads(text)
                hashes[sid] = content_hash(statement)
                if statement.get("id") != sid or statement.get("verb", {}).get("id") != verb:
                    problem = problem or f"{STATEMENTS_FILE}: the indexed columns of statement {sid} disagree with it"
            except (ValueError, AttributeError, TypeError):
                hashes[sid] = "unreadable"
            voided += bool(is_voided)
            rows += 1
    if manifest and rows != manifest.get("statements"):
        problem = problem or f"{STATEMENTS_FILE} holds {rows} rows, the manifest says {manifest.get('statements')}"
    return ReadBack(manifest, hashlib.sha256(raw).hexdigest(), hashes, voided, problem)


def walk_chain(directory: Path, checkpoint: Mapping[str, Any],
               certificates: Sequence[bytes]) -> tuple[dict[int, tuple[str | None, str | None]], str | None]:
    """Check the archived chain segment line by line (links, entry hashes, the checkpoint's signature
    over its position; lrs.audit.verify.verify_segment's rules without holding the segment): returns
    each statement entry's (statement id, content hash) by position, and why it fails, if it does."""
    entries: dict[int, tuple[str | None, str | None]] = {}
    prev: tuple[int, str] | None = None
    at_checkpoint = None
    with (directory / CHAIN_FILE).open(encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            pos = e["position"]
            if prev is not None and (pos != prev[0] + 1 or e["prev_hash"] != prev[1]):
                return entries, f"the segment's link breaks at position {pos}"
            if recompute_entry_hash(e) != e["entry_hash"]:
                return entries, f"entry_hash of position {pos} does not match its fields"
            if e["kind"] in STATEMENT_KINDS:
                entries[pos] = (e["statement_id"], e["content_hash"])
            if pos == checkpoint["position"]:
                at_checkpoint = e["entry_hash"]
            prev = (pos, e["entry_hash"])
    if prev is None:
        return entries, "the chain segment is empty"
    return entries, check_checkpoint(checkpoint, at_checkpoint, certificates)


class LakeArchive:
    """The archives under ``root``, as ``hocvu lake archive --to ROOT`` wrote them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self, tenant: str, month: date, manifest_sha256: str) -> LoadedArchive:
        directory = month_dir(self.root, tenant, month)
        try:
            back = read_month(directory)
        except FileNotFoundError as err:
            raise ArchiveMissing(f"{where(tenant, month)}: {Path(str(err.filename)).name} not found") from None
        problem = back.problem
        if back.manifest_sha256 != manifest_sha256:
            problem = f"{MANIFEST_FILE} altered (its SHA-256 differs from the one the hub recorded)"
        return LoadedArchive(back.hashes, where(tenant, month), problem)

    def find(self, tenant: str, month: date, *, ids: Collection[str] = (),
             registration: str | None = None) -> list[ArchivedStatement]:
        """Rows by id (or registration), filtered as the Parquet is scanned, batch by batch: only the
        matching rows are kept in memory."""
        import pyarrow.dataset as ds

        directory, label = month_dir(self.root, tenant, month), where(tenant, month)
        try:
            dataset = ds.dataset(directory / STATEMENTS_FILE, format="parquet")
        except FileNotFoundError as err:
            raise ArchiveMissing(f"{label}: {Path(str(err.filename)).name} not found") from None
        wanted = (ds.field("statement_id").isin(sorted({i.lower() for i in ids})) if ids
                  else ds.field("registration") == (registration or "").lower())
        table = dataset.to_table(columns=["statement_id", "seq", "statement"], filter=wanted)
        rows = []
        for sid, seq, text in zip(*(c.to_pylist() for c in table.columns), strict=True):
            try:
                full = json.loads(text)
            except ValueError:
                full = {"unreadable": text[:80]}  # refused by its hash, named, by the caller
            rows.append(ArchivedStatement(str(sid), int(seq), full if isinstance(full, dict) else {}, label))
        return rows

    def files_problem(self, tenant: str, month: date, manifest_sha256: str) -> str | None:
        """The manifest against the hub's pin, then the statements file against the manifest (read
        through once, streamed: the chain segment comes from the hub's database, not chain.jsonl)."""
        directory = month_dir(self.root, tenant, month)
        try:
            manifest = (directory / MANIFEST_FILE).read_bytes()
            if hashlib.sha256(manifest).hexdigest() != manifest_sha256:
                return f"{MANIFEST_FILE} altered (its SHA-256 differs from the one the hub recorded)"
            meta = dict(json.loads(manifest)["files"]).get(STATEMENTS_FILE) or {}
            if file_sha256(directory / STATEMENTS_FILE) != meta.get("sha256"):
                return f"{STATEMENTS_FILE} altered (its SHA-256 differs from the manifest's: a row changed or removed)"
        except FileNotFoundError as err:
            return f"{Path(str(err.filename)).name} not found"
        except (ValueError, KeyError, TypeError):
            return f"{MANIFEST_FILE} is not an archive manifest"
        return None
