"""The administrators' packages page (/player/cmi5/admin/page): Basic auth of a national-tenant ``all``
credential, CSRF on every POST, import by file, a refused package shown with its exact reason (nothing
stored), removal; Vietnamese first."""

from __future__ import annotations

import io
import re

from flask import Flask

from tests.conftest import new_credential
from tests.packages.cmi5_support import au_xml, package, structure

PAGE = "/player/cmi5/admin/page"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_admin_page_imports_lists_refuses_removes(sqlite_pkg_app: Flask) -> None:
    from tests.packages.conftest import national_admin
    app = sqlite_pkg_app
    admin = national_admin(app)
    client = app.test_client()
    assert client.get(PAGE).status_code == 401
    assert client.get(PAGE).headers["WWW-Authenticate"].startswith("Basic")
    import base64
    _, key, secret = new_credential(app, ["all"])  # another tenant's administrator
    other = {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}
    assert client.get(PAGE, headers=other).status_code == 403
    page = client.get(PAGE, headers=admin)
    assert page.status_code == 200 and "Khoá học nhập từ gói cmi5" in page.get_data(as_text=True)
    csrf = _csrf(page.get_data(as_text=True))
    good = package(structure(au_xml(1)), {"au.html": b"<p>1"})
    r = client.post(f"{PAGE}/import", headers=admin, data={"csrf": "wrong", "package": (io.BytesIO(good), "c.zip")},
                    content_type="multipart/form-data")
    assert r.status_code == 400  # no form token, nothing imported
    r = client.post(f"{PAGE}/import", headers=admin, data={"csrf": csrf, "package": (io.BytesIO(good), "c.zip")},
                    content_type="multipart/form-data", follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "Đã nhập: demo" in html and "package/demo" in html
    assert 'name="unit" value="https://example.org/cmi5/au/1">' in html  # not assessed yet
    r = client.post(f"{PAGE}/assessed/demo", headers=admin, data={"csrf": csrf, "unit": "https://example.org/cmi5/au/1"},
                    follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "Đã lưu các bài kiểm tra của demo" in html
    assert 'name="unit" value="https://example.org/cmi5/au/1" checked>' in html
    r = client.post(f"{PAGE}/assessed/demo", headers=admin, data={"csrf": csrf, "unit": "https://example.org/x"},
                    follow_redirects=True)
    assert "course &#39;demo&#39; has no AU or SCO &#39;https://example.org/x&#39;" in r.get_data(as_text=True)
    bad = package(structure(au_xml(1)), {"au.html": b"x", "/etc/evil.html": b"x"})
    r = client.post(f"{PAGE}/import", headers=admin, data={"csrf": csrf, "package": (io.BytesIO(bad), "bad.zip")},
                    content_type="multipart/form-data", follow_redirects=True)
    assert "Gói bị từ chối: entry &#39;/etc/evil.html&#39;: an absolute path" in r.get_data(as_text=True)
    r = client.post(f"{PAGE}/remove/demo", headers=admin, data={"csrf": csrf}, follow_redirects=True)
    assert "Đã xoá: demo" in r.get_data(as_text=True)
    assert "demo" not in [p["slug"] for p in client.get("/player/cmi5/admin/packages", headers=admin).get_json()]


def test_admin_page_accessible_on_a_phone(sqlite_pkg_app: Flask) -> None:
    """axe-core finds no serious or critical violation, and the page fits 360 px."""
    import base64
    from pathlib import Path

    import pytest

    from tests.browser_support import CHROMEDRIVER, CHROMIUM, chromium, served
    axe = Path(__file__).resolve().parents[2] / "player" / "web" / "node_modules" / "axe-core" / "axe.min.js"
    if not (CHROMIUM and CHROMEDRIVER) or not axe.is_file():
        pytest.skip("needs chromium, chromedriver and axe-core (npm ci --prefix player/web)")
    from tests.packages.conftest import national_admin
    token = national_admin(sqlite_pkg_app)["Authorization"].split()[1]
    key, secret = base64.b64decode(token).decode().split(":", 1)
    with served(sqlite_pkg_app) as server, chromium(phone={"width": 360, "height": 740, "pixelRatio": 2}) as browser:
        browser.get(server.replace("http://", f"http://{key}:{secret}@") + PAGE)
        assert "cmi5" in browser.title
        browser.execute_script(axe.read_text())
        found = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.filter("
            "v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)), e => done(String(e)));")
        assert found == [], found
        width, scroll = browser.execute_script(
            "return [document.documentElement.clientWidth, document.documentElement.scrollWidth]")
        assert scroll <= width


def test_the_admin_api_imports_and_lists_every_format(sqlite_pkg_app: Flask) -> None:
    """The admin API takes a SCORM zip as well as a cmi5 one (one way in: player.packages.imports) and
    lists both, each described in its own terms (cmi5 AUs, SCORM items)."""
    from tests.packages.conftest import national_admin
    from tests.packages.scorm_support import package_zip
    app = sqlite_pkg_app
    admin = {**national_admin(app), "X-Filename": "scorm.zip"}
    client = app.test_client()
    r = client.post("/player/cmi5/admin/packages", headers=admin, data=package_zip("scorm2004").getvalue(),
                    content_type="application/zip")
    assert r.status_code == 201, r.get_data(as_text=True)
    scorm = r.get_json()
    assert scorm["format"] == "scorm2004" and scorm["target"].startswith("scorm/") and scorm["items"]
    good = package(structure(au_xml(1)), {"au.html": b"<p>1"})
    assert client.post("/player/cmi5/admin/packages", headers=admin, data=good,
                       content_type="application/zip").status_code == 201
    listed = {p["slug"]: p for p in client.get("/player/cmi5/admin/packages", headers=admin).get_json()}
    assert listed[scorm["slug"]]["format"] == "scorm2004" and listed["demo"]["aus"]
    assert client.get(PAGE, headers=national_admin(app)).status_code == 200  # the page lists both
    assert client.delete(f"/player/cmi5/admin/packages/{scorm['slug']}", headers=admin).status_code in (200, 204)
    assert client.delete("/player/cmi5/admin/packages/demo", headers=admin).status_code in (200, 204)
