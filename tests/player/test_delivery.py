"""Weak networks (hocvu.delivery): static files fingerprinted and cached immutably (RFC 8246), pages and
API answers compressed (RFC 9110 §8.4), but never the LRS's (xAPI 1.0.3 Part Three §3.1: document
ETags are compared as sent); the committed browser bundles are what player/web builds."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask

from hocvu.delivery import IMMUTABLE
from tests.conftest import Xapi

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "player" / "web"


def test_static_urls_carry_the_files_fingerprint_and_are_cached_for_good(app: Flask) -> None:
    page = app.test_client().get("/").get_data(as_text=True)
    css = re.search(r'href="(/player/static/player\.css\?v=([0-9a-f]{12}))"', page)
    assert css is not None
    res = app.test_client().get(css.group(1))
    assert res.status_code == 200 and res.headers["Cache-Control"] == IMMUTABLE
    stale = app.test_client().get("/player/static/player.css?v=000000000000")
    assert "immutable" not in stale.headers.get("Cache-Control", "")   # an old fingerprint: revalidated
    gate = app.test_client().get("/player/identity/static/gate.css")
    assert "immutable" not in gate.headers.get("Cache-Control", "")


def test_pages_and_api_answers_are_compressed_but_not_the_lrs(app: Flask, xapi: Xapi) -> None:
    client = app.test_client()
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in page.headers["Vary"]
    assert b"<h1>" in gzip.decompress(page.get_data())
    worker = client.get("/sw.js", headers={"Accept-Encoding": "br, gzip"})
    assert worker.headers["Content-Encoding"] == "br"
    xapi_page = xapi.get("statements", headers={"Accept-Encoding": "gzip"})
    assert xapi_page.status_code == 200 and "Content-Encoding" not in xapi_page.headers


def test_the_service_worker_precaches_the_fingerprinted_files(app: Flask) -> None:
    worker = app.test_client().get("/sw.js")
    body = worker.get_data(as_text=True)
    assert worker.headers["Cache-Control"] == "no-cache" and worker.headers["Service-Worker-Allowed"] == "/"
    assert "self.__WB_MANIFEST" not in body
    assert re.search(r'\{"url": "/player/static/player\.js\?v=[0-9a-f]{12}", "revision": null\}', body)
    assert '"url": "/offline", "revision": "' in body
    manifest = app.test_client().get("/manifest.webmanifest").get_json(force=True)
    assert manifest["start_url"] == "/learning/" and manifest["display"] == "standalone"
    assert {"192x192", "512x512"} <= {i["sizes"] for i in manifest["icons"]}


@pytest.mark.skipif(not (WEB / "node_modules" / "esbuild").is_dir() or shutil.which("node") is None,
                    reason="player/web's npm packages are not installed (npm ci --prefix player/web)")
def test_the_committed_bundles_are_what_the_sources_build(tmp_path: Path) -> None:
    subprocess.run(["node", "build.mjs", str(tmp_path)], cwd=WEB, check=True, timeout=120)
    for name in ("player.js", "sw.js"):
        built = (tmp_path / name).read_text(encoding="utf-8")
        assert built == (ROOT / "player" / "static" / "player" / name).read_text(encoding="utf-8"), \
            f"player/static/player/{name} is out of date: run make assets"
