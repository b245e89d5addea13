"""Which AUs (cmi5) and SCOs (SCORM) of an imported course are *assessed*: identity assurance applies
to them (issue 16), as it does to a YAML quiz that names ``identity``.

cmi5 has no standard flag for "this AU is an assessment" (cmi5 §13.1.4's moveOn and masteryScore say
how an AU is judged, not that who takes it must be proven), and SCORM's manifest has none either, so
it is the hub's own choice, made by an administrator at import (``hocvu courses import --assessed
AU_ID``), later (``hocvu courses assess``, the admin API), and kept with the package
(``ImportedPackage.assessed``). A unit is named by the publisher's AU id (cmi5 §13.1.4 ``au/@id``)
or the manifest item's identifier (SCORM CAM ``<item identifier>``): stable across re-imports, so a
re-import of the same course keeps the choice for the units it still has.

Flask-free; callers commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from player.packages.cmi5 import model
from player.packages.errors import PackageError
from player.packages.storage import ImportedPackage


class UnknownUnit(PackageError):
    """An assessed unit the course does not have."""

    status, code = 400, "package_unknown_unit"


def units(pkg: ImportedPackage) -> list[str]:
    """The ids that can be marked: the course's AU ids (cmi5), or its SCOs' item identifiers (SCORM)."""
    if pkg.format == "cmi5":
        return [au.id for au in model.from_json(pkg.structure).aus()]
    return [str(i["id"]) for i in pkg.structure.get("items", []) if i.get("sco")]


def set_assessed(pkg: ImportedPackage, unit_ids: Iterable[str]) -> list[str]:
    """Mark exactly ``unit_ids`` assessed (an empty list: none); ``UnknownUnit`` names any the course
    lacks, and nothing changes then."""
    known = units(pkg)
    chosen = list(dict.fromkeys(unit_ids))
    unknown = [u for u in chosen if u not in known]
    if unknown:
        raise UnknownUnit(f"course {pkg.slug!r} has no AU or SCO {', '.join(repr(u) for u in unknown)}; "
                          f"it has {', '.join(repr(u) for u in known) or 'none'}")
    pkg.assessed = [u for u in known if u in chosen]  # the course's order
    return pkg.assessed


def carry_over(old: list[str] | None, pkg: ImportedPackage) -> None:
    """A re-import keeps the previous choice for the units the new version still has."""
    known = set(units(pkg))
    pkg.assessed = [u for u in (old or []) if u in known]


def is_assessed(pkg: ImportedPackage, unit_id: str) -> bool:
    return unit_id in (pkg.assessed or [])
