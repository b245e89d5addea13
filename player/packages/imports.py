"""One way in for every package format: the CLI (``hocvu courses import``), the admin API and the
admin page hand a package here; it goes to its format's importer (a zip with ``cmi5.xml`` at its root,
or a bare ``cmi5.xml``: cmi5; a zip with ``imsmanifest.xml`` at its root: SCORM 1.2 or 2004), and any
imported course is described the same way in listings."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from player.catalogue import CatalogueItem
from player.packages import listing, scorm_import
from player.packages.cmi5 import importer as cmi5_importer
from player.packages.scorm_manifest import MANIFEST
from player.packages.scorm_play import FORMATS as SCORM_FORMATS
from player.packages.scorm_play import catalogue_items as scorm_catalogue_items
from player.packages.storage import ImportedPackage
from player.packages.store import PackageStore

Progress = Callable[[int, int], None]


def import_package(db: Session, store: PackageStore, data: bytes | IO[bytes], source: str, now: datetime,
                   progress: Progress | None = None) -> ImportedPackage:
    """Import a package of any supported format; the caller commits, then calls ``after_commit``.
    A zip holding both manifests is a cmi5 package (cmi5 §14.1: its structure is what the LMS reads)."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    if _is_scorm(stream):
        course = scorm_import.import_scorm(db, store, stream, now, name=source, progress=progress)
        return db.scalars(select(ImportedPackage).where(ImportedPackage.slug == course.course_id)).one()
    return cmi5_importer.import_bytes(db, store, stream, source, now, progress)


def after_commit(db: Session, store: PackageStore) -> None:
    """Delete the files of courses a committed import replaced (cmi5 re-imports replace in place)."""
    cmi5_importer.after_commit(db, store)


def describe(pkg: ImportedPackage) -> dict[str, Any]:
    """An imported course as the admin listings show it, whatever its format."""
    if pkg.format in SCORM_FORMATS.values():
        return scorm_import.describe(pkg)
    return cmi5_importer.describe(pkg)


def catalogue_items(db: Session, locale: str) -> list[CatalogueItem]:
    """Every imported course's linkable items (cmi5 courses and AUs, then SCORM courses), as the
    catalogue lists them beside the YAML courses."""
    return listing.items(db, locale) + scorm_catalogue_items(db)


def unit_count(pkg: ImportedPackage) -> int:
    """What a learner can launch in it: AUs of a cmi5 course, items of a SCORM organisation."""
    described = describe(pkg)
    return len(described.get("aus") or described.get("items") or [])


def _is_scorm(stream: IO[bytes]) -> bool:
    start = stream.tell()
    try:
        if stream.read(2) != b"PK":
            return False
        stream.seek(start)
        with zipfile.ZipFile(stream) as zf:
            names = set(zf.namelist())
        return MANIFEST in names and "cmi5.xml" not in names
    except zipfile.BadZipFile:
        return False  # the cmi5 importer refuses it with its exact reason
    finally:
        stream.seek(start)
