"""cmi5 import over the admin API (real app, real DB): good packages stored whole and listed in the
catalogue (so in Deep Linking); every bad one refused with the exact reason, status and code, and
nothing stored (no row, no files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from tests.packages.cmi5_support import COURSE, au_xml, block, package, structure

API = "/player/cmi5/admin/packages"


def _post(app: Flask, admin: dict[str, str], body: bytes, name: str = "p.zip") -> tuple[int, dict]:  # type: ignore[type-arg]
    r = app.test_client().post(API, data=body, headers={**admin, "X-Filename": name,
                                                         "Content-Type": "application/octet-stream"})
    return r.status_code, r.get_json()


def _files(app: Flask) -> list[Path]:
    root = app.extensions["player.packages.store"].root
    return [p for p in root.iterdir()] if root.exists() else []


def _remove_all(app: Flask, admin: dict[str, str]) -> None:
    client = app.test_client()
    for p in client.get(API, headers=admin).get_json():
        client.delete(f"{API}/{p['slug']}", headers=admin)


def test_zip_package_imported_and_in_catalogue(pkg_app: Flask, admin: dict[str, str]) -> None:
    """cmi5 §14.1 zip package; §13.1.4 AU metadata kept (moveOn, masteryScore, launchMethod, launchParameters)."""
    _remove_all(pkg_app, admin)
    xml = structure(block(au_xml(1) + au_xml(2, "b/au2.html?x=1", move_on="Completed", mastery=None)))
    status, body = _post(pkg_app, admin, package(xml, {"au.html": b"<p>1", "b/au2.html": b"<p>2"}))
    assert status == 201, body
    assert body["courseId"] == COURSE
    assert [(a["moveOn"], a["masteryScore"], a["launchMethod"]) for a in body["aus"]] == [
        ("CompletedAndPassed", 0.8, "AnyWindow"), ("Completed", None, "AnyWindow")]
    key = body["packageKey"]
    r = pkg_app.test_client().get(f"/player/content/{key}/b/au2.html")
    assert r.status_code == 200 and "sandbox" in r.headers["Content-Security-Policy"]
    from player import pages
    with pkg_app.test_request_context():
        items = pkg_app.extensions[pages.CATALOGUE_EXT].list_items("en")
    mine = [i for i in items if i.target.startswith(f"package/{body['slug']}")]
    assert [(i.kind, i.title, i.graded) for i in mine] == [("package", "Demo course", True), ("au", "Unit 1", True),
                                                           ("au", "Unit 2", False)]
    assert any(i.target.startswith("course/") for i in items)  # beside the YAML courses
    # Re-import replaces the course under the same slug; the old files go.
    status, again = _post(pkg_app, admin, package(xml, {"au.html": b"<p>1", "b/au2.html": b"<p>2"}))
    assert status == 201 and again["slug"] == body["slug"] and again["packageKey"] != key
    assert not (pkg_app.extensions["player.packages.store"].root / key).exists()
    _remove_all(pkg_app, admin)
    assert _files(pkg_app) == []


def test_structure_alone_with_absolute_urls(pkg_app: Flask, admin: dict[str, str]) -> None:
    """cmi5 §14.2: a cmi5.xml without a zip, every AU url fully qualified."""
    _remove_all(pkg_app, admin)
    status, body = _post(pkg_app, admin, structure(au_xml(1, "https://content.example.org/au1.html")), "cmi5.xml")
    assert status == 201, body
    assert _files(pkg_app) == []
    _remove_all(pkg_app, admin)


BAD = [
    ("cmi5 §3.0", structure(au_xml(1, "https://x.org/a.html"), course_id="example.org/course"), 400,
     "is not a fully qualified IRI"),
    ("cmi5 §14.2", structure(au_xml(1, "au.html")), 400, "without a zip package every AU url must be fully qualified"),
    ("cmi5 §8.1", structure(au_xml(1, "https://x.org/a.html?endpoint=http://evil")), 400,
     "names the launch parameter(s) endpoint"),
    ("cmi5 §13.1.4", structure(au_xml(1, "https://x.org/a.html") + au_xml(1, "https://x.org/b.html")), 400,
     "is used twice"),
    ("cmi5 §13.1.4 url", structure(au_xml(1, "http://example.com a.html")), 400, "is not a valid URL"),
    ("cmi5 §13.2", structure("<au/>"), 400, "breaks the course structure XSD"),
    ("cmi5 §13.2 namespace", b'<courseStructure xmlns="urn:other"/>', 400, "the root element must be courseStructure"),
    ("XML", b"<courseStructure", 400, "not well-formed"),
    ("XXE", b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]><c>&x;</c>', 400,
     "DOCTYPE"),
    ("cmi5 §14.0", b"# a markdown file\n", 400, "is neither"),
    ("cmi5 §14.1 not a zip", b"PK\x03\x04 broken", 400, "not a zip"),
]


@pytest.mark.parametrize(("clause", "body", "status", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_bad_structure_refused(pkg_app: Flask, admin: dict[str, str], clause: str, body: bytes, status: int,
                               fragment: str) -> None:
    _remove_all(pkg_app, admin)
    got, answer = _post(pkg_app, admin, body)
    assert got == status, answer
    assert fragment in answer["error"]["message"], answer
    assert pkg_app.test_client().get(API, headers=admin).get_json() == []
    assert _files(pkg_app) == []


def test_zip_without_cmi5_xml_refused(pkg_app: Flask, admin: dict[str, str]) -> None:
    """cmi5 §14.1 (14.1.0.0-2): a zip package holds cmi5.xml at its root."""
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.html", "x")
    got, answer = _post(pkg_app, admin, buf.getvalue())
    assert (got, answer["error"]["code"]) == (400, "package_manifest_missing")
    assert _files(pkg_app) == []


def test_relative_url_must_be_in_zip(pkg_app: Flask, admin: dict[str, str]) -> None:
    """cmi5 §14.1 (14.1.0.0-4): a relative AU url names a file of the package."""
    got, answer = _post(pkg_app, admin, package(structure(au_xml(1, "missing.html"))))
    assert got == 400 and "does not hold" in answer["error"]["message"]
    assert _files(pkg_app) == []


def test_zip_slip_package_refused(pkg_app: Flask, admin: dict[str, str]) -> None:
    got, answer = _post(pkg_app, admin, package(structure(au_xml(1)), {"au.html": b"x", "../../evil.html": b"x"}))
    assert (got, answer["error"]["code"]) == (400, "package_unsafe_path")
    assert _files(pkg_app) == []


def test_admin_only_national(pkg_app: Flask) -> None:
    """A tenant's own administrator cannot change the shared catalogue."""
    import base64

    from tests.conftest import new_credential
    _, key, secret = new_credential(pkg_app, ["all"])
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    r = pkg_app.test_client().post(API, data=b"x", headers={"Authorization": f"Basic {token}"})
    assert r.status_code == 403
    r = pkg_app.test_client().post(API, data=b"x")
    assert r.status_code == 401


def test_import_by_url(pkg_app: Flask, admin: dict[str, str], tmp_path: Path) -> None:
    """cmi5 §14: a package or a cmi5.xml named by URL is fetched (size-limited) and imported; a URL that
    answers an error is refused with the reason, nothing stored."""
    from flask import Flask as Site

    from tests.browser_support import served
    _remove_all(pkg_app, admin)
    site = Site("site")
    site.add_url_rule("/course.zip", "zip", lambda: package(structure(au_xml(1)), {"au.html": b"<p>1"}))
    with served(site) as base:
        r = pkg_app.test_client().post(API, json={"url": f"{base}/course.zip"}, headers=admin)
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["source"] == f"{base}/course.zip"
        _remove_all(pkg_app, admin)
        r = pkg_app.test_client().post(API, json={"url": f"{base}/missing.zip"}, headers=admin)
        assert r.status_code == 502 and r.get_json()["error"]["code"] == "package_fetch_failed"
    r = pkg_app.test_client().post(API, json={"url": "file:///etc/passwd"}, headers=admin)
    assert r.status_code == 400 and r.get_json()["error"] == {
        "code": "package_url_refused", "message": "file:///etc/passwd: only https URLs can be imported"}
    assert _files(pkg_app) == []
