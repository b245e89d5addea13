"""Reading from a PostgreSQL streaming replica (HOCVU_DATABASE_REPLICA_URL; issue 17 item 4): how far
behind the primary it is, and the moment up to which it holds everything, so an incremental export's
cursor never moves past statements the replica has not replayed yet.

Lag is the usual measure: 0 when the replica has replayed all it received, else the time since the
last transaction it replayed committed on the primary (``pg_last_xact_replay_timestamp``). A
database that is not in recovery (no replica configured: the primary itself) has no lag.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

_PROBE = text("SELECT pg_is_in_recovery() AS replica, "
              "pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() AS caught_up, "
              "pg_last_xact_replay_timestamp() AS replayed, now() AS now")


def _probe(session: Session) -> Any:
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.execute(_PROBE).one()


def replica_lag(session: Session) -> float | None:
    """Seconds the database ``session`` reads is behind its primary; None when it is no replica."""
    row = _probe(session)
    if row is None or not row.replica:
        return None
    if row.caught_up or row.replayed is None:
        return 0.0
    return max(0.0, float((row.now - row.replayed).total_seconds()))


def replica_now(session: Session) -> datetime:
    """The moment the data ``session`` reads is complete up to: now, or on a replica that is behind,
    the commit time of the last transaction it replayed."""
    now = datetime.now(UTC)
    lag = replica_lag(session)
    return now - timedelta(seconds=lag) if lag else now
