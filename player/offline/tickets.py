"""Page tickets: a page of the player hands its queued ops a ticket signed by the hub.

An op may be synced days later, from a page the service worker kept, while the browser's cookie
holds another course's session (or a fresh one after signing in again). The ticket says, under the
hub's signature, which player session the page was rendered for and which cmi5 AU session it was
in (``None``: the page was fetched ahead for offline use and entered none). The sync endpoint
accepts a ticket only for the learner of the session the browser has now (``player.offline.apply``):
a page of another learner, or one forged, gets nothing stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from player.session import PlayerSession
from player.statements import AuSession

SALT = "hocvu/player/offline-ticket/v1"
# How long a page's ops may wait on the device: a learner far from any network for a season's
# work still gets it stored; older tickets are refused (the page is surely out of date by then).
MAX_AGE = timedelta(days=90)


class BadTicket(ValueError):
    """Not a ticket this hub signed, too old, or unreadable."""


@dataclass(frozen=True)
class Ticket:
    session: PlayerSession
    au: AuSession | None


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def issue(secret: str, session: PlayerSession, au: AuSession | None) -> str:
    return _serializer(secret).dumps({"s": session.to_session(), "au": au.to_session() if au else None})


def read(secret: str, token: Any) -> Ticket:
    if not isinstance(token, str) or not token or len(token) > 8192:
        raise BadTicket("the op has no ticket")
    try:
        data = _serializer(secret).loads(token, max_age=int(MAX_AGE.total_seconds()))
        session = PlayerSession.from_session(data["s"])
    except BadSignature as err:  # SignatureExpired is one
        raise BadTicket(f"the ticket is not valid: {type(err).__name__}") from None
    except (TypeError, KeyError, ValueError) as err:
        raise BadTicket(f"the ticket is unreadable: {err!r}") from None
    raw_au = data.get("au")
    return Ticket(session, AuSession.from_session(raw_au) if raw_au is not None else None)
