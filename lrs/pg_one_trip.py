"""A small request stored in one round trip on PostgreSQL (issue 17 item 1): its statement rows,
their side-table rows, their audit chain entries and the commit, as one statement sent on a
connection in autocommit mode (the statement is the transaction). The usual path takes four
waits on the server: BEGIN, the ingest statement (``lrs.pg_ingest``), the chain's
(``lrs.audit.pg_append``) and COMMIT; each is a wake-up of the hub and of a backend.

Only what needs no decision of the hub's between the write and the commit goes this way
(``eligible``): no voiding, no attachments, no cmi5 session rules. Whatever else the hub would do
in its own transaction, the statement refuses in the database (``hocvu_append_committing``,
migration 0190, SQLSTATE HU001) before anything is kept, and the request is stored the usual way:
an id stored before (re-sent or conflicting), an Activity definition that is new or would change
(the same comparison as ``lrs.activity_definitions.merge_definition``), an audit checkpoint due.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import psycopg
from sqlalchemy.orm import Session

from lrs.activity_definitions import latest_definitions
from lrs.audit import chain as audit_chain
from lrs.audit import pg_append
from lrs.pg_ingest import INGEST_CTES, SideRow, json_text, side_json

# Requests up to this many statements (a learner's client sends one, or a few queued while
# offline). A larger batch gains little from two round trips fewer, and a refusal would redo more.
MAX_STATEMENTS: Final = 20
REFUSED: Final = "HU001"  # the database's "store it the usual way" (migration 0190)

# "Would change": a language map (both sides objects) gains a language or changes one; any other
# property differs (a missing one is NULL, distinct from every JSON value, JSON null included).
_DEFINITIONS_KEPT: Final = (
    "NOT EXISTS (SELECT 1 FROM jsonb_each(%(definitions)s::jsonb) AS d(id, def) "
    "LEFT JOIN activities a ON a.tenant_id = %(tenant)s AND a.activity_id = d.id "
    "WHERE a.definition IS NULL OR EXISTS (SELECT 1 FROM jsonb_each(d.def) AS p(k, v) WHERE "
    "CASE WHEN jsonb_typeof(v) = 'object' AND jsonb_typeof(a.definition::jsonb -> p.k) = 'object' "
    "THEN EXISTS (SELECT 1 FROM jsonb_each(p.v) AS m(lang, text) "
    "WHERE (a.definition::jsonb -> p.k -> m.lang) IS DISTINCT FROM m.text) "
    "ELSE (a.definition::jsonb -> p.k) IS DISTINCT FROM v END))"
)
ONE_TRIP: Final = INGEST_CTES + (
    ", stored AS (SELECT count(*) AS n FROM ins) "
    "SELECT f.* FROM stored, LATERAL hocvu_append_committing(stored.n, %(sent)s::integer, " + _DEFINITIONS_KEPT + ", "
    "%(tenant)s, %(entries)s::json, %(recorded)s, %(every)s::bigint, %(minutes)s::double precision) AS f"
)


def eligible(session: Session, rows: list[dict[str, Any]], attachments: bool, cmi5: bool) -> bool:
    """Whether a request may try the one statement: PostgreSQL with the chain's function usable, a
    session with no transaction begun (the statement commits; nothing else may be pending)."""
    if attachments or cmi5 or len(rows) > MAX_STATEMENTS or session.in_transaction():
        return False
    if any(r["is_voiding"] for r in rows):
        return False
    return audit_chain.policy_of(session).append and session.get_bind().dialect.name == "postgresql"


def store(session: Session, tenant: int, rows: list[dict[str, Any]], agents: list[SideRow],
          activities: list[SideRow], defines: bool) -> bool:
    """Store, chain and commit ``rows`` (``lrs.statements.prepare``'s, in request order) in one
    statement; False, with nothing kept and the session left with no transaction, when the
    database refused it (see the module's docstring)."""
    policy = audit_chain.policy_of(session)
    now = datetime.now(UTC)
    stamp = audit_chain.iso(now)
    statements = [r["full"] for r in rows]  # each row holds its statement as stored
    entries = [audit_chain.NewEntry("stored", r["statement_id"], audit_chain.content_hash(r["full"])) for r in rows]
    parts = [audit_chain.entry_text_parts(tenant, e.kind, e.statement_id, e.content_hash, e.detail, stamp)
             for e in entries]
    placed = [{**r, "seq": i} for i, r in enumerate(rows, start=1)]
    params = {"rows": json_text(placed), "tenant": tenant, "agents": side_json(agents),
              "activities": side_json(activities), "sent": len(rows),
              "definitions": json_text(latest_definitions(statements) if defines else {}),
              "entries": pg_append.payload(entries, parts), "recorded": now,
              "every": policy.checkpoint_every if policy.signer is not None else None,
              "minutes": policy.checkpoint_minutes}
    # The autocommit connection is the session's own: its commit then sends nothing, and the pool
    # sets the mode back when the session hands the connection back.
    raw: Any = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"}).connection.dbapi_connection
    if not pg_append.available(session):  # the chain's function hashes UTF-8 text
        session.rollback()
        return False
    try:
        with raw.cursor() as cur:
            cur.execute(ONE_TRIP, params)
            cur.fetchall()
    except psycopg.Error as err:
        # A connection lost under the statement leaves unknown whether it was kept: the caller
        # runs the store again with the ids it fixed before the first attempt (lrs.statement_retry).
        if err.sqlstate != REFUSED:
            raise
        session.rollback()  # hands the connection back; the usual path begins a transaction anew
        return False
    return True
