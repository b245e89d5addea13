"""The ADL cmi5 conformance packages (CATAPULT's LMS test suite, ``lts/``) imported into the hub: the
valid ones accepted, its bad-package set refused, with the requirement ids of its own
``__tests__/package.js`` (cmi5 §3.0, §8.1, §13.1, §13.2, §14). CATAPULT is not part of this
repository: bring it with ``git clone`` to /work/ext/catapult (or HOCVU_CATAPULT_DIR), build
``lts/pkg`` (``npx webpack``); without it this test skips and says so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask

API = "/player/cmi5/admin/packages"
DIST = Path(os.environ.get("HOCVU_CATAPULT_DIR", "/work/ext/catapult")) / "lts" / "pkg" / "dist"
# (file, requirement) as CATAPULT's package tests list them.
VALID = [("101-one-thousand-aus.xml", "6.1.0.0-2"), ("102-zip64.zip", "14.0.0.0-1")]
INVALID = [("201-1-iris-course-id.xml", "3.0.0.0-1"), ("201-2-iris-block-id.xml", "3.0.0.0-1"),
           ("201-3-iris-au-id.xml", "3.0.0.0-1"), ("201-4-iris-objective-id.xml", "3.0.0.0-1"),
           ("202-1-relative-url-no-zip.xml", "14.2.0.0-1"), ("202-2-relative-url-no-zip.xml", "14.2.0.0-1"),
           ("202-3-relative-url-no-zip.xml", "14.2.0.0-1"), ("202-4-relative-url-no-zip.xml", "14.2.0.0-1"),
           ("202-5-relative-url-no-zip.xml", "14.2.0.0-1"), ("203-1-relative-url-no-reference.zip", "14.1.0.0-4"),
           ("204-query-string-conflict-endpoint.xml", "8.1.0.0-6"), ("205-1-duplicated-block.xml", "13.1.2.0-1"),
           ("205-2-duplicated-objective.xml", "13.1.3.0-1"), ("205-3-duplicated-au.xml", "13.1.4.0-1"),
           ("206-1-invalid-au-url.xml", "13.1.4.0-2"), ("207-1-invalid-courseStructure.xml", "13.2.0.0-1"),
           ("208-1-invalid-package.md", "14.0.0.0-1"), ("209-1-not-a-zip.zip", "14.1.0.0-1"),
           ("210-1-no-cmi5-xml.zip", "14.1.0.0-2")]
RUNTIME = sorted(p.name for p in DIST.glob("0*.zip")) if DIST.is_dir() else []

pytestmark = pytest.mark.skipif(not DIST.is_dir(), reason=f"CATAPULT's built packages are not at {DIST} "
                                "(git clone adlnet/CATAPULT there and run `npx webpack` in lts/pkg)")


def _import(app: Flask, admin: dict[str, str], name: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = app.test_client().post(API, data=(DIST / name).read_bytes(), headers={**admin, "X-Filename": name})
    return r.status_code, r.get_json()


def _cleanup(app: Flask, admin: dict[str, str], slug: str) -> None:
    assert app.test_client().delete(f"{API}/{slug}", headers=admin).status_code == 204


@pytest.mark.parametrize(("name", "req"), VALID + [(n, "runtime package") for n in RUNTIME])
def test_catapult_valid_package_imported(sqlite_pkg_app: Flask, name: str, req: str) -> None:
    from tests.packages.conftest import national_admin
    admin = national_admin(sqlite_pkg_app)
    status, body = _import(sqlite_pkg_app, admin, name)
    assert status == 201, (req, body)
    _cleanup(sqlite_pkg_app, admin, body["slug"])
    if name.startswith("101"):
        assert len(body["aus"]) > 1000  # cmi5 §6.1 (6.1.0.0-2): course structures of more than 1000 AUs


@pytest.mark.parametrize(("name", "req"), INVALID)
def test_catapult_invalid_package_refused(sqlite_pkg_app: Flask, name: str, req: str) -> None:
    from tests.packages.conftest import national_admin
    admin = national_admin(sqlite_pkg_app)
    status, body = _import(sqlite_pkg_app, admin, name)
    assert 400 <= status < 500 and "error" in body, (req, body)
    assert sqlite_pkg_app.test_client().get(API, headers=admin).get_json() == [], req
