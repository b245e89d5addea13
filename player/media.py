"""Lesson video for weak networks: a low-bitrate rendition with captions, offered after the transcript.

A lesson's course file names its video (``video.url``: the full recording, or a placeholder while it
is produced). What a phone on a weak link gets instead sits beside the course files, one folder per
lesson, ``<courses dir>/media/<course id>/<lesson id>/``:

| file | what |
|---|---|
| ``low.webm`` or ``low.mp4`` | the low-bitrate rendition (aim: ≤ 200 kbit/s, 240p, mono audio) |
| ``captions.vi.vtt``, ``captions.en.vtt`` | WebVTT captions (the transcript, timed) |
| ``poster.jpg`` | a still shown before playing (optional) |

The lesson page leads with the transcript; the video comes after it, never preloads, says its size,
and can be kept on the device for offline viewing when the learner chooses (the service worker,
``player/web/src/sw.js``). Files are served at ``/player/media/<course>/<lesson>/<file>``, with a
fingerprint in the URL and cached immutably (``player.assets``). Flask-free apart from ``serve``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from player.catalogue import Resolved

LOW: Final = {"low.webm": "video/webm", "low.mp4": "video/mp4"}
CAPTIONS: Final = {"captions.vi.vtt": "vi", "captions.en.vtt": "en"}
POSTER: Final = "poster.jpg"
FILES: Final = frozenset({*LOW, *CAPTIONS, POSTER})


@dataclass(frozen=True)
class MediaFile:
    name: str
    path: Path
    size: int
    version: str        # changes whenever the file does: the URL's fingerprint

    @property
    def kib(self) -> int:
        return max(1, round(self.size / 1024))


@dataclass(frozen=True)
class LessonMedia:
    course: str
    lesson: str
    low: MediaFile | None = None
    low_type: str = ""
    captions: dict[str, MediaFile] = field(default_factory=dict)   # language → file
    poster: MediaFile | None = None

    @property
    def any(self) -> bool:
        return self.low is not None


def media_folder(resolved: Resolved) -> Path | None:
    """The lesson's media folder beside its course file (None for anything but a lesson)."""
    if resolved.lesson is None:
        return None
    return Path(resolved.course.source).resolve().parent / "media" / resolved.course.id / resolved.lesson.id


def _file(folder: Path, name: str) -> MediaFile | None:
    path = folder / name
    if not path.is_file():
        return None
    stat = path.stat()
    # Size and modification time, not the content: a video is too large to hash on every page.
    version = hashlib.sha256(f"{name}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return MediaFile(name, path, stat.st_size, version)


def lesson_media(resolved: Resolved) -> LessonMedia | None:
    """What the lesson's media folder holds, or None when it has nothing."""
    folder = media_folder(resolved)
    if folder is None or not folder.is_dir():
        return None
    assert resolved.lesson is not None
    low_name = next((n for n in LOW if (folder / n).is_file()), None)
    captions = {lang: f for name, lang in CAPTIONS.items() if (f := _file(folder, name)) is not None}
    media = LessonMedia(resolved.course.id, resolved.lesson.id, low=_file(folder, low_name) if low_name else None,
                        low_type=LOW.get(low_name or "", ""), captions=captions, poster=_file(folder, POSTER))
    return media if media.any or media.captions else None


def file_for(resolved: Resolved, name: str) -> MediaFile | None:
    """One of the lesson's media files, by its name (only the names in ``FILES``)."""
    folder = media_folder(resolved)
    if folder is None or name not in FILES:
        return None
    return _file(folder, name)
