"""A SCORM package's ``imsmanifest.xml``: version, organisations, items, SCOs and assets, launch hrefs.

Read with lxml and no network: no DTD is loaded, no entity is resolved, and a manifest that declares
a DOCTYPE at all is refused (an external entity or a DTD is never what a SCORM manifest needs; an
"XXE" manifest is refused before anything in it is read). Every refusal is a ``ManifestError`` whose
message names what is wrong and where, the same words the admin page and the CLI show.

The version (SCORM 1.2 CAM §3.4.1.2 / SCORM 2004 CAM §3.4.1.2 ``<schemaversion>``), else the
namespaces the manifest uses (``adlcp_rootv1p2`` for 1.2, ``adlcp_v1p3`` for 2004). Each item that
references a resource is launchable; its resource's ``adlcp:scormtype`` (1.2) / ``adlcp:scormType``
(2004) says whether it is a SCO (talks to the run-time API) or an asset. Launch hrefs are the
resource's href under its ``xml:base`` chain with the item's ``parameters`` appended (SCORM 2004 CAM
§3.4.1.16, §3.4.1.8), and must stay inside the package.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

from lxml import etree

from player.packages.errors import ManifestInvalid, ManifestMissing

MANIFEST: Final = "imsmanifest.xml"
MAX_BYTES: Final = 4 * 1024 * 1024   # a manifest of thousands of items is < 1 MB; more is not a manifest
ADLCP_12: Final = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
ADLCP_2004: Final = "http://www.adlnet.org/xsd/adlcp_v1p3"
IMSSS: Final = "http://www.imsglobal.org/xsd/imsss"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"


class ManifestError(ManifestInvalid):
    """The package's manifest is not a SCORM manifest; ``message`` says why exactly."""


class NoManifest(ManifestMissing):
    """The package has no ``imsmanifest.xml`` at its root."""


@dataclass(frozen=True)
class Resource:
    identifier: str
    scorm_type: str          # "sco" | "asset"
    href: str | None         # within the package, xml:base applied
    files: tuple[str, ...]


@dataclass(frozen=True)
class Item:
    identifier: str
    title: str
    children: tuple[Item, ...] = ()
    resource: Resource | None = None
    launch: str | None = None           # the href with the item's parameters
    visible: bool = True
    mastery_score: float | None = None  # 1.2 adlcp:masteryscore (0..100)
    completion_threshold: float | None = None  # 2004 adlcp:completionThreshold (0..1)
    launch_data: str | None = None      # 1.2 adlcp:datafromlms / 2004 adlcp:dataFromLMS

    @property
    def is_sco(self) -> bool:
        return self.resource is not None and self.resource.scorm_type == "sco"

    def leaves(self) -> Iterator[Item]:
        """The launchable items under this one, in document order (the "flow" order)."""
        if self.launch is not None:
            yield self
        for child in self.children:
            yield from child.leaves()


@dataclass(frozen=True)
class Organization:
    identifier: str
    title: str
    items: tuple[Item, ...]
    choice: bool = True   # SCORM 2004 SN §3.2.1 controlMode: choice defaults to true
    flow: bool = False    # ... and flow to false

    def leaves(self) -> list[Item]:
        return [leaf for item in self.items for leaf in item.leaves()]


@dataclass(frozen=True)
class Manifest:
    version: str                   # "1.2" | "2004"
    identifier: str
    organization: Organization     # the default one (CAM §3.4.1.4 ``default``), else the first
    resources: dict[str, Resource] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.organization.title

    def leaves(self) -> list[Item]:
        return self.organization.leaves()

    def item(self, identifier: str) -> Item:
        for leaf in self.leaves():
            if leaf.identifier == identifier:
                return leaf
        raise KeyError(identifier)


def _parser() -> etree.XMLParser:
    # No DTD loaded, no entity resolved, no network, no "huge tree" (billion-laughs style growth).
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c) == name]


def _child(el: etree._Element, name: str) -> etree._Element | None:
    found = _children(el, name)
    return found[0] if found else None


def _text(el: etree._Element | None) -> str:
    return "".join(str(t) for t in el.itertext()).strip() if el is not None else ""


def parse_manifest(data: bytes | None, files: frozenset[str] | None = None) -> Manifest:
    """The manifest in ``data`` (None: the package had none); ``files``, when given, are the paths in
    the package, and every SCO's launch file must be among them. Raises ManifestError."""
    if data is None:
        raise NoManifest(f"the package has no {MANIFEST} at its root (SCORM CAM §3.4: every package has one)")
    if len(data) > MAX_BYTES:
        raise ManifestError(f"{MANIFEST} is {len(data)} bytes; the limit is {MAX_BYTES}")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as err:
        raise ManifestError(f"{MANIFEST} is not well-formed XML: {err.msg} (line {err.lineno})") from None
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]  # lxml-stubs: DocInfo has doctype
        raise ManifestError(f"{MANIFEST} declares a DOCTYPE; DTDs and entities are never loaded, so the "
                            "package is refused")
    if _local(root) != "manifest":
        raise ManifestError(f"{MANIFEST}'s root element is <{_local(root)}>, not <manifest>")
    version = _version(root)
    adlcp = ADLCP_12 if version == "1.2" else ADLCP_2004
    resources = _resources(root, adlcp)
    organization = _organization(root, version, adlcp, resources)
    if not organization.leaves():
        raise ManifestError(f"organization {organization.identifier!r} has no item with a resource to launch")
    if files is not None:
        for leaf in organization.leaves():
            path = ((leaf.resource.href if leaf.resource else None) or "").split("?")[0].split("#")[0]
            if path not in files:
                raise ManifestError(f"item {leaf.identifier!r} launches {path!r}, which is not in the package")
    return Manifest(version, root.get("identifier") or "", organization, resources)


def _version(root: etree._Element) -> str:
    meta = _child(root, "metadata")
    schema = _text(_child(meta, "schemaversion")) if meta is not None else ""
    if schema == "1.2":
        return "1.2"
    if schema in ("CAM 1.3", "2004 3rd Edition", "2004 4th Edition", "2004 2nd Edition"):
        return "2004"
    namespaces = {ns for el in root.iter() if isinstance(el.tag, str) for ns in el.nsmap.values()}
    if ADLCP_2004 in namespaces or IMSSS in namespaces:
        return "2004"
    if ADLCP_12 in namespaces:
        return "1.2"
    shown = f"<schemaversion>{schema}</schemaversion>" if schema else "no <schemaversion>"
    raise ManifestError(f"{MANIFEST} is neither SCORM 1.2 nor SCORM 2004: {shown} and no ADL namespace "
                        f"({ADLCP_12} or {ADLCP_2004})")


def _inside(path: str, what: str) -> str:
    """A relative path inside the package, normalised; ManifestError for one that leaves it."""
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or path.startswith("/") or "\\" in path:
        raise ManifestError(f"{what} {path!r} is not a relative path inside the package")
    normal = posixpath.normpath(unquote(parts.path)) if parts.path else ""
    if normal.startswith("../") or normal == "..":
        raise ManifestError(f"{what} {path!r} leaves the package")
    return normal + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def _base(el: etree._Element) -> str:
    return el.get(f"{{{XML_NS}}}base") or ""


def _resources(root: etree._Element, adlcp: str) -> dict[str, Resource]:
    holder = _child(root, "resources")
    if holder is None:
        raise ManifestError(f"{MANIFEST} has no <resources>")
    out: dict[str, Resource] = {}
    for res in _children(holder, "resource"):
        ident = res.get("identifier") or ""
        if not ident:
            raise ManifestError("a <resource> has no identifier")
        kind = (res.get(f"{{{adlcp}}}scormtype") or res.get(f"{{{adlcp}}}scormType") or "").lower()
        if kind not in ("sco", "asset"):
            raise ManifestError(f"resource {ident!r}: adlcp:scormType must be 'sco' or 'asset', not {kind!r}")
        base = _base(root) + _base(holder) + _base(res)
        href = res.get("href")
        full = _inside(base + href, f"resource {ident!r} href") if href else None
        files = tuple(_inside(base + (f.get("href") or ""), f"resource {ident!r} file")
                      for f in _children(res, "file") if f.get("href"))
        out[ident] = Resource(ident, kind, full, files)
    return out


def _number(value: str | None, what: str, low: float, high: float) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        raise ManifestError(f"{what} {value!r} is not a number") from None
    if not low <= number <= high:
        raise ManifestError(f"{what} {value!r} is outside {low:g}..{high:g}")
    return number


def _organization(root: etree._Element, version: str, adlcp: str, resources: dict[str, Resource]) -> Organization:
    holder = _child(root, "organizations")
    orgs = _children(holder, "organization") if holder is not None else []
    if not orgs:
        raise ManifestError(f"{MANIFEST} has no <organization>")
    default = holder.get("default") if holder is not None else None
    org = next((o for o in orgs if o.get("identifier") == default), orgs[0])
    ident = org.get("identifier") or ""
    control = _control(org)
    items = tuple(_item(el, version, adlcp, resources) for el in _children(org, "item"))
    return Organization(ident, _text(_child(org, "title")) or ident, items, *control)


def _control(el: etree._Element) -> tuple[bool, bool]:
    """SCORM 2004 SN §5.1.1 <imsss:controlMode choice flow>: (choice, flow), defaults (true, false)."""
    seq = _child(el, "sequencing")
    mode = _child(seq, "controlMode") if seq is not None else None
    if mode is None:
        return True, False
    return mode.get("choice", "true") == "true", mode.get("flow", "false") == "true"


def _item(el: etree._Element, version: str, adlcp: str, resources: dict[str, Resource]) -> Item:
    ident = el.get("identifier") or ""
    if not ident:
        raise ManifestError("an <item> has no identifier")
    ref = el.get("identifierref")
    resource = None
    launch = None
    if ref:
        resource = resources.get(ref)
        if resource is None:
            raise ManifestError(f"item {ident!r} references resource {ref!r}, which the manifest does not have")
        if not resource.href:
            raise ManifestError(f"item {ident!r}: resource {ref!r} has no href to launch")
        params = (el.get("parameters") or "").lstrip("?&")
        launch = resource.href + (("&" if "?" in resource.href else "?") + params if params else "")
    if version == "1.2":
        mastery = _number(_text(_child(el, "masteryscore")) or None, f"item {ident!r} adlcp:masteryscore", 0, 100)
        threshold = None
        data = _text(_child(el, "datafromlms")) or None
    else:
        mastery = None
        threshold_el = _child(el, "completionThreshold")
        value = None
        if threshold_el is not None:
            value = threshold_el.get("minProgressMeasure") or _text(threshold_el) or None
        threshold = _number(value, f"item {ident!r} adlcp:completionThreshold", 0, 1)
        data = _text(_child(el, "dataFromLMS")) or None
    children = tuple(_item(c, version, adlcp, resources) for c in _children(el, "item"))
    return Item(ident, _text(_child(el, "title")) or ident, children, resource, launch,
                el.get("isvisible", "true") != "false", mastery, threshold, data)
