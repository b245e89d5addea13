"""The employer's verification page (paste, upload, or the QR link itself) and JSON endpoint, the
learner's printable page with its QR code, the issuer's keys and status lists: in plain Vietnamese
first, English on request, nothing about the learner beyond what the credential holds, and a page
that fits a 360 px phone in a real browser (headless Chromium).

Clauses: did:web Method §3.2 (DID document at /.well-known/did.json); Controlled Identifiers 1.0
§2.2.2 (Multikey); Bitstring Status List v1.0 §2.2 (the list credential); VC Data Model 2.0 §6.3
(media type application/vc).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import segno
from flask import Flask

from tests.browser_support import CHROMEDRIVER, CHROMIUM, chromium, served
from tests.credentials.support import completed, path_of


def test_the_qr_link_opens_the_verification_page_in_vietnamese(app: Flask) -> None:
    who, credential = completed(app, name="Hoàng Văn Đức")
    page = who.client.get(path_of(credential["id"])).get_data(as_text=True)
    assert 'data-outcome="valid"' in page and "Chứng chỉ hợp lệ" in page
    assert "An toàn trên không gian mạng" in page and "Hoàng Văn Đức" in page
    assert "Khoá học không yêu cầu" in page  # identity: not required by this course
    assert "4.2 Bảo vệ dữ liệu cá nhân và quyền riêng tư" in page
    assert who.launch.learner.account not in page and who.launch.learner.home_page not in page
    english = who.client.get(path_of(credential["id"]) + "?lang=en").get_data(as_text=True)
    assert "Valid credential" in english and 'lang="en"' in english
    as_json = who.client.get(path_of(credential["id"]), headers={"Accept": "application/json"})
    assert as_json.content_type.startswith("application/vc") and json.loads(as_json.get_data()) == credential


def test_paste_and_upload(app: Flask) -> None:
    _, credential = completed(app)
    client = app.test_client()  # the employer: no session at all
    form = client.get("/credentials/verify").get_data(as_text=True)
    assert 'name="credential"' in form and 'type="file"' in form
    pasted = client.post("/credentials/verify", data={"credential": json.dumps(credential)}).get_data(as_text=True)
    assert 'data-outcome="valid"' in pasted
    raw = json.dumps(credential, ensure_ascii=False).encode()
    uploaded = client.post("/credentials/verify", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(raw), "chung-chi.json")}).get_data(as_text=True)
    assert 'data-outcome="valid"' in uploaded
    junk = client.post("/credentials/verify", data={"credential": "xin chào"})
    assert junk.status_code == 400 and 'data-outcome="malformed"' in junk.get_data(as_text=True)
    changed = json.loads(raw)
    changed["credentialSubject"]["achievement"]["name"] = "Khoá học khác"
    page = client.post("/credentials/verify", data={"credential": json.dumps(changed)}).get_data(as_text=True)
    assert 'data-outcome="invalid"' in page and "Chứng chỉ KHÔNG hợp lệ" in page


def test_the_printable_page_carries_a_qr_code_of_the_verification_link(app: Flask) -> None:
    who, credential = completed(app, name="Ngô Thị Hạnh")
    [item] = [c for c in who.mine() if c["status"] == "live"]   # a named copy replaced the first
    page = who.client.get(path_of(item["links"]["print"])).get_data(as_text=True)
    assert 'id="certificate"' in page and "Ngô Thị Hạnh" in page and "<svg" in page and "@media print" not in page
    assert credential["id"] in page
    svg = who.client.get(path_of(item["links"]["qr"]))
    assert svg.content_type == "image/svg+xml"
    # The same URL encodes to the same symbol: what segno makes for the id is what the page shows.
    expected = io.BytesIO()
    segno.make(credential["id"], error="m", micro=False).save(expected, kind="svg", scale=4, border=2,
                                                              xmldecl=False, svgns=True, title="QR")
    assert svg.get_data() == expected.getvalue()
    css = who.client.get("/credentials/static/credentials.css").get_data(as_text=True)
    assert "@media print" in css


def test_keys_status_lists_and_achievements_are_public(app: Flask) -> None:
    _, credential = completed(app)
    client = app.test_client()
    did = client.get("/.well-known/did.json")
    body = did.get_json()
    assert did.headers["Access-Control-Allow-Origin"] == "*"
    assert body["id"] == "did:web:127.0.0.1%3A8000" and body["verificationMethod"][0]["type"] == "Multikey"
    assert all(m["publicKeyMultibase"].startswith("z6Mk") for m in body["verificationMethod"])
    assert "privateKey" not in json.dumps(body)
    status = client.get(path_of(credential["credentialStatus"]["statusListCredential"]))
    listed = json.loads(status.get_data())
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["credentialSubject"]["statusPurpose"] == "revocation" and "max-age" in status.headers["Cache-Control"]
    assert client.get("/credentials/status/no-such-tenant/1").status_code == 404
    achievement = client.get(path_of(credential["credentialSubject"]["achievement"]["id"])).get_json()
    assert achievement["name"] == credential["credentialSubject"]["achievement"]["name"]
    assert client.get("/credentials/issuers/no-such-tenant/did.json").status_code == 404


# --- a real browser at a phone's width -------------------------------------------------------------

PHONE = {"width": 360, "height": 740, "pixelRatio": 3.0}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver (make browser)")
    with chromium(phone=PHONE) as driver:
        yield driver


def fits(browser: Any) -> None:
    width, scroll, scale = browser.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollWidth, visualViewport.scale]")
    assert (width, scale) == (PHONE["width"], 1) and scroll <= width, (width, scroll, scale)


def test_the_pages_fit_a_360_px_phone(sqlite_app: Flask, browser: Any, tmp_path: Path) -> None:
    who, credential = completed(sqlite_app, name="Nguyễn Thị Thu Hương")
    [item] = [c for c in who.mine() if c["status"] == "live"]   # a named copy replaced the first
    with served(sqlite_app) as base:
        for path in (path_of(credential["id"]), path_of(item["links"]["print"]), "/credentials/verify"):
            browser.get(base + path)
            fits(browser)
        browser.get(base + path_of(credential["id"]) + "?lang=vi")  # headless Chromium asks for English
        verdict = browser.find_element("id", "verdict")
        assert verdict.get_attribute("data-outcome") == "valid" and "Chứng chỉ hợp lệ" in verdict.text
        browser.save_screenshot(str(tmp_path / "verify-360.png"))
