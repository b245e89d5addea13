"""A cmi5 course structure as JSON (``ImportedPackage.structure``) and back, so the catalogue and the
launch read the stored course without parsing XML again."""

from __future__ import annotations

import dataclasses
from typing import Any

from player.packages.cmi5.structure import Au, Block, CourseStructure, Objective


def to_json(course: CourseStructure) -> dict[str, Any]:
    return {"id": course.id, "title": course.title, "description": course.description,
            "objectives": [dataclasses.asdict(o) for o in course.objectives],
            "children": [_node(c) for c in course.children]}


def _node(node: Au | Block) -> dict[str, Any]:
    if isinstance(node, Au):
        data = dataclasses.asdict(node)
        data["objectives"] = list(node.objectives)
        return {"kind": "au", **data}
    return {"kind": "block", "id": node.id, "title": node.title, "description": node.description,
            "objectives": list(node.objectives), "children": [_node(c) for c in node.children]}


def from_json(data: dict[str, Any]) -> CourseStructure:
    return CourseStructure(id=data["id"], title=data["title"], description=data["description"],
                           children=tuple(_from(c) for c in data["children"]),
                           objectives=tuple(Objective(**o) for o in data.get("objectives", ())))


def _from(data: dict[str, Any]) -> Au | Block:
    fields = {k: v for k, v in data.items() if k != "kind"}
    if data["kind"] == "au":
        fields["objectives"] = tuple(fields.get("objectives", ()))
        return Au(**fields)
    return Block(id=fields["id"], title=fields["title"], description=fields["description"],
                 objectives=tuple(fields.get("objectives", ())),
                 children=tuple(_from(c) for c in fields["children"]))


def parents(course: CourseStructure, au_id: str) -> list[Block]:
    """The blocks that hold AU ``au_id``, outermost first."""
    def walk(children: tuple[Au | Block, ...], path: list[Block]) -> list[Block] | None:
        for child in children:
            if isinstance(child, Au) and child.id == au_id:
                return path
            if isinstance(child, Block):
                found = walk(child.children, [*path, child])
                if found is not None:
                    return found
        return None

    return walk(course.children, []) or []
