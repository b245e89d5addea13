"""The packages' group of the settings tree (``hocvu.settings``): imported cmi5/SCORM packages and
import by URL. A module of its own only to keep ``hocvu.settings`` under the size rule; the tree,
its parsing and the README table are ``hocvu.settings``'s."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hocvu.settings_vars import var


@dataclass(frozen=True)
class PackageSettings:
    """Imported cmi5/SCORM packages (player/packages/): where their files live and the import limits
    that keep zip bombs and oversize uploads out (player.packages.archive)."""

    packages_dir: Path | None = var(None, "HOCVU_PACKAGES_DIR", "path", "where imported packages' files live",
                                    default_text="<instance>/packages")
    # A host of its own for package content keeps it away from the hub's cookies even with
    # allow-same-origin (player.packages.store); unset, the content is served sandboxed by the hub.
    packages_origin: str | None = var(None, "HOCVU_PACKAGES_ORIGIN", "url",
                                      "a separate origin that serves package files", default_text="none: the hub")
    package_max_mb: int = var(512, "HOCVU_PACKAGE_MAX_MB", "int", "a package's total uncompressed size at most",
                              unit="MiB", low=1, high=16_384)
    package_max_files: int = var(10_000, "HOCVU_PACKAGE_MAX_FILES", "int", "files in one package at most",
                                 unit="files", low=1, high=1_000_000)
    # cmi5 §8.2: the fetch URL's token; an AU session's LRS credential lives this long.
    cmi5_session_hours: float = var(12.0, "HOCVU_CMI5_SESSION_HOURS", "float",
                                    "an AU session's LRS credential is valid this long; an AU session left "
                                    "open longer is abandoned", unit="hours", low=0.1, high=168)
    # Import by URL (player.packages.fetch): an allowlist, https, public addresses only (SSRF).
    package_fetch_hosts: tuple[str, ...] = var((), "HOCVU_PACKAGE_FETCH_HOSTS", "words",
                                               "hosts packages may be imported from by URL (a name, or "
                                               "*.domain for any name under it)", default_text="none: off")
    package_fetch_allow_http: bool = var(False, "HOCVU_PACKAGE_FETCH_ALLOW_HTTP", "bool",
                                         "tests and development only: also import from http:// URLs")
    package_fetch_allow_loopback: bool = var(False, "HOCVU_PACKAGE_FETCH_ALLOW_LOOPBACK", "bool",
                                             "tests only: also import from loopback addresses (127.0.0.1, ::1)")
    package_fetch_redirects: int = var(3, "HOCVU_PACKAGE_FETCH_REDIRECTS", "int",
                                       "redirects followed (each checked like the URL) at most", unit="redirects",
                                       low=0, high=10)
    package_fetch_timeout: float = var(30.0, "HOCVU_PACKAGE_FETCH_TIMEOUT", "float",
                                       "one fetch by URL, from the first byte sent to the last read, at most",
                                       unit="seconds", low=1, high=3600)
