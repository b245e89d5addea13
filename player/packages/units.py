"""What an LMS link to an imported course covers, for the instructor's roster (``lti_tool.roster``):
its units (cmi5 AUs, SCORM SCOs) with the activity IRI their statements use, and a root the roster
page can title, as ``player.catalogue.Resolved`` is for a YAML course.

Link targets: ``package/<slug>`` (every AU), ``package/<slug>/au/<n>`` (one), ``scorm/<course>``
(every SCO), ``scorm/<course>/sco/<item>`` (one). A unit is *judged* when its statements pass or
fail it: a cmi5 AU whose moveOn needs Passed or that has a masteryScore (cmi5 §13.1.4), every SCO
(SCORM reports a success status or a score, xAPI SCORM Profile §5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from player.catalogue import activity_id
from player.packages import listing
from player.packages.cmi5 import model
from player.packages.cmi5.lms_statements import lms_activity_id
from player.packages.scorm_play import FORMATS as SCORM_FORMATS
from player.packages.scorm_statements import course_target, sco_target
from player.packages.storage import ImportedPackage

JUDGING = ("Passed", "CompletedAndPassed", "CompletedOrPassed")


@dataclass(frozen=True)
class Titled:
    title: Mapping[str, str]


@dataclass(frozen=True)
class Unit:
    target: str
    title: Mapping[str, str]
    iri: str                  # the activity id its statements (completed, passed, failed) name
    judged: bool


@dataclass(frozen=True)
class PackageRoot:
    """The roster page's ``r`` for a package link (the fields its template reads)."""

    course: Titled
    item: Titled
    kind: str                 # "course" for the whole course, else "au" / "sco"
    target: str
    units: tuple[Unit, ...]


def is_package_target(target: str) -> bool:
    return target.startswith((listing.PREFIX, "scorm/"))


def _find(db: Session, slug: str) -> ImportedPackage | None:
    return db.scalars(select(ImportedPackage).where(ImportedPackage.slug == slug)).first()


def package_root(db: Session, target: str) -> PackageRoot | None:
    """The units of the package link ``target``; None when it names no imported course (or one unit
    the course does not have)."""
    parts = target.split("/")
    if target.startswith(listing.PREFIX):
        parsed = listing.parse_target(target)
        pkg = _find(db, parsed[0]) if parsed else None
        if parsed is None or pkg is None or pkg.format != "cmi5":
            return None
        course = model.from_json(pkg.structure)
        units = tuple(Unit(f"{listing.PREFIX}{pkg.slug}/au/{i}", au.title or {"und": au.id},
                           lms_activity_id(course.id, au.id), au.move_on in JUDGING or au.mastery_score is not None)
                      for i, au in enumerate(course.aus()))
        index = parsed[1]
    elif len(parts) in (2, 4) and parts[0] == "scorm":
        pkg = _find(db, parts[1])
        if pkg is None or pkg.format not in SCORM_FORMATS.values():
            return None
        units = tuple(Unit(sco_target(pkg.slug, str(i["id"])), {"vi": str(i["title"])},
                           activity_id(sco_target(pkg.slug, str(i["id"]))), True)
                      for i in pkg.structure.get("items", []) if i.get("sco"))
        ids = [u.target for u in units]
        index = None if len(parts) == 2 else (ids.index(target) if target in ids else -1)
        if len(parts) == 4 and parts[2] != "sco":
            return None
    else:
        return None
    root_title = Titled(pkg.title or {"und": pkg.slug})
    if index is None:
        whole = f"{listing.PREFIX}{pkg.slug}" if pkg.format == "cmi5" else course_target(pkg.slug)
        return PackageRoot(root_title, root_title, "course", whole, units)
    if not 0 <= index < len(units):
        return None
    unit = units[index]
    return PackageRoot(root_title, Titled(unit.title), "au" if pkg.format == "cmi5" else "sco", unit.target, (unit,))
