"""Importing SCORM packages (player.packages.scorm_import.import_scorm): a good zip becomes a catalogue
course; bad ones (no manifest, wrong XML, XXE, zip slip, oversize, a launch file missing) are refused
with the exact reason and leave nothing behind: no row, no files."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from player.packages.archive import ArchiveLimits
from player.packages.errors import PackageError
from player.packages.http import package_store
from player.packages.scorm_import import describe, import_scorm, remove_scorm
from player.packages.scorm_play import all_courses, catalogue_items
from player.packages.storage import ImportedPackage
from player.packages.store import PackageStore, StoreConfig
from player.pages import CATALOGUE_EXT
from tests.packages.scorm_support import DATA, package_zip


def _store(tmp_path: Path, **limits: int) -> PackageStore:
    return PackageStore(StoreConfig(root=tmp_path / "packages", limits=ArchiveLimits(**limits)))


def _rows(app: Flask) -> int:
    with app.extensions["hocvu.db"].session() as db:
        return int(db.scalar(select(func.count()).select_from(ImportedPackage)) or 0)


def test_a_scorm_zip_becomes_a_catalogue_course(app: Flask) -> None:
    # SCORM 2004 CAM §3 content package → the catalogue's course scorm/<id>, beside the YAML courses
    with app.extensions["hocvu.db"].session() as db:
        course = import_scorm(db, package_store(app), package_zip("scorm2004"), datetime.now(UTC))
        db.commit()
        try:
            assert course.course_id == "hocvu-test-scorm2004" and course.version == "2004"
            assert [(i.id, i.launch, i.sco) for i in course.items] == [("gioi-thieu", "intro.html", True),
                                                                       ("kiem-tra", "quiz.html", True)]
            assert package_store(app).file(course.package_id, "sco.js").is_file()
            row = db.scalar(select(ImportedPackage).where(ImportedPackage.slug == course.course_id))
            assert row is not None and row.format == "scorm2004"
            shown = describe(row)
            assert (shown["target"], shown["version"], [i["id"] for i in shown["items"]]) == (
                "scorm/hocvu-test-scorm2004", "2004", ["gioi-thieu", "kiem-tra"])
            item = next(i for i in catalogue_items(db) if i.target == "scorm/hocvu-test-scorm2004")
            assert (item.title, item.kind, item.graded, item.max_score) == ("An toàn mạng (SCORM 2004)", "package",
                                                                            True, 200.0)
            with app.app_context():   # the Deep Linking picker's list: the YAML courses, then imported ones
                listed = [i.target for i in app.extensions[CATALOGUE_EXT].list_items("vi")]
            assert "scorm/hocvu-test-scorm2004" in listed and listed.index("scorm/hocvu-test-scorm2004") > 0
            with pytest.raises(PackageError, match="a course 'hocvu-test-scorm2004' is already imported"):
                import_scorm(db, package_store(app), package_zip("scorm2004"), datetime.now(UTC))
        finally:
            remove_scorm(db, package_store(app), course.course_id)
            db.commit()
        assert not package_store(app).exists(course.package_id)
        assert all(c.course_id != course.course_id for c in all_courses(db))


def _bad_manifest(xml: bytes) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("imsmanifest.xml", xml)
        zf.writestr("quiz.html", "<!doctype html><title>x</title>")
    buf.seek(0)
    return buf


XXE = (b'<?xml version="1.0"?><!DOCTYPE manifest [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       + (DATA / "scorm12" / "imsmanifest.xml").read_bytes().split(b"?>", 1)[1])


@pytest.mark.parametrize(("source", "code", "message"), [
    (package_zip("scorm12", drop=("imsmanifest.xml",)), "package_manifest_missing",
     "the package has no imsmanifest.xml at its root"),
    (_bad_manifest(b"<manifest><resources>"), "package_manifest_invalid", "imsmanifest.xml is not well-formed XML"),
    (_bad_manifest(XXE), "package_manifest_invalid", "imsmanifest.xml declares a DOCTYPE"),
    (package_zip("scorm12", drop=("quiz.html",)), "package_manifest_invalid",
     "item 'kiem-tra' launches 'quiz.html', which is not in the package"),
    (package_zip("scorm12", extra={"../evil.html": b"x"}), "package_unsafe_path", "would leave the package folder"),
    (package_zip("scorm12", extra={"run.exe": b"MZ"}), "package_content_type", "run.exe"),
    (io.BytesIO(b"not a zip"), "package_not_zip", "not a zip archive"),
])
def test_bad_packages_are_refused_and_nothing_is_stored(sqlite_app: Flask, tmp_path: Path, source: io.BytesIO,
                                                        code: str, message: str) -> None:
    # issue 16 "Bad packages ... refused with an exact message; nothing stored"; OWASP XXE; OWASP Zip Slip
    store = _store(tmp_path)
    before = _rows(sqlite_app)
    with sqlite_app.extensions["hocvu.db"].session() as db, pytest.raises(PackageError) as err:
        import_scorm(db, store, source, datetime.now(UTC), course_id=f"bad-{uuid.uuid4().hex[:6]}")
    assert err.value.code == code and message in err.value.message
    assert _rows(sqlite_app) == before
    assert not (tmp_path / "packages").exists() or not any((tmp_path / "packages").iterdir())


def test_an_oversize_package_is_refused(sqlite_app: Flask, tmp_path: Path) -> None:
    store = _store(tmp_path, max_total_bytes=1000)
    with sqlite_app.extensions["hocvu.db"].session() as db, pytest.raises(PackageError) as err:
        import_scorm(db, store, package_zip("scorm12", extra={"big.txt": b"x" * 5000}), datetime.now(UTC))
    assert err.value.status == 413 and err.value.code == "package_too_large"
    assert not (tmp_path / "packages").exists() or not any((tmp_path / "packages").iterdir())
