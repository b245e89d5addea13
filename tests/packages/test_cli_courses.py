"""``hocvu courses import|list|remove|export`` as an administrator runs them (a real process, a real
SQLite database): a good package imported with a progress bar, listed and removed; a bad one refused
with its exact reason and nothing stored; a YAML course exported and imported back."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packages.cmi5_support import au_xml, block, package, structure


def hocvu(tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOCVU_DATABASE_URL": f"sqlite:///{tmp / 'cli.db'}", "HOCVU_INSTANCE_DIR": str(tmp)}
    return subprocess.run([sys.executable, "-m", "hocvu.cli", *args], env=env, text=True, capture_output=True,
                          check=check, timeout=120)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli-courses")
    hocvu(tmp, "db", "upgrade")
    return tmp


def test_import_list_remove(workdir: Path) -> None:
    zipped = workdir / "demo.zip"
    zipped.write_bytes(package(structure(block(au_xml(1))), {"au.html": b"<p>hi"}))
    out = hocvu(workdir, "courses", "import", str(zipped))
    assert "imported package/demo: 1 AU(s)" in out.stdout
    listed = hocvu(workdir, "courses", "list").stdout
    assert "package/demo\tpackage\tgraded /100" in listed and "package/demo/au/0\tau" in listed
    assert "course/" in listed  # the YAML courses too
    assert len(list((workdir / "packages").iterdir())) == 1
    assert hocvu(workdir, "courses", "remove", "demo").stdout.strip() == "removed package/demo"
    assert list((workdir / "packages").iterdir()) == []
    assert "package/demo" not in hocvu(workdir, "courses", "list").stdout


def test_bad_package_refused_exactly(workdir: Path) -> None:
    bad = workdir / "bad.zip"
    bad.write_bytes(package(structure(au_xml(1)), {"au.html": b"x", "../evil.html": b"x"}))
    out = hocvu(workdir, "courses", "import", str(bad), check=False)
    assert out.returncode == 1
    assert "entry '../evil.html': a '..' part would leave the package folder" in out.stderr
    assert "package/" not in hocvu(workdir, "courses", "list").stdout
    assert not (workdir / "packages").exists() or list((workdir / "packages").iterdir()) == []


def test_export_then_import(workdir: Path) -> None:
    out = workdir / "vneid.zip"
    hocvu(workdir, "courses", "export", "ky-nang-so-vneid", "-o", str(out))
    assert "imported package/ky-nang-so-vneid" in hocvu(workdir, "courses", "import", str(out)).stdout
    hocvu(workdir, "courses", "remove", "ky-nang-so-vneid")


def test_a_scorm_package_goes_to_the_scorm_importer(workdir: Path) -> None:
    """One ``hocvu courses import`` for every format: a zip with imsmanifest.xml at its root (SCORM CAM
    §3.2.1) is a SCORM course at scorm/<id>, listed, and removed with its files."""
    from tests.packages.scorm_support import package_zip
    zipped = workdir / "scorm12.zip"
    zipped.write_bytes(package_zip("scorm12").getvalue())
    out = hocvu(workdir, "courses", "import", str(zipped)).stdout
    imported = re.search(r"imported (scorm/[a-z0-9-]+): (\d+) item\(s\)", out)
    assert imported, out
    assert imported.group(1) in hocvu(workdir, "courses", "list").stdout
    assert hocvu(workdir, "courses", "remove", imported.group(1).split("/", 1)[1]).stdout.strip() == (
        f"removed {imported.group(1)}")
    assert imported.group(1) not in hocvu(workdir, "courses", "list").stdout


def test_assess_marks_units_and_a_reimport_keeps_them(workdir: Path) -> None:
    """`hocvu courses assess SLUG AU_ID...` marks exactly those AUs assessed (cmi5 has no standard flag
    for it: the hub's own choice, kept with the package); an unknown id is refused with the course's ids;
    a re-import of the same course (cmi5 §14: same course IRI) keeps the choice; no ids: none."""
    course = "https://example.org/cmi5/course/assess"
    zipped = workdir / "assess.zip"
    zipped.write_bytes(package(structure(block(au_xml(1) + au_xml(2)), course_id=course), {"au.html": b"<p>hi"}))
    hocvu(workdir, "courses", "import", str(zipped))
    out = hocvu(workdir, "courses", "assess", "assess", "https://example.org/cmi5/au/2").stdout
    assert out.strip() == "assess: assessed: https://example.org/cmi5/au/2"
    bad = hocvu(workdir, "courses", "assess", "assess", "https://example.org/cmi5/au/9", check=False)
    assert bad.returncode != 0 and ("course 'assess' has no AU or SCO 'https://example.org/cmi5/au/9'; it has "
                                    "'https://example.org/cmi5/au/1', 'https://example.org/cmi5/au/2'") in bad.stderr
    again = hocvu(workdir, "courses", "import", str(zipped)).stdout
    assert "assessed: https://example.org/cmi5/au/2" in again
    assert hocvu(workdir, "courses", "assess", "assess").stdout.strip() == "assess: assessed: none"
    hocvu(workdir, "courses", "remove", "assess")
