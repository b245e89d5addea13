"""The SCORM run-time bundles (npm scorm-again, built by player/web/build.mjs) committed in
player/static/player/ are what the sources build, with the version package-lock.json pins."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "player" / "web"


@pytest.mark.skipif(not (WEB / "node_modules" / "esbuild").is_dir() or shutil.which("node") is None,
                    reason="player/web's npm packages are not installed (npm ci --prefix player/web)")
def test_the_committed_scorm_bundles_are_what_the_sources_build(tmp_path: Path) -> None:
    subprocess.run(["node", "build.mjs", str(tmp_path)], cwd=WEB, check=True, timeout=120)
    for name in ("scorm12.js", "scorm2004.js"):
        built = (tmp_path / name).read_text(encoding="utf-8")
        assert built == (ROOT / "player" / "static" / "player" / name).read_text(encoding="utf-8"), \
            f"player/static/player/{name} is out of date: run make assets"


def test_scorm_again_is_pinned() -> None:
    lock = json.loads((WEB / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/scorm-again"]["version"] == "3.4.3"
    assert json.loads((WEB / "package.json").read_text(encoding="utf-8"))["devDependencies"]["scorm-again"] == "3.4.3"
