"""Is a pooled PostgreSQL connection still alive? Asked at every checkout, without a round trip.

SQLAlchemy's ``pool_pre_ping`` sends an empty query on every checkout: one round trip per request,
about a ninth of a single statement POST's (issue 17 item 1). A connection the server ended (its
backend terminated, the server shut down or crashed) is told apart without one: the server sends a
FATAL error before it closes, or the kernel an end of stream, so an idle connection's socket has
something to read. An idle pooled connection otherwise has nothing to read (every result was read
to its ReadyForQuery), so a readable socket is the rare case that earns a real ping; a closed or
failed connection, or one the ping finds dead, is replaced by the pool (``DisconnectionError`` in a
``checkout`` listener: the pool discards it and checks out another). What neither check can see, a
peer that vanished with no word (a middlebox dropping idle flows), ``pool_recycle`` bounds.
"""

from __future__ import annotations

import select
from typing import Any, Final

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

# Seconds before a pooled connection is replaced whatever it looks like (pool_recycle): shorter
# than the idle timeouts of the usual middleboxes and of PgBouncer-style poolers (an hour and more).
RECYCLE_SECONDS: Final = 1800


def has_unread(dbapi_conn: Any) -> bool:
    """True when the connection's socket is readable now (or cannot be polled): the server spoke
    out of turn, most often to say it ended the connection."""
    try:
        poller = select.poll()
        poller.register(dbapi_conn.fileno(), select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except (OSError, ValueError, AttributeError):  # closed, or no socket to poll
        return True


def _checkout(engine: Engine) -> Any:
    def check(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if getattr(dbapi_conn, "closed", False) or getattr(dbapi_conn, "broken", False):
            raise DisconnectionError("the pooled connection is closed")
        if not has_unread(dbapi_conn):
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as err:  # the ping's own failure is the answer we asked for
            raise DisconnectionError("the pooled connection did not answer a ping") from err
        if not alive:
            raise DisconnectionError("the pooled connection did not answer a ping")
    return check


def watch(engine: Engine) -> None:
    """Check ``engine``'s PostgreSQL connections at checkout as above (instead of pool_pre_ping)."""
    event.listen(engine, "checkout", _checkout(engine))
