"""Applying one queued op, exactly once and in its device's order. Flask-free: the caller gives the
learner's current session, the catalogue, a database session (one transaction per op) and ``now``.

What is refused (``Refused.code``), with nothing stored:

- ``bad_ticket``: the op's ticket is not the hub's, or too old (``player.offline.tickets``);
- ``not_yours``: the ticket is another learner's (or tenant's) than the session the browser has now;
- ``conflict``: the op id was synced before with other content, or by another learner; or a
  statement id it derives is already another statement's (the LRS's rule, xAPI 2.0 Part 2
  §2.2.2 / 1.0.3 Part Three §2.1.1: same id + same content is accepted, different content refused);
- ``out_of_order``: the device has already synced a later op (its ``seq`` is not above them);
- the player's own errors, by their message key: ``error.outside_launch`` (the target is not in the
  ticket's course), ``error.not_in_catalogue``, ``error.attempt_closed`` (the attempt the op was made
  in has ended), ``error.time_up`` (after the server's deadline: a timed quiz stays server-
  authoritative), ``error.not_found`` (a lesson op on a quiz, ...), ``error.bad_request``;
- the identity gate's ``identity.error.recheck_overdue`` (answers wait for an overdue face check).

A replay of an op already synced (same id, same content, same learner) is ``duplicate``: nothing
is written again and the same statement ids are answered.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from identity.gate import domain as gate
from identity.gate.errors import GateError
from lrs.errors import Conflict
from lrs.identifiers import agent_key
from lrs.storage import as_utc
from player import quiz as quiz_domain
from player.catalogue import Catalogue, Resolved
from player.domain import (
    AttemptClosed,
    PlayerError,
    complete_lesson,
    end_au,
    lesson_state,
    record_progress,
    registration_for,
    resolve_in_launch,
    start_au,
)
from player.offline.ops import Op
from player.offline.tickets import BadTicket, Ticket
from player.session import PlayerSession
from player.statements import AuSession, StatementIds, actor, ticks, written_ids
from player.storage import QuizAttempt, SyncedOp

STORED, DUPLICATE, REFUSED = "stored", "duplicate", "refused"
# How far back a device's clock is believed: an op claiming an older time is stamped at the
# oldest believable moment (its page's AU session start, else this long ago).
MAX_OFFLINE = timedelta(days=90)


class Refused(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code, self.detail = code, detail


@dataclass(frozen=True)
class Result:
    id: str
    status: str
    code: str | None = None
    statements: list[str] = field(default_factory=list)
    graded: PlayerSession | None = None    # a quiz ended: its session's grade goes to its reporter


def derived_ids(op_id: str, primary: str) -> StatementIds:
    """The op's own id for its ``primary`` statement (the one the op is about), and for the others
    it writes a UUID v5 of it and the statement's role (RFC 9562 §5.5), so a replay derives the same."""
    base = uuid.UUID(op_id)

    def ids(role: str) -> str:
        return op_id if role == primary else str(uuid.uuid5(base, role))

    return ids


def learner_key(session: PlayerSession) -> str:
    return agent_key(actor(session)) or ""


def check_ticket(ticket: Ticket, current: PlayerSession) -> PlayerSession:
    """The ticket's session, if it is the current learner's own (same tenant and account)."""
    mine = ticket.session
    if mine.tenant_id != current.tenant_id or mine.learner.home_page != current.learner.home_page or \
            mine.learner.account != current.learner.account:
        raise Refused("not_yours", "the op was queued for another learner")
    return mine


def ledger_check(db: Session, tenant_id: int, op: Op, key: str, device: str) -> SyncedOp | None:
    """The op's ledger row if it is a replay; Refused if it conflicts or comes out of order."""
    row = db.scalar(select(SyncedOp).where(SyncedOp.tenant_id == tenant_id, SyncedOp.op_id == op.id))
    if row is not None:
        if row.learner_key != key or row.digest != op.digest:
            raise Refused("conflict", "this op id was synced before with other content")
        return row
    last = db.scalar(select(func.max(SyncedOp.seq)).where(
        SyncedOp.tenant_id == tenant_id, SyncedOp.learner_key == key, SyncedOp.device == device))
    if last is not None and op.seq <= last:
        raise Refused("out_of_order", f"this device already synced op {last}; op {op.seq} comes too late")
    return None


def _clamped(at: datetime, now: datetime, floor: datetime | None) -> datetime:
    low = max(floor, now - MAX_OFFLINE) if floor is not None else now - MAX_OFFLINE
    return min(max(at, low), now)


def _lesson(catalogue: Catalogue, session: PlayerSession, target: str) -> Resolved:
    resolved = resolve_in_launch(catalogue, session, target)
    if resolved.lesson is None:
        raise Refused("error.not_found", f"{target} is not a lesson")
    return resolved


def _au_of(ticket: Ticket, session: PlayerSession, target: str) -> AuSession | None:
    au = ticket.au
    return au if au is not None and au.target == target and au.registration == registration_for(session) else None


def _progress(db: Session, catalogue: Catalogue, ticket: Ticket, session: PlayerSession, op: Op,
              now: datetime) -> None:
    resolved = _lesson(catalogue, session, op.target)
    au = _au_of(ticket, session, op.target)
    when = _clamped(op.at, now, au.started if au else None)
    record_progress(db, session, resolved, au, when, position=op.position, paragraph=op.paragraph,
                    progress=op.progress, ids=derived_ids(op.id, "progressed"))


def _complete(db: Session, catalogue: Catalogue, ticket: Ticket, session: PlayerSession, op: Op, now: datetime,
              launch_url: Callable[[str], str]) -> None:
    """Completed in the page's AU session; a page fetched ahead for offline use had none, so the
    visit gets a whole AU session of its own (launched, initialized, completed, terminated: cmi5 §9.3)."""
    resolved = _lesson(catalogue, session, op.target)
    ids = derived_ids(op.id, "completed")
    au = _au_of(ticket, session, op.target)
    if au is not None:
        complete_lesson(db, session, resolved, au, _clamped(op.at, now, au.started), ids)
        return
    if lesson_state(db, session, op.target).completed:
        return  # completed before (cmi5 §9.3.3: once per registration): the visit adds nothing
    start, done, end = ticks(_clamped(op.at, now, None) - timedelta(microseconds=3), 3)
    au = start_au(db, session, resolved, start, launch_url(op.target), session_id=ids("session"), ids=ids)
    complete_lesson(db, session, resolved, au, done, ids)
    end_au(db, session, catalogue, au, end, ids)


def _open_attempt(db: Session, catalogue: Catalogue, session: PlayerSession, op: Op,
                  now: datetime) -> tuple[Resolved, QuizAttempt]:
    resolved = resolve_in_launch(catalogue, session, op.target)
    if resolved.quiz is None:
        raise Refused("error.not_found", f"{op.target} is not a quiz")
    attempt = quiz_domain.open_attempt(db, session)
    if attempt is None or attempt.quiz_target != op.target or attempt.session_id != op.attempt:
        raise AttemptClosed("the attempt this op was made in is not open")
    # An overdue face check holds answers and submission back, online or not (identity.gate).
    gate.require_current(db, attempt.tenant_id, attempt.session_id, now, target=attempt.quiz_target)
    return resolved, attempt


def _answer(db: Session, catalogue: Catalogue, session: PlayerSession, op: Op, now: datetime) -> None:
    resolved, attempt = _open_attempt(db, catalogue, session, op, now)
    assert resolved.quiz is not None
    # The server's clock decides lateness (quiz.GRACE included), never the device's.
    quiz_domain.save_answer(db, attempt, resolved.quiz, op.question, list(op.choices), now)


def _submit(db: Session, catalogue: Catalogue, session: PlayerSession, op: Op, now: datetime) -> None:
    resolved, attempt = _open_attempt(db, catalogue, session, op, now)
    assert resolved.quiz is not None
    # Untimed: stamped when the learner submitted, offline or not. Timed: the server's clock only.
    when = None if resolved.quiz.time_limit_seconds else _clamped(op.at, now, as_utc(attempt.started))
    quiz_domain.submit(db, session, resolved, attempt, op.answers, now, ids=derived_ids(op.id, "judged"), when=when)


def apply_op(db: Session, catalogue: Catalogue, current: PlayerSession, ticket_of: Callable[[str], Ticket],
             op: Op, device: str, now: datetime, launch_url: Callable[[str], str]) -> Result:
    """Apply ``op`` in ``db``'s transaction (the caller commits on ``stored``, rolls back otherwise)."""
    try:
        ticket = ticket_of(op.ticket)
        session = check_ticket(ticket, current)
        key = learner_key(session)
        replay = ledger_check(db, session.tenant_id, op, key, device)
        if replay is not None:
            return Result(op.id, DUPLICATE, statements=list(replay.statement_ids))
        before = len(written_ids(db))
        if op.kind == "progress":
            _progress(db, catalogue, ticket, session, op, now)
        elif op.kind == "complete":
            _complete(db, catalogue, ticket, session, op, now, launch_url)
        elif op.kind == "answer":
            _answer(db, catalogue, session, op, now)
        else:
            _submit(db, catalogue, session, op, now)
        written = written_ids(db)[before:]
        db.add(SyncedOp(tenant_id=session.tenant_id, op_id=op.id, learner_key=key, device=device, seq=op.seq,
                        kind=op.kind, target=op.target, digest=op.digest, statement_ids=written, synced=now))
        db.flush()
        return Result(op.id, STORED, statements=written, graded=session if op.kind == "submit" else None)
    except BadTicket:
        return Result(op.id, REFUSED, "bad_ticket")
    except Refused as err:
        return Result(op.id, REFUSED, err.code)
    except (PlayerError, GateError) as err:
        return Result(op.id, REFUSED, err.key)
    except Conflict:
        return Result(op.id, REFUSED, "conflict")


