"""The active-liveness challenge: what the learner is asked to do, in which order, and when.

``new_challenge`` draws 2 or 3 different actions (at least one head turn: a blink or a nod alone
proves nothing about depth), in random order, each with its own random time slot, plus a random
nonce. The web layer keeps the challenge server-side, shows the prompts at the slots' times
(``at_ms`` from the start of the capture), and accepts one burst for it (single use: the nonce).
A recording made for another challenge has its turns at other times and in another order.

Serialised as a small JSON-able dict (``to_dict``/``from_dict``), times as ISO 8601 in UTC.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from face_check.errors import BadParameter

LIVENESS_METHOD = "active-challenge-v1"
# How long after issue a burst for the challenge is still accepted (capture, upload and queue included).
DEFAULT_WINDOW = timedelta(minutes=2)
LEAD_IN_MS = (600, 1000)  # before the first prompt: the frontal frames the match uses
SLOT_MS = (1500, 2100)  # one action's slot: prompt shown at its start, done before its end
TAIL_MS = 400  # after the last slot: the head back to the front


class Action(StrEnum):
    TURN_LEFT = "turn_left"  # the learner's own left: the nose goes to the right of a camera (unmirrored) picture
    TURN_RIGHT = "turn_right"
    LOOK_UP = "look_up"
    BLINK = "blink"


POSE_ACTIONS = frozenset({Action.TURN_LEFT, Action.TURN_RIGHT, Action.LOOK_UP})
TURNS = (Action.TURN_LEFT, Action.TURN_RIGHT)


@dataclass(frozen=True)
class Step:
    action: Action
    at_ms: int  # the prompt is shown this long after the capture starts
    within_ms: int  # and the action must be seen before at_ms + within_ms

    @property
    def end_ms(self) -> int:
        return self.at_ms + self.within_ms


@dataclass(frozen=True)
class Challenge:
    nonce: str
    issued_at: datetime
    expires_at: datetime
    steps: tuple[Step, ...]
    method: str = LIVENESS_METHOD

    def __post_init__(self) -> None:
        if not 1 <= len(self.steps) <= 4 or not any(s.action in TURNS for s in self.steps):
            raise BadParameter("a challenge has 1 to 4 steps, at least one of them a head turn")
        if len({s.action for s in self.steps}) != len(self.steps):
            raise BadParameter("a challenge asks for each action once")
        if any(b.at_ms < a.end_ms for a, b in zip(self.steps, self.steps[1:], strict=False)):
            raise BadParameter("a challenge's time slots follow one another without overlapping")
        if self.issued_at.tzinfo is None or self.expires_at <= self.issued_at:
            raise BadParameter("a challenge needs timezone-aware times and a window after its issue")

    @property
    def duration_ms(self) -> int:
        """How long the capture should run: to the end of the last slot and a short tail."""
        return self.steps[-1].end_ms + TAIL_MS

    def valid_at(self, now: datetime) -> bool:
        return self.issued_at <= now <= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "nonce": self.nonce, "issued_at": self.issued_at.isoformat(),
                "expires_at": self.expires_at.isoformat(),
                "steps": [{"action": s.action.value, "at_ms": s.at_ms, "within_ms": s.within_ms} for s in self.steps]}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Challenge:
        try:
            if doc["method"] != LIVENESS_METHOD:
                raise BadParameter(f"challenge of method {doc['method']!r}, not {LIVENESS_METHOD}")
            steps = tuple(Step(Action(s["action"]), int(s["at_ms"]), int(s["within_ms"])) for s in doc["steps"])
            return cls(str(doc["nonce"]), datetime.fromisoformat(doc["issued_at"]),
                       datetime.fromisoformat(doc["expires_at"]), steps)
        except (KeyError, TypeError, ValueError) as err:
            raise BadParameter(f"not a challenge: {err}") from None


def new_challenge(rng: random.Random | None = None, *, now: datetime | None = None,
                  window: timedelta = DEFAULT_WINDOW) -> Challenge:
    """A fresh random challenge. ``rng`` is for tests (a seeded ``random.Random``); the default draws
    from the operating system's generator (``secrets``), so challenges cannot be predicted."""
    draw = rng or secrets.SystemRandom()
    issued = now or datetime.now(UTC)
    count = draw.choice((2, 3))
    first = draw.choice(TURNS)
    others = [a for a in Action if a is not first]
    actions = [first, *draw.sample(others, count - 1)]
    draw.shuffle(actions)
    at = draw.randint(*LEAD_IN_MS)
    steps = []
    for action in actions:
        within = draw.randint(*SLOT_MS)
        steps.append(Step(action, at, within))
        at += within
    nonce = f"{draw.getrandbits(128):032x}" if rng is not None else secrets.token_hex(16)
    return Challenge(nonce, issued, issued + window, tuple(steps))
