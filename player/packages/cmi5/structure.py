"""cmi5 course structures (``cmi5.xml``): parsed safely, checked against the cmi5 XSD
(``cmi5_CourseStructure.xsd``, cmi5 §13.2) and then against the rules the XSD cannot say, each
refusal naming its clause:

- cmi5 §3.0: every IRI (course, block, AU, objective ids and references) fully qualified;
- cmi5 §13.1.2/§13.1.3/§13.1.4: block, objective and AU ids unique within the course;
- cmi5 §13.1.4 (url): a valid URL (no spaces, a parseable form);
- cmi5 §8.1 (8.1.0.0-6): an AU url's query may not name a launch parameter the LMS adds;
- cmi5 §14.2: without a zip, every AU url fully qualified; cmi5 §14.1: with a zip, a relative url
  names a file the zip holds (checked by the importer, which knows the files).

The parser never resolves entities, never reads the network and refuses DTDs (XXE, billion laughs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

from player.packages.errors import ManifestInvalid

NS = "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd"
XSD_PATH = Path(__file__).with_name("cmi5_CourseStructure.xsd")
LAUNCH_PARAMETERS = ("endpoint", "fetch", "actor", "registration", "activityId")
MoveOn = Literal["NotApplicable", "Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed"]
MAX_STRUCTURE_BYTES = 16 * 1024 * 1024
HINT_NS = "https://hocvu.vn/xmlns/cmi5"   # the hub's extension attributes (cmi5 §13: other namespaces)


@dataclass(frozen=True)
class Au:
    id: str
    title: dict[str, str]
    description: dict[str, str]
    url: str
    move_on: str = "NotApplicable"
    mastery_score: float | None = None
    launch_method: str = "AnyWindow"
    launch_parameters: str | None = None
    entitlement_key: str | None = None
    activity_type: str | None = None
    objectives: tuple[str, ...] = ()
    # The hub's own hint (cmi5 has no standard flag): ``hv:assessed="true"`` in namespace HINT_NS, an
    # extension attribute the XSD's anyAttribute allows; pre-marks the AU assessed on a first import.
    assessed_hint: bool = False


@dataclass(frozen=True)
class Block:
    id: str
    title: dict[str, str]
    description: dict[str, str]
    children: tuple[Au | Block, ...]
    objectives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Objective:
    id: str
    title: dict[str, str]
    description: dict[str, str]


@dataclass(frozen=True)
class CourseStructure:
    id: str
    title: dict[str, str]
    description: dict[str, str]
    children: tuple[Au | Block, ...]
    objectives: tuple[Objective, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def aus(self) -> list[Au]:
        """Every AU in document order (CATAPULT's "AU index" counts in this order)."""
        return list(_walk_aus(self.children))

    def blocks(self) -> list[Block]:
        found: list[Block] = []
        _walk_blocks(self.children, found)
        return found


def _walk_aus(children: tuple[Au | Block, ...]) -> Any:
    for child in children:
        if isinstance(child, Au):
            yield child
        else:
            yield from _walk_aus(child.children)


def aus_under(block: Block) -> list[Au]:
    return list(_walk_aus(block.children))


def _walk_blocks(children: tuple[Au | Block, ...], found: list[Block]) -> None:
    for child in children:
        if isinstance(child, Block):
            found.append(child)
            _walk_blocks(child.children, found)


@cache
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_PATH)))


def parse(data: bytes, *, zipped: bool) -> CourseStructure:
    """The course structure in ``data`` or ManifestInvalid with the exact reason."""
    if len(data) > MAX_STRUCTURE_BYTES:
        raise ManifestInvalid(f"cmi5.xml is over {MAX_STRUCTURE_BYTES} bytes")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, dtd_validation=False, load_dtd=False,
                             huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise ManifestInvalid(f"cmi5.xml is not well-formed XML: {err}") from None
    if root.getroottree().docinfo.internalDTD is not None or b"<!DOCTYPE" in data[:4096]:
        raise ManifestInvalid("cmi5.xml may not carry a DOCTYPE (entities are refused)")
    if root.tag != f"{{{NS}}}courseStructure":
        raise ManifestInvalid(f"cmi5 §13.2: the root element must be courseStructure in the namespace {NS}, "
                              f"not {root.tag}")
    xsd = schema()
    if not xsd.validate(root):
        # lxml-stubs do not type the schema's error log; its last entry is the first error met.
        e: Any = xsd.error_log.last_error  # type: ignore[attr-defined]
        raise ManifestInvalid(f"cmi5 §13.2: cmi5.xml breaks the course structure XSD at line {e.line}: {e.message}")
    course = _course(root)
    _check(course, zipped=zipped)
    return course


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _text(el: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for ls in el.findall(_q("langstring")):
        out[ls.get("lang") or "und"] = (ls.text or "").strip()
    return out


def _opt(el: Any, name: str) -> str | None:
    found = el.find(_q(name))
    return None if found is None else (found.text or "").strip()


def _refs(el: Any) -> tuple[str, ...]:
    objs = el.find(_q("objectives"))
    return () if objs is None else tuple(o.get("idref") for o in objs.findall(_q("objective")))


def _children(el: Any) -> tuple[Au | Block, ...]:
    out: list[Au | Block] = []
    for child in el:
        if child.tag == _q("au"):
            mastery = child.get("masteryScore")
            out.append(Au(id=child.get("id"), title=_text(child.find(_q("title"))),
                          description=_text(child.find(_q("description"))), url=(_opt(child, "url") or ""),
                          move_on=child.get("moveOn") or "NotApplicable",
                          mastery_score=float(Decimal(mastery)) if mastery is not None else None,
                          launch_method=child.get("launchMethod") or "AnyWindow",
                          launch_parameters=_opt(child, "launchParameters"),
                          entitlement_key=_opt(child, "entitlementKey"), activity_type=child.get("activityType"),
                          objectives=_refs(child),
                          assessed_hint=child.get(f"{{{HINT_NS}}}assessed") in ("true", "1")))
        elif child.tag == _q("block"):
            out.append(Block(id=child.get("id"), title=_text(child.find(_q("title"))),
                             description=_text(child.find(_q("description"))), children=_children(child),
                             objectives=_refs(child)))
    return tuple(out)


def _course(root: Any) -> CourseStructure:
    c = root.find(_q("course"))
    objectives: list[Objective] = []
    objs = root.find(_q("objectives"))
    if objs is not None:
        objectives = [Objective(o.get("id"), _text(o.find(_q("title"))), _text(o.find(_q("description"))))
                      for o in objs.findall(_q("objective"))]
    return CourseStructure(id=c.get("id"), title=_text(c.find(_q("title"))),
                           description=_text(c.find(_q("description"))), children=_children(root),
                           objectives=tuple(objectives))


def is_iri(value: str) -> bool:
    """Fully qualified (cmi5 §3.0): a scheme, then something, and no spaces."""
    parts = urlsplit(value)
    return bool(parts.scheme) and parts.scheme.isascii() and bool(parts.netloc or parts.path) \
        and not any(c.isspace() for c in value)


def _check(course: CourseStructure, *, zipped: bool) -> None:
    seen: dict[str, str] = {}

    def unique(kind: str, value: str, clause: str) -> None:
        if not is_iri(value):
            raise ManifestInvalid(f"cmi5 §3.0: the {kind} id {value!r} is not a fully qualified IRI")
        if value in seen:
            raise ManifestInvalid(f"{clause}: the {kind} id {value!r} is used twice in the course "
                                  f"(first by a {seen[value]})")
        seen[value] = kind

    unique("course", course.id, "cmi5 §13.1.1")
    for o in course.objectives:
        unique("objective", o.id, "cmi5 §13.1.3")
    for b in course.blocks():
        unique("block", b.id, "cmi5 §13.1.2")
        _check_refs(b.objectives, course)
    for au in course.aus():
        unique("AU", au.id, "cmi5 §13.1.4")
        _check_refs(au.objectives, course)
        check_url(au, zipped=zipped)


def _check_refs(refs: tuple[str, ...], course: CourseStructure) -> None:
    known = {o.id for o in course.objectives}
    for ref in refs:
        if not is_iri(ref):
            raise ManifestInvalid(f"cmi5 §3.0: the objective reference {ref!r} is not a fully qualified IRI")
        if ref not in known:
            raise ManifestInvalid(f"cmi5 §13.1.3: the objective reference {ref!r} names no objective of the course")


def check_url(au: Au, *, zipped: bool) -> None:
    url = au.url
    if not url or any(c.isspace() for c in url):
        raise ManifestInvalid(f"cmi5 §13.1.4: the url of AU {au.id!r} is not a valid URL: {url!r}")
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError as err:
        raise ManifestInvalid(f"cmi5 §13.1.4: the url of AU {au.id!r} is not a valid URL: {err}") from None
    clash = sorted({k for k, _ in query} & set(LAUNCH_PARAMETERS))
    if clash:
        raise ManifestInvalid(f"cmi5 §8.1: the url of AU {au.id!r} names the launch parameter(s) "
                              f"{', '.join(clash)}, which the LMS adds at launch")
    absolute = bool(parts.scheme) and bool(parts.netloc)
    if not absolute and not zipped:
        raise ManifestInvalid(f"cmi5 §14.2: without a zip package every AU url must be fully qualified; "
                              f"AU {au.id!r} has {url!r}")
    if not absolute and (url.startswith("/") or parts.scheme):
        raise ManifestInvalid(f"cmi5 §14.1: AU {au.id!r}: a url in a zip package is relative to it, not {url!r}")


def relative_path(au: Au) -> str | None:
    """The package file a relative AU url names (its path part), or None for a fully qualified url."""
    parts = urlsplit(au.url)
    return None if parts.scheme else parts.path
