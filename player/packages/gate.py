"""The identity gate before an assessed AU (cmi5) or SCO (SCORM) of an imported course.

The packages are a gate consumer of their own (``identity.gate.consumers``), registered under the
form field ``package``, whose value is the unit's catalogue target (``package/<slug>/au/<n>`` or
``scorm/<course>/sco/<item>``). As for a quiz: the learner is the player session's, the gate's key
is (tenant, registration, target), and the check statements go to the tenant's LRS through the
player's writer, sealed, with the unit's activity as parent.

Launching an assessed unit (``require_passed``) needs the gate passed: the learner signed in with
VNeID at the required level, linked, enrolled, and a live face check passed within ``GATE_TTL``;
else the gate's error (the page links to the gate). A passed gate is consumed by the launch (the
next launch needs a new check), and its session id becomes the unit's session id:

- cmi5: the AU session takes it (``lrs.cmi5.sessions.open_session``), so the LMS's statements
  (launched, abandoned, satisfied) are stamped and signed by the sealer, and the AU's own statements
  are attested (``player.packages.attest``);
- SCORM: the hub writes the session's statements itself; they carry the session id
  (``player.packages.scorm_statements.assured_session``) and are stamped and signed like the quiz's.

There are no repeated checks during a package's session: the content runs in the publisher's page,
which the hub cannot pause. What the stamp reports is the check made at launch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from flask import current_app, url_for
from sqlalchemy.orm import Session

from identity.gate import domain as gate
from identity.gate import http as gate_http
from identity.gate.consumers import CheckContext, GateFor
from identity.gate.domain import STEP_ERRORS, GateKey, Step
from player import pages
from player.domain import OutsideLaunch, registration_for
from player.identity import external_of
from player.packages.units import package_root
from player.session import PlayerSession
from player.statements import SEALER_KEY, actor, write

FIELD: Final = "package"
MIN_LEVEL: Final = gate.DEFAULT_MIN_LEVEL


def gate_key(launch: PlayerSession, target: str) -> GateKey:
    return GateKey(launch.tenant_id, registration_for(launch), target)


def _covers(launch: PlayerSession, target: str) -> bool:
    return target == launch.target or target.startswith(launch.target.rstrip("/") + "/")


class PackageGate:
    """The gate's consumer for assessed package units (``?package=<target>``)."""

    def gate_for(self, value: str, next_url: str | None) -> GateFor:
        launch = pages.current_launch()
        if not value or not _covers(launch, value):
            raise OutsideLaunch(f"{value} is not part of {launch.target}")
        with pages.db() as db:
            root = package_root(db, value)
        if root is None or root.kind == "course":
            raise OutsideLaunch(f"{value} names no AU or SCO of an imported course")
        title = dict(root.item.title)   # the unit's own title on the gate's pages
        return GateFor(external=external_of(launch), key=gate_key(launch, value), min_level=MIN_LEVEL,
                       title=title, checks=check_context(launch, root.units[0].iri, title),
                       fields={FIELD: value, "next": next_url or url_for("player.open")}, locale=launch.locale)


def check_context(launch: PlayerSession, iri: str, title: dict[str, str]) -> CheckContext:
    """Check statements name the unit's own activity (the IRI its statements use: the LMS's AU IRI,
    cmi5 §8.1.4; the SCO's) as parent, so the auditor lists the attempt at it."""
    sealer = current_app.extensions.get(SEALER_KEY)

    def writer(db: Session, statements: list[dict[str, Any]]) -> list[str]:
        return write(db, launch.tenant_id, statements, sealer=sealer)

    parent = {"objectType": "Activity", "id": iri,
              "definition": {"type": "http://adlnet.gov/expapi/activities/assessment", "name": title}}
    return CheckContext(actor=actor(launch), parent=parent, write=writer)


def gate_url(target: str, next_url: str) -> str:
    # As url_for's **values (Any): mypy cannot know the key is not one of its own (_external: bool).
    fields: dict[str, Any] = {FIELD: target, "next": next_url}
    return url_for("identity_gate.gate", **fields)


def require_passed(db: Session, launch: PlayerSession, target: str, now: datetime, next_url: str) -> Any:
    """The passed gate of ``target`` for this learner, consumed; else the step's ``GateError``
    (its page links to the gate, which leads back to ``next_url``)."""
    key = gate_key(launch, target)
    step = gate.gate_step(db, key, gate_http.learner(db, external_of(launch)), MIN_LEVEL, now)
    row = gate.pending_gate(db, key)
    if step is not Step.PASSED or row is None:
        raise STEP_ERRORS[step](f"identity gate: {step}", gate_url=gate_url(target, next_url))
    gate.consume(db, row, now)
    return row
