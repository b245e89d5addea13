"""Importing a SCORM package: the zip through the shared safe archive (``archive``: zip slip, sizes,
file count, content types), its ``imsmanifest.xml`` through ``scorm_manifest``, its files into the
package store, and the course into the imported packages' table (``player.packages.storage``, format
``scorm12`` / ``scorm2004``) that the catalogue lists beside the YAML courses. A refused package
stores nothing: no files, no row.

``import_scorm`` is what ``hocvu courses import`` and the admin page call for a SCORM zip.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from player.catalogue import activity_id
from player.packages.archive import check, open_zip, read_member
from player.packages.errors import PackageError
from player.packages.scorm_manifest import MANIFEST, MAX_BYTES, Manifest, parse_manifest
from player.packages.scorm_play import FORMATS, ScormCourse, find_course
from player.packages.scorm_statements import course_target
from player.packages.storage import ImportedPackage
from player.packages.store import PackageStore

_SLUG = re.compile(r"[^a-z0-9]+")


class CourseExists(PackageError):
    status, code = 409, "scorm_course_exists"


def course_id_for(manifest: Manifest) -> str:
    """A catalogue id from the manifest's identifier: lower-case letters, digits and dashes."""
    slug = _SLUG.sub("-", (manifest.identifier or manifest.title).lower()).strip("-")[:64].strip("-")
    return slug or "scorm"


def import_scorm(db: Session, store: PackageStore, source: str | os.PathLike[str] | IO[bytes], now: datetime, *,
                 course_id: str | None = None, name: str = "upload",
                 progress: Callable[[int, int], None] | None = None) -> ScormCourse:
    """Import a SCORM 1.2 / 2004 zip as the catalogue course ``scorm/<course_id>`` (default: from the
    manifest's identifier); PackageError (with status, code and the exact reason) when refused.
    ``name``: where it came from (a file name, a URL), kept with the course; ``progress``: told the
    bytes written so far and the total while the files are extracted. Flushes, does not commit:
    the caller's commit makes the course visible."""
    with open_zip(source) as zf:
        entries = check(zf, store.config.limits)
        root = next((e for e in entries if e.name == MANIFEST), None)
        data = read_member(zf, root.source or root.name, MAX_BYTES) if root else None
        manifest = parse_manifest(data, frozenset(e.name for e in entries))
        ident = course_id or course_id_for(manifest)
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", ident):
            raise PackageError(f"course id {ident!r}: lower-case letters, digits and dashes, at most 64")
        if db.scalar(select(ImportedPackage.id).where(ImportedPackage.slug == ident)) is not None:
            raise CourseExists(f"a course {ident!r} is already imported; remove it first or choose another id")
        package_id, _ = store.put(zf, progress)
    items = [{"id": i.identifier, "title": i.title, "launch": i.launch, "sco": i.is_sco, "mastery": i.mastery_score,
              "threshold": i.completion_threshold, "data": i.launch_data} for i in manifest.leaves()]
    row = ImportedPackage(package_key=package_id, slug=ident, format=FORMATS[manifest.version],
                          course_iri=activity_id(course_target(ident)), title={"vi": manifest.title[:512]},
                          description={}, has_files=True, source=name[:1024], imported=now,
                          structure={"version": manifest.version, "identifier": manifest.identifier,
                                     "choice": manifest.organization.choice, "flow": manifest.organization.flow,
                                     "items": items})
    try:
        db.add(row)
        db.flush()
    except BaseException:
        store.remove(package_id)
        raise
    return find_course(db, ident)


def remove_scorm(db: Session, store: PackageStore, course_id: str) -> None:
    """Remove an imported SCORM course (its catalogue row, then its files; learners' attempts and
    statements stay: they are records of what happened)."""
    course = find_course(db, course_id)
    db.execute(delete(ImportedPackage).where(ImportedPackage.slug == course_id))
    db.flush()
    store.remove(course.package_id)


def describe(row: ImportedPackage) -> dict[str, Any]:
    """A SCORM course of the imported packages' table as the admin listing shows it (the cmi5 one
    describes AUs; a SCORM course has SCOs and assets)."""
    s = row.structure
    return {"slug": row.slug, "format": row.format, "courseId": row.course_iri, "packageKey": row.package_key,
            "title": row.title, "target": course_target(row.slug), "source": row.source,
            "imported": row.imported.isoformat(), "version": s.get("version"),
            "items": [{"id": i["id"], "title": i["title"], "launch": i["launch"], "sco": i["sco"],
                       "assessed": i["id"] in (row.assessed or [])} for i in s["items"]]}
