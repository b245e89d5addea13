"""The filesystem blob store: one file per hash under a root folder (the default,
``<instance>/attachments`` or HOCVU_ATTACHMENTS_DIR).

``ab/cd/abcd...``: two levels of fan-out (65,536 folders) keep any one folder small at national
scale. A blob is written to a temporary file in its own folder, fsynced, renamed over the final
name (atomic on POSIX) and the folder fsynced, so a reader sees the old bytes or the new, never a
torn file, and a crash leaves at most a stray ``.tmp-*`` that the sweep removes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from lrs.blobs import BlobInfo, BlobKeyError, check_key, check_put

TEMP_PREFIX = ".tmp-"


class FileBlobStore:
    name = "filesystem"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        # check_key first: only 56-128 lower-case hex digits ever become a path.
        key = check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, key: str, data: bytes) -> None:
        target = self.path(check_put(key, data))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)

    def get(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        _fsync_dir(path.parent)

    def modified(self, key: str) -> datetime | None:
        try:
            return datetime.fromtimestamp(self.path(key).stat().st_mtime, UTC)
        except FileNotFoundError:
            return None

    def scan(self) -> Iterator[BlobInfo]:
        for entry in self._files():
            try:
                key = check_key(entry.name)
                stat = entry.stat()
            except (BlobKeyError, FileNotFoundError):  # a stray temporary, or removed meanwhile
                continue
            yield BlobInfo(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def remove_stale_temporaries(self, before: datetime) -> int:
        """Remove the temporary files of writes that crashed before their rename, if older than ``before``."""
        removed = 0
        for entry in self._files():
            try:
                if entry.name.startswith(TEMP_PREFIX) and \
                        datetime.fromtimestamp(entry.stat().st_mtime, UTC) < before:
                    entry.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _files(self) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if not first.is_dir() or len(first.name) != 2:
                continue
            for second in sorted(p for p in first.iterdir() if p.is_dir()):
                yield from sorted(second.iterdir())


def _fsync_dir(folder: Path) -> None:
    # The rename (or unlink) is durable only once the folder's entry is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a folder; the data itself was synced
        pass
    finally:
        os.close(fd)
