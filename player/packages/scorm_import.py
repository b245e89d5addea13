"""Importing a SCORM package: the zip through the shared safe archive (``archive``: zip slip, sizes,
file count, content types), its ``imsmanifest.xml`` through ``scorm_manifest``, its files into the
package store, and the course into the catalogue's SCORM courses (``scorm_storage.ScormPackage``),
beside the YAML courses. A refused package stores nothing: no files, no row.

``import_scorm`` is what ``hocvu courses import`` and the admin page call for a SCORM zip.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from player.packages.archive import check, open_zip, read_member
from player.packages.errors import PackageError
from player.packages.scorm_manifest import MANIFEST, MAX_BYTES, Manifest, parse_manifest
from player.packages.scorm_play import ScormCourse, find_course
from player.packages.scorm_storage import ScormPackage
from player.packages.store import PackageStore

_SLUG = re.compile(r"[^a-z0-9]+")


class CourseExists(PackageError):
    status, code = 409, "scorm_course_exists"


def course_id_for(manifest: Manifest) -> str:
    """A catalogue id from the manifest's identifier: lower-case letters, digits and dashes."""
    slug = _SLUG.sub("-", (manifest.identifier or manifest.title).lower()).strip("-")[:64].strip("-")
    return slug or "scorm"


def import_scorm(db: Session, store: PackageStore, source: str | os.PathLike[str] | IO[bytes], now: datetime, *,
                 course_id: str | None = None) -> ScormCourse:
    """Import a SCORM 1.2 / 2004 zip as the catalogue course ``scorm/<course_id>`` (default: from the
    manifest's identifier); PackageError (with status, code and the exact reason) when refused.
    Flushes, does not commit: the caller's commit makes the course visible."""
    with open_zip(source) as zf:
        entries = check(zf, store.config.limits)
        root = next((e for e in entries if e.name == MANIFEST), None)
        data = read_member(zf, root.source or root.name, MAX_BYTES) if root else None
        manifest = parse_manifest(data, frozenset(e.name for e in entries))
        ident = course_id or course_id_for(manifest)
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", ident):
            raise PackageError(f"course id {ident!r}: lower-case letters, digits and dashes, at most 64")
        if db.scalar(select(ScormPackage.id).where(ScormPackage.course_id == ident)) is not None:
            raise CourseExists(f"a SCORM course {ident!r} is already imported; remove it first or choose another id")
        package_id, _ = store.put(zf)
    items = [{"id": i.identifier, "title": i.title, "launch": i.launch, "sco": i.is_sco, "mastery": i.mastery_score,
              "threshold": i.completion_threshold, "data": i.launch_data} for i in manifest.leaves()]
    row = ScormPackage(course_id=ident, package_id=package_id, version=manifest.version, title=manifest.title[:512],
                       structure={"choice": manifest.organization.choice, "flow": manifest.organization.flow,
                                  "items": items}, imported=now)
    try:
        db.add(row)
        db.flush()
    except BaseException:
        store.remove(package_id)
        raise
    return find_course(db, ident)


def remove_scorm(db: Session, store: PackageStore, course_id: str) -> None:
    """Remove an imported SCORM course (its files and its catalogue row; learners' attempts stay)."""
    course = find_course(db, course_id)
    row = db.scalar(select(ScormPackage).where(ScormPackage.course_id == course_id))
    db.delete(row)
    db.flush()
    store.remove(course.package_id)
