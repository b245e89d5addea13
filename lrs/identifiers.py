"""Keys for Agents and Groups, used to index and match them.

xAPI 1.0.3 Part Three §2.1.3 (GET Statements, ``agent``): "Agents or Identified Groups are equal
when the same Inverse Functional Identifier is used in each Object compared and those Objects
have the same objectType." So a key is the objectType plus the one IFI.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Final

IFIS = ("mbox", "mbox_sha1sum", "openid", "account")


# What json.dumps escapes with ensure_ascii=False: '"', '\\' and U+0000-U+001F, nothing else.
_ESCAPED: Final = re.compile(r'["\\\x00-\x1f]')


def _account_text(home: Any, name: Any) -> str:
    """``json.dumps([home, name], ensure_ascii=False)``, the stored key's form (keys already stored
    must keep matching). Two plain strings are written directly: json.dumps builds an encoder on
    each call, a few microseconds several times a statement on the ingest path."""
    if type(home) is str and type(name) is str and not _ESCAPED.search(home) and not _ESCAPED.search(name):
        return f'["{home}", "{name}"]'
    return json.dumps([home, name], ensure_ascii=False)


def ifi(agent: dict[str, Any]) -> str | None:
    """The canonical text of an Agent/Group's IFI, or None for an anonymous Group."""
    for name in IFIS:
        value = agent.get(name)
        if value is None:
            continue
        if name == "account":
            return "account:" + _account_text(value.get("homePage"), value.get("name"))
        if name == "mbox_sha1sum":
            return f"mbox_sha1sum:{str(value).lower()}"
        return f"{name}:{value}"
    return None


def agent_key(agent: dict[str, Any]) -> str | None:
    ident = ifi(agent)
    if ident is None:
        return None
    kind = "group" if agent.get("objectType") == "Group" else "agent"
    return f"{kind}|{ident}"


KEY_MAX_BYTES = 2048  # lrs.storage.IRI_LEN: the key columns' size, in bytes of UTF-8 (see schemas.IRI_MAX_BYTES)


def anonymous_group_key(group: dict[str, Any]) -> str:
    """A stable key for an anonymous Group (no IFI): its sorted member keys. A team of many
    members would outgrow the key column, so a key past KEY_MAX_BYTES is their SHA-256 instead
    (keys that fit are unchanged, so stored ones still match)."""
    members = sorted(filter(None, (agent_key(m) for m in group.get("member") or [])))
    key = "anon|" + json.dumps(members)
    if len(key) * 4 > KEY_MAX_BYTES and len(key.encode("utf-8", "surrogatepass")) > KEY_MAX_BYTES:
        return "anon|sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


def key_too_long(key: str | None) -> bool:
    """True when ``key`` (an Agent's or Group's) does not fit the key columns (KEY_MAX_BYTES)."""
    return key is not None and len(key) * 4 > KEY_MAX_BYTES and len(key.encode("utf-8")) > KEY_MAX_BYTES


def actor_key(actor: dict[str, Any]) -> str:
    return agent_key(actor) or anonymous_group_key(actor)


def ids_only(agent: dict[str, Any]) -> dict[str, Any]:
    """The ``format=ids`` form of an Agent/Group: objectType and IFI (members for anonymous Groups)."""
    out: dict[str, Any] = {"objectType": agent.get("objectType", "Agent")}
    for name in IFIS:
        if name in agent:
            out[name] = agent[name]
            return out
    if "member" in agent:
        out["member"] = [ids_only(m) for m in agent["member"]]
    return out
