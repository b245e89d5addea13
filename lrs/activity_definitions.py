"""Activity definitions: merging the definitions statements carry into the one each Activity keeps
for the Activities resource, and upserting them (called by ``lrs.statements.store`` for
credentials with the ``define`` scope), in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.storage import Activity, dialect_insert


def merge_definition(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Combine two definitions of one Activity: language maps gain languages, other properties
    take the newer value (Part Three §2.5: the Activity Object holds "all available information")."""
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def latest_definitions(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{Activity id: the definitions ``statements`` carry for it, merged in order}."""
    latest: dict[str, dict[str, Any]] = {}
    for statement in statements:
        for act in _activities_with_definitions(statement):
            seen = latest.get(act["id"])
            if seen is None or seen != act["definition"]:  # the same one again merges to itself (most of a batch)
                latest[act["id"]] = merge_definition(seen or {}, act["definition"])
    return latest


def store_definitions(session: Session, tenant: int, statements: list[dict[str, Any]],
                      known: dict[str, Any] | None = None, latest: dict[str, dict[str, Any]] | None = None) -> None:
    """Keep the combined definition of each Activity for the Activities resource (the ``define``
    scope lets a credential (re)define Activities: xAPI 1.0.3 Part Three §4.2).

    Concurrent requests may define the same Activity: new ones are inserted with ON CONFLICT DO
    NOTHING, and only definitions that actually change are re-read under a row lock (taken in id
    order, so two writers cannot deadlock) and merged. The usual case, a definition already
    known, writes and locks nothing. ``known``: the stored definitions of (at least) these
    statements' Activities, read by the caller in this transaction (``lrs.pg_ingest`` reads them in
    the insert's round trip); None: read them here. ``latest``: ``latest_definitions(statements)``
    if the caller has it."""
    latest = latest_definitions(statements) if latest is None else latest
    if not latest:
        return
    ids = sorted(latest)
    if known is None:
        known = dict(session.execute(select(Activity.activity_id, Activity.definition).where(
            Activity.tenant_id == tenant, Activity.activity_id.in_(ids))).all())
    new = [a for a in ids if a not in known]
    inserted: set[str] = set()
    if new:
        inserted = set(session.execute(
            dialect_insert(session)(Activity.__table__)
            .on_conflict_do_nothing(index_elements=["tenant_id", "activity_id"])
            .returning(Activity.activity_id),
            [{"tenant_id": tenant, "activity_id": a, "definition": latest[a]} for a in new],
        ).scalars())
    changing = [a for a in ids if a in known and merge_definition(known[a], latest[a]) != known[a]]
    raced = [a for a in new if a not in inserted]  # another writer inserted it between our read and insert
    to_merge = sorted({*changing, *raced})
    if not to_merge:
        return
    rows = session.scalars(select(Activity).where(Activity.tenant_id == tenant, Activity.activity_id.in_(to_merge))
                           .order_by(Activity.activity_id).with_for_update())
    for row in rows:
        merged = merge_definition(row.definition, latest[row.activity_id])
        if merged != row.definition:
            row.definition = merged


def _activities_with_definitions(statement: dict[str, Any]) -> Iterator[dict[str, Any]]:
    def from_stmt(s: dict[str, Any]) -> Iterator[dict[str, Any]]:
        obj = s["object"]
        if obj.get("objectType", "Activity") == "Activity":
            yield obj
        elif obj.get("objectType") == "SubStatement":
            yield from from_stmt(obj)
        for value in ((s.get("context") or {}).get("contextActivities") or {}).values():
            yield from value if isinstance(value, list) else [value]

    for act in from_stmt(statement):
        if act.get("definition"):
            yield act
