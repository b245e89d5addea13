"""A built-in demo VNeID provider, so ``make run`` signs in offline (DESIGN.md, Identity assurance).

OpenID Connect authorization code flow with PKCE on authlib's server side
(``authlib.integrations.flask_oauth2.AuthorizationServer``), mounted at ``/demo-vneid`` only when
``HOCVU_DEMO_IDP=1``. One confidential client (the hub itself), a few invented citizens with
Vietnamese names, fake 12-digit IDs and identification levels 1 and 2, a page to pick one, a
discovery document and a JWKS. Its RSA signing key is generated once and kept in the instance
folder. Authorization codes live in a small SQLite file there too, so the token request finds its
code whichever gunicorn worker answers it. It is a demo: anyone who can reach it can sign in as
any demo citizen; it never holds real data.

``HOCVU_DEMO_IDP_SUB=citizen_id`` (``IdentitySettings.demo_sub``) makes it put the citizen's 12-digit
ID in ``sub``, as VNeID may: the hub must then keep, print and log no more of ``sub`` than its keyed
hash. The provider itself keeps only the demo key (``demo-0001``) of a pending code, never the ID.
"""

from __future__ import annotations

import hmac
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode
from flask import Blueprint, Flask, Response, jsonify, render_template_string, request
from joserfc.jwk import RSAKey

from identity.settings import DEMO_CLIENT_ID, DEMO_PATH, IdentitySettings
from identity.signing import write_once

CODE_TTL = 300
SCOPES = ("openid", "profile", "vneid")


@dataclass(frozen=True)
class DemoCitizen:
    sub: str
    name: str
    birthdate: str  # ISO 8601
    citizen_id: str
    level: int

    def claims(self, scopes: set[str], sub_is_citizen_id: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"sub": self.citizen_id if sub_is_citizen_id else self.sub}
        if "profile" in scopes:
            y, m, d = self.birthdate.split("-")
            out.update(name=self.name, birthdate=self.birthdate, HoVaTen=self.name,
                       NgayThangNamSinh=f"{d}/{m}/{y}")  # the national portals' dd/mm/yyyy
        if "vneid" in scopes:
            out.update(SoDinhDanh=self.citizen_id, level=self.level)
        return out


# Province codes 003, 005, 007, 009 and 013 are assigned to no province, so these IDs pass the
# format check but can never be a real person's. Digits 4–6 agree with sex, century and year.
DEMO_CITIZENS: tuple[DemoCitizen, ...] = (
    DemoCitizen("demo-0001", "Nguyễn Văn An", "1990-03-15", "003090000001", 2),
    DemoCitizen("demo-0002", "Trần Thị Bích Ngọc", "2001-11-02", "005301000002", 2),
    DemoCitizen("demo-0003", "Lê Hoàng Phúc", "1978-07-20", "007078000003", 1),
    DemoCitizen("demo-0004", "Phạm Thị Thu Hằng", "1965-01-30", "009165000004", 1),
    DemoCitizen("demo-0005", "Đặng Quốc Việt", "2005-09-09", "013205000005", 2),
)
CITIZENS = {c.sub: c for c in DEMO_CITIZENS}


def load_signing_key(directory: Path) -> RSAKey:
    """The provider's RSA key, generated on first use (``write_once``: two workers starting
    together end up with the same key)."""
    path = directory / "demo_vneid_signing_key.pem"
    if not path.exists():
        write_once(path, RSAKey.generate_key(2048, private=True).as_pem(private=True), 0o600)
    key = RSAKey.import_key(path.read_bytes(), {"use": "sig", "alg": "RS256"})
    key.ensure_kid()  # RFC 7638 thumbprint: stable across restarts
    return key


class CodeStore:
    """Authorization codes in SQLite, shared by every worker of this instance."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS codes (code TEXT PRIMARY KEY, client_id TEXT, "
                       "redirect_uri TEXT, scope TEXT, nonce TEXT, challenge TEXT, method TEXT, "
                       "sub TEXT, auth_time INTEGER, expires REAL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def save(self, row: dict[str, Any]) -> None:
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM codes WHERE expires < ?", (time.time(),))
            db.execute("INSERT INTO codes VALUES (:code, :client_id, :redirect_uri, :scope, :nonce, "
                       ":challenge, :method, :sub, :auth_time, :expires)", row)

    def take(self, code: str, client_id: str) -> dict[str, Any] | None:
        """Claims the code: it is deleted as it is read, so it works once even under
        concurrency (RFC 6749 §4.1.2: the client MUST NOT use a code more than once)."""
        with closing(self._connect()) as db, db:
            db.row_factory = sqlite3.Row
            row = db.execute("DELETE FROM codes WHERE code = ? AND client_id = ? RETURNING *",
                             (code, client_id)).fetchone()
        return dict(row) if row and row["expires"] > time.time() else None

    def nonce_seen(self, nonce: str) -> bool:
        with closing(self._connect()) as db:
            return db.execute("SELECT 1 FROM codes WHERE nonce = ?", (nonce,)).fetchone() is not None


class DemoClient(ClientMixin):  # type: ignore[misc]
    def __init__(self, client_id: str, secret: str, redirect_uri: str) -> None:
        self.client_id, self.secret, self.redirect_uri = client_id, secret, redirect_uri

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri  # RFC 6749 §3.1.2.3: exact match

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


class DemoCode(AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.code_challenge, self.code_challenge_method = row["challenge"], row["method"]

    def get_redirect_uri(self) -> str:
        return str(self.row["redirect_uri"])

    def get_scope(self) -> str:
        return str(self.row["scope"])

    def get_nonce(self) -> str | None:
        return self.row["nonce"]  # type: ignore[no-any-return]

    def get_auth_time(self) -> int:
        return int(self.row["auth_time"])

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE for every client, S256 only (RFC 7636 §4.2; RFC 9700 §2.1.1 recommends PKCE for
    confidential clients too)."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required", redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)


class DemoProvider:
    """The demo provider's state for one app: key, codes, client and authlib server."""

    def __init__(self, settings: IdentitySettings) -> None:
        self.issuer = settings.demo_issuer
        self.sub_is_citizen_id = settings.demo_sub == "citizen_id"
        self.key = load_signing_key(settings.instance_dir)
        self.codes = CodeStore(settings.instance_dir / "demo_vneid.sqlite")
        self.client = DemoClient(DEMO_CLIENT_ID, settings.demo_secret, settings.redirect_uri)
        provider = self

        class Grant(AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                provider.codes.save({
                    "code": code, "client_id": req.client.client_id, "redirect_uri": req.payload.redirect_uri,
                    "scope": req.scope, "nonce": data.get("nonce"), "challenge": data.get("code_challenge"),
                    "method": data.get("code_challenge_method"), "sub": req.user.sub,
                    "auth_time": int(time.time()), "expires": time.time() + CODE_TTL})

            def query_authorization_code(self, code: str, client: DemoClient) -> DemoCode | None:
                row = provider.codes.take(code, client.client_id)
                return DemoCode(row) if row else None

            def delete_authorization_code(self, authorization_code: DemoCode) -> None:
                pass  # already deleted when it was taken

            def authenticate_user(self, authorization_code: DemoCode) -> DemoCitizen | None:
                return CITIZENS.get(authorization_code.row["sub"])

        class OpenID(OpenIDCode):  # type: ignore[misc]
            def exists_nonce(self, nonce: str, req: Any) -> bool:
                return provider.codes.nonce_seen(nonce)

            def resolve_client_private_key(self, client: DemoClient) -> RSAKey:
                return provider.key

            def get_client_algorithm(self, client: DemoClient) -> str:
                return "RS256"

            def get_encode_header(self, client: DemoClient) -> dict[str, Any]:
                return {"alg": "RS256", "kid": provider.key.kid}  # OIDC Core §10.1: name the key

            def get_client_claims(self, client: DemoClient) -> dict[str, Any]:
                now = int(time.time())
                return {"iss": provider.issuer, "aud": [client.get_client_id()], "iat": now, "exp": now + 300}

            def generate_user_info(self, user: DemoCitizen, scope: str) -> dict[str, Any]:
                return user.claims(set(scope.split()), provider.sub_is_citizen_id)

        class Issuer(IssuerParameter):  # type: ignore[misc]
            def get_issuer(self) -> str:
                return provider.issuer  # RFC 9207 §2: iss in every authorization response

        self.server = AuthorizationServer(query_client=self._query_client, save_token=lambda token, req: None)
        self.server.load_config({})
        self.server.register_grant(Grant, [S256Required(required=True), OpenID(require_nonce=True)])
        self.server.register_extension(Issuer())

    def _query_client(self, client_id: str) -> DemoClient | None:
        return self.client if client_id == self.client.client_id else None

    def metadata(self) -> dict[str, Any]:
        # OpenID Connect Discovery 1.0 §3
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(SCOPES),
            "claims_supported": ["sub", "name", "birthdate", "HoVaTen", "NgayThangNamSinh", "SoDinhDanh", "level"],
            "grant_types_supported": ["authorization_code"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
        }


PICK_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>VNeID (demo) — Đăng nhập</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;overflow-wrap:anywhere}
button{display:block;width:100%;text-align:left;margin:.4rem 0;padding:.6rem;font-size:1rem}
.note{color:#a33}</style></head><body>
<h1>VNeID — bản thử nghiệm <small>(demo)</small></h1>
<p class="note">Nhà cung cấp định danh giả lập, chỉ dùng để chạy thử. Demo identity provider: no real data.</p>
<p>Chọn một công dân mẫu để đăng nhập vào <strong>{{ client_id }}</strong> / Pick a demo citizen:</p>
<form method="post" action="?{{ query }}">
{% for c in citizens %}<button name="citizen" value="{{ c.sub }}">{{ c.name }} — {{ c.birthdate }} —
mức định danh {{ c.level }} / level {{ c.level }}</button>{% endfor %}
<button name="deny" value="1">Từ chối / Deny</button>
</form></body></html>"""


def create_blueprint(provider: DemoProvider) -> Blueprint:
    bp = Blueprint("demo_vneid", __name__)

    @bp.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        return jsonify(provider.metadata())

    @bp.get("/jwks")
    def jwks() -> Response:
        return jsonify({"keys": [provider.key.as_dict(private=False)]})

    @bp.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        server = provider.server
        citizen = CITIZENS.get(request.form.get("citizen", "")) if request.method == "POST" else None
        try:
            grant = server.get_consent_grant(end_user=citizen)
        except OAuth2Error as error:
            # Invalid client or redirect_uri: authlib answers here, never redirects (§4.1.2.1).
            return server.handle_error_response(None, error)
        if request.method == "GET" or (citizen is None and not request.form.get("deny")):
            return render_template_string(PICK_PAGE, citizens=DEMO_CITIZENS, client_id=grant.client.client_id,
                                          query=request.query_string.decode())
        return server.create_authorization_response(grant_user=citizen, grant=grant)

    @bp.post("/token")
    def token() -> Any:
        return provider.server.create_token_response()

    return bp


def init_demo(app: Flask, settings: IdentitySettings) -> DemoProvider:
    """Mounts the demo provider at /demo-vneid (its issuer: ``settings.demo_issuer``)."""
    provider = DemoProvider(settings)
    app.extensions["identity.demo_provider"] = provider
    app.register_blueprint(create_blueprint(provider), url_prefix=DEMO_PATH)
    return provider
