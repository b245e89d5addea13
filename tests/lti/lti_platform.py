"""A small LTI 1.3 platform (an LMS), written for the tests from the 1EdTech specs and
independent of the tool: its own RSA keys, its own JOSE library (joserfc; the tool uses PyJWT
and jwcrypto through pylti1p3), served over real HTTP on a loopback port.

It plays every platform part the tool talks to: OIDC authorization endpoint issuing signed
id_tokens (Security Framework 1.0 §5.1.1–5.1.2), JWKS, OAuth 2 token endpoint checking JWT
client assertions against the *tool's* published JWKS (§4.1), Deep Linking return endpoint
(DL 2.0 §4.5), AGS line items, containers, results and scores (AGS 2.0 §3.2-§3.4), NRPS memberships with paging
(NRPS 2.0 §2.4), and Dynamic Registration (DR 1.0 §3.4–3.6, in platform_registration.py). ``down`` makes the service
endpoints answer 503, as an LMS under maintenance does.
"""

from __future__ import annotations

import base64
import html
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import Flask, Response, abort, jsonify, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

from tests.lti.platform_registration import DynamicRegistration

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCORE_SCOPE = AGS + "scope/score"
ALL_SCOPES = {AGS + "scope/lineitem", AGS + "scope/lineitem.readonly", AGS + "scope/result.readonly", SCORE_SCOPE,
              NRPS_SCOPE}
INSTRUCTOR = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]
LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
REMOVE = object()   # a claim/header value meaning "leave this out"


def new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"})


@dataclass
class Client:
    """The tool as this platform registered it."""

    client_id: str
    deployment_id: str
    jwks_url: str
    login_url: str
    redirect_uris: list[str]
    scopes: set[str] = field(default_factory=lambda: set(ALL_SCOPES))


@dataclass
class Plan:
    """A launch the platform will answer at its authorization endpoint (looked up by lti_message_hint)."""

    client_id: str
    user: str
    claims: dict[str, Any]
    header: dict[str, Any] = field(default_factory=dict)
    sign_key: RSAKey | None = None
    exp_delta: int = 300


class Platform(DynamicRegistration):
    def __init__(self) -> None:
        self.key = new_key(f"platform-{uuid.uuid4().hex[:8]}")
        self.rogue_key = new_key(self.key.kid)   # same kid, different key: a forged signature
        self.lock = threading.Lock()
        self.down = False
        self.clients: dict[str, Client] = {}
        self.plans: dict[str, Plan] = {}
        self.tokens: dict[str, tuple[str, set[str]]] = {}
        self.seen_jti: set[str] = set()
        self.assertions: list[str] = []          # raw client assertions received, in order
        self.line_items: dict[str, dict[str, Any]] = {}
        self.created_line_items: list[str] = []   # line items the tool created (AGS 2.0 §3.2)
        self.scores: dict[str, list[dict[str, Any]]] = {}    # every score POST accepted, per line item
        self.results: dict[str, dict[str, dict[str, Any]]] = {}  # latest score per line item and user
        self.members: dict[str, list[dict[str, Any]]] = {}
        self.deep_link_data: dict[str, str] = {}  # data value sent → client_id
        self.links: list[dict[str, Any]] = []     # resource links created from deep-linking answers
        self.registration_tokens: set[str] = set()
        self.requests: list[str] = []             # "METHOD /path" of every request, in order
        self.token_uses: list[tuple[str, frozenset[str]]] = []   # (path, scopes of the bearer token used)
        app = Flask("test-lti-platform")
        self._routes(app)
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    # -- addresses ---------------------------------------------------------------------------
    @property
    def issuer(self) -> str:
        return self.url

    auth_url = property(lambda self: self.url + "/auth")
    token_url = property(lambda self: self.url + "/token")
    jwks_url = property(lambda self: self.url + "/jwks")
    return_url = property(lambda self: self.url + "/deep-link-return")
    openid_configuration_url = property(lambda self: self.url + "/.well-known/openid-configuration")

    def close(self) -> None:
        self._server.shutdown()

    # -- set-up ------------------------------------------------------------------------------
    def add_client(self, tool_url: str) -> Client:
        client = Client(client_id=f"client-{uuid.uuid4().hex[:10]}", deployment_id=f"dep-{uuid.uuid4().hex[:6]}",
                        jwks_url=tool_url + "/lti/jwks", login_url=tool_url + "/lti/login",
                        redirect_uris=[tool_url + "/lti/launch"])
        with self.lock:
            self.clients[client.client_id] = client
        return client

    def add_line_item(self, context_id: str, label: str, score_maximum: float, **extra: Any) -> str:
        item_id = uuid.uuid4().hex[:10]
        url = f"{self.url}/api/lineitems/{item_id}"
        with self.lock:
            self.line_items[item_id] = {"id": url, "label": label, "scoreMaximum": score_maximum,
                                        "contextId": context_id, **extra}
        return url

    def plan(self, client: Client, user: str, claims: dict[str, Any], *, header: dict[str, Any] | None = None,
             sign_key: RSAKey | None = None, exp_delta: int = 300) -> str:
        hint = uuid.uuid4().hex
        with self.lock:
            self.plans[hint] = Plan(client.client_id, user, claims, header or {}, sign_key, exp_delta)
        return hint

    def resource_link(self, client: Client, *, user: str = "learner-1", roles: list[str] | None = None,
                      target: str | None = "course/ky-nang-so-co-ban/quiz/final", context_id: str = "ctx-1",
                      lineitem: str | None = None, nrps: bool = True, locale: str = "vi",
                      overrides: dict[str, Any] | None = None, lineitems_only: bool = False,
                      ags_scopes: set[str] | None = None, **kw: Any) -> str:
        """An LtiResourceLinkRequest (LTI Core 1.3 §5.3–5.4) for ``user``."""
        claims: dict[str, Any] = {
            "sub": user, "name": f"Người học {user}", LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "roles": roles if roles is not None else LEARNER,
            LTI + "resource_link": {"id": f"rl-{context_id}", "title": "Bài kiểm tra"},
            LTI + "context": {"id": context_id, "title": "Kỹ năng số cơ bản", "type": ["CourseSection"]},
            LTI + "launch_presentation": {"locale": locale, "document_target": "iframe"},
            LTI + "target_link_uri": client.redirect_uris[0],
        }
        if target is not None:
            claims[LTI + "custom"] = {"target": target}
        scopes = sorted(ags_scopes if ags_scopes is not None else ALL_SCOPES - {NRPS_SCOPE})
        if lineitem:
            claims[AGS + "claim/endpoint"] = {"scope": scopes, "lineitem": lineitem,
                                              "lineitems": f"{self.url}/api/contexts/{context_id}/lineitems"}
        elif lineitems_only:
            # AGS 2.0 §3.1: no lineitem — the tool finds or creates its own in the container.
            claims[AGS + "claim/endpoint"] = {"scope": scopes,
                                              "lineitems": f"{self.url}/api/contexts/{context_id}/lineitems"}
        if nrps:
            claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"] = {
                "context_memberships_url": f"{self.url}/api/contexts/{context_id}/memberships",
                "service_versions": ["2.0"]}
        claims.update(overrides or {})
        return self.plan(client, user, claims, **kw)

    def deep_linking(self, client: Client, *, user: str = "teacher-1", roles: list[str] | None = None,
                     accept_multiple: bool = True, overrides: dict[str, Any] | None = None, **kw: Any) -> str:
        """An LtiDeepLinkingRequest (Deep Linking 2.0 §4.4)."""
        data = f"dl-{uuid.uuid4().hex[:8]}"
        with self.lock:
            self.deep_link_data[data] = client.client_id
        claims: dict[str, Any] = {
            "sub": user, "name": "Giảng viên", LTI + "message_type": "LtiDeepLinkingRequest",
            LTI + "roles": roles if roles is not None else INSTRUCTOR,
            LTI + "context": {"id": "ctx-dl", "title": "Kỹ năng số cơ bản"},
            LTI + "launch_presentation": {"locale": "vi"},
            "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {
                "deep_link_return_url": self.return_url, "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"], "accept_multiple": accept_multiple,
                "accept_lineitem": True, "data": data},
        }
        claims.update(overrides or {})
        return self.plan(client, user, claims, **kw)

    # -- JOSE helpers --------------------------------------------------------------------------
    def id_token(self, plan: Plan, nonce: str) -> str:
        client = self.clients[plan.client_id]
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": client.client_id, "iat": now, "exp": now + plan.exp_delta,
                                  "nonce": nonce, LTI + "version": "1.3.0", LTI + "deployment_id": client.deployment_id}
        claims.update(plan.claims)
        header: dict[str, Any] = {"alg": "RS256", "kid": self.key.kid, **plan.header}
        return jwt.encode({k: v for k, v in header.items() if v is not REMOVE},
                          {k: v for k, v in claims.items() if v is not REMOVE}, plan.sign_key or self.key)

    def verify_tool_jwt(self, client: Client, token: str) -> dict[str, Any]:
        """Verifies a JWT the tool signed against the tool's JWKS as published right now."""
        keyset = KeySet.import_key_set(requests.get(client.jwks_url, timeout=5).json())
        kid = _unverified_header(token).get("kid")
        if not kid:
            raise JoseError("the tool's JWT has no kid")
        return dict(jwt.decode(token, keyset, algorithms=["RS256"]).claims)

    def _bearer(self, *scopes: str) -> str:
        """The client a bearer token was issued to; 401 without a valid token, 403 without one of ``scopes``."""
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        with self.lock:
            grant = self.tokens.get(token)
        if grant is None:
            abort(401)
        with self.lock:
            self.token_uses.append((request.path, frozenset(grant[1])))
        if not grant[1] & set(scopes):
            abort(403)
        return grant[0]

    # -- HTTP --------------------------------------------------------------------------------
    def _routes(self, app: Flask) -> None:
        @app.before_request
        def maintenance() -> Response | None:
            with self.lock:
                self.requests.append(f"{request.method} {request.path}")
            if self.down and request.path.startswith(("/api/", "/token")):
                return Response("down for maintenance", status=503)
            return None

        @app.get("/jwks")
        def jwks() -> Response:
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.get("/auth")
        def auth() -> Response:
            # Security Framework 1.0 §5.1.1.2: the authentication request's fixed parameters.
            q = request.args
            fixed = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none"}
            for name, value in fixed.items():
                if q.get(name) != value:
                    return Response(f"bad {name}", status=400)
            client = self.clients.get(q.get("client_id", ""))
            plan = self.plans.get(q.get("lti_message_hint", ""))
            if client is None or q.get("redirect_uri") not in client.redirect_uris:
                return Response("unknown client or redirect_uri", status=400)
            if plan is None or plan.client_id != client.client_id or q.get("login_hint") != plan.user:
                return Response("unknown login_hint / lti_message_hint", status=400)
            if not q.get("nonce") or not q.get("state"):
                return Response("nonce and state are required", status=400)
            token = self.id_token(plan, q["nonce"])
            # §5.1.2: the response is an auto-submitted form POST to the redirect_uri.
            page = (f'<form id="f" method="post" action="{html.escape(q["redirect_uri"])}">'
                    f'<input type="hidden" name="id_token" value="{token}">'
                    f'<input type="hidden" name="state" value="{html.escape(q["state"])}"></form>'
                    '<script>document.getElementById("f").submit()</script>')
            return Response(page, content_type="text/html")

        @app.post("/token")
        def token() -> Response:
            return self._token()

        @app.get("/api/lineitems/<item_id>")
        def line_item(item_id: str) -> Response:
            self._bearer(AGS + "scope/lineitem.readonly", AGS + "scope/lineitem")
            item = self.line_items.get(item_id) or abort(404)
            return Response(_json(item), content_type="application/vnd.ims.lis.v2.lineitem+json")

        @app.post("/api/lineitems/<item_id>/scores")
        def scores(item_id: str) -> Response:
            return self._score(item_id)

        @app.get("/api/lineitems/<item_id>/results")
        def results(item_id: str) -> Response:
            # AGS 2.0 §3.3: the results of a line item, result.readonly scope.
            self._bearer(AGS + "scope/result.readonly")
            item = self.line_items.get(item_id) or abort(404)
            body = [{"id": f"{item['id']}/results/{user}", "userId": user, "resultScore": score.get("scoreGiven"),
                     "resultMaximum": score.get("scoreMaximum"), "scoreOf": item["id"]}
                    for user, score in self.results.get(item_id, {}).items()
                    if request.args.get("user_id") in (None, user)]
            return Response(_json(body), content_type="application/vnd.ims.lis.v2.resultcontainer+json")

        @app.route("/api/contexts/<context_id>/lineitems", methods=["GET", "POST"])
        def container(context_id: str) -> Response:
            return self._container(context_id)

        @app.get("/api/contexts/<context_id>/memberships")
        def memberships(context_id: str) -> Response:
            return self._memberships(context_id)

        @app.post("/deep-link-return")
        def deep_link_return() -> Response:
            return self._deep_link_return()

        @app.get("/.well-known/openid-configuration")
        def openid_configuration() -> Response:
            return jsonify(self._openid_configuration())

        @app.post("/register")
        def register() -> Response:
            return self._register()

    def _token(self) -> Response:
        # Security Framework 1.0 §4.1: client-credentials grant authenticated by a JWT assertion
        # (RFC 7523) signed with the tool's key, checked against the tool's JWKS.
        form = request.form
        if form.get("grant_type") != "client_credentials" or \
                form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return _oauth_error("unsupported_grant_type")
        assertion = form.get("client_assertion", "")
        unverified = _unverified_claims(assertion)
        client = self.clients.get(str(unverified.get("iss")))
        if client is None:
            return _oauth_error("invalid_client", 401)
        try:
            claims = self.verify_tool_jwt(client, assertion)
        except (JoseError, ValueError) as exc:
            return _oauth_error("invalid_client", 401, str(exc))
        now = time.time()
        aud = claims.get("aud")
        if claims.get("sub") != client.client_id or (self.token_url not in (aud if isinstance(aud, list) else [aud])):
            return _oauth_error("invalid_client", 401, "sub/aud")
        if not claims.get("exp") or claims["exp"] < now or claims.get("iat", now + 999) > now + 60:
            return _oauth_error("invalid_client", 401, "expired")
        jti = str(claims.get("jti") or "")
        with self.lock:
            if not jti or jti in self.seen_jti:
                return _oauth_error("invalid_client", 401, "jti replayed")
            self.seen_jti.add(jti)
            self.assertions.append(assertion)
        scopes = set(form.get("scope", "").split())
        if not scopes or not scopes <= client.scopes:
            return _oauth_error("invalid_scope")
        access = uuid.uuid4().hex
        with self.lock:
            self.tokens[access] = (client.client_id, scopes)
        return jsonify({"access_token": access, "token_type": "Bearer", "expires_in": 3600, "scope": " ".join(scopes)})

    def _score(self, item_id: str) -> Response:
        self._bearer(SCORE_SCOPE)
        if item_id not in self.line_items:
            abort(404)
        # AGS 2.0 §3.4: the score media type and required members.
        if request.mimetype != "application/vnd.ims.lis.v1.score+json":
            abort(415)
        score = request.get_json(force=True)
        required = ("userId", "activityProgress", "gradingProgress", "timestamp")
        if any(not score.get(k) for k in required):
            abort(400)
        if "scoreGiven" in score and (score["scoreGiven"] < 0 or score.get("scoreMaximum", 0) <= 0):
            abort(400)
        with self.lock:
            self.scores.setdefault(item_id, []).append(score)
            latest = self.results.setdefault(item_id, {}).get(score["userId"])
            # §3.4.4: never replace a result with an older score.
            if latest is None or latest["timestamp"] <= score["timestamp"]:
                self.results[item_id][score["userId"]] = score
        return Response(status=204)

    def _container(self, context_id: str) -> Response:
        """AGS 2.0 §3.2: a context's line items, two per page (rel="next"), and new ones by POST."""
        if request.method == "POST":
            self._bearer(AGS + "scope/lineitem")
            if request.mimetype != "application/vnd.ims.lis.v2.lineitem+json":
                abort(415)
            spec = request.get_json(force=True)
            if not spec.get("label") or not float(spec.get("scoreMaximum") or 0) > 0:
                abort(400)   # §3.2: label and a positive scoreMaximum are required
            url = self.add_line_item(context_id, spec["label"], spec["scoreMaximum"],
                                     **{k: v for k, v in spec.items() if k not in ("id", "label", "scoreMaximum")})
            with self.lock:
                self.created_line_items.append(url)
            return Response(_json(self.line_items[url.rsplit("/", 1)[1]]), status=201,
                            content_type="application/vnd.ims.lis.v2.lineitem+json")
        self._bearer(AGS + "scope/lineitem.readonly", AGS + "scope/lineitem")
        items = [i for i in self.line_items.values() if i.get("contextId") == context_id]
        start = int(request.args.get("page", "0"))
        response = Response(_json(items[start:start + 2]),
                            content_type="application/vnd.ims.lis.v2.lineitemcontainer+json")
        if start + 2 < len(items):
            response.headers["Link"] = f'<{request.base_url}?page={start + 2}>; rel="next"'
        return response

    def _memberships(self, context_id: str) -> Response:
        self._bearer(NRPS_SCOPE)
        accept = request.headers.get("Accept", "")
        if "application/vnd.ims.lti-nrps.v2.membershipcontainer+json" not in accept:
            abort(406)
        members = self.members.get(context_id, [])
        page_size = 2
        # A case-sensitive page token: a client that alters the Link URL's case gets page 1 again.
        cursor = request.args.get("Cursor", "")
        if "cursor" in request.args:   # the Link URL was altered (lower-cased): refuse, do not loop
            abort(400)
        start = int(cursor.removeprefix("Pg").removesuffix("XyZ")) if cursor else 0
        page = members[start:start + page_size]
        body = {"id": request.base_url, "context": {"id": context_id, "title": "Kỹ năng số cơ bản"}, "members": page}
        response = Response(_json(body), content_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
        if start + page_size < len(members):
            # NRPS 2.0 §2.4.2: further pages are announced with Link rel="next".
            response.headers["Link"] = f'<{request.base_url}?Cursor=Pg{start + page_size}XyZ>; rel="next"'
        return response

    def _deep_link_return(self) -> Response:
        # Deep Linking 2.0 §4.5: a form POST with the tool's signed JWT.
        token = request.form.get("JWT", "")
        client = self.clients.get(str(_unverified_claims(token).get("iss")))
        if client is None:
            return Response("unknown tool", status=400)
        try:
            claims = self.verify_tool_jwt(client, token)
        except (JoseError, ValueError) as exc:
            return Response(f"bad signature: {exc}", status=400)
        aud = claims.get("aud")
        checks = {
            "aud": self.issuer in (aud if isinstance(aud, list) else [aud]),
            "exp": claims.get("exp", 0) > time.time(),
            "nonce": bool(claims.get("nonce")),
            "message_type": claims.get(LTI + "message_type") == "LtiDeepLinkingResponse",
            "version": claims.get(LTI + "version") == "1.3.0",
            "deployment_id": claims.get(LTI + "deployment_id") == client.deployment_id,
            "data": self.deep_link_data.get(claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/data", ""))
            == client.client_id,
        }
        failed = [k for k, ok in checks.items() if not ok]
        if failed:
            return Response(f"invalid deep linking response: {', '.join(failed)}", status=400)
        for item in claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items", []):
            if item.get("type") != "ltiResourceLink":
                return Response("unexpected content item type", status=400)
            link = {"client_id": client.client_id, "title": item.get("title"), "url": item.get("url"),
                    "custom": item.get("custom") or {}, "lineitem": None}
            if item.get("lineItem"):
                spec = item["lineItem"]
                link["lineitem"] = self.add_line_item("ctx-dl", spec.get("label") or item.get("title"),
                                                      spec["scoreMaximum"], resourceId=spec.get("resourceId"),
                                                      tag=spec.get("tag"))
            with self.lock:
                self.links.append(link)
        return Response("<p>Content added</p>", content_type="text/html")

    # Dynamic Registration: see platform_registration.DynamicRegistration.
    supported_scopes = ALL_SCOPES

    def make_client(self, **fields: Any) -> Client:
        return Client(**fields)


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _oauth_error(code: str, status: int = 400, description: str = "") -> Response:
    response = jsonify({"error": code, "error_description": description})
    response.status_code = status
    return response


def _segment(token: str, index: int) -> dict[str, Any]:
    try:
        part = token.split(".")[index]
        return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))
    except (IndexError, ValueError):
        return {}


def _unverified_header(token: str) -> dict[str, Any]:
    return _segment(token, 0)


def _unverified_claims(token: str) -> dict[str, Any]:
    return _segment(token, 1)
