"""Identity settings from ``HOCVU_VNEID_*`` environment variables (DESIGN.md, Conventions).

| variable | meaning |
|---|---|
| ``HOCVU_VNEID_ISSUER`` | the provider's issuer identifier, compared exactly with ``iss`` |
| ``HOCVU_VNEID_DISCOVERY_URL`` | its discovery document (optional: VNeID publishes none) |
| ``HOCVU_VNEID_AUTHORIZE_URL``, ``_TOKEN_URL``, ``_JWKS_URL``, ``_USERINFO_URL`` | explicit endpoints |
| ``HOCVU_VNEID_CLIENT_ID`` | our client id at the provider |
| ``HOCVU_VNEID_CLIENT_SECRET`` | for ``client_secret_basic`` / ``client_secret_post`` |
| ``HOCVU_VNEID_PRIVATE_KEY_FILE`` (or ``_PRIVATE_KEY``, PEM) and ``_PRIVATE_KEY_KID`` | for ``private_key_jwt`` |
| ``HOCVU_VNEID_TOKEN_AUTH_METHOD`` | ``client_secret_basic`` (default), ``client_secret_post``, ``private_key_jwt`` |
| ``HOCVU_VNEID_SCOPES`` | space-separated, default ``openid profile`` |
| ``HOCVU_VNEID_CLAIMS`` | claim mapping, e.g. ``name=HoVaTen|name,citizen_id=SoDinhDanh,level=acr`` |
| ``HOCVU_VNEID_LEVEL_VALUES`` | provider level values, e.g. ``urn:vneid:loa:2=2`` |
| ``HOCVU_VNEID_PEPPER`` | secret key of the citizen-ID HMAC (else kept in the instance folder) |
| ``HOCVU_VNEID_MIN_LEVEL`` | 0, 1 or 2 (default 1; 0 = the level claim is optional) |
| ``HOCVU_VNEID_REQUIRE_CITIZEN_ID`` | 1 (default) or 0 |
| ``HOCVU_VNEID_ID_TOKEN_ALGS`` | allowed ``alg`` values, default ``RS256 PS256 ES256`` |
| ``HOCVU_VNEID_REDIRECT_URI`` | default ``<HOCVU_PUBLIC_URL>/identity/callback`` |
| ``HOCVU_DEMO_IDP`` | 1 mounts the demo provider at ``/demo-vneid`` and, when no issuer is set, uses it |
| ``HOCVU_DEMO_IDP_SUB`` | the demo provider's ``sub``: ``demo`` (``demo-0001``..., default) or ``citizen_id`` |
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from identity.claims import ClaimMapping
from identity.signing import write_once

TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
# RFC 8725 §3.1 / OIDC Core §3.1.3.7 (6, 7): an explicit allow-list; "none" and the HMAC
# algorithms (keyed by the client secret) are never in the default.
DEFAULT_ALGS = ("RS256", "PS256", "ES256")
FORBIDDEN_ALGS = frozenset({"none"})
DEMO_PATH = "/demo-vneid"
DEMO_CLIENT_ID = "hocvu-demo"
DEMO_SUBS = ("demo", "citizen_id")


def _instance_dir() -> Path:
    return Path(os.environ.get("HOCVU_INSTANCE_DIR", "instance"))


def instance_secret(directory: Path, name: str) -> str:
    """A random secret kept in the instance folder (the embedded mode needs no set-up); written
    whole and linked into place, so workers starting together agree on one value and none reads
    a file still being written."""
    path = directory / name
    if not path.exists():
        write_once(path, secrets.token_urlsafe(48).encode(), 0o600)
    return path.read_text().strip()


PEPPER_FILE = "vneid_pepper"


def existing_pepper(env: Mapping[str, str] = os.environ) -> bytes | None:
    """The pepper this hub already uses, without making one: ``HOCVU_VNEID_PEPPER``, else the
    instance folder's file (``HOCVU_INSTANCE_DIR``). Migration 0090 reads it to hash the subjects of
    existing accounts exactly as sign-ins will."""
    value = env.get("HOCVU_VNEID_PEPPER")
    if value:
        return value.encode()
    path = Path(env.get("HOCVU_INSTANCE_DIR", "instance")) / PEPPER_FILE
    return path.read_text().strip().encode() if path.is_file() else None


def _demo_secret(secret_key: str) -> str:
    # Derived from the app secret: the hub (client) and its demo provider agree with no set-up.
    return hmac.new(secret_key.encode(), b"hocvu/demo-vneid/client", hashlib.sha256).hexdigest()


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw in (None, "") else raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class IdentitySettings:
    issuer: str = ""
    discovery_url: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    jwks_uri: str | None = None
    userinfo_endpoint: str | None = None
    client_id: str = ""
    client_secret: str | None = field(default=None, repr=False)
    private_key_pem: str | None = field(default=None, repr=False)
    private_key_kid: str | None = None
    token_auth_method: str = "client_secret_basic"
    scopes: tuple[str, ...] = ("openid", "profile")
    claims: ClaimMapping = field(default_factory=ClaimMapping)
    pepper: bytes = field(default=b"", repr=False)
    min_level: int = 1
    require_citizen_id: bool = True
    id_token_algs: tuple[str, ...] = DEFAULT_ALGS
    redirect_uri: str = "http://127.0.0.1:8000/identity/callback"
    # Clock skew allowed on exp/iat/nbf (RFC 7519 §4.1.4 "a few minutes" at most).
    leeway: int = 60
    # OIDC Core §3.1.3.7 (10): reject ID tokens issued longer ago than this.
    max_id_token_age: int = 600
    http_timeout: float = 10.0
    # The demo provider (identity.demo_provider) mounted at /demo-vneid.
    demo_idp: bool = False
    demo_issuer: str = ""
    demo_secret: str = field(default="", repr=False)
    # What the demo provider puts in ``sub`` (DEMO_SUBS): "citizen_id" makes it behave as VNeID may,
    # so the hub's "no citizen ID in clear" can be tested end to end.
    demo_sub: str = "demo"
    instance_dir: Path = field(default_factory=_instance_dir)

    @property
    def configured(self) -> bool:
        return bool(self.issuer and self.client_id)

    def validate(self) -> None:
        """Raises ValueError on a configuration the client could not use safely."""
        if not self.configured:
            return
        if self.token_auth_method not in TOKEN_AUTH_METHODS:
            raise ValueError(f"HOCVU_VNEID_TOKEN_AUTH_METHOD must be one of {', '.join(TOKEN_AUTH_METHODS)}")
        if self.token_auth_method == "private_key_jwt" and not self.private_key_pem:
            raise ValueError("private_key_jwt needs HOCVU_VNEID_PRIVATE_KEY_FILE")
        if self.token_auth_method != "private_key_jwt" and not self.client_secret:
            raise ValueError(f"{self.token_auth_method} needs HOCVU_VNEID_CLIENT_SECRET")
        if not self.discovery_url and not (self.authorization_endpoint and self.token_endpoint and self.jwks_uri):
            raise ValueError("set HOCVU_VNEID_DISCOVERY_URL or the authorize, token and JWKS URLs")
        if "openid" not in self.scopes:
            raise ValueError("HOCVU_VNEID_SCOPES must include openid (OIDC Core §3.1.2.1)")
        bad = FORBIDDEN_ALGS.intersection(self.id_token_algs) | {a for a in self.id_token_algs if a.startswith("HS")}
        if bad or not self.id_token_algs:
            raise ValueError("HOCVU_VNEID_ID_TOKEN_ALGS must list asymmetric algorithms only")
        if len(self.pepper) < 16:
            raise ValueError("HOCVU_VNEID_PEPPER must be at least 16 bytes")
        if self.min_level not in (0, 1, 2):
            raise ValueError("HOCVU_VNEID_MIN_LEVEL must be 0, 1 or 2")
        if self.demo_sub not in DEMO_SUBS:
            raise ValueError(f"HOCVU_DEMO_IDP_SUB must be one of {', '.join(DEMO_SUBS)}")

    @classmethod
    def demo(cls, public_url: str, secret_key: str, instance_dir: Path, **overrides: object) -> IdentitySettings:
        """Settings that point the client at the built-in demo provider on this same hub."""
        demo_secret = _demo_secret(secret_key)
        issuer = public_url.rstrip("/") + DEMO_PATH
        values: dict[str, object] = dict(
            issuer=issuer, discovery_url=issuer + "/.well-known/openid-configuration",
            client_id=DEMO_CLIENT_ID, client_secret=demo_secret, demo_idp=True, demo_issuer=issuer,
            demo_secret=demo_secret,
            scopes=("openid", "profile", "vneid"), redirect_uri=public_url.rstrip("/") + "/identity/callback",
            instance_dir=instance_dir,
            pepper=overrides.pop("pepper", None) or instance_secret(instance_dir, PEPPER_FILE).encode(),
        )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, public_url: str, secret_key: str) -> IdentitySettings:
        env = os.environ
        instance_dir = _instance_dir()
        demo_idp = _flag("HOCVU_DEMO_IDP", False)
        issuer = env.get("HOCVU_VNEID_ISSUER", "")
        # Only a configured hub needs the pepper; an unconfigured one writes no instance file.
        pepper = env.get("HOCVU_VNEID_PEPPER") or (
            instance_secret(instance_dir, PEPPER_FILE) if issuer or demo_idp else "")
        common: dict[str, object] = dict(
            pepper=pepper.encode(),
            demo_sub=env.get("HOCVU_DEMO_IDP_SUB") or "demo",
            min_level=int(env.get("HOCVU_VNEID_MIN_LEVEL") or 1),
            require_citizen_id=_flag("HOCVU_VNEID_REQUIRE_CITIZEN_ID", True),
            claims=ClaimMapping.parse(env.get("HOCVU_VNEID_CLAIMS", ""), env.get("HOCVU_VNEID_LEVEL_VALUES", "")),
            redirect_uri=env.get("HOCVU_VNEID_REDIRECT_URI") or public_url.rstrip("/") + "/identity/callback",
        )
        if not issuer and demo_idp:
            settings = cls.demo(public_url, secret_key, instance_dir, **common)
            settings.validate()
            return settings
        key_file = env.get("HOCVU_VNEID_PRIVATE_KEY_FILE")
        private_key = Path(key_file).read_text() if key_file else env.get("HOCVU_VNEID_PRIVATE_KEY") or None
        settings = cls(
            issuer=issuer,
            discovery_url=env.get("HOCVU_VNEID_DISCOVERY_URL") or None,
            authorization_endpoint=env.get("HOCVU_VNEID_AUTHORIZE_URL") or None,
            token_endpoint=env.get("HOCVU_VNEID_TOKEN_URL") or None,
            jwks_uri=env.get("HOCVU_VNEID_JWKS_URL") or None,
            userinfo_endpoint=env.get("HOCVU_VNEID_USERINFO_URL") or None,
            client_id=env.get("HOCVU_VNEID_CLIENT_ID", ""),
            client_secret=env.get("HOCVU_VNEID_CLIENT_SECRET") or None,
            private_key_pem=private_key,
            private_key_kid=env.get("HOCVU_VNEID_PRIVATE_KEY_KID") or None,
            token_auth_method=env.get("HOCVU_VNEID_TOKEN_AUTH_METHOD", "client_secret_basic"),
            scopes=tuple((env.get("HOCVU_VNEID_SCOPES") or "openid profile").split()),
            id_token_algs=tuple((env.get("HOCVU_VNEID_ID_TOKEN_ALGS") or " ".join(DEFAULT_ALGS)).split()),
            demo_idp=demo_idp,
            demo_issuer=public_url.rstrip("/") + DEMO_PATH,
            demo_secret=_demo_secret(secret_key),
            instance_dir=instance_dir,
            **common,  # type: ignore[arg-type]
        )
        settings.validate()
        return settings


def _env_number(env: Mapping[str, str], name: str, default: float, low: float, high: float, *,
                zero_off: bool = False) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if not (low <= value <= high or (zero_off and value == 0)):
        raise ValueError(f"{name} must be between {low:g} and {high:g}" + (" (or 0: off)" if zero_off else ""))
    return value


@dataclass(frozen=True)
class AssurancePolicy:
    """How the hub treats face data and what auditors are shown (issue 12). Each from its
    ``HOCVU_`` variable, default, unit and range in the comment; a value out of range is a start-up
    error, not a silent clamp.

    The data controller and the retention period are what the consent text names (Decree
    13/2023/NĐ-CP Art. 11 and 13: the subject knows who processes which data, why and for how long;
    Art. 3: kept no longer than the purpose needs; Personal Data Protection Law 2025)."""

    # HOCVU_DATA_CONTROLLER: the organisation that operates this hub and decides on the face data
    # ("Bên Kiểm soát dữ liệu cá nhân", Decree 13/2023 Art. 2.9). Text; default "" = "the operator
    # of this hub (<host of HOCVU_PUBLIC_URL>)" in the page's language.
    controller: str = ""
    # HOCVU_DATA_CONTROLLER_CONTACT: where a learner asks about or withdraws consent (an e-mail, a
    # phone, an address). Text; default "" (the page then points at the gate's own withdraw button).
    controller_contact: str = ""
    # HOCVU_FACE_RETENTION_DAYS: an enrolment is deleted this many days after its consent (each
    # re-enrolment renews it). Days; default 365 (one programme year); range 1–1825.
    face_retention_days: int = 365
    # HOCVU_FACE_PURGE_SECONDS: how often each web process deletes expired enrolments (as
    # `hocvu identity purge-enrolments` does). Seconds; default 21600 (6 h: an enrolment outlives its
    # period by at most that); 0 = off (cron or Celery beat runs the command); else 60–604800.
    face_purge_seconds: float = 21600.0
    # HOCVU_FACE_CROSSMATCH_MAX: enrolments of the tenant a failed check is compared with (the signal
    # "matches another learner's enrolment"). Enrolments, the most recent first; default 1000; 0 = off;
    # range 0–20000. Cost: one more embedding of the frame, then ~0.3 ms per enrolment (README).
    cross_match_max: int = 1000
    # HOCVU_AUDIT_REPEATED_FAILURES: an attempt with this many checks that saw a face which was not the
    # learner's (no_match) or several faces is flagged "repeated failures". Checks; default 3; range
    # 2–20 (README, "Auditors": why 3).
    repeated_failures: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AssurancePolicy:
        d = cls()
        return cls(
            controller=env.get("HOCVU_DATA_CONTROLLER", "").strip(),
            controller_contact=env.get("HOCVU_DATA_CONTROLLER_CONTACT", "").strip(),
            face_retention_days=int(_env_number(env, "HOCVU_FACE_RETENTION_DAYS", d.face_retention_days, 1, 1825)),
            face_purge_seconds=_env_number(env, "HOCVU_FACE_PURGE_SECONDS", d.face_purge_seconds, 60, 604800,
                                           zero_off=True),
            cross_match_max=int(_env_number(env, "HOCVU_FACE_CROSSMATCH_MAX", d.cross_match_max, 0, 20000)),
            repeated_failures=int(_env_number(env, "HOCVU_AUDIT_REPEATED_FAILURES", d.repeated_failures, 2, 20)),
        )
