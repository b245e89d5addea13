"""The house a newcomer can read (issue 10): no import cycle, even through imports inside functions;
no module reaching into another module's private names; no product module over 400 lines. The
one-way imports between packages are `make lint`'s (import-linter, `.importlinter`)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = tuple(p for p in ("schemas", "lrs", "face_check", "identity", "player", "lti_tool", "credentials",
                             "connectors", "hocvu") if (ROOT / p / "__init__.py").exists())
MAX_LINES = 400


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append((name, path))
    return found


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.find_modules_directly_imported_by(nxt)))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_import_graph_has_no_cycle() -> None:
    """Imports inside functions count (grimp reads every import statement); imports made only for
    type checking do not, as they never run."""
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    # A package's own __init__ importing its modules is not a cycle between concepts.
    assert _cycles(graph) == []


def _bound_modules(tree: ast.Module, known: set[str]) -> dict[str, str]:
    """Local names bound to our modules: ``import a.b as c`` and ``from a import b`` (b a module)."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known and alias.asname:
                    bound[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in known:
                    bound[alias.asname or alias.name] = full
    return bound


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_module_reaches_into_another_modules_private_names() -> None:
    modules = _modules()
    known = {name for name, _ in modules}
    reaching = []
    for name, path in modules:
        tree = ast.parse(path.read_text())
        bound = _bound_modules(tree, known)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in known and node.module != name:
                reaching += [f"{name}: from {node.module} import {a.name}" for a in node.names if _private(a.name)]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id in bound and bound[node.value.id] != name and _private(node.attr):
                reaching.append(f"{name}:{node.lineno}: {bound[node.value.id]}.{node.attr}")
    assert reaching == []


@pytest.mark.parametrize(("name", "path"), _modules(), ids=[n for n, _ in _modules()])
def test_no_product_module_is_over_400_lines(name: str, path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by what it holds"


def test_no_two_test_files_share_a_name() -> None:
    """pytest imports test files without packages by their base name (rootdir mode): two
    test_x.py in different folders stop the whole run at collection."""
    seen: dict[str, Path] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        if "node_modules" in path.parts:
            continue
        other = seen.setdefault(path.name, path)
        assert other == path, f"{path.relative_to(ROOT)} and {other.relative_to(ROOT)} share a name"


def test_no_test_module_shadows_a_standard_module() -> None:
    """pytest puts each test folder on sys.path (rootdir mode), and a process spawned during the run
    (``hocvu rollups refresh --jobs``) starts with that path: tests/lti/platform.py was imported as
    the standard ``platform`` there, and the worker died before its first line."""
    shadows = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")
                     if "node_modules" not in p.parts and p.stem in sys.stdlib_module_names)
    assert shadows == []
