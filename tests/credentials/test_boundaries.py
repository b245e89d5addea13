"""DESIGN.md's one-way imports for credentials/: it may import schemas, lrs and identity, never the
player, the LTI tool or the composition root (they reach it through hooks ``hocvu/app.py`` hands them)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "credentials"
ALLOWED = {"credentials", "schemas", "lrs", "identity"}
OURS = {"credentials", "schemas", "lrs", "identity", "player", "lti_tool", "hocvu", "connectors", "face_check"}


def test_credentials_imports_only_what_design_allows() -> None:
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                top = name.split(".")[0]
                if top in OURS:
                    found.setdefault(top, set()).add(path.name)
    assert set(found) <= ALLOWED, {k: v for k, v in found.items() if k not in ALLOWED}
