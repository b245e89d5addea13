"""The test platform (tests/lti/lti_platform.py) as an *assessment platform* of 1EdTech Proctoring
Services 1.0 (https://www.imsglobal.org/spec/proctoring/v1p0), written from the spec and independent
of the tool (its own JOSE library, joserfc; the tool signs with PyJWT).

It launches ``LtiStartProctoring`` and ``LtiEndAssessment`` through the ordinary OIDC flow,
receives the tool's ``LtiStartAssessment`` form POST at its start_assessment_url and checks it
against the tool's JWKS, and hosts an Assessment Control Service endpoint that checks the bearer
token's scope and records every action. ``acs_failure`` makes the ACS answer with that status.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, Response, request
from joserfc.errors import JoseError

from tests.lti.lti_platform import LEARNER, LTI, REMOVE, Client, Platform, _unverified_claims

AP = "https://purl.imsglobal.org/spec/lti-ap/"
ACS_SCOPE = AP + "scope/control.all"
CONTROL_MEDIA_TYPE = "application/vnd.ims.lti-ap.v1.control+json"
ACS_ACTIONS = ("flag", "pause", "resume", "terminate", "update")
STATUS_AFTER = {"pause": "paused", "resume": "running", "terminate": "terminated"}
# A hub catalogue item whose identity requirement the gate applies when the proctored link names it
# in the optional custom parameter ``target`` (a shipped quiz requiring VNeID level 2 and a face
# check). Without it the gate runs for the platform's own assessment (its resource link).
GATE_TARGET = "course/tro-ly-ai-hanh-chinh/module/tra-cuu-va-phuc-vu-nguoi-dan/quiz/kiem-tra"


@dataclass
class Attempt:
    """A proctored attempt as the platform keeps it."""

    client_id: str
    user: str
    resource_link_id: str
    attempt_number: int
    session_data: str
    status: str = "pending"                    # pending → running (StartAssessment accepted) → ...
    verified_user: dict[str, Any] | None = None
    end_assessment_return: bool = False
    controls: list[dict[str, Any]] = field(default_factory=list)


class ProctoringPlatform(Platform):
    def __init__(self) -> None:
        self.attempts: dict[str, Attempt] = {}            # by session_data
        self.start_assessments: list[dict[str, Any]] = []  # verified LtiStartAssessment claims, in order
        self.rejections: list[str] = []                    # why a StartAssessment or ACS request was refused
        self.seen_nonces: set[str] = set()
        self.acs_requests: list[dict[str, Any]] = []       # every ACS body accepted, in order
        self.acs_failure: int | None = None
        super().__init__()

    start_assessment_url = property(lambda self: self.url + "/proctoring/start-assessment")
    acs_url = property(lambda self: self.url + "/api/acs")

    def add_client(self, tool_url: str) -> Client:
        client = super().add_client(tool_url)
        client.scopes.add(ACS_SCOPE)   # the tool may ask for the ACS scope
        return client

    # -- messages ------------------------------------------------------------------------------
    def start_proctoring(self, client: Client, *, user: str = "learner-1", resource_link_id: str | None = None,
                         attempt_number: Any = 1, session_data: Any = None,
                         acs_actions: list[str] | None = None, custom: dict[str, str] | None = None,
                         target: str | None = GATE_TARGET, title: str = "Bài thi cuối khoá",
                         overrides: dict[str, Any] | None = None, **kw: Any) -> tuple[str, Attempt]:
        """An LtiStartProctoring message (Proctoring, Start Proctoring message); ``target=None``
        proctors the platform's own assessment, as a real LMS does (no custom ``target``)."""
        resource_link_id = resource_link_id or f"exam-{uuid.uuid4().hex[:6]}"
        session_data = session_data if session_data is not None else f"csrf-{uuid.uuid4().hex}"
        claims: dict[str, Any] = {
            "sub": user, "name": "Nguyễn Văn An", "given_name": "An", "family_name": "Nguyễn",
            LTI + "message_type": "LtiStartProctoring", LTI + "roles": LEARNER,
            LTI + "resource_link": {"id": resource_link_id, "title": title},
            LTI + "context": {"id": "ctx-exam", "title": "Kỹ năng số cơ bản"},
            LTI + "launch_presentation": {"locale": "vi", "document_target": "window"},
            LTI + "target_link_uri": client.redirect_uris[0],
            AP + "claim/start_assessment_url": self.start_assessment_url,
            AP + "claim/attempt_number": attempt_number,
            AP + "claim/session_data": session_data,
            AP + "claim/acs": {"assessment_control_url": self.acs_url,
                               "actions": acs_actions if acs_actions is not None else list(ACS_ACTIONS)},
        }
        claims[LTI + "custom"] = {**({"target": target} if target is not None else {}), **(custom or {})}
        claims.update(overrides or {})
        attempt = Attempt(client.client_id, user, resource_link_id,
                          attempt_number if isinstance(attempt_number, int) else 0, str(session_data))
        if claims.get(AP + "claim/session_data") is not REMOVE:
            with self.lock:
                self.attempts[str(session_data)] = attempt
        return self.plan(client, user, claims, **kw), attempt

    def end_assessment(self, client: Client, attempt: Attempt, *, return_url: str | None = None,
                       errormsg: str | None = None, overrides: dict[str, Any] | None = None) -> str:
        """An LtiEndAssessment message (Proctoring §4.4): sent when the tool asked for it with
        end_assessment_return in its StartAssessment."""
        claims: dict[str, Any] = {
            "sub": attempt.user, LTI + "message_type": "LtiEndAssessment", LTI + "roles": LEARNER,
            LTI + "resource_link": {"id": attempt.resource_link_id},
            LTI + "launch_presentation": {"locale": "vi", "return_url": return_url or self.url + "/course"},
            LTI + "target_link_uri": self.clients[attempt.client_id].redirect_uris[0],
            AP + "claim/attempt_number": attempt.attempt_number,
            AP + "claim/session_data": attempt.session_data,
        }
        if errormsg:
            claims[AP + "claim/errormsg"] = errormsg
        claims.update(overrides or {})
        return self.plan(self.clients[attempt.client_id], attempt.user, claims)

    # -- HTTP ----------------------------------------------------------------------------------
    def _routes(self, app: Flask) -> None:
        super()._routes(app)

        @app.post("/proctoring/start-assessment")
        def start_assessment() -> Response:
            return self._start_assessment()

        @app.post("/api/acs")
        def acs() -> Response:
            return self._acs()

    def _refuse(self, reason: str, status: int = 400) -> Response:
        with self.lock:
            self.rejections.append(reason)
        return Response(reason, status=status, content_type="text/plain")

    def _start_assessment(self) -> Response:
        # Proctoring §3.3: the tool's JWT arrives as a form POST, verified with the tool's JWKS.
        token = request.form.get("JWT", "")
        client = self.clients.get(str(_unverified_claims(token).get("iss")))
        if client is None:
            return self._refuse("unknown tool (iss)")
        try:
            claims = self.verify_tool_jwt(client, token)
        except (JoseError, ValueError) as exc:
            return self._refuse(f"bad signature: {exc}")
        now = time.time()
        aud = claims.get("aud")
        link = claims.get(LTI + "resource_link") or {}
        attempt = self.attempts.get(str(claims.get(AP + "claim/session_data")))
        verified = claims.get(AP + "claim/verified_user")
        checks = {
            # Security Framework 1.0 §5.2: iss is the tool's client_id, aud is this platform.
            "aud": self.issuer in (aud if isinstance(aud, list) else [aud]),
            "exp": isinstance(claims.get("exp"), int) and claims["exp"] > now,
            "iat": isinstance(claims.get("iat"), int) and claims["iat"] <= now + 60,
            "nonce": bool(claims.get("nonce")) and claims["nonce"] not in self.seen_nonces,
            "message_type": claims.get(LTI + "message_type") == "LtiStartAssessment",
            "version": claims.get(LTI + "version") == "1.3.0",
            "deployment_id": claims.get(LTI + "deployment_id") == client.deployment_id,
            # session_data returned unchanged: it names the attempt this browser started.
            "session_data": attempt is not None and attempt.client_id == client.client_id,
            "resource_link": attempt is not None and link.get("id") == attempt.resource_link_id,
            "attempt_number": attempt is not None and claims.get(AP + "claim/attempt_number") == attempt.attempt_number,
            # §4.3.2.1: verified_user holds identity claims the tool verified; iss and sub SHOULD NOT be there.
            "verified_user": isinstance(verified, dict) and "iss" not in verified and "sub" not in verified,
            "end_assessment_return": isinstance(claims.get(AP + "claim/end_assessment_return", False), bool),
        }
        failed = [k for k, ok in checks.items() if not ok]
        if failed:
            return self._refuse(f"invalid LtiStartAssessment: {', '.join(failed)}")
        assert attempt is not None and isinstance(verified, dict)
        with self.lock:
            self.seen_nonces.add(claims["nonce"])
            self.start_assessments.append(claims)
            attempt.status, attempt.verified_user = "running", verified
            attempt.end_assessment_return = bool(claims.get(AP + "claim/end_assessment_return", False))
        return Response("<p id='assessment'>Bài thi bắt đầu / Assessment started</p>", content_type="text/html")

    def _acs(self) -> Response:
        # Proctoring, Assessment Control Service: a bearer token with the ACS scope, the control media type.
        client_id = self._bearer(ACS_SCOPE)
        if request.mimetype != CONTROL_MEDIA_TYPE:
            return self._refuse(f"ACS: media type {request.mimetype}", 415)
        if self.acs_failure:
            return Response("ACS unavailable", status=self.acs_failure)
        try:
            body = json.loads(request.get_data(as_text=True))
            datetime.fromisoformat(str(body["incident_time"]).replace("Z", "+00:00"))
            ok = (isinstance(body["user"]["sub"], str) and isinstance(body["resource_link"]["id"], str)
                  and isinstance(body["attempt_number"], int) and body["action"] in ACS_ACTIONS
                  and isinstance(body["incident_severity"], int | float) and 0 <= body["incident_severity"] <= 1)
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            return self._refuse("ACS: malformed control request")
        attempt = next((a for a in self.attempts.values()
                        if (a.client_id, a.user, a.resource_link_id, a.attempt_number)
                        == (client_id, body["user"]["sub"], body["resource_link"]["id"], body["attempt_number"])), None)
        with self.lock:
            self.acs_requests.append(body)
            if attempt is None:
                status = "none"
            else:
                attempt.controls.append(body)
                attempt.status = status = STATUS_AFTER.get(body["action"], attempt.status)
        return Response(json.dumps({"status": status}), content_type=CONTROL_MEDIA_TYPE)
