"""``hocvu settings``: the settings tree as this process sees it, and the README's table of it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from hocvu.settings import Settings, variables


@click.group("settings")
def settings_group() -> None:
    """Every HOCVU_* variable: its value here (secrets hidden), or the table of them all."""


@settings_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def settings_show(as_json: bool) -> None:
    """The value of every variable in this environment (defaults included; secrets never shown)."""
    tree = Settings.from_env()
    rows = []
    for group, f, var in variables():
        value = getattr(getattr(tree, group), f.name)
        rows.append({"variable": var.env, "group": group, "value": _shown(value, var.secret)})
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['variable']}={'' if r['value'] is None else r['value']}")


def _shown(value: Any, secret: bool) -> Any:
    if value is None or value == "":
        return None
    if secret:
        return "(set)"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return value if not dataclasses.is_dataclass(value) else str(value)


@settings_group.command("table")
def settings_table() -> None:
    """The README's settings table (Markdown), generated from the tree."""
    click.echo(markdown_table())


def markdown_table() -> str:
    """The README's settings table."""
    rows = ["| variable | group | meaning | allowed | default |", "|---|---|---|---|---|"]
    for group, f, v in variables():
        default = v.default_text or _default_shown(f.default)
        cells = (f"`{v.env}`", group, v.help, v.allowed(), default)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def _default_shown(value: Any) -> str:
    if value is None or value == () or value == "":
        return "none"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return "`" + " ".join(str(v) for v in value) + "`"
    return f"`{value}`"
