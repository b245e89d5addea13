"""A second LTI 1.3 platform, independent of the tool and of tests/lti/lti_platform.py: the
``lti1p3platform`` package from PyPI (another author's platform implementation: OIDC login
initiation, launch messages and their signing, the client-credentials token endpoint checking the
tool's JWT assertion against the tool's JWKS, and AGS request handling with token checks), given
here the thin Flask adapter and the in-memory gradebook that package leaves to the LMS that
embeds it. Served over real HTTP on a loopback port.

What the adapter adds, as an LMS embedding the package would:
- keys carry a kid (the package derives the JWK from the PEM without one; Security Framework
  1.0 §6.3 needs it to pick the key), and ``rotate_keys`` replaces the key pair outright, as an
  administrator re-creating the platform's keys does: new launches are signed with a new kid,
  and tokens issued under the old key are answered with 403, as the issue reports of real LMSs;
- the redirect_uri of an authentication request must be registered (OIDC Core §3.1.2.1);
- AGS containers are JSON arrays with rel="next" links (AGS 2.0 §3.2.7), not the package's
  internal page objects.
"""

from __future__ import annotations

import html
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, redirect, request
from jwcrypto.jwk import JWK
from lti1p3platform import exceptions as lp_errors
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.response import Response as LpResponse
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService, TPage
from werkzeug.serving import make_server

LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]


def _pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


class KeyedRegistration(Registration):
    """The package's registration, its keys named by their RFC 7638 thumbprint."""

    redirect_uris: list[str]

    def get_kid(self) -> str | None:
        private = self.get_platform_private_key()
        return JWK.from_pem(private.encode()).thumbprint() if private else None

    def get_jwks(self) -> list[dict[str, Any]]:
        public = self.get_platform_public_key()
        if not public:
            return []
        jwk = Registration.get_jwk(public)
        jwk["kid"] = JWK.from_pem(public.encode()).thumbprint()
        return [jwk]


class PlatformConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        registration: Registration = self._registration
        return registration


class FlaskRequest(Request):
    def build_metadata(self, req: Any) -> TRequest:
        return {"method": req.method, "form_data": req.form.to_dict(), "get_data": req.args.to_dict(),
                "headers": req.headers, "content_type": req.content_type, "path": req.path,
                "json": req.get_json(silent=True, force=True) if req.method in ("POST", "PUT") else None}


class Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> Any:
        return redirect(url)


@dataclass
class Plan:
    """A launch the platform will make (its lti_message_hint)."""

    user: str
    resource_link_id: str
    context_id: str
    target: str
    ags: str | None          # None, "declarative" (lineitem given) or "programmatic" (lineitems only)
    lineitem: str | None = None


class Launch(LTIAdvantageMessageLaunchAbstract):
    plan: Plan
    platform: IndependentPlatform

    def validate_preflight_response(self, preflight_response: dict[str, Any]) -> None:
        super().validate_preflight_response(preflight_response)
        registration = self._registration
        assert isinstance(registration, KeyedRegistration)
        if preflight_response.get("redirect_uri") not in registration.redirect_uris:
            raise lp_errors.PreflightRequestValidationException("redirect_uri is not registered")
        if preflight_response.get("login_hint") != self.plan.user:
            raise lp_errors.PreflightRequestValidationException("login_hint does not match")

    def prepare_launch(self, preflight_response: dict[str, Any]) -> None:
        plan, base = self.plan, self.platform.url
        self.set_user_data(plan.user, LEARNER, full_name=f"Người học {plan.user}")
        self.set_resource_link_claim(plan.resource_link_id, title="Bài kiểm tra cuối khoá")
        self.set_launch_context_claim(plan.context_id, context_types=["CourseSection"], context_title="Kỹ năng số")
        self.set_custom_parameters_claim({"target": plan.target})
        self.set_launch_presentation_claim(document_target="iframe")
        if plan.ags:
            self.set_ags(f"{base}/ags/{plan.context_id}/lineitems", plan.lineitem, allow_creating_lineitems=True)

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> Response:
        # Security Framework 1.0 §5.1.2: an auto-submitted form POST of id_token and state.
        fields = "".join(f'<input type="hidden" name="{k}" value="{html.escape(str(launch_data[k]))}">'
                         for k in ("id_token", "state"))
        return Response(f'<form id="f" method="post" action="{html.escape(launch_data["launch_url"])}">{fields}'
                        '</form><script>document.getElementById("f").submit()</script>', content_type="text/html")


class Gradebook(AssignmentsGradesService):
    """The LMS's side of AGS for one context: line items, scores and results, in memory."""

    platform: IndependentPlatform
    context_id: str

    def _items(self) -> dict[str, dict[str, Any]]:
        return self.platform.line_items.setdefault(self.context_id, {})

    def find_lineitems(self, page: int = 1, limit: int | None = None, line_item_id: str | None = None,
                       resource_link_id: str | None = None, resource_id: str | None = None,
                       tag: str | None = None, **_: Any) -> TPage:
        items = [i for i in self._items().values()
                 if (resource_link_id is None or i.get("resourceLinkId") == resource_link_id)
                 and (resource_id is None or i.get("resourceId") == resource_id)
                 and (tag is None or i.get("tag") == tag)]
        return {"content": items, "has_next": False, "next": None}

    def find_lineitem(self, line_item_id: str) -> Any:
        item = self._items().get(line_item_id)
        if item is None:
            raise lp_errors.LineItemNotFoundException()
        return item

    def create_lineitem(self, creation_data: Any) -> Any:
        item_id = uuid.uuid4().hex[:10]
        item = dict(creation_data, id=f"{self.platform.url}/ags/{self.context_id}/lineitems/{item_id}")
        with self.platform.lock:
            self._items()[item_id] = item
        return item

    def update_lineitem(self, update_data: Any) -> Any:
        raise NotImplementedError

    def delete_lineitem(self, line_item_id: str) -> None:
        raise NotImplementedError

    def update_score(self, line_item_id: str, score: Any) -> UpdateScoreStatus:
        self.find_lineitem(line_item_id)
        with self.platform.lock:
            self.platform.scores.setdefault(line_item_id, []).append(dict(score))
        return UpdateScoreStatus.SUCCESS

    def get_results(self, line_item_id: str, page: int = 1, limit: int | None = None,
                    user_id: str | None = None) -> TPage:
        item = self.find_lineitem(line_item_id)
        latest: dict[str, dict[str, Any]] = {}
        for score in self.platform.scores.get(line_item_id, []):
            latest[str(score["userId"])] = score
        results = [{"id": f"{item['id']}/results/{u}", "userId": u, "resultScore": s.get("scoreGiven"),
                    "resultMaximum": s.get("scoreMaximum"), "scoreOf": item["id"]}
                   for u, s in latest.items() if user_id is None or u == user_id]
        return {"content": results, "has_next": False, "next": None}


@dataclass
class IndependentPlatform:
    """The LMS: one tool registration (client) at a time, its keys, gradebooks and counters."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    plans: dict[str, Plan] = field(default_factory=dict)
    line_items: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    scores: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    token_requests: int = 0
    refused_tokens: int = 0     # service calls answered 403 for a token signed with a replaced key
    registration: KeyedRegistration = field(default_factory=KeyedRegistration)

    def __post_init__(self) -> None:
        app = Flask("independent-lti-platform")
        self._routes(app)
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.rotate_keys()

    issuer = property(lambda self: self.url)
    auth_url = property(lambda self: self.url + "/authorize")
    token_url = property(lambda self: self.url + "/token")
    jwks_url = property(lambda self: self.url + "/jwks")

    def close(self) -> None:
        self._server.shutdown()

    def register_tool(self, tool_url: str) -> tuple[str, str]:
        """Registers the tool (as an LMS administrator would); returns (client_id, deployment_id)."""
        client_id, deployment_id = f"lp-{uuid.uuid4().hex[:10]}", f"lp-dep-{uuid.uuid4().hex[:6]}"
        registration = self.registration
        (registration.set_iss(self.issuer).set_client_id(client_id).set_deployment_id(deployment_id)
         .set_launch_url(tool_url + "/lti/launch").set_oidc_login_url(tool_url + "/lti/login")
         .set_tool_key_set_url(tool_url + "/lti/jwks"))
        registration.redirect_uris = [tool_url + "/lti/launch"]
        return client_id, deployment_id

    def rotate_keys(self) -> None:
        private, public = _pem_pair()
        self.registration.set_platform_private_key(private).set_platform_public_key(public)

    def add_line_item(self, context_id: str, label: str, score_maximum: float) -> str:
        """A column the instructor made in the LMS (declarative AGS: the launch names it)."""
        item_id = uuid.uuid4().hex[:10]
        url = f"{self.url}/ags/{context_id}/lineitems/{item_id}"
        with self.lock:
            self.line_items.setdefault(context_id, {})[item_id] = {"id": url, "label": label,
                                                                   "scoreMaximum": score_maximum}
        return url

    def start_url(self, user: str, *, target: str, context_id: str = "ctx-1", resource_link_id: str | None = None,
                  ags: str | None = None) -> str:
        """Where the learner's browser starts the launch (the LMS page's link)."""
        lineitem = self.add_line_item(context_id, "Bài kiểm tra", 10) if ags == "declarative" else None
        hint = uuid.uuid4().hex
        with self.lock:
            self.plans[hint] = Plan(user, resource_link_id or f"rl-{context_id}", context_id, target, ags, lineitem)
        return f"{self.url}/start?{urlencode({'hint': hint})}"

    def _routes(self, app: Flask) -> None:
        @app.get("/jwks")
        def jwks() -> Response:
            response = jsonify({"keys": self.registration.get_jwks()})
            response.headers["Cache-Control"] = "max-age=86400"   # long: rotation relies on the kid refetch
            return response

        @app.get("/start")
        def start() -> Any:
            plan = self.plans[request.args["hint"]]
            login = Login(FlaskRequest(request), PlatformConf(registration=self.registration))
            login.set_lti_message_hint(hint=request.args["hint"])
            return login.initiate_login(plan.user)

        @app.get("/authorize")
        def authorize() -> Any:
            plan = self.plans.get(request.args.get("lti_message_hint", ""))
            if plan is None:
                return Response("unknown lti_message_hint", status=400)
            launch = Launch(FlaskRequest(request), PlatformConf(registration=self.registration))
            launch.plan, launch.platform = plan, self
            try:
                return launch.lti_launch()
            except lp_errors.PreflightRequestValidationException as exc:
                return Response(f"invalid authentication request: {exc}", status=400)

        @app.post("/token")
        def token() -> Response:
            with self.lock:
                self.token_requests += 1
            try:
                answer = PlatformConf(registration=self.registration).get_access_token(request.form.to_dict())
            except (lp_errors.MissingRequiredClaim, lp_errors.UnsupportedGrantType) as exc:
                return _json({"error": "invalid_request", "error_description": str(exc)}, 400)
            except (lp_errors.LtiException, jwt.InvalidTokenError) as exc:
                return _json({"error": "invalid_client", "error_description": str(exc)}, 401)
            return _json(dict(answer), 200)

        @app.route("/ags/<context_id>/lineitems", methods=["GET", "POST"])
        def lineitems(context_id: str) -> Response:
            book = self._book(context_id)
            handler = book.handle_get_lineitems if request.method == "GET" else book.handle_create_lineitem
            return self._answer(handler)

        @app.get("/ags/<context_id>/lineitems/<item_id>")
        def lineitem(context_id: str, item_id: str) -> Response:
            return self._answer(lambda: self._book(context_id).handle_get_lineitem(item_id))

        @app.post("/ags/<context_id>/lineitems/<item_id>/scores")
        def score(context_id: str, item_id: str) -> Response:
            if request.mimetype != "application/vnd.ims.lis.v1.score+json":   # AGS 2.0 §3.4
                return Response(status=415)
            return self._answer(lambda: self._book(context_id).handle_update_score(item_id))

        @app.get("/ags/<context_id>/lineitems/<item_id>/results")
        def results(context_id: str, item_id: str) -> Response:
            return self._answer(lambda: self._book(context_id).handle_get_results(item_id))

    def _book(self, context_id: str) -> Gradebook:
        book = Gradebook(FlaskRequest(request), PlatformConf(registration=self.registration),
                         f"{self.url}/ags/{context_id}/lineitems")
        book.platform, book.context_id = self, context_id
        return book

    def _answer(self, handler: Any) -> Response:
        try:
            answer: LpResponse = handler()
        except lp_errors.LtiServiceException as exc:
            return _json({"error": exc.message}, exc.status_code)
        except jwt.InvalidTokenError:
            # A token signed with a key this platform no longer has (its keys were re-created).
            with self.lock:
                self.refused_tokens += 1
            return _json({"error": "invalid_token"}, 403)
        if answer.code >= 400:
            return _json({"error": answer.message}, answer.code)
        result = answer.result
        if isinstance(result, dict) and "content" in result:   # a page → a JSON array + rel="next"
            response = _json(result["content"], answer.code)
            if result.get("next"):
                response.headers["Link"] = f'<{result["next"]}>; rel="next"'
        elif result is None:
            response = Response(status=answer.code if answer.code != 200 else 204)
        else:
            response = _json(result, answer.code)
        response.mimetype = answer.media_type
        return response


def _json(data: Any, status: int) -> Response:
    response = jsonify(data)
    response.status_code = status
    return response
