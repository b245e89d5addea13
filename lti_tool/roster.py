"""The instructor's roster: who is in the LMS course (NRPS 2.0) and how far each of them got in
this resource link, read from the tenant's xAPI store. No Flask: the page (``lti_tool.roster_page``)
passes the session, the launch and the catalogue.

Progress comes from the statements the player wrote (``player.statements``), found by the one
registration the player uses per learner and resource link (``player.domain.registration_for``).
The store is the record here, not the player's own tables: it is what the tenant's reporting tools
see too, so the instructor and an analyst never disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lrs.identifiers import agent_key
from lrs.storage import Statement, as_utc
from lti_tool import nrps
from lti_tool.claims import is_staff
from lti_tool.errors import LtiError, ServiceNotOffered
from lti_tool.launch_context import LaunchContext
from lti_tool.services import LtiTool
from player.catalogue import Catalogue, activity_id
from player.domain import PlayerError, registration_for, resolve_in_launch, sequence
from player.packages.units import is_package_target, package_root
from player.session import PlayerSession
from player.statements import VERBS, actor

log = logging.getLogger(__name__)

COMPLETED = VERBS["completed"][0]
PASSED = VERBS["passed"][0]
FAILED = VERBS["failed"][0]
# Registrations per query: one IN list per chunk keeps well under SQLite's bound-parameter limit
# for very large classes, and is still a fixed number of queries per chunk, never one per member.
CHUNK = 500


# --- errors: each is a page in the player's style (status + message key of ``roster_page.TEXT``) -

class NotInstructor(PlayerError):
    """Only course staff see other people's progress: a learner's launch may not (the roster holds
    every classmate's name and results)."""

    status, key, title_key = 403, "roster.forbidden", "roster.forbidden_title"


class RosterNotOffered(PlayerError):
    """The launch has no NRPS claim (NRPS 2.0 §3.6.1): the LMS did not share its class list for this
    link. Not a failure of the request (the page works, the LMS chose not to): shown with 200."""

    status, key, title_key = 200, "roster.no_nrps", "roster.title"


class RosterUnavailable(PlayerError):
    """The platform's membership service did not answer (down, refused the token, ...)."""

    status, key, title_key = 502, "roster.unavailable", "roster.unavailable_title"


# --- what the page shows --------------------------------------------------------------------------

@dataclass(frozen=True)
class QuizProgress:
    target: str
    title: Mapping[str, str]
    attempts: int = 0                 # finished attempts: each writes exactly one passed/failed
    best_scaled: float | None = None  # result.score.scaled, 0..1 (xAPI 1.0.3 Part Two §2.4.5.1.1)
    passed: bool = False              # passed in any attempt (cmi5 §9.3.4: a pass is not undone)

    @property
    def started(self) -> bool:
        return self.attempts > 0


@dataclass(frozen=True)
class MemberProgress:
    member: nrps.Member
    registration: str
    staff: bool                       # an instructor, TA, ... of the context: listed apart
    last_activity: datetime | None    # the newest statement's timestamp, UTC
    lessons_completed: int
    lessons_total: int
    quizzes: tuple[QuizProgress, ...] = field(default=())

    @property
    def started(self) -> bool:
        return self.last_activity is not None

    @property
    def display_name(self) -> str:
        # NRPS 2.0 §2.2: name, given_name and family_name are all optional (privacy settings).
        m = self.member
        return m.name or " ".join(p for p in (m.family_name, m.given_name) if p) or m.email or m.user_id

    @property
    def attempts(self) -> int:
        return sum(q.attempts for q in self.quizzes)


def member_launch(launch: LaunchContext, member: nrps.Member) -> PlayerSession:
    """The player session ``member`` would have on this link: NRPS 2.0 §2.2 user_id is the same
    value as the launch's ``sub`` (LTI Core 1.3 §5.3.6), the issuer and resource link are the
    instructor's."""
    return replace(launch, sub=member.user_id, name=member.name, roles=member.roles).player_session()


def roster_progress(session: Session, launch: LaunchContext, catalogue: Catalogue, *,
                    tool: LtiTool | None = None) -> list[MemberProgress]:
    """Every member of the launch's context with their progress in the launched target, learners
    first, then staff, each group in the LMS's order. Two queries per ``CHUNK`` members."""
    if not launch.is_instructor:
        raise NotInstructor("only course staff can see the roster")
    # A link to an imported course (cmi5 AUs, SCORM SCOs): its units stand for lessons and quizzes.
    package = package_root(session, launch.target) if is_package_target(launch.target) else None
    root = resolve_in_launch(catalogue, launch.player_session(), launch.target) if package is None else None
    try:
        members = nrps.roster(launch, tool=tool)
    except ServiceNotOffered as err:
        raise RosterNotOffered(err.message) from err
    except LtiError as err:  # PlatformUnavailable, or the platform registration was removed
        log.warning("roster for tenant %s, link %s: %s", launch.tenant_id, launch.resource_link_id, err.message)
        raise RosterUnavailable(err.message) from err

    if package is not None:
        lessons = [u.iri for u in package.units]
        quizzes = [(u.target, u.title, u.iri) for u in package.units if u.judged]
    else:
        assert root is not None
        items = sequence(root)
        lessons = [activity_id(r.lesson.target) for r in items if r.lesson is not None]
        quizzes = [(r.quiz.target, r.quiz.title, activity_id(r.quiz.target)) for r in items if r.quiz is not None]
    wanted = {m.user_id: _identity(launch, m) for m in members}
    facts = _read(session, launch.tenant_id, wanted.values(), [*lessons, *(iri for _, _, iri in quizzes)])

    out = []
    for m in members:
        registration, _ = wanted[m.user_id]
        got = facts.get(registration, _Facts())
        out.append(MemberProgress(
            member=m, registration=registration, staff=is_staff(m.roles), last_activity=got.last,
            lessons_completed=len(got.completed & set(lessons)), lessons_total=len(lessons),
            quizzes=tuple(got.quiz(*q) for q in quizzes)))
    # Stable sort: learners keep the LMS's order and come first; staff are listed after them.
    return sorted(out, key=lambda p: p.staff)


# --- reading the store ----------------------------------------------------------------------------

@dataclass
class _Facts:
    last: datetime | None = None
    completed: set[str] = field(default_factory=set)                  # activity ids
    judged: dict[str, list[tuple[bool, float | None]]] = field(default_factory=dict)  # per activity id

    def quiz(self, target: str, title: Mapping[str, str], iri: str) -> QuizProgress:
        results = self.judged.get(iri, [])
        scores = [s for _, s in results if s is not None]
        return QuizProgress(target, title, attempts=len(results),
                            best_scaled=max(scores) if scores else None, passed=any(p for p, _ in results))


def _identity(launch: LaunchContext, member: nrps.Member) -> tuple[str, str]:
    """(registration, actor key) of ``member`` on this link, exactly as the player writes them."""
    as_member = member_launch(launch, member)
    return registration_for(as_member), agent_key(actor(as_member)) or ""


def _chunks(values: Sequence[tuple[str, str]], size: int) -> Iterable[Sequence[tuple[str, str]]]:
    return (values[i:i + size] for i in range(0, len(values), size))


def _read(session: Session, tenant_id: int, identities: Iterable[tuple[str, str]],
          activity_ids: list[str]) -> dict[str, _Facts]:
    """Per registration: the newest statement and the completed / passed / failed statements of the
    link's lessons and quizzes. Only statements whose actor is the member count: the registration is
    a derived UUID, so any xAPI client of the tenant could write one, but not as this learner's
    account without also claiming their (issuer, sub)."""
    facts: dict[str, _Facts] = {}
    for chunk in _chunks(list(identities), CHUNK):
        actor_of = dict(chunk)
        live = (Statement.tenant_id == tenant_id, Statement.registration.in_(list(actor_of)),
                # Voided statements are no longer part of the record (xAPI 1.0.3 Part Two §2.3.2),
                # and a voiding statement is an administrator's act, not the learner's.
                Statement.voided.is_(False), Statement.is_voiding.is_(False))
        last = session.execute(
            select(Statement.registration, Statement.actor_key, func.max(Statement.timestamp))
            .where(*live).group_by(Statement.registration, Statement.actor_key))
        for registration, key, when in last:
            if registration is None or actor_of.get(registration) != key or when is None:
                continue
            f = facts.setdefault(registration, _Facts())
            when = as_utc(when)
            f.last = when if f.last is None else max(f.last, when)
        if not activity_ids:
            continue
        outcomes = session.execute(
            select(Statement.registration, Statement.actor_key, Statement.verb_id, Statement.object_activity_id,
                   Statement.full)
            .where(*live, Statement.verb_id.in_((COMPLETED, PASSED, FAILED)),
                   Statement.object_activity_id.in_(activity_ids)))
        for registration, key, verb, activity, full in outcomes:
            if registration is None or actor_of.get(registration) != key or activity is None:
                continue
            f = facts.setdefault(registration, _Facts())
            if verb == COMPLETED:
                f.completed.add(activity)
            else:
                f.judged.setdefault(activity, []).append((verb == PASSED, _scaled(full)))
    return facts


def _scaled(statement: Mapping[str, Any] | None) -> float | None:
    """result.score.scaled, if the statement has a usable one (the player's always do; a statement
    from another client of the tenant may not)."""
    score = ((statement or {}).get("result") or {}).get("score") or {}
    value = score.get("scaled") if isinstance(score, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(-1.0, min(1.0, float(value)))
