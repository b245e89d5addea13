"""The hub's settings: one validated tree, built once by the composition root from ``HOCVU_*``
environment variables (DESIGN.md, Conventions), with safe defaults for the embedded mode.

Every variable is declared here, once, with its type, default, unit and range (``var``: a field
whose metadata is a ``hocvu.settings_vars.Var``); nothing else in the product reads the
environment. The packages get typed configuration objects built from this tree (``hocvu.app``), so
they never parse strings. A bad value stops start-up and every CLI command with one line naming the
variable, the value and what is allowed (``SettingError``); the README's settings table is
``hocvu.cli_settings.markdown_table()``, checked by a test.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hocvu.settings_attachments import AttachmentSettings
from hocvu.settings_packages import PackageSettings
from hocvu.settings_vars import SettingError, Var, var
from identity.settings import instance_secret

__all__ = ["SettingError", "Settings"]
MiB = 1024 * 1024
_VNEID = "the VNeID provider"


@dataclass(frozen=True)
class HubSettings:
    instance_dir: Path = var(Path("instance"), "HOCVU_INSTANCE_DIR", "path",
                             "where the embedded mode keeps its database, secrets and keys")
    database_url: str | None = var(None, "HOCVU_DATABASE_URL", "url", "the database (SQLAlchemy URL)",
                                   default_text="SQLite in the instance folder")
    secret_key: str | None = var(None, "HOCVU_SECRET_KEY", "str", "signs sessions and cursors; keys derive from it",
                                 secret=True, default_text="random, kept in the instance folder")
    public_url: str = var("http://127.0.0.1:8000", "HOCVU_PUBLIC_URL", "url",
                          "the hub's address as browsers and LMSs reach it")
    redis_url: str | None = var(None, "HOCVU_REDIS_URL", "url", "Redis for shared caches (LTI launch state)",
                                default_text="none: the database")
    broker_url: str | None = var(None, "HOCVU_BROKER_URL", "url", "Celery broker for forwarding workers",
                                 default_text="none: in-process")
    courses_dir: Path | None = var(None, "HOCVU_COURSES_DIR", "path", "the course catalogue (YAML files)",
                                   default_text="the shipped courses/")
    # The tenant whose store keeps the records of citizens who learn from the front door with VNeID
    # alone (player.citizen); `hocvu db upgrade` and `demo seed` make sure it exists.
    national_tenant: str = var("quoc-gia", "HOCVU_NATIONAL_TENANT", "str",
                               "the tenant of citizens learning with VNeID alone (a slug: a-z, 0-9, -)")
    national_tenant_name: str = var("Bình dân học vụ số — người học trực tiếp (quốc gia)",
                                    "HOCVU_NATIONAL_TENANT_NAME", "str", "its display name, when it is created")
    # The database as a dependency (hocvu.availability): a PostgreSQL connection or statement that
    # waits longer is a 503 with this Retry-After, never a request held forever.
    db_connect_timeout: int = var(5, "HOCVU_DB_CONNECT_TIMEOUT", "int", "wait for a PostgreSQL connection",
                                  unit="seconds", low=2, high=60)
    db_statement_timeout: float = var(0.0, "HOCVU_DB_STATEMENT_TIMEOUT", "float",
                                      "one PostgreSQL statement or lock wait at most (0: no limit)",
                                      unit="seconds", low=0, high=3600)
    # Issue 17: exports, reports, the dashboard and auditor pages read from a streaming replica when
    # one is given (writes, and reads that must see their own writes, stay on the primary).
    database_replica_url: str | None = var(None, "HOCVU_DATABASE_REPLICA_URL", "url",
                                           "a PostgreSQL streaming replica for exports, reports, the dashboard "
                                           "and auditor pages", default_text="none: the primary")
    unavailable_retry_after: int = var(5, "HOCVU_UNAVAILABLE_RETRY_AFTER", "int",
                                       "Retry-After of the 503 while the database is away", unit="seconds",
                                       low=1, high=3600)


@dataclass(frozen=True)
class LrsSettings:
    max_body_bytes: int = var(64 * MiB, "HOCVU_MAX_BODY_BYTES", "int", "largest request body the LRS reads",
                              unit="bytes", low=1024)
    # xAPI 1.0.3 Part Three §3.2.s3.b11: a statement over the LRS's limit is a 413.
    max_statement_bytes: int = var(MiB, "HOCVU_MAX_STATEMENT_BYTES", "int",
                                   "largest single statement, as compact JSON (the body limit if smaller)",
                                   unit="bytes", low=64 * 1024)
    max_page_size: int = var(500, "HOCVU_MAX_PAGE_SIZE", "int", "statements per page when a client asks for more",
                             low=1, high=10_000)
    # Fresh planner statistics after bulk loads, autovacuum or not (lrs.maintenance).
    analyze_every: int = var(50_000, "HOCVU_ANALYZE_EVERY", "int",
                             "a web process looks this often (statements it stored) whether the statement tables "
                             "(PostgreSQL) changed by a tenth since their last ANALYZE, and analyses them if so "
                             "(0: never)",
                             unit="statements", low=0)
    # lrs.partitions: by time, not traffic, so a quiet hub has next months' partitions too; the
    # advisory lock makes it safe in every worker at once.
    partition_seconds: float = var(3600.0, "HOCVU_PARTITION_SECONDS", "float",
                                   "statement partitions (PostgreSQL) made ahead by the web process this often "
                                   "(0: off, e.g. cron runs `hocvu db partitions --ahead 3` daily)",
                                   unit="seconds", low=0, high=7 * 86_400)
    # lrs.credentials.CredentialCache: a revocation reaches every process by NOTIFY (PostgreSQL) at once.
    credential_cache_seconds: float = var(5.0, "HOCVU_CREDENTIAL_CACHE_SECONDS", "float",
                                          "how long a web process trusts a verified credential without a "
                                          "look-up (PostgreSQL; a revocation ends it at once; 0: never)",
                                          unit="seconds", low=0, high=3600)


@dataclass(frozen=True)
class AuditSettings:
    checkpoint_every: int = var(1000, "HOCVU_AUDIT_CHECKPOINT_EVERY", "int",
                                "a signed checkpoint every N entries of a tenant's chain", unit="entries", low=1)
    checkpoint_minutes: float = var(60.0, "HOCVU_AUDIT_CHECKPOINT_MINUTES", "float",
                                    "or once this long has passed since the last one", unit="minutes", above=0)
    # `hocvu audit verify` holds each chain to that cadence (lrs.audit.cadence): the entries after
    # the latest checkpoint may number every + this many, the oldest be minutes + this many old.
    audit_verify_grace_entries: int = var(1000, "HOCVU_AUDIT_VERIFY_GRACE_ENTRIES", "int",
                                          "verify: entries past the cadence before a missing checkpoint fails",
                                          unit="entries", low=0, high=10**9)
    audit_verify_grace_minutes: float = var(60.0, "HOCVU_AUDIT_VERIFY_GRACE_MINUTES", "float",
                                            "verify: minutes past the cadence before a missing checkpoint fails",
                                            unit="minutes", low=0, high=10080)
    bench_no_audit_chain: bool = var(False, "HOCVU_BENCH_NO_AUDIT_CHAIN", "bool",
                                     "BENCHMARK ONLY: store with no chain entry (fails `hocvu audit verify`)")


WEEK = 7 * 86400


@dataclass(frozen=True)
class LtiSettings:
    score_retry_seconds: float = var(60.0, "HOCVU_SCORE_RETRY_SECONDS", "float",
                                     "AGS score retries in the web process (0: off, e.g. cron instead)",
                                     unit="seconds", low=0)
    # Platform keys (JWKS) are cached per keyset URL for the platform's Cache-Control max-age /
    # Expires, held within [min, max]; an id_token whose kid is not in the cached set forces one
    # refetch, at most once per refetch interval per URL, so a forged kid cannot hammer the LMS.
    lti_jwks_min_age: float = var(300.0, "HOCVU_LTI_JWKS_MIN_AGE", "float", "least time a platform's keys are "
                                  "cached", unit="seconds", low=0, high=WEEK)
    lti_jwks_max_age: float = var(86400.0, "HOCVU_LTI_JWKS_MAX_AGE", "float", "most time a platform's keys are "
                                  "cached (at least the least)", unit="seconds", low=0, high=WEEK)
    lti_jwks_refetch_seconds: float = var(30.0, "HOCVU_LTI_JWKS_REFETCH_SECONDS", "float",
                                          "an unknown kid refetches a platform's keys at most this often",
                                          unit="seconds", low=0, high=3600)
    # Access tokens are reused until expires_in minus this margin: never expiring between pick and use.
    lti_token_margin_seconds: float = var(60.0, "HOCVU_LTI_TOKEN_MARGIN_SECONDS", "float",
                                          "an AGS/NRPS token is renewed this long before it expires",
                                          unit="seconds", low=0, high=600)


@dataclass(frozen=True)
class ForwardingSettings:
    forward_seconds: float = var(30.0, "HOCVU_FORWARD_SECONDS", "float",
                                 "forwarding rounds in the web process (0: off)", unit="seconds", low=0)
    forward_secret: str | None = var(None, "HOCVU_FORWARD_SECRET", "str",
                                     "`hocvu forward add`: the target's secret instead of a prompt", secret=True)


@dataclass(frozen=True)
class ReportSettings:
    report_min_group: int = var(5, "HOCVU_REPORT_MIN_GROUP", "int",
                                "k: groups with fewer distinct learners are suppressed", unit="learners", low=1)
    # connectors.rollups: every web process runs it; the watermark's row lock makes that safe.
    rollup_seconds: float = var(60.0, "HOCVU_ROLLUP_SECONDS", "float",
                                "report rollups refreshed in the web process this often (0: off, e.g. cron "
                                "runs `hocvu rollups refresh`)", unit="seconds", low=0, high=86_400)


@dataclass(frozen=True)
class VneidSettings:
    demo_idp: bool = var(False, "HOCVU_DEMO_IDP", "bool",
                         "mount the demo VNeID at /demo-vneid; used when no issuer is set")
    demo_idp_sub: str = var("demo", "HOCVU_DEMO_IDP_SUB", "str",
                            "what the demo VNeID puts in sub (citizen_id: the 12-digit number, as VNeID may)",
                            choices=("demo", "citizen_id"))
    vneid_issuer: str = var("", "HOCVU_VNEID_ISSUER", "url", f"{_VNEID}'s issuer (compared exactly with iss)")
    vneid_discovery_url: str | None = var(None, "HOCVU_VNEID_DISCOVERY_URL", "url", "its discovery document")
    vneid_authorize_url: str | None = var(None, "HOCVU_VNEID_AUTHORIZE_URL", "url", "its authorization endpoint")
    vneid_token_url: str | None = var(None, "HOCVU_VNEID_TOKEN_URL", "url", "its token endpoint")
    vneid_jwks_url: str | None = var(None, "HOCVU_VNEID_JWKS_URL", "url", "its JWKS")
    vneid_userinfo_url: str | None = var(None, "HOCVU_VNEID_USERINFO_URL", "url", "its UserInfo endpoint")
    vneid_client_id: str = var("", "HOCVU_VNEID_CLIENT_ID", "str", "our client id there")
    vneid_client_secret: str | None = var(None, "HOCVU_VNEID_CLIENT_SECRET", "str", "for client_secret_*",
                                          secret=True)
    vneid_private_key: str | None = var(None, "HOCVU_VNEID_PRIVATE_KEY", "str", "PEM, for private_key_jwt",
                                        secret=True)
    vneid_private_key_file: Path | None = var(None, "HOCVU_VNEID_PRIVATE_KEY_FILE", "path",
                                              "or the PEM file, for private_key_jwt")
    vneid_private_key_kid: str | None = var(None, "HOCVU_VNEID_PRIVATE_KEY_KID", "str", "its key id")
    vneid_token_auth_method: str = var("client_secret_basic", "HOCVU_VNEID_TOKEN_AUTH_METHOD", "str",
                                       "how we authenticate at the token endpoint",
                                       choices=("client_secret_basic", "client_secret_post", "private_key_jwt"))
    vneid_scopes: tuple[str, ...] = var(("openid", "profile"), "HOCVU_VNEID_SCOPES", "words", "scopes asked for")
    vneid_claims: str = var("", "HOCVU_VNEID_CLAIMS", "str", "claim mapping, e.g. name=HoVaTen|name,level=acr")
    vneid_level_values: str = var("", "HOCVU_VNEID_LEVEL_VALUES", "str", "level values, e.g. urn:vneid:loa:2=2")
    vneid_pepper: str | None = var(None, "HOCVU_VNEID_PEPPER", "str", "key of the citizen-ID keyed hash",
                                   secret=True, default_text="random, kept in the instance folder")
    vneid_min_level: int = var(1, "HOCVU_VNEID_MIN_LEVEL", "int", "least identification level (0: optional)",
                               low=0, high=2)
    vneid_require_citizen_id: bool = var(True, "HOCVU_VNEID_REQUIRE_CITIZEN_ID", "bool",
                                         "refuse a sign-in without the citizen ID claim")
    vneid_id_token_algs: tuple[str, ...] = var(("RS256", "PS256", "ES256"), "HOCVU_VNEID_ID_TOKEN_ALGS", "words",
                                               "ID token algorithms allowed (asymmetric only)")
    vneid_redirect_uri: str | None = var(None, "HOCVU_VNEID_REDIRECT_URI", "url", "our callback",
                                         default_text="<HOCVU_PUBLIC_URL>/identity/callback")


@dataclass(frozen=True)
class AssuranceSettings:
    """What the consent text names and how long face data is kept (Decree 13/2023/NĐ-CP Art. 3, 11, 13;
    Personal Data Protection Law 2025), and what auditors are shown."""

    data_controller: str = var("", "HOCVU_DATA_CONTROLLER", "str",
                               "who operates the hub and decides on face data, named in the consent",
                               default_text="the operator of the hub at <host>")
    data_controller_contact: str = var("", "HOCVU_DATA_CONTROLLER_CONTACT", "str",
                                       "where a learner asks or withdraws consent (e-mail, phone, address)")
    face_retention_days: int = var(365, "HOCVU_FACE_RETENTION_DAYS", "int",
                                   "an enrolment is deleted this long after its consent", unit="days",
                                   low=1, high=1825)
    face_purge_seconds: float = var(21600.0, "HOCVU_FACE_PURGE_SECONDS", "float",
                                    "expired enrolments are deleted by each web process this often",
                                    unit="seconds", low=60, high=604800, zero_off=True)
    face_crossmatch_max: int = var(1000, "HOCVU_FACE_CROSSMATCH_MAX", "int",
                                   "a failed check is compared with this many of the tenant's enrolments (0: off)",
                                   unit="enrolments", low=0, high=20000)
    audit_repeated_failures: int = var(3, "HOCVU_AUDIT_REPEATED_FAILURES", "int",
                                       "checks seeing someone else's face before an attempt is flagged",
                                       unit="checks", low=2, high=20)
    # Accessibility fallback (issue 12): a photo instead of the liveness burst, stamped at a lower level.
    face_photo_fallback: bool = var(False, "HOCVU_FACE_PHOTO_FALLBACK", "bool",
                                    "accept a photo upload instead of the camera challenge (stamped "
                                    "liveness: none, face-photo level, never verified)")


@dataclass(frozen=True)
class FaceSettings:
    face_key: str | None = var(None, "HOCVU_FACE_KEY", "key", "seals face references (AES-GCM)",
                               secret=True, default_text="derived from HOCVU_SECRET_KEY")
    face_threshold: float | None = var(None, "HOCVU_FACE_THRESHOLD", "float", "face distance threshold",
                                       above=0, high=2, default_text="the model's")
    deepface_home: Path | None = var(None, "HOCVU_DEEPFACE_HOME", "path", "the face model's weights",
                                     default_text="<instance>/deepface")


@dataclass(frozen=True)
class SigningSettings:
    signing_key_file: Path | None = var(None, "HOCVU_SIGNING_KEY_FILE", "path", "the hub's signing key (PEM)",
                                        default_text="generated in the instance folder")
    signing_cert_file: Path | None = var(None, "HOCVU_SIGNING_CERT_FILE", "path", "and its certificate (both or "
                                         "neither)", default_text="generated in the instance folder")
    stamp_trusted_certs: tuple[Path, ...] = var((), "HOCVU_STAMP_TRUSTED_CERTS", "paths",
                                                "more certificates a stamped statement may be signed with")


@dataclass(frozen=True)
class CredentialSettings:
    """Verifiable credentials (credentials/, Open Badges 3.0)."""

    credentials_issuer: str = var("hub", "HOCVU_CREDENTIALS_ISSUER", "str",
                                  "who issues: the hub's did:web, or each tenant's (hosted and signed by the hub)",
                                  choices=("hub", "tenant"))
    credentials_valid_days: int = var(0, "HOCVU_CREDENTIALS_VALID_DAYS", "int",
                                      "how long a credential is valid (validUntil); 0: no expiry", unit="days",
                                      low=0, high=36_500)
    credentials_sweep_seconds: float = var(300.0, "HOCVU_CREDENTIALS_SWEEP_SECONDS", "float",
                                           "revoke credentials whose evidence was voided or erased, in the web "
                                           "process (0: off, e.g. cron runs `hocvu credentials sweep`)",
                                           unit="seconds", low=0, high=86_400)
    # Bitstring Status List v1.0 §2.1: at least 131,072 entries, for group privacy; whole bytes.
    credentials_status_list_size: int = var(131_072, "HOCVU_CREDENTIALS_STATUS_LIST_SIZE", "int",
                                            "entries per status list (a multiple of 8)", unit="entries",
                                            low=131_072, high=16_777_216)
    credentials_hub_name: str = var("Bình dân học vụ số", "HOCVU_CREDENTIALS_HUB_NAME", "str",
                                    "the issuer's name written in every credential (1-120 characters)")


GROUPS: dict[str, type] = {"hub": HubSettings, "lrs": LrsSettings, "audit": AuditSettings, "lti": LtiSettings,
                           "forwarding": ForwardingSettings, "reports": ReportSettings, "vneid": VneidSettings,
                           "assurance": AssuranceSettings, "face": FaceSettings, "signing": SigningSettings,
                           "credentials": CredentialSettings, "packages": PackageSettings,
                           "attachments": AttachmentSettings}


@dataclass(frozen=True)
class Settings:
    hub: HubSettings = field(default_factory=HubSettings)
    lrs: LrsSettings = field(default_factory=LrsSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    lti: LtiSettings = field(default_factory=LtiSettings)
    forwarding: ForwardingSettings = field(default_factory=ForwardingSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    vneid: VneidSettings = field(default_factory=VneidSettings)
    assurance: AssuranceSettings = field(default_factory=AssuranceSettings)
    face: FaceSettings = field(default_factory=FaceSettings)
    signing: SigningSettings = field(default_factory=SigningSettings)
    credentials: CredentialSettings = field(default_factory=CredentialSettings)
    packages: PackageSettings = field(default_factory=PackageSettings)
    attachments: AttachmentSettings = field(default_factory=AttachmentSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The tree from ``env`` (the process environment); ``SettingError`` on the first bad value.
        An empty variable counts as unset."""
        source = os.environ if env is None else env
        groups = {}
        for name, group in GROUPS.items():
            values = {f.name: _var(f).parse(source[_var(f).env]) for f in dataclasses.fields(group)
                      if source.get(_var(f).env, "").strip()}
            groups[name] = group(**values)
        return cls(**groups).check()

    @classmethod
    def of(cls, **values: Any) -> Settings:
        """A tree with these fields (named as in their group: ``database_url=...``) and defaults for
        the rest; for tests, benchmarks and embedding. The web process's background loops (AGS score
        retries, forwarding rounds, enrolment purges, credential sweeps, report rollups, partition upkeep)
        stay off unless given: whoever embeds the app runs their own."""
        values.setdefault("score_retry_seconds", 0.0)
        values.setdefault("forward_seconds", 0.0)
        values.setdefault("face_purge_seconds", 0.0)
        values.setdefault("credentials_sweep_seconds", 0.0)
        values.setdefault("rollup_seconds", 0.0)
        values.setdefault("partition_seconds", 0.0)
        groups = {}
        for name, group in GROUPS.items():
            mine = {f.name: values.pop(f.name) for f in dataclasses.fields(group) if f.name in values}
            groups[name] = group(**mine)
        if values:
            raise TypeError(f"no such settings: {', '.join(sorted(values))}")
        return cls(**groups)

    def check(self) -> Settings:
        """Rules across variables, each a one-line ``SettingError``."""
        lti = self.lti
        if lti.lti_jwks_max_age < lti.lti_jwks_min_age:
            raise SettingError(_var(_field(LtiSettings, "lti_jwks_max_age")), f"{lti.lti_jwks_max_age:g}",
                               f"at least HOCVU_LTI_JWKS_MIN_AGE ({lti.lti_jwks_min_age:g})")
        s = self.signing
        if (s.signing_key_file is None) != (s.signing_cert_file is None):
            var_ = _var(_field(SigningSettings, "signing_key_file" if s.signing_key_file is None else
                               "signing_cert_file"))
            raise SettingError(var_, "", "set both HOCVU_SIGNING_KEY_FILE and HOCVU_SIGNING_CERT_FILE, or neither")
        slug = self.hub.national_tenant
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", slug):
            raise SettingError(_var(_field(HubSettings, "national_tenant")), slug,
                               "a tenant slug: 2-63 of a-z, 0-9 and '-', not starting or ending with '-'")
        if not 1 <= len(self.hub.national_tenant_name.strip()) <= 255:
            raise SettingError(_var(_field(HubSettings, "national_tenant_name")), self.hub.national_tenant_name,
                               "1 to 255 characters")
        c = self.credentials
        if c.credentials_status_list_size % 8:
            raise SettingError(_var(_field(CredentialSettings, "credentials_status_list_size")),
                               str(c.credentials_status_list_size), "a multiple of 8 (whole bytes)")
        if not 1 <= len(c.credentials_hub_name.strip()) <= 120:
            raise SettingError(_var(_field(CredentialSettings, "credentials_hub_name")), c.credentials_hub_name,
                               "1 to 120 characters")
        if 0 < c.credentials_sweep_seconds < 10:
            raise SettingError(_var(_field(CredentialSettings, "credentials_sweep_seconds")),
                               str(c.credentials_sweep_seconds), "0 (off) or 10 to 86400 seconds")
        self.attachments.check()
        return self

    # --- what the embedded mode computes at start-up ---------------------------------------------

    @property
    def database_url(self) -> str:
        return self.hub.database_url or f"sqlite:///{(self.hub.instance_dir / 'hocvu.db').resolve()}"

    @property
    def secret_key(self) -> str:
        """HOCVU_SECRET_KEY, else a random secret kept in the instance folder, so restarts keep
        signed cursors and sessions valid. Production sets it in the environment."""
        return self.hub.secret_key or instance_secret(self.hub.instance_dir, "secret_key")

    @property
    def public_url(self) -> str:
        return self.hub.public_url.rstrip("/")


def _var(f: dataclasses.Field[Any]) -> Var:
    found: Var = f.metadata["var"]
    return found


def _field(group: type, name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(group) if f.name == name)


def variables() -> Iterator[tuple[str, dataclasses.Field[Any], Var]]:
    """Every variable of the tree: (group name, field, Var)."""
    for name, group in GROUPS.items():
        for f in dataclasses.fields(group):
            yield name, f, _var(f)
