"""The identity gate of a proctored attempt (1EdTech Proctoring Services 1.0, tool side), without
Flask: what the gate at /player/identity runs for, and whether it passed (``messages`` holds the
messages, ``session`` the session, ``http`` the pages and the gate's consumer).

In LTI Proctoring the assessment belongs to the *platform* (a Moodle quiz, say); the hub only
proctors it. So by default the gate runs for the platform's assessment, known by its resource link:

- its key (``identity.gate.domain.GateKey``) is the tenant, a registration derived from the
  proctoring session (``session_registration``) and the assessment's activity IRI
  (``resource_link_activity_id``: https://hocvu.vn/xapi/lti/resource-link/<sha256 of issuer,
  deployment, resource link id>);
- its check statements have that activity (type http://adlnet.gov/expapi/activities/assessment,
  named by the resource link's title) as parent, and that registration;
- its requirement comes from the link's custom parameters (``GateSettings``: ``hocvu_min_level``,
  default 2; ``hocvu_recheck_min``/``hocvu_recheck_max`` in seconds, default: no scheduled recheck).

A link whose custom parameter ``target`` names one of our catalogue items gets that item's gate
instead, exactly as the course player's (its key, level and recheck interval).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from identity import storage as identity_storage
from identity.gate import domain as gate
from identity.storage import AttemptAssurance
from lti_tool import claims as lti
from lti_tool.launch_context import LaunchContext
from lti_tool.proctoring.messages import VerifiedPerson, parse_start_proctoring
from lti_tool.storage import LtiProctoringSession
from player.domain import REGISTRATION_NAMESPACE, registration_for

RESOURCE_LINK_ACTIVITY_BASE = "https://hocvu.vn/xapi/lti/resource-link/"
ASSESSMENT_TYPE = "http://adlnet.gov/expapi/activities/assessment"   # ADL activity type vocabulary
ASSESSMENT_NAME = {"vi": "Bài thi", "en": "Assessment"}              # a resource link without a title
MAX_TITLE = 100   # characters of the link title kept (in the session cookie, which must stay small)


def resource_link_activity_id(issuer: str, deployment_id: str, resource_link_id: str) -> str:
    """The platform's assessment as an xAPI activity IRI: a hash of the platform (issuer), its
    deployment and the resource link id (LTI Core 1.3 §5.3.5: unique within the deployment), so
    one assessment has one IRI whatever the attempt and its ids never need escaping."""
    digest = hashlib.sha256("\x1f".join((issuer, deployment_id, resource_link_id)).encode()).hexdigest()
    return RESOURCE_LINK_ACTIVITY_BASE + digest


def session_registration(row: LtiProctoringSession) -> str:
    """The xAPI registration of one proctored attempt: derived from the proctoring session (cmi5
    §9.6.1 lets the system that launches generate it), so each attempt's checks are one registration."""
    return str(uuid.uuid5(REGISTRATION_NAMESPACE, "lti-proctoring\x1f" + row.public_id))


@dataclass(frozen=True)
class GateSettings:
    """What an LtiStartProctoring message asks of the gate beyond what its session row keeps; the
    HTTP layer keeps it in the browser's signed session, keyed by the proctoring session id."""

    locale: str                         # "vi" | "en" (launch_presentation.locale)
    title: str                          # the resource link's title, "" when the platform sent none
    min_level: int
    recheck: tuple[int, int] | None

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> GateSettings:
        start = parse_start_proctoring(claims)
        link = claims.get(lti.RESOURCE_LINK)
        title = link.get("title") if isinstance(link, Mapping) else None
        return cls(locale=lti.locale_of(claims), title=" ".join(title.split())[:MAX_TITLE] if isinstance(title, str)
                   else "", min_level=start.min_level, recheck=start.recheck)

    def to_session(self) -> dict[str, Any]:
        return {"locale": self.locale, "title": self.title, "min_level": self.min_level,
                "recheck": list(self.recheck) if self.recheck else None}

    @classmethod
    def from_session(cls, data: Any) -> GateSettings | None:
        try:
            recheck = data["recheck"]
            return cls(locale=str(data["locale"]), title=str(data["title"]), min_level=int(data["min_level"]),
                       recheck=(int(recheck[0]), int(recheck[1])) if recheck else None)
        except (TypeError, KeyError, IndexError, ValueError):
            return None   # absent or unreadable: the caller treats the session as not launched here


def assessment_activity(row: LtiProctoringSession, settings: GateSettings) -> dict[str, Any]:
    """The platform's assessment as the parent activity of the gate's check statements."""
    name = {settings.locale: settings.title} if settings.title else dict(ASSESSMENT_NAME)
    return {"objectType": "Activity",
            "id": resource_link_activity_id(row.issuer, row.deployment_id, row.resource_link_id),
            "definition": {"type": ASSESSMENT_TYPE, "name": name}}


def gate_launch(row: LtiProctoringSession, claims: Mapping[str, Any] | None = None) -> LaunchContext:
    """The learner as the gate sees them (built from the session row, not from the player's launch)."""
    claims = claims or {}
    return LaunchContext(
        tenant_id=row.tenant_id, registration_id=row.registration_id, issuer=row.issuer,
        deployment_id=row.deployment_id, sub=row.sub, name=lti.display_name(claims),
        roles=tuple(str(r) for r in claims.get(lti.ROLES) or ()), resource_link_id=row.resource_link_id,
        target=row.gate_target, locale=lti.locale_of(claims), context_id=row.context_id,
        custom=lti.custom_params(claims))


def gate_key(row: LtiProctoringSession) -> gate.GateKey:
    if row.gate_target:   # a catalogue item: the key the player's gate uses for it
        return gate.GateKey(row.tenant_id, registration_for(gate_launch(row).player_session()), row.gate_target)
    return gate.GateKey(row.tenant_id, session_registration(row),
                        resource_link_activity_id(row.issuer, row.deployment_id, row.resource_link_id))


@dataclass(frozen=True)
class ProctoredGate:
    """The gate of one proctoring session, as its pages need it."""

    launch: LaunchContext
    key: gate.GateKey
    target: str | None                          # the catalogue item, when the link names one
    min_level: int                              # for the platform's assessment (a target has its own)
    title: Mapping[str, str]
    assessment: dict[str, Any] | None           # the platform's assessment activity (no target)


def proctored_gate(row: LtiProctoringSession, settings: GateSettings) -> ProctoredGate:
    launch = replace(gate_launch(row), locale=settings.locale)
    if row.gate_target:
        return ProctoredGate(launch, gate_key(row), row.gate_target, gate.DEFAULT_MIN_LEVEL, {}, None)
    activity = assessment_activity(row, settings)
    title = {"vi": settings.title, "en": settings.title} if settings.title else dict(ASSESSMENT_NAME)
    return ProctoredGate(launch, gate_key(row), None, settings.min_level, title, activity)


def gate_passed(session: Session, row: LtiProctoringSession, now: datetime | None = None
                ) -> tuple[VerifiedPerson, AttemptAssurance] | None:
    """The person the gate verified for this attempt and the gate's row, or None while it has not
    passed (read on the server: ``identity.gate.domain.gate_result``)."""
    result = gate.gate_result(session, gate_key(row), now or datetime.now(UTC))
    if not result.passed or result.row is None or result.stamp is None:
        return None
    account = identity_storage.get_account(session, result.row.account_id)
    return VerifiedPerson(full_name=account.full_name or "", subject=result.row.subject,
                          summary=result.stamp), result.row
