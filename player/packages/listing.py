"""Imported packages as catalogue items (``Catalogue.providers``), so they appear in the Deep Linking
picker beside the YAML courses: ``package/<slug>`` for the course, ``package/<slug>/au/<n>`` for its
n-th AU (document order, from 0). An AU that judges (moveOn with Passed, or a masteryScore) is
graded out of 100 (its score.scaled × 100, ``cmi5.progress.report_grade``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from player.catalogue import CatalogueItem, localized
from player.packages.cmi5 import model
from player.packages.storage import ImportedPackage

PREFIX = "package/"


def title_in(text: dict[str, str], locale: str) -> str:
    if not text:
        return ""
    for lang in (locale, "vi", "en", "en-US"):
        if lang in text:
            return text[lang]
    return localized(text, next(iter(text))) if "vi" in text else next(iter(text.values()))


def items(db: Session, locale: str) -> list[CatalogueItem]:
    out: list[CatalogueItem] = []
    for pkg in db.scalars(select(ImportedPackage).order_by(ImportedPackage.slug)):
        if pkg.format != "cmi5":
            continue  # other formats list their own items
        course = model.from_json(pkg.structure)
        aus = course.aus()
        graded = [au.move_on in ("Passed", "CompletedAndPassed", "CompletedOrPassed") or au.mastery_score is not None
                  for au in aus]
        out.append(CatalogueItem(f"{PREFIX}{pkg.slug}", title_in(pkg.title, locale), "package", any(graded),
                                 100.0 if any(graded) else None))
        out.extend(CatalogueItem(f"{PREFIX}{pkg.slug}/au/{i}", title_in(au.title, locale), "au", g,
                                 100.0 if g else None) for i, (au, g) in enumerate(zip(aus, graded, strict=True)))
    return out


def parse_target(target: str) -> tuple[str, int | None] | None:
    """``package/<slug>[/au/<n>]`` → (slug, n or None); None when not a package target."""
    if not target.startswith(PREFIX):
        return None
    parts = target[len(PREFIX):].split("/")
    if len(parts) == 1 and parts[0]:
        return parts[0], None
    if len(parts) == 3 and parts[1] == "au" and parts[2].isdigit():
        return parts[0], int(parts[2])
    return None
