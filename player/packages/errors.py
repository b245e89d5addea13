"""Package errors: each class *is* the wire error (status + code + exact message), like
``lrs.errors``; ``player.packages.http`` and the CLI render them. A refused package stores nothing."""

from __future__ import annotations

from typing import Any


class PackageError(Exception):
    """Base of every refusal of a package or of one of its files."""

    status: int = 400
    code: str = "package_invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class NotAnArchive(PackageError):
    status, code = 400, "package_not_zip"


class UnsafePath(PackageError):
    """Zip slip: an entry that would land outside the package folder (absolute, ``..``, a drive,
    a backslash, a symbolic link, a duplicate or case-folded twin)."""

    status, code = 400, "package_unsafe_path"


class TooLarge(PackageError):
    """Over the total, per-file or file-count limit, or a compression ratio no real course has."""

    status, code = 413, "package_too_large"


class ZipBomb(PackageError):
    status, code = 413, "package_zip_bomb"


class ContentTypeRefused(PackageError):
    status, code = 415, "package_content_type"


class ManifestMissing(PackageError):
    status, code = 400, "package_manifest_missing"


class ManifestInvalid(PackageError):
    """The manifest (``cmi5.xml``, ``imsmanifest.xml``) is not well-formed or breaks its schema."""

    status, code = 400, "package_manifest_invalid"


class PackageNotFound(PackageError):
    status, code = 404, "package_not_found"


class FetchFailed(PackageError):
    """A package or course structure named by URL could not be fetched."""

    status, code = 502, "package_fetch_failed"
