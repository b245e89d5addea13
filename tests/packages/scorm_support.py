"""Shared by the SCORM tests: the test packages (tests/data/scorm, our own SCOs) zipped, imported into
the app's catalogue under a fresh course id, and a score reporter that records what it is handed."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from player.grades import LinkGrade
from player.packages.http import package_store
from player.packages.scorm_import import import_scorm
from player.packages.scorm_play import ScormCourse
from player.pages import REPORTERS_EXT, register_reporter
from player.session import PlayerSession

DATA = Path(__file__).resolve().parents[1] / "data" / "scorm"
REPORTER = "scorm-test-recorder"
GRADES: list[tuple[str, str, LinkGrade]] = []   # (learner account, target, grade) as reported


def package_zip(name: str, *, extra: dict[str, bytes] | None = None, drop: tuple[str, ...] = ()) -> io.BytesIO:
    """tests/data/scorm/<name>/ plus common/ as a zip (``extra`` files added, ``drop`` left out)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder in (DATA / name, DATA / "common"):
            for path in sorted(folder.rglob("*")):
                rel = path.relative_to(folder).as_posix()
                if path.is_file() and rel not in drop:
                    zf.write(path, rel)
        for rel, data in (extra or {}).items():
            zf.writestr(rel, data)
    buf.seek(0)
    return buf


def imported(app: Flask, name: str) -> ScormCourse:
    """The package ``name`` imported as a new course (a fresh id per call: tests share the app)."""
    course_id = f"{name}-{uuid.uuid4().hex[:8]}"
    with app.extensions["hocvu.db"].session() as db:
        course = import_scorm(db, package_store(app), package_zip(name), datetime.now(UTC), course_id=course_id)
        db.commit()
    return course


def recording_reporter(app: Flask) -> str:
    if REPORTER not in app.extensions.get(REPORTERS_EXT, {}):
        def record(db: Session, launch: PlayerSession, grade: LinkGrade) -> bool:
            GRADES.append((launch.learner.account, launch.target, grade))
            return True
        register_reporter(app, REPORTER, record)
    return REPORTER


def grades_of(account: str) -> list[tuple[str, LinkGrade]]:
    return [(target, grade) for who, target, grade in GRADES if who == account]


def flat(**kw: Any) -> dict[str, Any]:
    """Keyword names with "__" for "." : flat(cmi__core__lesson_status="passed")."""
    return {k.replace("__", "."): v for k, v in kw.items()}
