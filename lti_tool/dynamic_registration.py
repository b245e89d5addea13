"""LTI Dynamic Registration 1.0: an LMS registers itself with the hub, for one tenant.

How a tenant gets its registration: an operator runs ``hocvu lti register-url --tenant SLUG``,
which makes a one-time invitation (7 days by default, only its hash stored) and prints
``<public URL>/lti/register/<slug>?invite=<token>``. The LMS administrator pastes that URL into
the LMS as the tool's registration URL; the LMS opens it with ``openid_configuration`` and
``registration_token`` added (DR §3.3). The hub shows what will be registered, and on
confirmation fetches the platform's configuration (§3.4), posts its client registration (§3.5),
stores registration + deployment for the invitation's tenant (§3.6) and closes the window
(§3.7). The invitation is what authorises writing into that tenant: without one, anybody could
attach a platform to any tenant.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import requests
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from lrs.storage import Tenant, as_utc
from lti_tool.claims import DEEP_LINKING_REQUEST
from lti_tool.errors import InvalidConfiguration, LaunchForbidden, PlatformUnavailable, RegistrationFailed
from lti_tool.registrations import PlatformSpec, add_platform, check_url
from lti_tool.storage import LtiRegistration, LtiRegistrationInvite

INVITE_TTL = timedelta(days=7)
TOOL_NAME = "Bình dân học vụ số (hocvu)"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
# The services we use (AGS 2.0 §3.1 scopes, NRPS 2.0 §3.6.1); only those the platform lists are asked for.
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invite(session: Session, tenant: Tenant, *, ttl: timedelta = INVITE_TTL,
                  now: datetime | None = None) -> tuple[LtiRegistrationInvite, str]:
    """A one-time registration invitation; the token is returned this once and never stored."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    invite = LtiRegistrationInvite(tenant_id=tenant.id, token_hash=_hash(token), created=now, expires=now + ttl)
    session.add(invite)
    session.flush()
    return invite, token


def check_invite(session: Session, tenant_slug: str, token: str, *,
                 now: datetime | None = None) -> tuple[Tenant, LtiRegistrationInvite]:
    now = now or datetime.now(UTC)
    tenant = session.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
    # By the tenant the link names and the hash: the unique key (tenant_id, token_hash) answers it.
    invite = None if tenant is None else session.scalar(select(LtiRegistrationInvite).where(
        LtiRegistrationInvite.tenant_id == tenant.id, LtiRegistrationInvite.token_hash == _hash(token or "")))
    # One answer for every failure, so the page does not tell which tenants or tokens exist.
    refused = LaunchForbidden("this registration link is not valid (unknown, expired or already used); "
                              "ask the hub operator for a new one")
    if tenant is None or invite is None or invite.used is not None:
        raise refused
    if as_utc(invite.expires) <= now:
        raise refused
    return tenant, invite


def _is(invite: LtiRegistrationInvite) -> ColumnElement[bool]:
    """The invitation's row by its whole key (tenant_id, id): the key's index, one shard on Citus."""
    return and_(LtiRegistrationInvite.tenant_id == invite.tenant_id, LtiRegistrationInvite.id == invite.id)


def claim_invite(session: Session, invite: LtiRegistrationInvite, *, now: datetime | None = None) -> None:
    """Marks the invitation used before talking to the platform (compare-and-set), so two
    submissions of one link cannot register twice; ``release_invite`` undoes it on failure."""
    result = cast("CursorResult[Any]", session.execute(
        update(LtiRegistrationInvite)
        .where(_is(invite), LtiRegistrationInvite.used.is_(None))
        .values(used=now or datetime.now(UTC))))
    session.commit()
    if not result.rowcount:
        raise LaunchForbidden("this registration link was just used")


def release_invite(session: Session, invite: LtiRegistrationInvite) -> None:
    session.rollback()
    session.execute(update(LtiRegistrationInvite).where(_is(invite)).values(used=None, registration_id=None))
    session.commit()


@dataclass(frozen=True)
class PlatformConfiguration:
    """The parts of the platform's OpenID configuration (DR §3.4.1, §3.4.2) we use."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    authorization_server: str | None = None
    scopes_supported: tuple[str, ...] = ()
    product_family_code: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class IssuerFamily:
    """A platform whose issuer is, by its vendor's documentation, not the site that serves its
    OpenID configuration: per issuer, the hosts its login, token and key endpoints live on."""

    product_family_code: str
    issuers: dict[str, frozenset[str]]


# Canvas: every Instructure-hosted Canvas launches with one issuer whatever the school's domain
# (Canvas LTI docs, "Launch Overview": iss is https://canvas.instructure.com), while Dynamic
# Registration hands the tool the school's own domain's configuration URL ("Registering an LTI
# Tool"); the authorization, token and JWKS endpoints live on Instructure's hosts. Beta and test
# instances have their own issuers. Self-hosted Canvas sets its own issuer and matches as usual.
ISSUER_FAMILIES: tuple[IssuerFamily, ...] = (
    IssuerFamily("canvas", {
        "https://canvas.instructure.com": frozenset({"canvas.instructure.com", "sso.canvaslms.com"}),
        "https://canvas.beta.instructure.com": frozenset({"canvas.beta.instructure.com", "sso.beta.canvaslms.com"}),
        "https://canvas.test.instructure.com": frozenset({"canvas.test.instructure.com", "sso.test.canvaslms.com"}),
    }),
)


def check_issuer(config_url: str, data: dict[str, Any]) -> None:
    """DR 1.0 §3.5.1 "Issuer and OpenID Configuration URL Match": the configuration must come from
    the issuer's own site (scheme and host compared: a strict prefix test rejects real platforms that
    serve it under another path). The one exception is a platform family that documents another
    issuer (``ISSUER_FAMILIES``), and only when the configuration itself says so: its
    product_family_code names the family, the issuer is one of the family's, every endpoint whose
    answer the tool trusts (authorization, token, JWKS) is on that issuer's hosts, and the
    registration endpoint is on the site that served the configuration. Launches are verified with
    the keys at ``jwks_uri``, so a site that claims Canvas's issuer cannot sign as Canvas."""
    got, issuer = urlsplit(config_url), urlsplit(str(data["issuer"]))
    if (got.scheme, got.hostname, got.port) == (issuer.scheme, issuer.hostname, issuer.port):
        return
    product = str((data.get(PLATFORM_CONFIG) or {}).get("product_family_code") or "")
    family = next((f for f in ISSUER_FAMILIES if f.product_family_code == product), None)
    hosts = family.issuers.get(str(data["issuer"]).rstrip("/")) if family else None
    if hosts is None:
        raise RegistrationFailed(f"the configuration's issuer {data['issuer']} is not the site that served it "
                                 f"({got.scheme}://{got.netloc}), and the platform does not say why (DR 1.0 §3.5.1)")
    elsewhere = sorted({str(urlsplit(str(data[k])).hostname) for k in ("authorization_endpoint", "token_endpoint",
                                                                       "jwks_uri")} - hosts)
    if elsewhere:
        raise RegistrationFailed(f"the configuration claims the {product} issuer {data['issuer']} but its "
                                 f"endpoints are on other hosts ({', '.join(elsewhere)})")
    if urlsplit(str(data["registration_endpoint"])).hostname != got.hostname:
        raise RegistrationFailed("the registration endpoint is not on the site that served the configuration")


def fetch_platform_configuration(http: requests.Session, url: str,
                                 registration_token: str | None = None) -> PlatformConfiguration:
    try:
        check_url("openid_configuration", url)
    except InvalidConfiguration as exc:
        raise RegistrationFailed(exc.message) from None
    headers = {"Accept": "application/json"}
    if registration_token:
        # DR 1.0 §3.4: the platform may require the registration token for its configuration too
        # (Canvas does: "include the registration_token ... as the bearer token").
        headers["Authorization"] = f"Bearer {registration_token}"
    try:
        response = http.get(url, headers=headers)
    except requests.RequestException as exc:
        raise PlatformUnavailable(f"could not fetch the platform configuration: {type(exc).__name__}") from exc
    if not response.ok:
        raise PlatformUnavailable(f"the platform configuration answered HTTP {response.status_code}",
                                  http_status=response.status_code)
    try:
        data = response.json()
    except ValueError:
        raise RegistrationFailed("the platform configuration is not JSON") from None
    if not isinstance(data, dict):
        raise RegistrationFailed("the platform configuration is not a JSON object")
    required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
    missing = [k for k in required if not data.get(k)]
    if missing:
        raise RegistrationFailed(f"the platform configuration lacks {', '.join(missing)}")
    try:
        for key in required:
            check_url(key, str(data[key]), issuer=key == "issuer")
    except InvalidConfiguration as exc:
        raise RegistrationFailed(exc.message) from None
    check_issuer(url, data)
    platform = data.get(PLATFORM_CONFIG) or {}
    return PlatformConfiguration(
        issuer=str(data["issuer"]), authorization_endpoint=str(data["authorization_endpoint"]),
        token_endpoint=str(data["token_endpoint"]), jwks_uri=str(data["jwks_uri"]),
        registration_endpoint=str(data["registration_endpoint"]),
        authorization_server=data.get("authorization_server") or None,
        scopes_supported=tuple(str(s) for s in data.get("scopes_supported") or ()),
        product_family_code=str(platform.get("product_family_code") or ""), raw=data)


def client_registration(config: PlatformConfiguration, *, launch_url: str, login_url: str,
                        jwks_url: str) -> dict[str, Any]:
    """The client registration request (DR §3.5.2, OpenID Connect Dynamic Client Registration)."""
    offered = set(config.scopes_supported)
    scopes = [s for s in SCOPES if not offered or s in offered]
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": login_url,
        "redirect_uris": [launch_url],
        "client_name": TOOL_NAME,
        "jwks_uri": jwks_url,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scopes),
        TOOL_CONFIG: {
            "domain": urlsplit(launch_url).netloc,
            "target_link_uri": launch_url,
            "description": "Khoá học kỹ năng số quốc gia / National digital-skills courses",
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email", "locale"],
            # §3.5.2.3: the messages we answer; resource link launches need no entry.
            "messages": [{"type": DEEP_LINKING_REQUEST, "target_link_uri": launch_url, "label": TOOL_NAME}],
        },
    }


def register_client(http: requests.Session, config: PlatformConfiguration, registration_token: str | None,
                    body: dict[str, Any]) -> dict[str, Any]:
    """POSTs the registration; returns the platform's answer (DR §3.6), which holds our client_id."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if registration_token:
        # §3.5.2: the registration token, when given, is sent as a bearer token.
        headers["Authorization"] = f"Bearer {registration_token}"
    try:
        response = http.post(config.registration_endpoint, json=body, headers=headers)
    except requests.RequestException as exc:
        raise PlatformUnavailable(f"could not reach the registration endpoint: {type(exc).__name__}") from exc
    if response.status_code >= 500:
        raise PlatformUnavailable(f"the registration endpoint answered HTTP {response.status_code}",
                                  http_status=response.status_code)
    if not response.ok:
        raise RegistrationFailed(f"the platform refused the registration (HTTP {response.status_code})")
    try:
        answer = response.json()
    except ValueError:
        raise RegistrationFailed("the registration answer is not JSON") from None
    if not isinstance(answer, dict) or not answer.get("client_id"):
        raise RegistrationFailed("the registration answer has no client_id")
    return answer


def complete(session: Session, tenant: Tenant, invite: LtiRegistrationInvite, config: PlatformConfiguration,
             answer: dict[str, Any], *, now: datetime | None = None) -> LtiRegistration:
    """Stores the registration and its deployment for the invitation's tenant (invitation claimed)."""
    now = now or datetime.now(UTC)
    tool_config = answer.get(TOOL_CONFIG) or {}
    # §3.6: deployment_id is in the answer when the platform made one; otherwise the operator
    # adds it later with `hocvu lti platform add ... --deployment-id`.
    deployment_id = str(tool_config.get("deployment_id") or "")
    spec = PlatformSpec(issuer=config.issuer, client_id=str(answer["client_id"]),
                        auth_login_url=config.authorization_endpoint, token_url=config.token_endpoint,
                        keyset_url=config.jwks_uri, auth_audience=config.authorization_server,
                        name=config.product_family_code)
    row = add_platform(session, tenant, spec, [deployment_id] if deployment_id else [], now=now)
    session.execute(update(LtiRegistrationInvite).where(_is(invite)).values(used=now, registration_id=row.id))
    session.flush()
    return row

