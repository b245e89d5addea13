"""A real cmi5 AU (written with npm ``@xapi/cmi5``, tools/cmi5-au, bundled by esbuild) runs in headless
Chromium inside the player: the learner opens the imported course from their player session, launches
the AU, and the AU initializes, completes, passes and terminates in its sandbox against the hub's LRS.
The statements reach the LRS in cmi5's order and the LMS issues satisfied for the block and the course
(cmi5 §9.3, §9.3.9)."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lrs import credentials
from player.domain import registration_for
from player.packages.http import STORE_EXT
from player.packages.store import PackageStore
from player.session import KEY, Learner, PlayerSession
from tests.browser_support import chromium, needs_chromium, served
from tests.conftest import Xapi, new_credential
from tests.packages.cmi5_support import au_xml, block, structure

TOOL = Path(__file__).resolve().parents[2] / "tools" / "cmi5-au"
needs_au = pytest.mark.skipif(not (TOOL / "node_modules" / "@xapi" / "cmi5").is_dir() or not shutil.which("node"),
                              reason="the test AU's packages are not installed (npm ci --prefix tools/cmi5-au)")
INDEX = (b'<!doctype html><html lang="vi"><meta charset="utf-8"><title>AU</title>'
         b'<p id="status">running</p><script src="au.js"></script></html>')


def _package(tmp: Path) -> bytes:
    subprocess.run(["node", str(TOOL / "build.mjs"), str(tmp)], check=True, timeout=120)
    xml = structure(block(au_xml(1, "index.html", mastery="0.8")),
                    course_id=f"https://example.org/cmi5/course/browser-{uuid.uuid4().hex[:6]}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cmi5.xml", xml)
        zf.writestr("index.html", INDEX)
        zf.write(tmp / "au.js", "au.js")
    return buf.getvalue()


@needs_chromium
@needs_au
def test_xapi_cmi5_au_completes_in_the_player(sqlite_pkg_app: Flask, tmp_path: Path) -> None:
    from tests.packages.conftest import national_admin
    app = sqlite_pkg_app
    r = app.test_client().post("/player/cmi5/admin/packages", data=_package(tmp_path), headers=national_admin(app))
    assert r.status_code == 201, r.get_json()
    slug = r.get_json()["slug"]
    tenant_slug, key, secret = new_credential(app, ["all"])
    with app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, tenant_slug).id
    learner = Learner("https://lms.example.org", f"hv-{uuid.uuid4().hex[:8]}")
    launch = PlayerSession(tenant_id=tenant_id, learner=learner,
                           link=f"rl-{uuid.uuid4().hex[:8]}", target=f"package/{slug}")
    with served(app) as server, chromium() as browser, content_origin(app, server):
        cookie = app.session_interface.get_signing_serializer(app).dumps({KEY: launch.to_session()})  # type: ignore[attr-defined]
        browser.get(f"{server}/player/cmi5/returned")
        browser.add_cookie({"name": app.config["SESSION_COOKIE_NAME"], "value": cookie, "path": "/"})
        browser.get(f"{server}/player/")  # the player sends a package target to its course page
        assert f"/player/cmi5/course/{slug}" in browser.current_url
        browser.find_element("id", "launch-0").click()
        status = _wait_status(browser)
        assert status == "done", status
        assert browser.current_url.startswith(server.replace("127.0.0.1", "localhost") + "/player/content/")
    xapi = Xapi(app.test_client(), key, secret, version="2.0.0")
    res = xapi.get("statements", registration=registration_for(launch), ascending="true", limit=50)
    sts: list[dict[str, Any]] = res.get_json()["statements"]
    verbs = [s["verb"]["id"].rsplit("/", 1)[1] for s in sts]
    assert verbs == ["launched", "initialized", "completed", "passed", "satisfied", "satisfied", "terminated"], verbs
    passed = next(s for s in sts if s["verb"]["id"].endswith("/passed"))
    assert passed["result"]["score"]["scaled"] == 0.9
    sat = [s["object"]["definition"]["type"].rsplit("/", 1)[1] for s in sts if s["verb"]["id"].endswith("/satisfied")]
    assert sat == ["block", "course"]


@contextmanager
def content_origin(app: Flask, server: str) -> Iterator[None]:
    """Package files on an origin of their own (HOCVU_PACKAGES_ORIGIN), as player.packages.store advises
    for content that needs its own storage: here ``localhost`` beside the hub's ``127.0.0.1``, whose
    cookies it never sees. (In the default opaque-origin sandbox @xapi/cmi5 stops: axios reads
    document.cookie, which a sandboxed page may not.)"""
    store = app.extensions[STORE_EXT]
    origin = server.replace("127.0.0.1", "localhost")
    app.extensions[STORE_EXT] = PackageStore(dataclasses.replace(store.config, content_origin=origin))
    try:
        yield
    finally:
        app.extensions[STORE_EXT] = store


def _wait_status(browser: Any, timeout: float = 30) -> str:
    end = time.monotonic() + timeout
    text = ""
    while time.monotonic() < end:
        try:
            text = browser.find_element("id", "status").text
        except Exception:
            text = ""
        if text and text != "running":
            return text
        time.sleep(0.3)
    return text


@needs_chromium
def test_exported_lesson_runs_in_the_default_sandbox(sqlite_pkg_app: Flask) -> None:
    """Our own export (player.packages.cmi5.export, its au.js runtime) plays as a cmi5 AU in the default
    opaque-origin sandbox: launched, initialized, completed, terminated (cmi5 §9.3)."""
    from player.catalogue import default_catalogue
    from player.packages.cmi5.export import export_course
    from tests.packages.conftest import national_admin
    app = sqlite_pkg_app
    course = default_catalogue().courses["ky-nang-so-vneid"]
    admin = national_admin(app)
    for p in app.test_client().get("/player/cmi5/admin/packages", headers=admin).get_json():
        if p["slug"] == "ky-nang-so-vneid":
            app.test_client().delete(f"/player/cmi5/admin/packages/{p['slug']}", headers=admin)
    r = app.test_client().post("/player/cmi5/admin/packages", data=export_course(course), headers=admin)
    assert r.status_code == 201, r.get_json()
    slug = r.get_json()["slug"]
    tenant_slug, key, secret = new_credential(app, ["all"])
    with app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, tenant_slug).id
    learner = Learner("https://lms.example.org", f"hv-{uuid.uuid4().hex[:8]}")
    launch = PlayerSession(tenant_id=tenant_id, learner=learner, link=f"rl-{uuid.uuid4().hex[:8]}",
                           target=f"package/{slug}/au/0")
    with served(app) as server, chromium() as browser:
        cookie = app.session_interface.get_signing_serializer(app).dumps({KEY: launch.to_session()})  # type: ignore[attr-defined]
        browser.get(f"{server}/player/cmi5/returned")
        browser.add_cookie({"name": app.config["SESSION_COOKIE_NAME"], "value": cookie, "path": "/"})
        browser.get(f"{server}/player/")
        browser.find_element("id", "launch-0").click()
        button = _wait_button(browser)
        assert button is not None, browser.find_element("id", "au").text
        button.click()
        xapi = Xapi(app.test_client(), key, secret, version="2.0.0")
        end = time.monotonic() + 20
        verbs: list[str] = []
        while time.monotonic() < end:
            res = xapi.get("statements", registration=registration_for(launch), ascending="true", limit=50)
            verbs = [s["verb"]["id"].rsplit("/", 1)[1] for s in res.get_json()["statements"]]
            if "terminated" in verbs:
                break
            time.sleep(0.3)
    assert verbs == ["launched", "initialized", "completed", "terminated"], verbs


def _wait_button(browser: Any, timeout: float = 20) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = browser.find_elements("css selector", "#au button")
        if found:
            return found[0]
        time.sleep(0.3)
    return None


@needs_chromium
def test_course_page_accessible_on_a_phone(sqlite_pkg_app: Flask) -> None:
    """The learner's page of an imported course: axe-core finds no serious or critical violation; it fits 360 px."""
    axe = Path(__file__).resolve().parents[2] / "player" / "web" / "node_modules" / "axe-core" / "axe.min.js"
    if not axe.is_file():
        pytest.skip("axe-core is not installed (npm ci --prefix player/web)")
    from tests.packages.conftest import national_admin
    app = sqlite_pkg_app
    xml = structure(block(au_xml(1, "index.html")), course_id=f"https://example.org/cmi5/course/a11y-{uuid.uuid4().hex[:6]}")
    r = app.test_client().post("/player/cmi5/admin/packages", headers=national_admin(app), data=_zip(xml))
    assert r.status_code == 201, r.get_json()
    tenant_slug, _, _ = new_credential(app, ["all"])
    with app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, tenant_slug).id
    launch = PlayerSession(tenant_id=tenant_id, learner=Learner("https://lms.example.org", "a11y"), link="rl",
                           target=f"package/{r.get_json()['slug']}")
    with served(app) as server, chromium(phone={"width": 360, "height": 740, "pixelRatio": 2}) as browser:
        cookie = app.session_interface.get_signing_serializer(app).dumps({KEY: launch.to_session()})  # type: ignore[attr-defined]
        browser.get(f"{server}/player/cmi5/returned")
        browser.add_cookie({"name": app.config["SESSION_COOKIE_NAME"], "value": cookie, "path": "/"})
        browser.get(f"{server}/player/")
        browser.execute_script(axe.read_text())
        found = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.filter("
            "v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)), e => done(String(e)));")
        assert found == [], found
        width, scroll = browser.execute_script(
            "return [document.documentElement.clientWidth, document.documentElement.scrollWidth]")
        assert scroll <= width


def _zip(xml: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("cmi5.xml", xml)
        zf.writestr("index.html", INDEX)
    return buf.getvalue()
