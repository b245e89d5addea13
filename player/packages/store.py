"""Where imported packages' files live, and how the browser may get them.

Each package is a folder ``<packages_dir>/<package id>/`` (HOCVU_PACKAGES_DIR, default
``<instance>/packages``), written whole by ``archive.extract`` and renamed into place, so a reader
never sees half a package and a refused one leaves nothing. The id is a fresh random UUID: a
package's URL cannot be guessed from its name, and a re-import never overwrites a live package.

Serving (``player.packages.http``, at ``/player/content/<package id>/<path>``): package files are
someone else's HTML and JavaScript, so they are kept away from the hub's cookies and pages by
``content_headers``:

- ``Content-Security-Policy: sandbox allow-scripts allow-forms allow-popups allow-modals
  allow-downloads`` *without* ``allow-same-origin``: the browser gives every package document an
  opaque origin (HTML §7.5.3 "sandboxed origin browsing context flag"), so its script cannot read
  ``document.cookie``, the hub's localStorage or IndexedDB, nor read any answer of the hub's pages
  (a request it makes is cross-origin, ``Origin: null``, and the hub's pages send no CORS headers);
  the xAPI resources answer CORS to any origin, which is what a cmi5 AU needs to reach the LRS with
  the token it fetched. ``frame-ancestors 'self'`` keeps other sites from framing the content.
- When HOCVU_PACKAGES_ORIGIN names a separate origin (a host of its own, say
  ``https://noidung.hocvu.vn``), content URLs are built on it; the hub's cookies are host-only, so
  that origin never holds them, and ``allow-same-origin`` may be kept in the sandbox (content that
  needs real storage, or SCORM's same-origin API walk, works there).
- ``X-Content-Type-Options: nosniff`` with the type from ``archive.CONTENT_TYPES`` (never guessed);
  ``Referrer-Policy: no-referrer`` (launch URLs carry the one-time fetch URL).
"""

from __future__ import annotations

import shutil
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from player.packages.archive import ArchiveLimits, Entry, content_type, extract, safe_name
from player.packages.errors import PackageNotFound, UnsafePath
from player.packages.fetch import FetchPolicy

SANDBOX = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"


@dataclass(frozen=True)
class StoreConfig:
    root: Path                              # HOCVU_PACKAGES_DIR
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    content_origin: str | None = None       # HOCVU_PACKAGES_ORIGIN: a separate origin for package files
    fetch: FetchPolicy = field(default_factory=FetchPolicy)   # import by URL (HOCVU_PACKAGE_FETCH_HOSTS and the rest)


def content_headers(name: str, *, separate_origin: bool = False) -> dict[str, str]:
    """The headers of a package file ``name`` (see the module text for why each is there)."""
    sandbox = SANDBOX + (" allow-same-origin" if separate_origin else "")
    headers = {
        "Content-Security-Policy": f"{sandbox}; frame-ancestors 'self'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # The sandboxed page is an opaque origin, so even its own scripts and images are cross-origin
        # loads: "same-site" would block them (package files are course material, public like media).
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    ctype = content_type(name)
    if ctype is not None:
        headers["Content-Type"] = ctype
    return headers


class PackageStore:
    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self.root = config.root

    def put(self, zf: zipfile.ZipFile,
            progress: Callable[[int, int], None] | None = None) -> tuple[str, list[Entry]]:
        """Check and extract ``zf`` as a new package; its id and files. Refusals raise before anything
        is kept (``archive``)."""
        package_id = uuid.uuid4().hex
        entries = extract(zf, self.root / package_id, self.config.limits, progress)
        return package_id, entries

    def folder(self, package_id: str) -> Path:
        if not _is_id(package_id):
            raise PackageNotFound(f"no package {package_id!r}")
        return self.root / package_id

    def file(self, package_id: str, name: str) -> Path:
        """The file ``name`` of a package, or PackageNotFound / UnsafePath."""
        folder = self.folder(package_id)
        rel = safe_name(name)
        path = folder.joinpath(*rel.split("/"))
        if not path.resolve().is_relative_to(folder.resolve()):
            raise UnsafePath(f"{name!r} resolves outside the package")
        if not path.is_file() or path.is_symlink() or content_type(rel) is None:
            raise PackageNotFound(f"package {package_id} has no file {name!r}")
        return path

    def exists(self, package_id: str) -> bool:
        return _is_id(package_id) and (self.root / package_id).is_dir()

    def remove(self, package_id: str) -> None:
        """Delete a package's files (its rows are the caller's); a missing one is no error."""
        folder = self.folder(package_id)
        if folder.exists():
            # Rename first, so a reader sees the package whole or not at all.
            doomed = self.root / f".removing-{package_id}-{uuid.uuid4().hex}"
            folder.rename(doomed)
            shutil.rmtree(doomed, ignore_errors=True)

    def url_path(self, package_id: str, name: str) -> str:
        """The path (under the content origin, or the hub) of a package file."""
        return f"/player/content/{package_id}/{safe_name(name)}"

    def url(self, package_id: str, name: str, hub_url: str) -> str:
        base = (self.config.content_origin or hub_url).rstrip("/")
        return base + self.url_path(package_id, name)


def _is_id(package_id: str) -> bool:
    return len(package_id) == 32 and all(c in "0123456789abcdef" for c in package_id)
