"""Dynamic Registration 1.0 for the test platform (tests/lti/lti_platform.py): its OpenID
configuration (DR §3.4.1) and its registration endpoint (DR §3.5–3.6)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from flask import Response, jsonify, request


class DynamicRegistration:
    """Mixed into ``Platform``; uses its clients, lock and URLs."""

    lock: threading.Lock
    clients: dict[str, Any]
    registration_tokens: set[str]
    issuer: str
    url: str
    auth_url: str
    token_url: str
    jwks_url: str
    supported_scopes: set[str]

    def make_client(self, **fields: Any) -> Any:
        raise NotImplementedError

    def _openid_configuration(self) -> dict[str, Any]:
        # Dynamic Registration 1.0 §3.4.1 (OpenID Connect Discovery + LTI platform configuration).
        return {
            "issuer": self.issuer, "authorization_endpoint": self.auth_url, "token_endpoint": self.token_url,
            "jwks_uri": self.jwks_url, "registration_endpoint": self.url + "/register",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", *sorted(self.supported_scopes)], "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"], "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "hocvu-test-lms", "version": "1.0",
                "messages_supported": [{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}]},
        }

    def new_registration_token(self) -> str:
        token = uuid.uuid4().hex
        with self.lock:
            self.registration_tokens.add(token)
        return token

    def _register(self) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        with self.lock:
            if token not in self.registration_tokens:
                return _oauth_error("invalid_token", 401)
            self.registration_tokens.discard(token)   # one use
        body = request.get_json(force=True)
        tool_config = body.get("https://purl.imsglobal.org/spec/lti-tool-configuration") or {}
        # DR 1.0 §3.5.2: the required registration members.
        required_ok = (body.get("application_type") == "web" and "id_token" in body.get("response_types", [])
                       and {"implicit", "client_credentials"} <= set(body.get("grant_types", []))
                       and body.get("initiate_login_uri") and body.get("redirect_uris") and body.get("jwks_uri")
                       and body.get("token_endpoint_auth_method") == "private_key_jwt"
                       and tool_config.get("domain") and tool_config.get("target_link_uri"))
        if not required_ok:
            return _oauth_error("invalid_client_metadata")
        client = self.make_client(client_id=f"dr-{uuid.uuid4().hex[:10]}", deployment_id=f"dep-{uuid.uuid4().hex[:6]}",
                        jwks_url=body["jwks_uri"], login_url=body["initiate_login_uri"],
                        redirect_uris=list(body["redirect_uris"]),
                        scopes=set(body.get("scope", "").split()) & self.supported_scopes)
        with self.lock:
            self.clients[client.client_id] = client
        answer = dict(body, client_id=client.client_id)
        answer["https://purl.imsglobal.org/spec/lti-tool-configuration"] = dict(tool_config,
                                                                                deployment_id=client.deployment_id)
        return jsonify(answer)


def _oauth_error(code: str, status: int = 400) -> Response:
    response = jsonify({"error": code})
    response.status_code = status
    return response
