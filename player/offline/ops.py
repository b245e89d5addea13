"""The ops a learner's device queues (IndexedDB) and sends to ``POST /player/sync``, and their checks.

A request body::

    {"csrf": "<the page's form token>", "device": "<UUID of the device's queue>",
     "ops": [{"id": "<UUID, made on the device>", "seq": 7, "kind": "answer", "ticket": "<page ticket>",
              "target": "course/<c>/module/<m>/quiz/<q>", "at": "2026-12-07T08:00:00.000Z",
              "attempt": "<the attempt's cmi5 session id>", "question": "q1", "choices": ["a"]}, ...]}

Kinds and their own fields:

- ``progress`` (a lesson): ``position`` (seconds into the video), ``paragraph``, ``progress`` (0-100);
- ``complete`` (a lesson): none;
- ``answer`` (a quiz): ``attempt``, ``question``, ``choices`` (a list of choice ids);
- ``submit`` (a quiz): ``attempt``, ``answers`` ({question id: [choice ids]}).

No op names a learner, a tenant, a verb, a score or a statement: the server builds every statement
from the learner's session and the catalogue, so a device can only say what its learner did.
Refused here, before anything is read from the database: a body over ``MAX_BODY_BYTES`` (413), more
than ``MAX_OPS`` ops (413), a body or op of the wrong shape, an unknown property, an id that is not
a UUID, a time without a zone or more than ``CLOCK_SKEW`` ahead of the server's clock.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

MAX_OPS: Final = 100                 # per request; the device sends its queue in batches of 25
MAX_BODY_BYTES: Final = 512 * 1024   # 100 ops with their tickets fit in about a third of it
CLOCK_SKEW: Final = timedelta(minutes=5)   # a phone's clock may run a little ahead, not more
MAX_TEXT: Final = 128                # question and choice ids are catalogue ids (≤ 63 characters)
KINDS: Final = ("progress", "complete", "answer", "submit")
_COMMON: Final = frozenset({"id", "seq", "kind", "ticket", "target", "at"})
_OWN: Final[dict[str, frozenset[str]]] = {
    "progress": frozenset({"position", "paragraph", "progress"}),
    "complete": frozenset(),
    "answer": frozenset({"attempt", "question", "choices"}),
    "submit": frozenset({"attempt", "answers"}),
}


class BadOp(ValueError):
    """The op (or the whole body) is not what a device of ours sends."""

    code = "bad_op"


class TooMany(BadOp):
    code = "too_many_ops"


@dataclass(frozen=True)
class Op:
    id: str
    seq: int
    kind: str
    ticket: str
    target: str
    at: datetime
    digest: str                                    # SHA-256 of the op as sent: a replay must match
    position: float = 0.0
    paragraph: int = 0
    progress: int = 0
    attempt: str = ""
    question: str = ""
    choices: tuple[str, ...] = ()
    answers: dict[str, list[str]] = field(default_factory=dict)


def parse_envelope(body: dict[str, Any]) -> tuple[str, list[Any]]:
    """The device id and the raw ops of a request body (its form token is checked by the caller)."""
    unknown = set(body) - {"csrf", "device", "ops"}
    if unknown:
        raise BadOp(f"unknown properties: {', '.join(sorted(unknown))}")
    ops = body.get("ops")
    if not isinstance(ops, list):
        raise BadOp("ops must be a list")
    if len(ops) > MAX_OPS:
        raise TooMany(f"at most {MAX_OPS} ops a request, not {len(ops)}")
    return uuid_of(body.get("device"), "device"), ops


def uuid_of(value: Any, name: str) -> str:
    if not isinstance(value, str) or len(value) != 36:
        raise BadOp(f"{name} must be a UUID")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise BadOp(f"{name} must be a UUID") from None


def _text(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise BadOp(f"{name} must be a string of 1-{MAX_TEXT} characters")
    return value


def _texts(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or len(value) > 32 or not all(
            isinstance(c, str) and 0 < len(c) <= MAX_TEXT for c in value):
        raise BadOp(f"{name} must be a list of at most 32 choice ids")
    return list(value)


def _number(raw: dict[str, Any], name: str, low: float, high: float) -> float:
    value = raw.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadOp(f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


def _time(value: Any, now: datetime) -> datetime:
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 40 else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise BadOp("at must be an ISO 8601 time with its zone")
    if at > now + CLOCK_SKEW:
        raise BadOp("at is in the future")
    return at


def digest(raw: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


def parse_op(raw: Any, now: datetime) -> Op:
    """One op, checked for shape; what it names is checked against the session by ``apply``."""
    if not isinstance(raw, dict):
        raise BadOp("an op is a JSON object")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise BadOp(f"kind must be one of {', '.join(KINDS)}")
    unknown = set(raw) - _COMMON - _OWN[kind]
    if unknown:
        raise BadOp(f"unknown properties for {kind}: {', '.join(sorted(unknown))}")
    seq = raw.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq < 2**53:
        raise BadOp("seq must be a positive integer")
    target = raw.get("target")
    if not isinstance(target, str) or not 0 < len(target) <= 512:
        raise BadOp("target must be a catalogue target")
    ticket = raw.get("ticket")
    if not isinstance(ticket, str):
        raise BadOp("ticket must be the page's ticket")
    op = Op(id=uuid_of(raw.get("id"), "id"), seq=seq, kind=kind, ticket=ticket, target=target,
            at=_time(raw.get("at"), now), digest=digest(raw))
    if kind == "progress":
        return Op(**{**op.__dict__, "position": _number(raw, "position", 0, 86_400),
                     "paragraph": int(_number(raw, "paragraph", 0, 10_000)),
                     "progress": int(_number(raw, "progress", 0, 100))})
    if kind in ("answer", "submit"):
        op = Op(**{**op.__dict__, "attempt": uuid_of(raw.get("attempt"), "attempt")})
    if kind == "answer":
        return Op(**{**op.__dict__, "question": _text(raw, "question"),
                     "choices": tuple(_texts(raw.get("choices"), "choices"))})
    if kind == "submit":
        answers = raw.get("answers")
        if not isinstance(answers, dict) or len(answers) > 200:
            raise BadOp("answers must be an object of at most 200 questions")
        checked = {_text({"q": q}, "q"): _texts(c, "answers") for q, c in answers.items()}
        return Op(**{**op.__dict__, "answers": checked})
    return op
