"""Statement formats for GET /statements: ``exact``, ``ids`` and ``canonical``
(xAPI 1.0.3 Part Three §2.1.3 "format"; IEEE 9274.1.1 §4.1.6.1).

``canonical`` returns Activities with the definitions the LRS holds and every language map
reduced to the one language that best fits the request's Accept-Language
(Part Three §2.1.3 "language filtering requirements for canonical format statements").
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from lrs.identifiers import ids_only

LANGUAGE_MAPS = ("name", "description", "display")
FORMATS_ALLOWED = ("exact", "ids", "canonical")


def parse_accept_language(header: str | None) -> list[str]:
    """Language ranges, best first (RFC 9110 §12.5.4)."""
    if not header:
        return []
    ranges: list[tuple[float, int, str]] = []
    for i, item in enumerate(header.split(",")):
        lang, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if lang and q > 0:
            ranges.append((-q, i, lang.strip().lower()))
    return [lang for _, _, lang in sorted(ranges)]


def pick_language(lang_map: dict[str, str], prefs: list[str]) -> dict[str, str]:
    if not lang_map:
        return lang_map
    lowered = {k.lower(): k for k in lang_map}
    for pref in prefs:
        if pref == "*":
            break
        if pref in lowered:
            return {lowered[pref]: lang_map[lowered[pref]]}
        for low, key in lowered.items():  # "vi" matches "vi-VN" and the reverse
            if low.split("-")[0] == pref.split("-")[0]:
                return {key: lang_map[key]}
    for fallback in ("und", "en-us", "en"):
        if fallback in lowered:
            return {lowered[fallback]: lang_map[lowered[fallback]]}
    first = next(iter(lang_map))
    return {first: lang_map[first]}


def _walk(node: Any, fn: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(node, dict):
        fn(node)
        for key, value in node.items():
            if key != "extensions":  # extension values are their owner's, not xAPI objects
                _walk(value, fn)
    elif isinstance(node, list):
        for value in node:
            _walk(value, fn)


def _ids_statement(st: dict[str, Any]) -> dict[str, Any]:
    out = dict(st)
    out["actor"] = ids_only(st["actor"])
    out["verb"] = {"id": st["verb"]["id"]}
    obj = st["object"]
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        out["object"] = {"id": obj["id"]}
    elif kind in ("Agent", "Group"):
        out["object"] = ids_only(obj)
    elif kind == "SubStatement":
        out["object"] = {**_ids_statement(obj), "objectType": "SubStatement"}
    if "authority" in st:
        out["authority"] = ids_only(st["authority"])
    ctx = st.get("context")
    if ctx:
        ctx = dict(ctx)
        for role in ("instructor", "team"):
            if role in ctx:
                ctx[role] = ids_only(ctx[role])
        if "contextActivities" in ctx:
            ctx["contextActivities"] = {
                k: [{"id": a["id"]} for a in (v if isinstance(v, list) else [v])]
                for k, v in ctx["contextActivities"].items()
            }
        out["context"] = ctx
    return out


def apply_format(statements: list[dict[str, Any]], fmt: str, accept_language: str | None,
                 definitions: Callable[[set[str]], dict[str, dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    if fmt == "ids":
        return [_ids_statement(s) for s in statements]
    if fmt != "canonical":
        return statements
    prefs = parse_accept_language(accept_language)
    result = copy.deepcopy(statements)
    known: dict[str, dict[str, Any]] = {}
    if definitions is not None:
        ids: set[str] = set()
        _walk(result, lambda n: ids.add(n["id"]) if "definition" in n and isinstance(n.get("id"), str) else None)
        known = definitions(ids) if ids else {}

    def canonicalise(node: dict[str, Any]) -> None:
        if "definition" in node and node.get("id") in known:
            node["definition"] = copy.deepcopy(known[node["id"]])
        for key in LANGUAGE_MAPS:
            value = node.get(key)
            if isinstance(value, dict) and value and all(isinstance(v, str) for v in value.values()):
                node[key] = pick_language(value, prefs)

    _walk(result, canonicalise)
    return result
