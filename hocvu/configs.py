"""What each package gets from the settings tree (``hocvu.settings``): typed configuration objects,
built here so no package reads the environment or parses a string. A value a package refuses
(a malformed face key, a VNeID client that could not work) becomes a one-line ``SettingError``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

from credentials.config import CourseRules, CredentialsConfig, Holder, RequiredQuiz
from hocvu.settings import SettingError, Settings, VneidSettings
from identity.claims import ClaimMapping
from identity.gate.face import AssuranceConfig, face_key_from
from identity.settings import DEMO_PATH, AssurancePolicy, IdentitySettings, demo_secret, instance_secret
from identity.settings import existing_pepper as identity_existing_pepper
from identity.signing import HubKey
from identity.stamp_guard import extra_certificates
from lrs.storage import Database
from player.catalogue import Catalogue, Resolved, activity_id, default_courses_dir, load_catalogue
from player.domain import NoLaunch
from player.packages.archive import ArchiveLimits
from player.packages.fetch import FetchPolicy
from player.packages.store import StoreConfig
from player.pages import current_launch
from player.statements import PLAYER_AUTHORITY


def _error(group: type, name: str, raw: str, allowed: str) -> SettingError:
    f = next(f for f in dataclasses.fields(group) if f.name == name)
    return SettingError(f.metadata["var"], raw, allowed)


class _VneidCommon(TypedDict):
    """The settings a configured provider and the demo provider have in common."""

    pepper: bytes
    demo_sub: str
    min_level: int
    require_citizen_id: bool
    claims: ClaimMapping
    redirect_uri: str


def identity_settings(settings: Settings) -> IdentitySettings:
    """The VNeID client: the configured provider, else the demo provider on this hub when
    HOCVU_DEMO_IDP is on, else none (sign-in says so). Only a configured hub needs the pepper: an
    unconfigured one writes no instance file."""
    v, instance_dir, public_url = settings.vneid, settings.hub.instance_dir, settings.public_url
    pepper = v.vneid_pepper or (instance_secret(instance_dir, "vneid_pepper") if v.vneid_issuer or v.demo_idp
                                else "")
    try:
        claims = ClaimMapping.parse(v.vneid_claims, v.vneid_level_values)
    except ValueError as err:
        raise _error(VneidSettings, "vneid_claims", v.vneid_claims, str(err)) from None
    common = _VneidCommon(
        pepper=pepper.encode(), demo_sub=v.demo_idp_sub, min_level=v.vneid_min_level,
        require_citizen_id=v.vneid_require_citizen_id,
        claims=claims, redirect_uri=v.vneid_redirect_uri or public_url + "/identity/callback")
    if not v.vneid_issuer and v.demo_idp:
        return _validated(IdentitySettings.demo(public_url, settings.secret_key, instance_dir, **common))
    key_file = v.vneid_private_key_file
    private_key = Path(key_file).read_text() if key_file else v.vneid_private_key
    return _validated(IdentitySettings(
        issuer=v.vneid_issuer, discovery_url=v.vneid_discovery_url, authorization_endpoint=v.vneid_authorize_url,
        token_endpoint=v.vneid_token_url, jwks_uri=v.vneid_jwks_url, userinfo_endpoint=v.vneid_userinfo_url,
        client_id=v.vneid_client_id, client_secret=v.vneid_client_secret, private_key_pem=private_key,
        private_key_kid=v.vneid_private_key_kid, token_auth_method=v.vneid_token_auth_method,
        scopes=v.vneid_scopes, id_token_algs=v.vneid_id_token_algs, demo_idp=v.demo_idp,
        demo_issuer=public_url + DEMO_PATH, demo_secret=demo_secret(settings.secret_key),
        instance_dir=instance_dir, **common))


def _validated(identity: IdentitySettings) -> IdentitySettings:
    try:
        identity.validate()
    except ValueError as err:  # its messages name the variables (HOCVU_VNEID_...)
        raise _error(VneidSettings, "vneid_issuer", identity.issuer, str(err)) from None
    return identity


def hub_key(settings: Settings, instance_dir: Path | None = None) -> HubKey:
    """The hub's signing key: the settings' files, else generated in ``instance_dir`` (default: the
    instance folder; the app passes its identity settings' folder, which tests give their own)."""
    s = settings.signing
    return HubKey(instance_dir or settings.hub.instance_dir, key_file=s.signing_key_file,
                  cert_file=s.signing_cert_file)


def assurance_config(settings: Settings, identity: IdentitySettings, key: HubKey) -> AssuranceConfig:
    """The identity gate's: the face key (HOCVU_FACE_KEY, else derived from the app secret), the
    model's folder and threshold, the pepper of the pseudonymous subjects, the hub's key."""
    f = settings.face
    try:
        face_key = face_key_from(settings.secret_key, f.face_key)
    except ValueError as err:
        raise _error(type(f), "face_key", f.face_key or "", str(err)) from None
    return AssuranceConfig(face_key=face_key, pepper=identity.pepper if identity.configured else b"",
                           instance_dir=identity.instance_dir, face_home=f.deepface_home,
                           threshold=f.face_threshold, hub_key=key, policy=assurance_policy(settings))


def assurance_policy(settings: Settings) -> AssurancePolicy:
    a = settings.assurance
    return AssurancePolicy(controller=a.data_controller.strip(), controller_contact=a.data_controller_contact.strip(),
                           face_retention_days=a.face_retention_days, face_purge_seconds=a.face_purge_seconds,
                           cross_match_max=a.face_crossmatch_max, repeated_failures=a.audit_repeated_failures,
                           photo_fallback=a.face_photo_fallback)


def existing_pepper(settings: Settings) -> bytes | None:
    """The pepper the hub already uses (never made here): what migration 0090 hashes subjects with."""
    return identity_existing_pepper(settings.vneid.vneid_pepper, settings.hub.instance_dir)


def trusted_certificates(settings: Settings) -> list[bytes]:
    """HOCVU_STAMP_TRUSTED_CERTS: more certificates a stamped statement may be signed with."""
    paths = settings.signing.stamp_trusted_certs
    try:
        return extra_certificates(paths)
    except ValueError as err:
        raise _error(type(settings.signing), "stamp_trusted_certs", ":".join(map(str, paths)), str(err)) from None


def catalogue(settings: Settings) -> Catalogue:
    return load_catalogue(settings.hub.courses_dir or default_courses_dir())


def package_store(settings: Settings) -> StoreConfig:
    """Imported packages' folder and import limits (player.packages)."""
    p = settings.packages
    limits = ArchiveLimits(max_total_bytes=p.package_max_mb * 1024 * 1024, max_files=p.package_max_files)
    fetch = FetchPolicy(hosts=p.package_fetch_hosts, allow_http=p.package_fetch_allow_http,
                        allow_loopback=p.package_fetch_allow_loopback, max_bytes=limits.max_total_bytes,
                        max_redirects=p.package_fetch_redirects, timeout=p.package_fetch_timeout)
    return StoreConfig(root=p.packages_dir or settings.hub.instance_dir / "packages", limits=limits,
                       content_origin=p.packages_origin.rstrip("/") if p.packages_origin else None, fetch=fetch)


# --- credentials: the player's facts, handed to a package that may not import the player -------------

def course_rules(courses: Catalogue) -> Callable[[str], CourseRules | None]:
    """The credentials package's view of the player's catalogue: a course's credential requires each
    of its graded quizzes passed, in identity-verified attempts where the quiz requires identity."""

    def rules(course_id: str) -> CourseRules | None:
        course = courses.courses.get(course_id)
        if course is None:
            return None
        quizzes = tuple(RequiredQuiz(activity_id(q.target), q.title, q.identity.min_level if q.identity else None)
                        for q in Resolved(course).graded_quizzes())
        return CourseRules(course.id, activity_id(course.target), course.title, course.description, quizzes,
                           course.competences)

    return rules


def current_holder() -> Holder | None:
    """The learner of this browser's player session (request context). No name: a credential shows
    one only when the learner chooses it, never the LMS's name for them by default."""
    try:
        launch = current_launch()
    except NoLaunch:
        return None
    return Holder(launch.tenant_id, launch.learner.home_page, launch.learner.account)


def credentials_config(settings: Settings, database: Database, courses: Catalogue | None = None) -> CredentialsConfig:
    c = settings.credentials
    return CredentialsConfig(
        db=database, public_url=settings.public_url, secret_key=settings.secret_key,
        courses=course_rules(courses or catalogue(settings)), trusted_authority=PLAYER_AUTHORITY,
        current_holder=current_holder, issuer_mode="tenant" if c.credentials_issuer == "tenant" else "hub",
        hub_name=c.credentials_hub_name.strip(), valid_days=c.credentials_valid_days,
        status_list_size=c.credentials_status_list_size, sweep_seconds=c.credentials_sweep_seconds)
