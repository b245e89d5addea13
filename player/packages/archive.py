"""Safe import of a zip archive (a cmi5 or SCORM package): every entry checked before one byte is
written, and checked again while it is written, because a zip's central directory can lie.

Refused, with ``player.packages.errors`` classes carrying status, code and the exact reason:

- zip slip (OWASP "Zip Slip", CWE-22): absolute names, drive letters, backslashes, ``..`` parts,
  symbolic links (Unix mode in the external attributes), duplicate names and names that differ only
  in case (they would overwrite each other on a case-insensitive disk);
- zip bombs (CWE-409): more files than ``max_files``, a file over ``max_file_bytes``, a total over
  ``max_total_bytes``, or a file whose uncompressed size is more than ``max_ratio`` times its
  compressed size (checked on files past ``ratio_floor_bytes``: a small text file of spaces
  legitimately compresses 300 times). Sizes are counted as bytes come out of the decompressor, so
  a header that understates a size stops the extraction at the limit;
- content types: only extensions in ``CONTENT_TYPES`` (what a browser course needs: pages,
  scripts, styles, media, fonts, documents); an executable or server script is refused;
- encrypted entries (we could not check them) and archives that are not zips.

``extract`` writes into a fresh temporary folder beside the destination and renames it into place
only when every entry passed, so a refused archive leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from player.packages.errors import ContentTypeRefused, NotAnArchive, TooLarge, UnsafePath, ZipBomb

MiB = 1024 * 1024
CHUNK = 64 * 1024

# The content types the store serves, by extension (lower case). The type sent to the browser comes
# from here, never from the package or a guess, and `nosniff` holds the browser to it.
CONTENT_TYPES: dict[str, str] = {
    "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8",
    "xhtml": "application/xhtml+xml", "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
    "json": "application/json", "map": "application/json", "xml": "application/xml",
    "xsd": "application/xml", "dtd": "application/xml-dtd", "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8", "vtt": "text/vtt; charset=utf-8", "srt": "text/plain; charset=utf-8",
    "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "gif": "image/gif", "webp": "image/webp", "avif": "image/avif", "ico": "image/x-icon", "bmp": "image/bmp",
    "mp3": "audio/mpeg", "m4a": "audio/mp4", "wav": "audio/wav", "oga": "audio/ogg", "ogg": "audio/ogg",
    "weba": "audio/webm", "mp4": "video/mp4", "m4v": "video/mp4", "webm": "video/webm", "ogv": "video/ogg",
    "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
    "eot": "application/vnd.ms-fontobject", "md": "text/plain; charset=utf-8", "pdf": "application/pdf",
    "wasm": "application/wasm",
}


@dataclass(frozen=True)
class ArchiveLimits:
    max_total_bytes: int = 512 * MiB
    max_files: int = 10_000
    max_file_bytes: int = 256 * MiB
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1 * MiB
    content_types: frozenset[str] = frozenset(CONTENT_TYPES)


@dataclass(frozen=True)
class Entry:
    """One file of a checked archive: its safe relative name (POSIX) and declared size."""

    name: str
    size: int
    compressed: int
    source: str = ""  # the name as the archive spells it (``name`` is its normalised form)


def content_type(name: str) -> str | None:
    """The type served for ``name``, or None when the store does not serve that extension."""
    suffix = PurePosixPath(name).suffix.lower().lstrip(".")
    return CONTENT_TYPES.get(suffix)


@contextmanager
def open_zip(source: str | os.PathLike[str] | IO[bytes]) -> Iterator[zipfile.ZipFile]:
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise NotAnArchive(f"not a zip archive: {err}") from None
    with zf:
        yield zf


def safe_name(raw: str) -> str:
    """``raw`` as a relative POSIX path inside the package, or UnsafePath with the reason."""
    if "\\" in raw:
        raise UnsafePath(f"entry {raw!r}: a backslash in a name (a Windows path could leave the package)")
    if "\x00" in raw or any(ord(c) < 32 for c in raw):
        raise UnsafePath(f"entry {raw!r}: a control character in a name")
    if raw.startswith("/"):
        raise UnsafePath(f"entry {raw!r}: an absolute path")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if parts and len(parts[0]) >= 2 and parts[0][1] == ":":
        raise UnsafePath(f"entry {raw!r}: a drive letter")
    if ".." in parts:
        raise UnsafePath(f"entry {raw!r}: a '..' part would leave the package folder")
    if not parts:
        raise UnsafePath(f"entry {raw!r}: an empty name")
    return "/".join(parts)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def check(zf: zipfile.ZipFile, limits: ArchiveLimits) -> list[Entry]:
    """Every file entry of ``zf`` checked against ``limits`` from the central directory; raises the
    first refusal. Directory entries are checked for slip but not listed."""
    infos = zf.infolist()
    if len(infos) > limits.max_files:
        raise TooLarge(f"{len(infos)} entries: more than the {limits.max_files} files a package may hold")
    entries: list[Entry] = []
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = safe_name(info.filename)
        if _is_symlink(info):
            raise UnsafePath(f"entry {info.filename!r}: a symbolic link")
        if info.flag_bits & 0x1:
            raise UnsafePath(f"entry {info.filename!r}: encrypted (it cannot be checked)")
        if name.casefold() in seen:
            raise UnsafePath(f"entry {info.filename!r}: a second entry with this name (or the same name in "
                             "another case) would overwrite the first")
        seen.add(name.casefold())
        if info.is_dir():
            continue
        if info.file_size > limits.max_file_bytes:
            raise TooLarge(f"entry {name!r}: {info.file_size} bytes, over the {limits.max_file_bytes}-byte "
                           "limit for one file")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise TooLarge(f"over {limits.max_total_bytes} bytes uncompressed in all (at entry {name!r})")
        _check_ratio(name, info.file_size, info.compress_size, limits)
        suffix = PurePosixPath(name).suffix.lower().lstrip(".")
        if suffix not in limits.content_types:
            raise ContentTypeRefused(f"entry {name!r}: the file type {('.' + suffix) if suffix else '(none)'!r} "
                                     "is not allowed in a package")
        entries.append(Entry(name, info.file_size, info.compress_size, info.filename))
    return entries


def _check_ratio(name: str, size: int, compressed: int, limits: ArchiveLimits) -> None:
    if size > limits.ratio_floor_bytes and size > limits.max_ratio * max(compressed, 1):
        raise ZipBomb(f"entry {name!r}: compressed {size / max(compressed, 1):.0f} to 1, over the "
                      f"{limits.max_ratio:g}-to-1 limit (a zip bomb)")


def read_member(zf: zipfile.ZipFile, name: str, limit: int) -> bytes | None:
    """The bytes of entry ``name`` (after ``check``), at most ``limit`` of them; None when absent."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    with zf.open(info) as src:
        data = src.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"entry {name!r}: over the {limit}-byte limit")
    return data


def extract(zf: zipfile.ZipFile, dest: Path, limits: ArchiveLimits,
            progress: Callable[[int, int], None] | None = None) -> list[Entry]:
    """Check ``zf`` and write its files into the new folder ``dest`` (which must not exist); on any
    refusal nothing is left. Returns the files written. ``progress(done, total)`` is told the
    uncompressed bytes written so far (a CLI's progress bar)."""
    entries = check(zf, limits)
    whole = sum(e.size for e in entries)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=dest.parent))
    try:
        total = 0
        for entry in entries:
            total += _write(zf, entry, tmp, limits, limits.max_total_bytes - total)
            if progress is not None:
                progress(total, whole)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return entries


def _write(zf: zipfile.ZipFile, entry: Entry, root: Path, limits: ArchiveLimits, budget: int) -> int:
    """Stream one entry to disk, counting real bytes: a lying header stops at the limit."""
    target = root.joinpath(*entry.name.split("/"))
    # Belt and braces against slip: the resolved target must still be under root.
    if not target.resolve().is_relative_to(root.resolve()):
        raise UnsafePath(f"entry {entry.name!r}: resolves outside the package folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    cap = min(limits.max_file_bytes, budget)
    try:
        with zf.open(entry.source or entry.name) as src, open(target, "xb") as out:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                if written > cap:
                    raise TooLarge(f"entry {entry.name!r}: more bytes than its header declares, over the "
                                   "package's size limits")
                _check_ratio(entry.name, written, entry.compressed, limits)
                out.write(chunk)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as err:
        if isinstance(err, FileExistsError):
            raise UnsafePath(f"entry {entry.name!r}: would overwrite another entry") from None
        raise NotAnArchive(f"entry {entry.name!r} cannot be read: {err}") from None
    return written
