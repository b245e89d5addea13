"""Statement stores as their own transaction: ``lrs.statements.store`` and its commit, run again
when the database ends the transaction to break a deadlock or a serialisation conflict.

The HTTP resource (``lrs.http.statements``) calls ``store_committed``; in-process writers that
own a larger transaction call ``lrs.statements.store`` and commit themselves.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from typing import Any, Final

import psycopg
from sqlalchemy.orm import Session

from lrs.credentials import Principal
from lrs.errors import ServiceUnavailable
from lrs.maintenance import KEEPER_KEY, StatsKeeper
from lrs.multipart import AttachmentPart
from lrs.statements import store
from lrs.versions import XapiVersion

log = logging.getLogger(__name__)
# PostgreSQL ends one transaction of a deadlock (40P01 deadlock_detected) or of a serialisation
# conflict (40001 serialization_failure) so the others can go on; the loser did nothing wrong and
# succeeds when run again (PostgreSQL manual, Appendix A, "Class 40 — Transaction Rollback").
RETRYABLE_SQLSTATES: Final = frozenset({"40P01", "40001"})
# Few attempts: with every lock taken in one order (see lrs.statements._insert) a deadlock needs a
# writer outside that module, and a client is better served by a prompt 503 than by a request that
# hangs on.
STORE_ATTEMPTS: Final = 3
# Class 08 (connection exception) and the server ending the session (57P01 admin_shutdown,
# 57P02 crash_shutdown, 57P03 cannot_connect_now): the connection is gone, not the transaction's fault.
LOST_SQLSTATES: Final = frozenset({"57P01", "57P02", "57P03"})
RETRY_AFTER_SECONDS: Final = 1  # deadlock_timeout's default: by then the other transaction is done


def is_transient(err: BaseException) -> bool:
    """A failure that running the same transaction again can cure (RETRYABLE_SQLSTATES).
    SQLAlchemy wraps the driver's error in ``.orig``; the audit chain's COPY raises psycopg's own."""
    return getattr(getattr(err, "orig", err), "sqlstate", None) in RETRYABLE_SQLSTATES


def lost_connection(err: BaseException) -> bool:
    """The connection broke under the statement (SQLAlchemy invalidated it: the next checkout gets a
    new one). Before the commit was sent, nothing of the transaction can have been kept, so the store
    may run again: the retry stands in for a ping at checkout (lrs.pool_liveness) when a connection
    dies between its checkout and its first statement."""
    if getattr(err, "connection_invalidated", False):
        return True
    if isinstance(err, psycopg.OperationalError) and err.sqlstate is None:
        # A raw cursor's, unwrapped (lrs.pg_ingest, lrs.pg_one_trip), on a connection it had: the
        # socket closed with no message from the server, whose errors carry a SQLSTATE. Not a
        # failed connect: SQLAlchemy wraps those, and the database being away is answered at once
        # (hocvu.availability), not after attempts that each wait for the connect timeout.
        return True
    code = getattr(getattr(err, "orig", err), "sqlstate", None) or ""
    return code.startswith("08") or code in LOST_SQLSTATES


def _discard_connection(session: Session) -> None:
    """Invalidate the session's broken connection (a raw cursor's error reaches us unwrapped, so
    SQLAlchemy has not): the rollback then sends nothing, and the pool makes a new one."""
    try:
        session.connection().invalidate()
    except Exception:  # already invalidated, or no connection: nothing to discard
        log.debug("no connection to discard", exc_info=True)


def _fix_ids(raw: Any) -> None:
    """Give each statement of the request (its parsed body, ours to complete) the id the LRS assigns
    when it has none (Part Two §2.4.1), drawn once, here, so that every attempt stores the same
    ones. A small request may be committed by its one statement (lrs.pg_one_trip): a connection lost
    under it leaves unknown whether it was kept, and running it again is then safe only because its
    ids are fixed (what was kept is found and answered as a re-send, Part Three §2.1.2)."""
    for statement in raw if isinstance(raw, list) else [raw]:
        if isinstance(statement, dict) and "id" not in statement:
            statement["id"] = str(uuid.uuid4())


def store_committed(session: Session, principal: Principal, version: XapiVersion, raw: Any,
                    parts: list[AttachmentPart], *, statement_id: str | None = None,
                    attempts: int = STORE_ATTEMPTS) -> list[str]:
    """``store`` and commit, as one request's own transaction. A deadlock or serialisation victim
    is rolled back and the whole store runs again from the request's input in a fresh transaction
    (nothing of the failed attempt survives: its statements, entries and locks went with the
    rollback; the ids the LRS assigned are kept, ``_fix_ids``). When every attempt fails the answer is 503
    with Retry-After (RFC 9110 §15.6.4, §10.2.3): the request was valid, the server was busy, and a
    client that retries loses nothing, since a re-sent statement is stored once (Part Three §2.1.2)."""
    if statement_id is None:  # PUT: the statementId parameter is the id
        _fix_ids(raw)
    for attempt in range(1, attempts + 1):
        committing = False
        try:
            ids = store(session, principal, version, raw, parts, statement_id=statement_id, own_transaction=True)
            committing = True
            session.commit()
            keeper = session.info.get(KEEPER_KEY)
            if isinstance(keeper, StatsKeeper):
                keeper.stored(len(ids))  # after a bulk load, fresh planner statistics (lrs.maintenance)
            return ids
        except Exception as err:
            if not (is_transient(err) or (lost_connection(err) and not committing)):
                # A connection lost during the usual COMMIT is not retried: whether it committed is
                # unknown, and not all of that path's writes (a cmi5 session's) are keyed by an id.
                raise  # the one handler renders it (and rolls back): 4xx as the spec says, else 500
            if lost_connection(err):
                _discard_connection(session)
            session.rollback()
            code = getattr(getattr(err, "orig", err), "sqlstate", None) or "connection lost"
            if attempt == attempts:
                log.error("statement store of tenant %s failed %s times (SQLSTATE %s); answering 503",
                          principal.tenant_id, attempts, code)
                raise ServiceUnavailable("the database could not complete the store this time; nothing was stored, "
                                         "send the same request again", retry_after=RETRY_AFTER_SECONDS) from err
            log.warning("statement store of tenant %s was rolled back by the database (SQLSTATE %s), attempt "
                        "%s of %s; running it again", principal.tenant_id, code, attempt, attempts)
            # Jittered backoff: two victims retrying in step could meet the same way again.
            time.sleep(random.uniform(0, 0.05 * 2 ** attempt))
    raise AssertionError("unreachable")  # the loop returns or raises
