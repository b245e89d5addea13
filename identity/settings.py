"""The identity package's configuration: the VNeID OpenID Connect client, the demo provider, the
pepper of the keyed hashes. Built by the composition root from the settings tree (``hocvu.settings``,
the ``HOCVU_VNEID_*`` variables); this module reads no environment.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
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
PEPPER_FILE = "vneid_pepper"


def instance_secret(directory: Path, name: str) -> str:
    """A random secret kept in the instance folder (the embedded mode needs no set-up); written
    whole and linked into place, so workers starting together agree on one value and none reads
    a file still being written."""
    path = directory / name
    if not path.exists():
        write_once(path, secrets.token_urlsafe(48).encode(), 0o600)
    return path.read_text().strip()


def existing_pepper(configured: str | None, instance_dir: Path) -> bytes | None:
    """The pepper this hub already uses, without making one: the configured one (HOCVU_VNEID_PEPPER),
    else the instance folder's file. Migration 0090 gets it to hash the subjects of existing accounts
    exactly as sign-ins will."""
    if configured:
        return configured.encode()
    path = instance_dir / PEPPER_FILE
    return path.read_text().strip().encode() if path.is_file() else None


def demo_secret(secret_key: str) -> str:
    # Derived from the app secret: the hub (client) and its demo provider agree with no set-up.
    return hmac.new(secret_key.encode(), b"hocvu/demo-vneid/client", hashlib.sha256).hexdigest()


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
    instance_dir: Path = Path("instance")

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
        if self.demo_idp and self.demo_sub not in DEMO_SUBS:
            raise ValueError(f"HOCVU_DEMO_IDP_SUB must be one of {', '.join(DEMO_SUBS)}")

    @classmethod
    def demo(cls, public_url: str, secret_key: str, instance_dir: Path, **overrides: object) -> IdentitySettings:
        """Settings that point the client at the built-in demo provider on this same hub."""
        shared = demo_secret(secret_key)
        issuer = public_url.rstrip("/") + DEMO_PATH
        values: dict[str, object] = dict(
            issuer=issuer, discovery_url=issuer + "/.well-known/openid-configuration",
            client_id=DEMO_CLIENT_ID, client_secret=shared, demo_idp=True, demo_issuer=issuer,
            demo_secret=shared,
            scopes=("openid", "profile", "vneid"), redirect_uri=public_url.rstrip("/") + "/identity/callback",
            instance_dir=instance_dir,
            pepper=overrides.pop("pepper", None) or instance_secret(instance_dir, PEPPER_FILE).encode(),
        )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AssurancePolicy:
    """How the hub treats face data and what auditors are shown (issue 12); built from the settings
    tree (``hocvu.settings``: the variables, units and ranges are declared there).

    The data controller and the retention period are what the consent text names (Decree
    13/2023/NĐ-CP Art. 11 and 13: the subject knows who processes which data, why and for how long;
    Art. 3: kept no longer than the purpose needs; Personal Data Protection Law 2025)."""

    # The organisation that operates this hub and decides on the face data ("Bên Kiểm soát dữ liệu cá
    # nhân", Decree 13/2023 Art. 2.9); "" = "the operator of this hub (<host>)" in the page's language.
    controller: str = ""
    # Where a learner asks about or withdraws consent; "" = the gate's own withdraw button.
    controller_contact: str = ""
    # An enrolment is deleted this many days after its consent (each re-enrolment renews it).
    face_retention_days: int = 365
    # How often each web process deletes expired enrolments (0: off, cron runs the command).
    face_purge_seconds: float = 21600.0
    # Enrolments of the tenant a failed check is compared with ("matches another learner's enrolment").
    cross_match_max: int = 1000
    # An attempt with this many checks that saw someone else's face (or several, or no live person) is flagged.
    repeated_failures: int = 3
    # A single photo instead of the camera's liveness burst, for learners who cannot do the challenge
    # (accessibility). Off by default: a photo proves "same face", not "a live person"; when on, such
    # checks are stamped ``liveness: none`` at the lower "face-photo" level, never "verified".
    photo_fallback: bool = False

