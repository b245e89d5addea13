"""Import a cmi5 course: a zip package holding ``cmi5.xml`` (cmi5 §14.1, Zip32 and Zip64), or a
``cmi5.xml`` alone (§14.2), from a file or a URL. Every check runs before anything is kept: the
archive's (``player.packages.archive``), the structure's (``structure``), and that each relative
AU url names a file of the package (§14.1). Re-importing a course (same course IRI) replaces it
under the same catalogue slug, so links already placed in LMSs keep working.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from sqlalchemy import select
from sqlalchemy.orm import Session

from player.packages import assessed
from player.packages.archive import check, open_zip, read_member, safe_name
from player.packages.cmi5 import model, structure
from player.packages.errors import (
    ManifestInvalid,
    ManifestMissing,
    NotAnArchive,
)
from player.packages.listing import PREFIX
from player.packages.storage import ImportedPackage
from player.packages.store import PackageStore

Progress = Callable[[int, int], None]
FORMAT = "cmi5"
DOOMED = "player.packages.doomed"  # db.info: store folders to delete once the replacing import committed


def after_commit(db: Session, store: PackageStore) -> None:
    """Delete the files of courses a committed import replaced."""
    for key in db.info.pop(DOOMED, []):
        store.remove(key)


def import_bytes(db: Session, store: PackageStore, data: bytes | IO[bytes], source: str, now: datetime,
                 progress: Progress | None = None) -> ImportedPackage:
    """Import one package or course structure (sniffed: a zip, or XML); the caller commits."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    head = stream.read(4)
    stream.seek(0)
    if head[:2] == b"PK":
        return _import_zip(db, store, stream, source, now, progress)
    text = stream.read(structure.MAX_STRUCTURE_BYTES + 1)
    if text.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        course = structure.parse(text, zipped=False)
        return _record(db, store, course, None, source, now)
    raise NotAnArchive("cmi5 §14.0: a course package is a zip file (Zip32 or Zip64) or a cmi5.xml course "
                       f"structure; {source!r} is neither")


def _import_zip(db: Session, store: PackageStore, stream: IO[bytes], source: str, now: datetime,
                progress: Progress | None) -> ImportedPackage:
    with open_zip(stream) as zf:
        entries = check(zf, store.config.limits)
        names = {e.name for e in entries}
        manifest = _manifest_name(zf)
        if manifest is None:
            raise ManifestMissing("cmi5 §14.1: the zip package has no cmi5.xml at its root")
        data = read_member(zf, manifest, structure.MAX_STRUCTURE_BYTES)
        assert data is not None
        course = structure.parse(data, zipped=True)
        for au in course.aus():
            path = structure.relative_path(au)
            if path is not None and _normal(path) not in names:
                raise ManifestInvalid(f"cmi5 §14.1: the url of AU {au.id!r} names {path!r}, which the package "
                                      "does not hold")
        package_key, _ = store.put(zf, progress)
    try:
        return _record(db, store, course, package_key, source, now)
    except BaseException:
        store.remove(package_key)
        raise


def _manifest_name(zf: zipfile.ZipFile) -> str | None:
    for info in zf.infolist():
        if safe_name(info.filename) == "cmi5.xml":
            return info.filename
    return None


def _normal(path: str) -> str:
    try:
        return safe_name(unquote(path))
    except Exception:
        return path


def _record(db: Session, store: PackageStore, course: structure.CourseStructure, package_key: str | None,
            source: str, now: datetime) -> ImportedPackage:
    old = db.scalars(select(ImportedPackage).where(ImportedPackage.format == FORMAT,
                                                   ImportedPackage.course_iri == course.id)).first()
    slug = old.slug if old is not None else _slug(db, course)
    kept = list(old.assessed or []) if old is not None else []
    if old is not None:
        old_key, old_files = old.package_key, old.has_files
        db.delete(old)
        db.flush()
        if old_files:
            # The old files go once the new row is in; a reader between sees one or the other.
            db.info.setdefault(DOOMED, []).append(old_key)
    row = ImportedPackage(package_key=package_key or uuid.uuid4().hex, slug=slug, format=FORMAT,
                          course_iri=course.id, title=course.title, description=course.description,
                          structure=model.to_json(course), has_files=package_key is not None,
                          source=source[:1024], imported=now)
    if old is not None:
        assessed.carry_over(kept, row)   # the administrator's choice stands
    else:
        row.assessed = [au.id for au in course.aus() if au.assessed_hint]
    db.add(row)
    db.flush()
    return row


def _slug(db: Session, course: structure.CourseStructure) -> str:
    tail = course.id.rstrip("/").rsplit("/", 1)[-1]
    base = re.sub(r"[^a-z0-9]+", "-", tail.lower()).strip("-")[:48] or "cmi5"
    slug, n = base, 1
    while db.scalars(select(ImportedPackage.id).where(ImportedPackage.slug == slug)).first() is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def import_path(db: Session, store: PackageStore, path: Path, now: datetime,
                progress: Progress | None = None) -> ImportedPackage:
    with open(path, "rb") as fh:
        return import_bytes(db, store, fh, path.name, now, progress)


def describe(pkg: ImportedPackage) -> dict[str, Any]:
    course = model.from_json(pkg.structure)
    return {"slug": pkg.slug, "format": pkg.format, "courseId": pkg.course_iri, "packageKey": pkg.package_key,
            "title": pkg.title, "target": f"{PREFIX}{pkg.slug}", "source": pkg.source,
            "imported": pkg.imported.isoformat(),
            "aus": [{"index": i, "id": au.id, "title": au.title, "moveOn": au.move_on,
                     "masteryScore": au.mastery_score, "launchMethod": au.launch_method,
                     "assessed": au.id in (pkg.assessed or [])}
                    for i, au in enumerate(course.aus())]}
