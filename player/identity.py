"""The player's side of the identity gate (``identity.gate``): the player is one of its consumers.

- ``PlayerGate``: registered under the form field ``target`` (a catalogue item of the player's
  session; empty: the session's own target). The learner the gate links to VNeID is the session's
  (``ExternalId``: its account's home page and name, in its tenant); the gate's key is the
  learner's registration and the item; check statements go to the tenant's LRS through the player's
  writer, with the item as parent.
- ``start_quiz``: a quiz that requires identity assurance opens only through a passed gate, and its
  attempt takes the gate's cmi5 session id, so all its statements are stamped and signed.
- ``quiz_panel``: the gate's part of the quiz page; ``recheck``: a repeated check during the attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from identity import web
from identity.gate import challenges, face
from identity.gate import domain as gate
from identity.gate import http as gate_http
from identity.gate.consumers import CheckContext, GateFor
from identity.gate.domain import STEP_ERRORS, ExternalId, GateKey, Step
from identity.gate.errors import GateError
from player import pages
from player import quiz as quiz_domain
from player.catalogue import Resolved
from player.domain import AttemptClosed, registration_for, resolve_in_launch
from player.session import PlayerSession
from player.statements import SEALER_KEY, activity, actor, write
from player.storage import QuizAttempt


class PlayerGate:
    """The gate's consumer for the player's own items (``?target=``)."""

    def gate_for(self, value: str, next_url: str | None) -> GateFor:
        launch = pages.current_launch()
        resolved = resolve_in_launch(pages.catalogue(), launch, value or launch.target)
        return gate_for(launch, resolved, next_url)


def external_of(launch: PlayerSession) -> ExternalId:
    return ExternalId(launch.tenant_id, launch.learner.home_page, launch.learner.account)


def gate_key(launch: PlayerSession, target: str) -> GateKey:
    return GateKey(launch.tenant_id, registration_for(launch), target)


def min_level(resolved: Resolved) -> int:
    quiz = resolved.quiz
    return quiz.identity.min_level if quiz is not None and quiz.identity is not None else gate.DEFAULT_MIN_LEVEL


def check_context(launch: PlayerSession, resolved: Resolved) -> CheckContext:
    """Check statements of ``resolved``'s gate: the item as parent, its course and module as grouping,
    written to the tenant's LRS by the player, sealed like the attempt's own statements."""
    containers = ((resolved.course, "course"), (resolved.module, "module"))
    grouping = tuple(activity(c.target, k, c.title) for c, k in containers if c is not None and
                     c.target != resolved.target)
    sealer = current_app.extensions.get(SEALER_KEY)

    def writer(db: Session, statements: list[dict[str, Any]]) -> list[str]:
        return write(db, launch.tenant_id, statements, sealer=sealer)

    return CheckContext(actor=actor(launch), parent=activity(resolved.target, resolved.kind, resolved.item.title),
                        write=writer, grouping=grouping)


def gate_for(launch: PlayerSession, resolved: Resolved, next_url: str | None = None) -> GateFor:
    return GateFor(external=external_of(launch), key=gate_key(launch, resolved.target), min_level=min_level(resolved),
                   title=resolved.item.title, checks=check_context(launch, resolved),
                   fields={"target": resolved.target, "next": next_url or pages.view_url(resolved.target)},
                   locale=launch.locale)


def gate_url(target: str, next_url: str | None = None) -> str:
    return url_for("identity_gate.gate", target=target, next=next_url or pages.view_url(target))


def start_quiz(db: Session, launch: PlayerSession, resolved: Resolved, now: datetime, launch_url: str) -> QuizAttempt:
    """``player.start``: through the gate when the quiz requires identity assurance."""
    quiz = resolved.quiz
    current = quiz_domain.open_attempt(db, launch)
    if quiz is None or quiz.identity is None or (current is not None and current.quiz_target == quiz.target):
        return quiz_domain.start_attempt(db, launch, resolved, now, launch_url)
    key = gate_key(launch, quiz.target)
    step = gate.gate_step(db, key, gate_http.learner(db, external_of(launch)), quiz.identity.min_level, now)
    row = gate.pending_gate(db, key)
    if step is not Step.PASSED or row is None:
        raise STEP_ERRORS[step](f"identity gate: {step}", gate_url=gate_url(quiz.target))
    attempt = quiz_domain.start_attempt(db, launch, resolved, now, launch_url, session_id=row.session_id)
    gate.consume(db, row, now, attempt_id=attempt.id, recheck=quiz.identity.recheck)
    return attempt


def require_current(db: Session, attempt: QuizAttempt, now: datetime) -> None:
    """Answers and submission wait for an overdue recheck."""
    gate.require_current(db, attempt.tenant_id, attempt.session_id, now, target=attempt.quiz_target)


def quiz_panel(db: Session, launch: PlayerSession, resolved: Resolved, attempt: QuizAttempt | None,
               now: datetime) -> dict[str, Any] | None:
    """What the quiz page shows of the gate (None: the quiz requires no identity assurance); its
    ``html`` is the gate's own rendering of it."""
    quiz = resolved.quiz
    if quiz is None or quiz.identity is None:
        return None
    outcome = request.args.get("identity_outcome")
    panel: dict[str, Any] = {"requirement": quiz.identity, "gate_url": gate_url(quiz.target), "passed": False,
                             "row": None, "recheck_in": None, "attempt": attempt is not None,
                             "outcome": outcome if outcome in gate_http.OUTCOMES else None, "locale": launch.locale,
                             "ttl_minutes": int(gate.GATE_TTL.total_seconds() // 60),
                             "manage_url": url_for("identity_gate.gate", target=quiz.target, manage=1,
                                                   next=pages.view_url(quiz.target))}
    if attempt is not None:
        row = gate.assurance_for(db, attempt.tenant_id, attempt.session_id)
        panel.update(row=row, recheck_in=gate.seconds_to_recheck(row, now),
                     recheck_url=url_for("player.recheck", target=quiz.target),
                     challenge_url=url_for("player.recheck_challenge", target=quiz.target))
    else:
        try:
            who = gate_http.learner(db, external_of(launch))
            step = gate.gate_step(db, gate_key(launch, quiz.target), who, quiz.identity.min_level, now)
            panel.update(passed=step is Step.PASSED, learner=who)
        except GateError as err:
            panel["error"] = err.key
    panel["html"] = gate_http.render_panel(panel)
    return panel


def _attempt_row(db: Session, launch: Any, target: str) -> Any:
    """The gate row of the open attempt at ``target`` (``AttemptClosed`` when there is none)."""
    attempt = quiz_domain.open_attempt(db, launch)
    row = gate.assurance_for(db, attempt.tenant_id, attempt.session_id) \
        if attempt is not None and attempt.quiz_target == target else None
    if row is None:
        raise AttemptClosed("no open attempt with identity assurance at this quiz")
    return row


def recheck_challenge(target: str) -> Response:
    """``POST /player/identity/challenge/<target>``: a liveness challenge for the next repeated check of
    the open attempt at ``target`` (bound to that attempt's gate row and its learner)."""
    launch, now = pages.current_launch(), pages.now()
    pages.check_csrf(request.form.get("csrf"))
    resolve_in_launch(pages.catalogue(), launch, target)
    with pages.db() as db:
        row = _attempt_row(db, launch, target)
        return gate_http.challenge_response(db, row.account_id, challenges.check_scope(row.session_id), now,
                                            launch.locale)


def recheck(target: str) -> BaseResponse:
    """``POST /player/identity/recheck/<target>``: a repeated check during the open attempt at ``target``,
    a burst answering a challenge from ``recheck_challenge`` (or a photo where the fallback is allowed)."""
    gate_http.use_memory_for_uploads()
    launch, now = pages.current_launch(), pages.now()
    pages.check_csrf(request.form.get("csrf"))
    resolved = resolve_in_launch(pages.catalogue(), launch, target)
    with pages.db() as db:
        row = _attempt_row(db, launch, target)
        account_id, scope = row.account_id, challenges.check_scope(row.session_id)
    capture = gate_http.read_capture(account_id, scope, now)
    with pages.db() as db:
        row = _attempt_row(db, launch, target)
        result = face.run_check(db, gate_http.gate_config(), check_context(launch, resolved), row, capture, now)
        recheck_in = gate.seconds_to_recheck(row, now)
        unverified = row.failed_at is not None
    del capture
    where = pages.view_url(target, identity_outcome=result.outcome)
    if web.wants_json():
        return jsonify(redirect=where, outcome=result.outcome, matched=result.result.matched,
                       message=gate_http.outcome_text(result.outcome), recheck_in=recheck_in,
                       unverified=unverified)
    return web.see_other(where)
