"""Course files: reading ``courses/*.yaml`` and checking them against ``schemas.course``, with each
problem reported as ``<file>: <property path>: <what>`` and the line it is on, for authors
(``hocvu courses validate``) and for ``player.catalogue``, which builds the catalogue from them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError

from schemas.course import load_course

COURSE_SUFFIXES = (".yaml", ".yml")
PathKey = tuple[str | int, ...]


def _lines(node: yaml.Node, path: PathKey = (), found: dict[PathKey, int] | None = None) -> dict[PathKey, int]:
    """The 1-based line where each property path starts, so a message can point into the file."""
    found = {} if found is None else found
    found.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, str(key.value))
            found[sub] = key.start_mark.line + 1
            _lines(value, sub, found)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), found)
    return found


def _flatten(messages: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, str]]:
    """marshmallow's nested messages as (property path, message) pairs."""
    if isinstance(messages, dict):
        for key, sub in messages.items():
            # "_schema": a rule about the object itself; "key"/"value": a Dict field's parts
            # (no property of ours has those names), so the message stays on the object.
            yield from _flatten(sub, path if key in ("_schema", "key", "value") else (*path, key))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for m in messages:
            yield path, m
    elif isinstance(messages, list):
        for sub in messages:
            yield from _flatten(sub, path)
    else:
        yield path, str(messages)


def dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _read(path: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """The validated course data of one file, or None and the problems found."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return None, [f"{name}: cannot be read ({err})"]
    try:
        raw = yaml.safe_load(text)
        lines = _lines(yaml.compose(text, Loader=yaml.SafeLoader) or yaml.ScalarNode("", ""))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return None, [f"{name}: not valid YAML{where}: {getattr(err, 'problem', None) or err}"]
    try:
        data = load_course(raw)
    except ValidationError as err:
        problems = []
        for prop, message in _flatten(err.messages):
            line = next((lines[prop[:n]] for n in range(len(prop), -1, -1) if prop[:n] in lines), None)
            place = f"{dotted(prop)}: " if prop else ""
            problems.append(f"{name}: {place}{message}" + (f" (line {line})" if line and prop else ""))
        return None, problems
    if data["id"] != path.stem:
        # One course per file, named after it, so a target's course is found by its file name.
        return None, [f"{name}: id {data['id']!r} does not match the file name {path.stem!r}"]
    return data, []


def validate_file(path: str | os.PathLike[str]) -> list[str]:
    """Every problem of one course file, each as ``<file>: <where>: <what>``; [] when it is valid."""
    return _read(Path(path))[1]


def course_files(path: str | os.PathLike[str]) -> list[Path]:
    p = Path(path)
    return sorted(f for f in p.iterdir() if f.suffix in COURSE_SUFFIXES) if p.is_dir() else [p]


def read_files(paths: list[Path]) -> tuple[list[tuple[Path, dict[str, Any]]], list[str]]:
    """The validated course data of the files that are valid, and the problems of all of them
    (including a course id used by two files)."""
    problems: list[str] = []
    good: list[tuple[Path, dict[str, Any]]] = []
    seen: dict[str, Path] = {}
    for path in paths:
        data, found = _read(path)
        problems.extend(found)
        if data is None:
            continue
        if data["id"] in seen:
            problems.append(f"{path}: course id {data['id']!r} is also used by {seen[data['id']]}")
        else:
            seen[data["id"]] = path
            good.append((path, data))
    return good, problems


def validate_files(paths: list[Path]) -> list[str]:
    """Problems of several files, including a course id used by two of them."""
    return read_files(paths)[1]
