"""Build cmi5 course structures and packages in tests (our own, not CATAPULT's)."""

from __future__ import annotations

import io
import zipfile

NS = "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd"
COURSE = "https://example.org/cmi5/course/demo"


def au_xml(n: int, url: str = "au.html", *, move_on: str = "CompletedAndPassed", mastery: str | None = "0.8",
           extra: str = "") -> str:
    ms = f' masteryScore="{mastery}"' if mastery is not None else ""
    return (f'<au id="https://example.org/cmi5/au/{n}" moveOn="{move_on}"{ms} launchMethod="AnyWindow">'
            f'<title><langstring lang="vi">Bài {n}</langstring><langstring lang="en">Unit {n}</langstring></title>'
            f'<description><langstring lang="vi">Mô tả {n}</langstring></description>'
            f'<url>{url}</url><launchParameters>{{"n": {n}}}</launchParameters>{extra}</au>')


def structure(body: str, course_id: str = COURSE) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><courseStructure xmlns="{NS}">'
            f'<course id="{course_id}"><title><langstring lang="vi">Khoá thử</langstring>'
            f'<langstring lang="en">Demo course</langstring></title>'
            f'<description><langstring lang="vi">Khoá cmi5 thử</langstring></description></course>'
            f'{body}</courseStructure>').encode()


def block(body: str, n: int = 1) -> str:
    return (f'<block id="https://example.org/cmi5/block/{n}"><title><langstring lang="vi">Phần {n}</langstring>'
            f'</title><description><langstring lang="vi">Phần {n}</langstring></description>{body}</block>')


def package(xml: bytes, files: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cmi5.xml", xml)
        for name, data in (files or {"au.html": b"<!doctype html><title>AU</title>"}).items():
            zf.writestr(name, data)
    return buf.getvalue()
