"""Reading an archived month back (connectors.archive.layout): for the writer's check before the
partition is dropped, and for ``hocvu audit verify --archive DIR`` (an ``lrs.audit.archived.ArchiveSource``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from connectors.archive.layout import CHAIN_FILE, MANIFEST_FILE, STATEMENTS_FILE, month_dir, where
from lrs.audit.archived import ArchiveMissing, LoadedArchive
from lrs.audit.chain import content_hash

_BLOCK = 1 << 20


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
    table = pq.read_table(directory / STATEMENTS_FILE, columns=["statement_id", "verb_id", "voided", "statement"])
    hashes: dict[str, str] = {}
    voided = 0
    for sid, verb, is_voided, text in zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True):
        try:
            statement = json.loads(text)
            hashes[sid] = content_hash(statement)
            if statement.get("id") != sid or statement.get("verb", {}).get("id") != verb:
                problem = problem or f"{STATEMENTS_FILE}: the indexed columns of statement {sid} disagree with it"
        except (ValueError, AttributeError, TypeError):
            hashes[sid] = "unreadable"
        voided += bool(is_voided)
    if manifest and table.num_rows != manifest.get("statements"):
        problem = problem or (f"{STATEMENTS_FILE} holds {table.num_rows} rows, "
                              f"the manifest says {manifest.get('statements')}")
    return ReadBack(manifest, hashlib.sha256(raw).hexdigest(), hashes, voided, problem)


def read_chain(directory: Path) -> list[dict[str, Any]]:
    with (directory / CHAIN_FILE).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


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
