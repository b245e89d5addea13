"""The gate's challenge store on each backend (SQLite and PostgreSQL): a challenge is used once, only by
its account, for its scope, before it expires; two requests racing with one nonce: one wins.

Spec clause: ISO/IEC 30107-1 §5.2 (a challenge-response is only as good as its challenge is fresh:
single use, bound, expiring); RFC 6749 §10.12 / OIDC Core §15.5.2 in spirit (nonce bound, used once).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from identity.gate import challenges
from identity.gate.errors import ChallengeInvalid

NOW = datetime.now(UTC)


def _issue(app: Flask, account: int, scope: str) -> str:
    with app.extensions["hocvu.db"].session() as s:
        challenge = challenges.issue(s, account, scope, NOW)
        s.commit()
        return challenge.nonce


def _take(app: Flask, nonce: str, account: int, scope: str, now: datetime = NOW) -> bool:
    with app.extensions["hocvu.db"].session() as s:
        try:
            challenges.take(s, nonce, account, scope, now)
        except ChallengeInvalid:
            s.rollback()
            return False
        s.commit()
        return True


def test_a_challenge_is_used_once_by_its_account_for_its_scope(app: Flask) -> None:
    scope = challenges.check_scope("session-1")
    nonce = _issue(app, 7, scope)
    assert not _take(app, nonce, 8, scope)                                   # another account
    assert not _take(app, nonce, 7, challenges.check_scope("session-2"))     # another gate
    assert not _take(app, nonce, 7, challenges.enrol_scope(7))               # an enrolment
    assert not _take(app, nonce, 7, scope, NOW + timedelta(minutes=3))      # expired (2 min window)
    assert _take(app, nonce, 7, scope)
    assert not _take(app, nonce, 7, scope)                                   # second use
    assert not _take(app, "0" * 32, 7, scope)                                # never issued


@pytest.mark.parametrize("racers", [4])
def test_two_requests_racing_with_one_nonce_one_wins(app: Flask, racers: int) -> None:
    scope = challenges.enrol_scope(9)
    nonce = _issue(app, 9, scope)
    won: list[bool] = []
    start = threading.Barrier(racers)

    def race() -> None:
        start.wait()
        won.append(_take(app, nonce, 9, scope))

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [False] * (racers - 1) + [True]
