"""The audit chain's append on PostgreSQL in one statement (issue 17 item 1): the database function
``hocvu_audit_append`` (migration 0170) locks the tenant's head, chains the entries on it, inserts
them and moves the head. ``lrs.audit.chain`` sends each entry's JCS text split around its position
(``entry_text_parts``), so the function computes only SHA-256(prev_hash ‖ prefix ‖ position ‖
suffix): the head's lock is taken by this one statement and held from there to the commit, with no
round trip of the hub's under it (before: the lock, the hub hashing, the write, then the commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.orm import Session

from lrs.pg_ingest import json_text

if TYPE_CHECKING:  # only for the annotation: lrs.audit.chain imports this module
    from lrs.audit.chain import NewEntry

APPEND: Final = "SELECT * FROM hocvu_audit_append(%s, %s::json, %s)"


@dataclass(frozen=True)
class Appended:
    """One appended entry, with the head's checkpoint as it was before the append."""

    position: int
    entry_hash: str
    checkpoint_position: int
    checkpoint_time: datetime


def _raw(session: Session) -> Any:
    return session.connection().connection.dbapi_connection  # psycopg's Connection


def available(session: Session) -> bool:
    """PostgreSQL with UTF-8 text: the function's bytes are then the hub's (the chain hashes UTF-8).
    The server's encoding comes with the connection (a parameter status): no round trip."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    return bool(_raw(session).info.parameter_status("server_encoding") == "UTF8")


def append(session: Session, tenant_id: int, entries: list[NewEntry], parts: list[tuple[str, str]],
           recorded: datetime) -> list[Appended]:
    """Append ``entries`` (their texts ``parts``) to the tenant's chain in the caller's transaction,
    creating the head at genesis if the tenant has none; their positions and hashes in order."""
    with _raw(session).cursor() as cur:
        cur.execute(APPEND, (tenant_id, payload(entries, parts), recorded))
        return [Appended(int(p), h, int(cp), t) for p, h, cp, t in cur.fetchall()]


def payload(entries: list[NewEntry], parts: list[tuple[str, str]]) -> str:
    """The function's ``entries`` argument: each entry's fields and its text around the position."""
    return json_text([{"ord": i, "prefix": prefix, "suffix": suffix, "kind": e.kind, "statement_id": e.statement_id,
                       "content_hash": e.content_hash, "detail": e.detail}
                      for i, (e, (prefix, suffix)) in enumerate(zip(entries, parts, strict=True), start=1)])
