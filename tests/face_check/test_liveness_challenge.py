"""The liveness challenge (issue 12, 'a random sequence ... random order and per-step timing, a random
nonce, issued time, a time window; serialisable to/from a small JSON dict'). Challenge-response is the
active presentation attack detection of [ISO/IEC 30107-1: challenge-response]."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from face_check import Action, BadParameter, Challenge, Step, new_challenge
from face_check.challenge import LEAD_IN_MS, SLOT_MS, TURNS

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_challenges_are_random_and_well_formed() -> None:
    drawn = [new_challenge(now=NOW) for _ in range(300)]
    assert len({c.nonce for c in drawn}) == 300 and all(len(c.nonce) == 32 for c in drawn)
    assert len({tuple(s.action for s in c.steps) for c in drawn}) >= 20  # many orders and combinations
    assert {len(c.steps) for c in drawn} == {2, 3}
    for c in drawn:
        actions = [s.action for s in c.steps]
        assert len(set(actions)) == len(actions) and any(a in TURNS for a in actions)
        assert LEAD_IN_MS[0] <= c.steps[0].at_ms <= LEAD_IN_MS[1]
        assert all(SLOT_MS[0] <= s.within_ms <= SLOT_MS[1] for s in c.steps)
        assert all(b.at_ms == a.end_ms for a, b in zip(c.steps, c.steps[1:], strict=False))
        assert c.duration_ms <= LEAD_IN_MS[1] + 3 * SLOT_MS[1] + 400
    assert len({s.within_ms for c in drawn for s in c.steps}) > 100  # per-step timing varies too


def test_a_seeded_generator_repeats_and_the_default_does_not() -> None:
    assert new_challenge(random.Random(3), now=NOW) == new_challenge(random.Random(3), now=NOW)
    assert new_challenge(now=NOW).nonce != new_challenge(now=NOW).nonce


def test_round_trip_through_json() -> None:
    challenge = new_challenge(random.Random(9), now=NOW)
    doc = json.loads(json.dumps(challenge.to_dict()))
    assert Challenge.from_dict(doc) == challenge
    assert doc["method"] == "active-challenge-v1" and doc["issued_at"] == "2026-03-02T09:00:00+00:00"
    assert set(doc) == {"method", "nonce", "issued_at", "expires_at", "steps"}


@pytest.mark.parametrize("junk", [{}, {"method": "other"}, {"method": "active-challenge-v1", "nonce": "x"},
                                  {"method": "active-challenge-v1", "nonce": "x", "issued_at": "yesterday",
                                   "expires_at": "2026-03-02T09:02:00+00:00", "steps": []}])
def test_junk_is_not_a_challenge(junk: dict[str, object]) -> None:
    with pytest.raises(BadParameter):
        Challenge.from_dict(junk)


def test_valid_only_inside_its_window() -> None:
    challenge = new_challenge(random.Random(1), now=NOW, window=timedelta(minutes=2))
    assert challenge.valid_at(NOW) and challenge.valid_at(NOW + timedelta(minutes=2))
    assert not challenge.valid_at(NOW - timedelta(seconds=1))
    assert not challenge.valid_at(NOW + timedelta(minutes=2, seconds=1))


def test_malformed_challenges_refused() -> None:
    later = NOW + timedelta(minutes=1)
    with pytest.raises(BadParameter):  # no head turn: a blink or a nod proves nothing about depth
        Challenge("n", NOW, later, (Step(Action.BLINK, 500, 1500), Step(Action.LOOK_UP, 2000, 1500)))
    with pytest.raises(BadParameter):  # the same action twice
        Challenge("n", NOW, later, (Step(Action.TURN_LEFT, 500, 1500), Step(Action.TURN_LEFT, 2000, 1500)))
    with pytest.raises(BadParameter):  # overlapping slots
        Challenge("n", NOW, later, (Step(Action.TURN_LEFT, 500, 1500), Step(Action.BLINK, 1000, 1500)))
    with pytest.raises(BadParameter):  # a time without its zone
        Challenge("n", NOW.replace(tzinfo=None), later.replace(tzinfo=None), (Step(Action.TURN_LEFT, 500, 1500),))
