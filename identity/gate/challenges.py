"""Liveness challenges at the gate, without Flask: issued by the server, kept server-side, used once.

Before an enrolment or an assessed face check the browser asks for a challenge
(``face_check.new_challenge``: random head turns and a blink in random timed slots, a random nonce).
It is stored (``identity.storage.GateChallenge``) bound to

- the VNeID account signed in (another learner cannot answer it), and
- its ``scope``: ``enrol:<account>`` for an enrolment, ``check:<session id>`` for a check of one gate
  row (the pending gate or the running attempt), so a challenge issued for one gate or attempt cannot
  be spent on another;

and expires with the challenge's window (``face_check.challenge.DEFAULT_WINDOW``). The burst that answers
it names its nonce; ``take`` marks it used in the same conditional UPDATE that checks the binding and
the expiry, so a replayed burst, a second use, an expired or another learner's challenge are all one
refusal (``ChallengeInvalid``, 409), decided before any frame is decoded.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from identity import storage as identity_storage
from identity.gate.errors import ChallengeInvalid

if TYPE_CHECKING:
    from face_check.challenge import Challenge


def enrol_scope(account_id: int) -> str:
    return f"enrol:{account_id}"


def check_scope(session_id: str) -> str:
    return f"check:{session_id}"


def issue(db: Session, account_id: int, scope: str, now: datetime) -> Challenge:
    """A fresh challenge for ``account_id`` and ``scope``, stored until used or expired."""
    from face_check.challenge import new_challenge

    challenge = new_challenge(now=now)
    identity_storage.save_challenge(db, nonce=challenge.nonce, account_id=account_id, scope=scope,
                                    document=json.dumps(challenge.to_dict()), expires_at=challenge.expires_at,
                                    now=now)
    return challenge


def take(db: Session, nonce: str, account_id: int, scope: str, now: datetime) -> Challenge:
    """The challenge ``nonce``, now used; ``ChallengeInvalid`` when it is unknown, used, expired, or
    another account's or scope's."""
    from face_check.challenge import Challenge

    if not nonce or len(nonce) > 64:
        raise ChallengeInvalid("no challenge was named")
    document = identity_storage.take_challenge(db, nonce=nonce, account_id=account_id, scope=scope, now=now)
    if document is None:
        raise ChallengeInvalid("the challenge is unknown, used, expired or not this learner's")
    return Challenge.from_dict(json.loads(document))


def public(challenge: Challenge, locale: str) -> dict[str, Any]:
    """What the browser needs: the nonce, the steps with their prompts, how long to capture."""
    from identity.gate.texts import t

    return {"nonce": challenge.nonce, "duration_ms": challenge.duration_ms,
            "expires_at": challenge.expires_at.isoformat(),
            "steps": [{"action": s.action.value, "at_ms": s.at_ms, "within_ms": s.within_ms,
                       "prompt": t(f"identity.action.{s.action.value}", locale)} for s in challenge.steps]}
