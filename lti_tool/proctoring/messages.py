"""1EdTech Proctoring Services 1.0 (https://www.imsglobal.org/spec/proctoring/v1p0, "Proctoring"
below), tool side, no Flask: the messages, checked and built. ``proctoring_session`` keeps the
proctoring session, ``http_proctoring`` is the blueprint, ``proctoring_acs`` the Assessment Control
Service client.

1. ``LtiStartProctoring`` arrives as an OIDC launch (Security Framework 1.0 §5.1):
   ``ProctoringMessageLaunch`` validates it, ``proctoring_session.record_start`` keeps the session;
2. the learner passes the identity gate (``player_assurance``: VNeID sign-in, face check), whose
   checks repeat during the assessment; a failed one goes to the platform through ACS. The
   assessment is the *platform's* (e.g. a Moodle quiz): the gate runs for its resource link
   (``proctoring_gate``). A link may instead name one of our catalogue items in the custom parameter
   ``target``; that item's identity requirement then applies, as in the course player;
3. ``LtiStartAssessment`` (``start_assessment_jwt``), signed with the tool's key, is auto-POSTed to
   start_assessment_url (Proctoring §3.3 "Transferring the Candidate Back to the Assessment Platform");
4. ``LtiEndAssessment`` (Proctoring §4.4) closes the session (``proctoring_session.record_end``).

pylti1p3 knows none of these message types ("Unrecognized message type"), so
``ProctoringMessageLaunch`` replaces only ``validate_message`` and keeps every other check of
``HubMessageLaunch`` (state, signature, iss/aud, deployment, nonce once).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from identity.gate import domain as gate
from lti_tool import claims as lti
from lti_tool.errors import BadLaunch
from lti_tool.message_launch import HubMessageLaunch
from lti_tool.storage import URL_LEN, LtiProctoringSession
from lti_tool.tool_config import HubRegistration
from schemas.course import MAX_TIME_LIMIT_SECONDS, MIN_RECHECK_SECONDS

AP = "https://purl.imsglobal.org/spec/lti-ap/claim/"
START_ASSESSMENT_URL = AP + "start_assessment_url"
SESSION_DATA = AP + "session_data"
ATTEMPT_NUMBER = AP + "attempt_number"
VERIFIED_USER = AP + "verified_user"
END_ASSESSMENT_RETURN = AP + "end_assessment_return"
ACS = AP + "acs"
ERRORMSG = AP + "errormsg"

START_PROCTORING = "LtiStartProctoring"
START_ASSESSMENT = "LtiStartAssessment"
END_ASSESSMENT = "LtiEndAssessment"
# Platform-originating proctoring messages the tool accepts; LtiStartAssessment goes the other way.
INBOUND = (START_PROCTORING, END_ASSESSMENT)
PROCTORING_TYPES = (START_PROCTORING, START_ASSESSMENT, END_ASSESSMENT)

# Our extension member of verified_user (OIDC Core §5.1.2: additional claims use collision-resistant
# names): the hub's pseudonym of the VNeID identity, so the platform can tell the same person again.
PSEUDONYM_CLAIM = "https://hocvu.vn/lti-ap/claim/pseudonymous_subject"
# Course option (a custom parameter of the LMS link, LTI Core 1.3 §5.4.6): what a failed face check
# during the assessment asks of the platform through ACS.
FAILURE_OPTION = "proctoring_on_failed_check"
FAILURE_ACTIONS = ("flag", "terminate")
# More custom parameters of the proctored link (LTI Core 1.3 §5.4.6), for an assessment outside our
# catalogue (no ``target``): the VNeID level the gate requires (1 or 2; default 2) and the random
# interval, in seconds, between repeated face checks during the assessment (both or neither; default:
# no scheduled recheck). With ``target`` the catalogue item's own requirement applies instead.
TARGET_OPTION = "target"
MIN_LEVEL_OPTION = "hocvu_min_level"
RECHECK_MIN_OPTION, RECHECK_MAX_OPTION = "hocvu_recheck_min", "hocvu_recheck_max"
LEVELS = (1, 2)                    # VNeID identification levels (schemas.course.IdentitySchema)
START_ASSESSMENT_LIFETIME = 300   # seconds: the browser posts the JWT at once
MAX_SESSION_DATA = 4096

def peek_message_type(id_token: str) -> str | None:
    """The message_type of an id_token *before* it is verified, only to pick the handler that then
    verifies everything; None when it cannot be read."""
    try:
        payload = id_token.split(".")[1]
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    value = body.get(lti.MESSAGE_TYPE) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _missing(what: str, message_type: str) -> BadLaunch:
    return BadLaunch(f"the {message_type} message type requires the {what} claim (1EdTech Proctoring Services 1.0)")


def _http_url(value: Any, what: str, message_type: str = START_PROCTORING) -> str:
    # An absolute http(s) URL: the browser is sent there (start_assessment_url) or the tool calls it (ACS).
    if not isinstance(value, str) or not value:
        raise _missing(what, message_type)
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or len(value) > URL_LEN:
        raise BadLaunch(f"the {what} claim is not an absolute http(s) URL")
    return value


def _attempt_number(claims: Mapping[str, Any]) -> int:
    # Proctoring, Start Proctoring message: attempt_number is REQUIRED, the platform's count of the
    # learner's attempts at this assessment (a number; 1 for the first).
    value = claims.get(ATTEMPT_NUMBER)
    if value is None:
        raise _missing("attempt_number", str(claims.get(lti.MESSAGE_TYPE)))
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadLaunch("the attempt_number claim must be a whole number from 1")
    return value


def _session_data(claims: Mapping[str, Any]) -> str | None:
    # Proctoring: session_data is an opaque string (e.g. an anti-CSRF token) the tool returns
    # unchanged in LtiStartAssessment.
    value = claims.get(SESSION_DATA)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_SESSION_DATA:
        raise BadLaunch(f"the session_data claim must be a string of at most {MAX_SESSION_DATA} characters")
    return value


def _resource_link_id(claims: Mapping[str, Any]) -> str:
    # LTI Core 1.3 §5.3.5 and Proctoring: every proctoring message names the resource link (the assessment).
    link = claims.get(lti.RESOURCE_LINK)
    link_id = link.get("id") if isinstance(link, Mapping) else None
    if not isinstance(link_id, str) or not link_id or len(link_id) > 255:
        raise BadLaunch("the resource_link claim has no id")
    return link_id


def _common(claims: Mapping[str, Any]) -> None:
    # LTI Core 1.3 §5.3: version, sub (a proctored learner is always identified), roles.
    if claims.get(lti.VERSION) != "1.3.0":
        raise BadLaunch("the LTI version claim must be 1.3.0")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise BadLaunch("a proctoring message must name the learner (sub)")
    if not isinstance(claims.get(lti.ROLES), list):
        raise BadLaunch("the roles claim is missing")


@dataclass(frozen=True)
class StartProctoring:
    """A validated LtiStartProctoring message (Proctoring, Start Proctoring message)."""

    sub: str
    deployment_id: str
    resource_link_id: str
    context_id: str
    attempt_number: int
    start_assessment_url: str
    session_data: str | None
    acs_url: str | None
    acs_actions: tuple[str, ...]
    failure_action: str
    target: str | None          # a catalogue item whose identity requirement the gate applies, if named
    min_level: int              # the gate's VNeID level for the platform's assessment (no target)
    recheck: tuple[int, int] | None   # seconds between repeated checks (no target); None: none scheduled


def _min_level(custom: Mapping[str, str]) -> int:
    raw = custom.get(MIN_LEVEL_OPTION, "").strip()
    if not raw:
        return gate.DEFAULT_MIN_LEVEL
    if raw not in {str(level) for level in LEVELS}:
        raise BadLaunch(f"the {MIN_LEVEL_OPTION} custom parameter must be 1 or 2 (VNeID identification level)")
    return int(raw)


def _recheck(custom: Mapping[str, str]) -> tuple[int, int] | None:
    # The same bounds as a catalogue quiz's identity.recheck (schemas.course.RecheckSchema).
    raw = {name: custom.get(name, "").strip() for name in (RECHECK_MIN_OPTION, RECHECK_MAX_OPTION)}
    if not any(raw.values()):
        return None
    bounds = f"whole numbers of seconds from {MIN_RECHECK_SECONDS} to {MAX_TIME_LIMIT_SECONDS}"
    if not all(value.isascii() and value.isdigit() for value in raw.values()):
        raise BadLaunch(f"the {RECHECK_MIN_OPTION} and {RECHECK_MAX_OPTION} custom parameters go together, "
                        f"as {bounds}")
    low, high = int(raw[RECHECK_MIN_OPTION]), int(raw[RECHECK_MAX_OPTION])
    if not MIN_RECHECK_SECONDS <= low <= high <= MAX_TIME_LIMIT_SECONDS:
        raise BadLaunch(f"{RECHECK_MIN_OPTION} and {RECHECK_MAX_OPTION} must be {bounds}, "
                        f"{RECHECK_MAX_OPTION} not less than {RECHECK_MIN_OPTION}")
    return low, high


def parse_start_proctoring(claims: Mapping[str, Any]) -> StartProctoring:
    if claims.get(lti.MESSAGE_TYPE) != START_PROCTORING:
        raise BadLaunch(f"expected an {START_PROCTORING} message")
    _common(claims)
    acs = claims.get(ACS) or {}
    if not isinstance(acs, Mapping):
        raise BadLaunch("the acs claim must be a JSON object")
    # Proctoring, ACS claim: the platform's assessment_control_url and the actions it supports.
    acs_url = _http_url(acs["assessment_control_url"], "acs.assessment_control_url") \
        if acs.get("assessment_control_url") else None
    actions = acs.get("actions") or []
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise BadLaunch("acs.actions must be a list of action names")
    custom = lti.custom_params(claims)
    failure_action = custom.get(FAILURE_OPTION, "flag").strip().lower() or "flag"
    if failure_action not in FAILURE_ACTIONS:
        raise BadLaunch(f"the {FAILURE_OPTION} custom parameter must be 'flag' or 'terminate'")
    # Optional: without it the gate runs for the platform's own assessment (its resource link).
    target = custom.get(TARGET_OPTION, "").strip() or None
    if target is not None and len(target) > 512:
        raise BadLaunch("the target custom parameter is too long to name a catalogue item")
    context = claims.get(lti.CONTEXT) or {}
    return StartProctoring(
        sub=str(claims["sub"]), deployment_id=str(claims[lti.DEPLOYMENT_ID]),
        resource_link_id=_resource_link_id(claims),
        context_id=str(context.get("id") or "")[:255] if isinstance(context, Mapping) else "",
        attempt_number=_attempt_number(claims),
        start_assessment_url=_http_url(claims.get(START_ASSESSMENT_URL), "start_assessment_url"),
        session_data=_session_data(claims), acs_url=acs_url, acs_actions=tuple(actions),
        failure_action=failure_action, target=target, min_level=_min_level(custom), recheck=_recheck(custom))


@dataclass(frozen=True)
class EndAssessment:
    """A validated LtiEndAssessment message (Proctoring §4.4 "End Assessment Message")."""

    sub: str
    deployment_id: str
    resource_link_id: str
    attempt_number: int
    error_message: str | None   # errormsg: the platform closed the assessment on an error
    return_url: str | None      # LTI Core 1.3 §5.4.4 launch_presentation.return_url


def parse_end_assessment(claims: Mapping[str, Any]) -> EndAssessment:
    if claims.get(lti.MESSAGE_TYPE) != END_ASSESSMENT:
        raise BadLaunch(f"expected an {END_ASSESSMENT} message")
    _common(claims)
    error = claims.get(ERRORMSG)
    presentation = claims.get(lti.LAUNCH_PRESENTATION) or {}
    return_url = presentation.get("return_url") if isinstance(presentation, Mapping) else None
    if return_url is not None:
        try:
            return_url = _http_url(return_url, "launch_presentation.return_url")
        except BadLaunch:
            return_url = None   # a bad return link only loses the link, not the message
    return EndAssessment(sub=str(claims["sub"]), deployment_id=str(claims[lti.DEPLOYMENT_ID]),
                         resource_link_id=_resource_link_id(claims), attempt_number=_attempt_number(claims),
                         error_message=str(error)[:500] if isinstance(error, str) and error else None,
                         return_url=return_url)


class ProctoringMessageLaunch(HubMessageLaunch):
    """``HubMessageLaunch`` for the platform-originating proctoring messages: only the message
    check differs, and it runs before the nonce is taken and anything is cached or stored.
    ``target_exists`` (set by the caller) says whether a ``target`` names a catalogue item."""

    target_exists: Callable[[str], bool] | None = None

    def validate_message(self) -> ProctoringMessageLaunch:
        body = self._get_jwt_body()
        message_type = body.get(lti.MESSAGE_TYPE)
        if message_type == START_ASSESSMENT:
            # Proctoring §3.3: LtiStartAssessment is the tool's answer, sent to the platform.
            raise BadLaunch("LtiStartAssessment is sent by the proctoring tool, not to it")
        if message_type == START_PROCTORING:
            start = parse_start_proctoring(body)
            if start.target is not None and self.target_exists is not None and not self.target_exists(start.target):
                # A target is optional, but one that names nothing must not fall back to another check.
                raise BadLaunch(f"the target custom parameter {start.target!r} names nothing in the catalogue; "
                                "correct it, or remove it to proctor the platform's own assessment")
        elif message_type == END_ASSESSMENT:
            parse_end_assessment(body)
        else:
            raise BadLaunch(f"expected a proctoring message ({', '.join(INBOUND)}), not {message_type!r}")
        return self


# --- LtiStartAssessment --------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedPerson:
    """Who the identity gate verified: a VNeID account's name (Unicode NFC) and the hub's
    pseudonymous subject for it. Never a citizen ID."""

    full_name: str
    subject: str
    summary: Mapping[str, Any]   # the gate's stamp summary (method, level, times, face distance ...)


def verified_user(person: VerifiedPerson) -> dict[str, Any]:
    """The verified_user claim (Proctoring §4.3.2.1): OIDC standard claims (OIDC Core §5.1) the tool
    verified. Vietnamese names are family name, middle name(s), given name, in that order. iss and
    sub SHOULD NOT be included (they are opaque to the tool), nor a picture the tool did not take:
    we keep none. The pseudonymous subject goes under our own claim name instead."""
    words = person.full_name.split()
    claim: dict[str, Any] = {"name": " ".join(words)}
    if len(words) >= 2:
        claim.update(family_name=words[0], given_name=words[-1])
        if len(words) > 2:
            claim["middle_name"] = " ".join(words[1:-1])
    elif words:
        claim["given_name"] = words[0]
    claim[PSEUDONYM_CLAIM] = person.subject
    return claim


def start_assessment_claims(row: LtiProctoringSession, registration: HubRegistration, person: VerifiedPerson,
                            *, now: int | None = None) -> dict[str, Any]:
    """The LtiStartAssessment message (Proctoring "Start Assessment message", §3.3)."""
    iat = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        # Security Framework 1.0 §5.2 (tool-originating messages): iss is our client_id, aud the platform.
        "iss": registration.get_client_id(), "aud": row.issuer, "iat": iat, "exp": iat + START_ASSESSMENT_LIFETIME,
        "nonce": secrets.token_urlsafe(24),
        lti.DEPLOYMENT_ID: row.deployment_id, lti.MESSAGE_TYPE: START_ASSESSMENT, lti.VERSION: "1.3.0",
        # The same resource link and attempt as the Start Proctoring message.
        lti.RESOURCE_LINK: {"id": row.resource_link_id}, ATTEMPT_NUMBER: row.attempt_number,
        VERIFIED_USER: verified_user(person),
        # Ask for LtiEndAssessment at the end (Proctoring §4.4), which closes our session.
        END_ASSESSMENT_RETURN: bool(row.end_assessment_return),
    }
    if row.session_data is not None:
        claims[SESSION_DATA] = row.session_data   # returned unchanged
    return claims


def start_assessment_jwt(row: LtiProctoringSession, registration: HubRegistration, person: VerifiedPerson,
                         *, now: int | None = None) -> str:
    """Signed with the tool's current key (RS256, its kid in the header so the platform finds it
    in our JWKS, Security Framework 1.0 §6.3)."""
    token: str = jwt.encode(start_assessment_claims(row, registration, person, now=now),
                            registration.get_tool_private_key(), algorithm="RS256",
                            headers={"kid": registration.get_kid(), "typ": "JWT"})
    return token
