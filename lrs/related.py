"""What a statement relates to: its Agents and Activities, direct or not, as the ``related_agents``
and ``related_activities`` filters see them (xAPI 1.0.3 Part Three §2.1.3); ``lrs.statements``
indexes them in the side tables on write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lrs.identifiers import agent_key


def _agents_in(node: Any) -> Iterator[dict[str, Any]]:
    """An Agent/Group and, for a Group, its members."""
    if isinstance(node, dict):
        yield node
        yield from node.get("member") or []


def _context_refs(ctx: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    agents = [*_agents_in(ctx.get("instructor")), *_agents_in(ctx.get("team"))]
    for ca in ctx.get("contextAgents") or []:  # IEEE 9274.1.1 §4.2.2.5
        agents.extend(_agents_in(ca.get("agent")))
    for cg in ctx.get("contextGroups") or []:
        agents.extend(_agents_in(cg.get("group")))
    activities: list[str] = []
    for value in (ctx.get("contextActivities") or {}).values():
        for act in value if isinstance(value, list) else [value]:
            activities.append(act["id"])
    return agents, activities


def related(statement: dict[str, Any]) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """Related agents and activities (xAPI 1.0.3 Part Three §2.1.3, ``related_agents`` and
    ``related_activities``): actor and object are direct; authority, instructor, team, context
    activities and everything inside a SubStatement count only for the ``related_*`` filters."""
    agents: list[tuple[dict[str, Any], bool]] = []
    activities: list[tuple[str, bool]] = []
    obj = statement["object"]
    agents.append((statement["actor"], True))
    agents.extend((m, False) for m in statement["actor"].get("member") or [])
    kind = obj.get("objectType", "Activity")
    if kind in ("Agent", "Group"):
        agents.append((obj, True))
        agents.extend((m, False) for m in obj.get("member") or [])
    elif kind == "Activity":
        activities.append((obj["id"], True))
    elif kind == "SubStatement":
        agents.extend((a, False) for a in _agents_in(obj["actor"]))
        sub_obj = obj["object"]
        if sub_obj.get("objectType", "Activity") == "Activity":
            activities.append((sub_obj["id"], False))
        else:
            agents.extend((a, False) for a in _agents_in(sub_obj))
        sub_agents, sub_acts = _context_refs(obj.get("context") or {})
        agents.extend((a, False) for a in sub_agents)
        activities.extend((a, False) for a in sub_acts)
    ctx_agents, ctx_acts = _context_refs(statement.get("context") or {})
    agents.extend((a, False) for a in ctx_agents)
    activities.extend((a, False) for a in ctx_acts)
    if "authority" in statement:
        agents.extend((a, False) for a in _agents_in(statement["authority"]))
    keyed: dict[str, bool] = {}
    for agent, direct in agents:
        key = agent_key(agent)
        if key:
            keyed[key] = keyed.get(key, False) or direct
    acts: dict[str, bool] = {}
    for act, direct in activities:
        acts[act] = acts.get(act, False) or direct
    return list(keyed.items()), list(acts.items())
