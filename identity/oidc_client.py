"""OpenID Connect relying party for VNeID: authorization code flow with PKCE, nonce and state.

Flask-free (DESIGN.md, sansio split): ``OidcClient.begin()`` builds the authentication request
and the ``PendingLogin`` the caller keeps (in the signed session); ``OidcClient.complete()``
takes that and the callback's query parameters and returns a ``VerifiedIdentity`` or raises an
``IdentityError``. Protocol (authorization URL, PKCE challenge, token request with client
authentication) is authlib's; ID token validation is ours on joserfc, because every check of
OpenID Connect Core 1.0 §3.1.3.7 must be pinned here (authlib's defaults accept a token for
another audience when ``azp`` names us).
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oidc.core.util import create_half_hash
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import ECKey, JWKRegistry, KeyParameters, RSAKey
from joserfc.jwk import Key as Jwk
from joserfc.jwt import JWTClaimsRegistry

from identity.claims import map_claims, subject_hmac
from identity.errors import (
    InsufficientLevel,
    InvalidIdToken,
    InvalidState,
    LoginRejected,
    NotConfigured,
    ProviderMisconfigured,
    ProviderUnavailable,
    TokenExchangeFailed,
)
from identity.settings import IdentitySettings

log = logging.getLogger(__name__)
METADATA_TTL = 3600.0
JWKS_TTL = 3600.0
# An unknown kid triggers one JWKS refetch (key rotation, OIDC Core §10.1.1), but not more often
# than this: forged tokens with random kids must not turn us into a load generator.
JWKS_MIN_REFRESH = 30.0
LOGIN_TTL = 600  # a login started more than 10 minutes ago is stale
KTY_FOR_ALG = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def _error_code(value: object) -> str:
    """An error code from the provider, safe to show and log: RFC 6749 §4.1.2.1 codes are short
    ASCII words, and anything else (newlines for forged log lines, markup) is dropped."""
    return re.sub(r"[^A-Za-z0-9_.-]", "", str(value or ""))[:64] or "unknown"


@dataclass(frozen=True)
class ProviderMetadata:
    """The endpoints we use (OpenID Connect Discovery 1.0 §3, or configured by hand)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    # RFC 9207 §3: the provider says it sends ``iss`` in authorization responses.
    iss_parameter_supported: bool = False


@dataclass(frozen=True)
class PendingLogin:
    """What the browser's session keeps between /login and /callback. Only the party that
    started the login has it; the signed session cookie makes it tamper-evident."""

    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    created: float
    next_url: str = "/identity/"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingLogin:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class LoginRequest:
    url: str
    pending: PendingLogin


@dataclass(frozen=True)
class VerifiedIdentity:
    """A person as the provider vouched for them. Holds no token and no citizen ID in clear, and
    not the provider's ``sub`` either (a provider may put the citizen ID there): only its keyed
    hash (``identity.claims.subject_hmac``)."""

    issuer: str
    subject_hmac: str
    name: str | None
    birthdate: date | None
    citizen_id_hmac: str | None
    level: int | None
    auth_time: int | None = None


class OidcClient:
    """One configured provider. Thread-safe: gunicorn threads share one instance per app."""

    def __init__(self, settings: IdentitySettings, http: requests.Session | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.http = http or requests.Session()
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._jwks: tuple[float, list[Jwk]] | None = None

    # -- provider metadata and keys -------------------------------------------------------------

    def _get_json(self, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.get(url, timeout=self.settings.http_timeout, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"the provider's {what} did not answer ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise ProviderUnavailable(f"the provider's {what} answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"the provider's {what} is not a JSON object")
        return data

    def metadata(self) -> ProviderMetadata:
        s = self.settings
        if not s.configured:
            raise NotConfigured("no VNeID provider is configured (HOCVU_VNEID_ISSUER, or HOCVU_DEMO_IDP=1)")
        with self._lock:
            if self._metadata and self.clock() - self._metadata[0] < METADATA_TTL:
                return self._metadata[1]
        doc: dict[str, Any] = {}
        if s.discovery_url:
            doc = self._get_json(s.discovery_url, "discovery document")
            # OpenID Connect Discovery 1.0 §4.3: the issuer in the document MUST be identical to
            # the one we expect, else an attacker's document could redirect us to its endpoints.
            if doc.get("issuer") != s.issuer:
                raise ProviderMisconfigured("the discovery document names another issuer than HOCVU_VNEID_ISSUER")
        try:
            meta = ProviderMetadata(
                issuer=s.issuer,
                authorization_endpoint=s.authorization_endpoint or doc["authorization_endpoint"],
                token_endpoint=s.token_endpoint or doc["token_endpoint"],
                jwks_uri=s.jwks_uri or doc["jwks_uri"],
                userinfo_endpoint=s.userinfo_endpoint or doc.get("userinfo_endpoint"),
                iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported") is True,
            )
        except KeyError as missing:
            raise ProviderMisconfigured(f"the discovery document has no {missing}") from None
        methods = doc.get("code_challenge_methods_supported")
        if methods is not None and "S256" not in methods:
            # RFC 7636 §4.2: S256 is mandatory to implement; we never fall back to "plain".
            raise ProviderMisconfigured("the provider does not support PKCE S256")
        with self._lock:
            self._metadata = (self.clock(), meta)
        return meta

    def _load_jwks(self) -> list[Jwk]:
        data = self._get_json(self.metadata().jwks_uri, "JWKS")
        keys: list[Jwk] = []
        for entry in data.get("keys") or []:
            # RFC 7517 §5: skip keys we do not understand; keys for encryption are not for us.
            if not isinstance(entry, dict) or entry.get("use") not in (None, "sig"):
                continue
            try:
                keys.append(JWKRegistry.import_key(entry))
            except (JoseError, ValueError, TypeError):
                continue
        return keys

    def signing_keys(self, refresh: bool = False) -> list[Jwk]:
        now = self.clock()
        with self._lock:
            cached = self._jwks
        if cached is None or now - cached[0] > JWKS_TTL or (refresh and now - cached[0] > JWKS_MIN_REFRESH):
            cached = (now, self._load_jwks())
            log.info("identity: loaded %d signing keys from the provider's JWKS", len(cached[1]))
            with self._lock:
                self._jwks = cached
        return cached[1]

    def _key_for(self, header: Mapping[str, Any]) -> Jwk:
        alg = str(header.get("alg", ""))
        kid, kty = header.get("kid"), KTY_FOR_ALG.get(alg[:2])

        def pick(keys: list[Jwk]) -> Jwk | None:
            # RFC 7517 §4.4: a key that names its alg is used with that alg only.
            usable = [k for k in keys if k.key_type == kty and (kid is None or k.kid == kid)
                      and k.alg in (None, alg)]
            # OIDC Core §10.1: with several keys the token MUST name one by kid.
            return usable[0] if len(usable) == 1 or (usable and kid is not None) else None

        key = pick(self.signing_keys())
        if key is None:
            key = pick(self.signing_keys(refresh=True))
        if key is None:
            raise InvalidIdToken("the ID token is signed by a key the provider does not publish (kid)")
        return key

    # -- the flow -------------------------------------------------------------------------------

    def begin(self, next_url: str = "/identity/") -> LoginRequest:
        """Builds the authentication request (OIDC Core §3.1.2.1)."""
        s, meta = self.settings, self.metadata()
        # RFC 6749 §10.12 state (CSRF), OIDC Core §3.1.2.1 nonce (replay), RFC 7636 §4.1
        # code_verifier: 43–128 unreserved characters; token_urlsafe(64) gives 86, 512 bits.
        pending = PendingLogin(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                               code_verifier=secrets.token_urlsafe(64), redirect_uri=s.redirect_uri,
                               created=self.clock(), next_url=next_url)
        with OAuth2Session(s.client_id, scope=" ".join(s.scopes), redirect_uri=s.redirect_uri,
                           code_challenge_method="S256") as oauth:  # RFC 7636 §4.2: S256, never plain
            url, _ = oauth.create_authorization_url(meta.authorization_endpoint, state=pending.state,
                                                    code_verifier=pending.code_verifier, nonce=pending.nonce)
        return LoginRequest(url=url, pending=pending)

    def complete(self, pending: PendingLogin, params: Mapping[str, str]) -> VerifiedIdentity:
        """Handles the authorization response (the caller has matched ``state`` to ``pending``)."""
        s, meta = self.settings, self.metadata()
        if self.clock() - pending.created > LOGIN_TTL:
            raise InvalidState("this sign-in was started too long ago; please start again")
        # RFC 9207 §2.4: when present (or promised by metadata), iss must be the expected issuer;
        # this defeats mix-up attacks where a response from another provider is replayed to us.
        if ("iss" in params or meta.iss_parameter_supported) and params.get("iss") != s.issuer:
            raise LoginRejected("the authorization response names another issuer (RFC 9207)")
        if "error" in params:  # RFC 6749 §4.1.2.1
            error = _error_code(params.get("error"))
            raise LoginRejected(f"the provider refused the sign-in ({error})", provider_error=error)
        code = params.get("code")
        if not code:
            raise LoginRejected("the authorization response carries no code")
        token = self.exchange_code(code, pending.code_verifier, pending.redirect_uri)
        id_token = token.get("id_token")
        if not isinstance(id_token, str):  # OIDC Core §3.1.3.3: the response MUST hold an ID token
            raise InvalidIdToken("the token response carries no ID token")
        access_token = token.get("access_token") if isinstance(token.get("access_token"), str) else None
        claims = self.validate_id_token(id_token, nonce=pending.nonce, access_token=access_token)
        wanted = (*s.claims.name, *s.claims.birthdate, *s.claims.citizen_id, *s.claims.level)
        if meta.userinfo_endpoint and access_token and any(c not in claims for c in wanted):
            # OIDC Core §5.4: with the code flow, scope claims are normally served by userinfo.
            userinfo = self.fetch_userinfo(meta.userinfo_endpoint, access_token, claims["sub"])
            claims = {**userinfo, **claims}  # the ID token's own (signed, checked) claims win
        mapped = map_claims(claims, s.claims, s.pepper, require_citizen_id=s.require_citizen_id,
                            require_level=s.min_level > 0)
        if s.min_level and (mapped.level or 0) < s.min_level:
            raise InsufficientLevel(f"this service needs VNeID identification level {s.min_level}; "
                                    f"the account is at level {mapped.level}")
        auth_time = claims.get("auth_time")
        # The clear sub stops here (Decree 13/2023/NĐ-CP Art. 3: only what the purpose needs).
        keyed = subject_hmac(s.pepper, claims["iss"], claims["sub"])
        return VerifiedIdentity(issuer=claims["iss"], subject_hmac=keyed, name=mapped.name,
                                birthdate=mapped.birthdate, citizen_id_hmac=mapped.citizen_id_hmac,
                                level=mapped.level, auth_time=auth_time if isinstance(auth_time, int) else None)

    def _oauth_session(self) -> OAuth2Session:
        s = self.settings
        if s.token_auth_method == "private_key_jwt":
            key: Any
            params: KeyParameters | None = {"kid": s.private_key_kid} if s.private_key_kid else None
            try:
                key, alg = RSAKey.import_key(s.private_key_pem or "", params), "RS256"
            except (JoseError, ValueError):
                key, alg = ECKey.import_key(s.private_key_pem or "", params), "ES256"
            oauth = OAuth2Session(s.client_id, key, token_endpoint_auth_method="private_key_jwt",
                                  redirect_uri=s.redirect_uri)
            # RFC 7523 §3 / OIDC Core §9: the assertion's aud is the token endpoint.
            oauth.register_client_auth_method(PrivateKeyJWT(
                self.metadata().token_endpoint, headers={"kid": s.private_key_kid} if s.private_key_kid else None,
                alg=alg))
            return oauth
        return OAuth2Session(s.client_id, s.client_secret, token_endpoint_auth_method=s.token_auth_method,
                             redirect_uri=s.redirect_uri)

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The token request (RFC 6749 §4.1.3) with the PKCE verifier (RFC 7636 §4.5)."""
        meta = self.metadata()
        with self._oauth_session() as oauth:
            try:
                token = oauth.fetch_token(meta.token_endpoint, grant_type="authorization_code", code=code,
                                          code_verifier=code_verifier, redirect_uri=redirect_uri,
                                          timeout=self.settings.http_timeout, allow_redirects=False)
            except OAuthError as err:  # RFC 6749 §5.2 error response, e.g. invalid_grant
                error = _error_code(err.error)
                raise TokenExchangeFailed(f"the provider refused the code ({error})", provider_error=error) from None
            except (requests.RequestException, ValueError) as exc:
                raise ProviderUnavailable(
                    f"the token endpoint did not answer usefully ({type(exc).__name__})") from None
        # OIDC Core §3.1.3.3: token_type MUST be Bearer (case-insensitive, RFC 6749 §5.1).
        if str(token.get("token_type", "")).lower() != "bearer":
            raise TokenExchangeFailed("the token response is not a Bearer token response")
        return dict(token)

    def fetch_userinfo(self, endpoint: str, access_token: str, subject: str) -> dict[str, Any]:
        data = self._get_json(endpoint, "userinfo endpoint", headers={"Authorization": f"Bearer {access_token}"})
        # OIDC Core §5.3.2: the sub in the UserInfo Response MUST be verified to exactly match
        # the sub in the ID Token; if not, the values MUST NOT be used.
        if data.get("sub") != subject:
            raise InvalidIdToken("the userinfo response is about another subject than the ID token")
        return data

    def validate_id_token(self, id_token: str, *, nonce: str, access_token: str | None = None) -> dict[str, Any]:
        """OpenID Connect Core 1.0 §3.1.3.7 (ID Token Validation), every step pinned."""
        s = self.settings
        # (1) we register for no ID token encryption, so a JWE (five parts) is refused.
        if id_token.count(".") != 2:
            raise InvalidIdToken("the ID token is not a signed JWT in compact form")
        try:
            header = jws.extract_compact(id_token.encode()).headers()
        except (JoseError, ValueError):
            raise InvalidIdToken("the ID token is malformed") from None
        alg = header.get("alg")
        # (6)/(7) and RFC 8725 §3.1: only the configured asymmetric algorithms; never "none",
        # never HS* (a client secret is not how we trust this provider).
        if not isinstance(alg, str) or alg not in s.id_token_algs or alg == "none":
            raise InvalidIdToken(f"the ID token's alg {str(alg)[:16]!r} is not allowed")
        # (6) verify the signature with the provider's JWKS key named by kid. Keys referenced
        # by the token itself (jku, x5u, jwk headers) are never used.
        key = self._key_for(header)
        try:
            claims = jwt.decode(id_token, key, algorithms=[alg]).claims
        except BadSignatureError:
            raise InvalidIdToken("the ID token's signature does not verify") from None
        except (JoseError, ValueError):
            raise InvalidIdToken("the ID token could not be verified") from None
        now = int(self.clock())
        registry = JWTClaimsRegistry(
            now=now, leeway=s.leeway,
            iss={"essential": True, "value": s.issuer},     # (2) iss MUST exactly match
            aud={"essential": True, "value": s.client_id},  # (3) aud MUST contain our client_id
            sub={"essential": True},
            exp={"essential": True},                        # (9) current time before exp
            iat={"essential": True},                        # (10) iat present, not in the future
            nonce={"essential": True, "value": nonce},      # (11) nonce MUST equal the one we sent
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise InvalidIdToken("the ID token has expired") from None
        except (MissingClaimError, InvalidClaimError) as err:
            raise InvalidIdToken(f"the ID token's claims are not valid ({err.error}: {err.description})") from None
        aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        # (3) "...or if it contains additional audiences not trusted by the Client": we trust none.
        if any(a != s.client_id for a in aud):
            raise InvalidIdToken("the ID token is also addressed to other audiences")
        # (4)/(5) azp, when present, MUST be our client_id (authlib alone would accept a token
        # whose aud is someone else's as long as azp names us; (3) above already refused that).
        if "azp" in claims and claims["azp"] != s.client_id:
            raise InvalidIdToken("the ID token's azp is not this client")
        # (10) reject tokens issued too far from now (a replayed old token, a skewed clock).
        if now - int(claims["iat"]) > s.max_id_token_age + s.leeway:
            raise InvalidIdToken("the ID token was issued too long ago")
        if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:  # §2: sub ≤ 255 ASCII
            raise InvalidIdToken("the ID token's sub is not valid")
        # §3.1.3.8: if at_hash is present, it binds the access token to this ID token.
        if access_token and "at_hash" in claims:
            expected = create_half_hash(access_token, alg)
            if expected is None or expected.decode() != claims["at_hash"]:
                raise InvalidIdToken("the ID token's at_hash does not match the access token")
        return dict(claims)
