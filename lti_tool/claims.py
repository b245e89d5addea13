"""LTI claims of a validated id_token → what the rest of the hub uses (no I/O, no Flask).

Claim names are the 1EdTech URIs of LTI Core 1.3 §5.3–5.4, AGS 2.0 §3.1, NRPS 2.0 §3.6.1 and
Deep Linking 2.0 §4.4; pylti1p3 has validated signature, nonce, deployment and the required
claims before anything here runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from lti_tool.errors import BadLaunch
from lti_tool.launch_context import LaunchContext

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
ROLES = LTI + "roles"
RESOURCE_LINK = LTI + "resource_link"
CONTEXT = LTI + "context"
CUSTOM = LTI + "custom"
TARGET_LINK_URI = LTI + "target_link_uri"
LAUNCH_PRESENTATION = LTI + "launch_presentation"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL_SETTINGS: Final = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"

# The roles that may pick content and see rosters: the same rule as LaunchContext.is_instructor
# (LTI Core 1.3 §A.2.3 context roles and §A.2.2 institution roles, matched by their local name).
STAFF_ROLE_SUFFIXES = ("#Instructor", "#Administrator", "#ContentDeveloper", "#TeachingAssistant")


def is_staff(roles: list[str] | tuple[str, ...]) -> bool:
    return any(str(r).endswith(STAFF_ROLE_SUFFIXES) for r in roles)


def locale_of(claims: Mapping[str, Any]) -> str:
    """LTI Core 1.3 §5.4.4 launch_presentation.locale (a BCP 47 tag) → "vi" or "en"; Vietnamese
    unless the LMS asks for English."""
    tag = str((claims.get(LAUNCH_PRESENTATION) or {}).get("locale") or "vi").lower()
    return "en" if tag.startswith("en") else "vi"


def display_name(claims: Mapping[str, Any]) -> str:
    """OIDC standard claims (LTI Core 1.3 §5.3.6): name, else given + family name, else ""."""
    name = str(claims.get("name") or "").strip()
    if name:
        return name
    return " ".join(str(claims.get(k) or "").strip() for k in ("given_name", "family_name")).strip()


def custom_params(claims: Mapping[str, Any]) -> dict[str, str]:
    """LTI Core 1.3 §5.4.6: custom values are strings; anything else is stringified, not trusted."""
    custom = claims.get(CUSTOM) or {}
    if not isinstance(custom, Mapping):
        raise BadLaunch("the custom claim must be a JSON object")
    return {str(k): v if isinstance(v, str) else str(v) for k, v in custom.items()}


def target_of(claims: Mapping[str, Any], custom: Mapping[str, str]) -> str:
    """The catalogue reference a resource link opens: the ``target`` custom parameter our Deep
    Linking response put on the link, else a ``target`` query parameter of the target_link_uri
    (links configured by hand)."""
    target = custom.get("target", "").strip()
    if not target:
        query = parse_qs(urlsplit(str(claims.get(TARGET_LINK_URI) or "")).query)
        target = (query.get("target") or [""])[0].strip()
    if not target:
        raise BadLaunch("this link does not say which course to open (no 'target' custom parameter); "
                        "ask the instructor to add it again with the content picker")
    return target


def launch_context(claims: Mapping[str, Any], *, tenant_id: int, registration_id: int) -> LaunchContext:
    """The player's view of a validated LtiResourceLinkRequest."""
    if claims.get(MESSAGE_TYPE) != RESOURCE_LINK_REQUEST:
        raise BadLaunch(f"expected an {RESOURCE_LINK_REQUEST}")
    custom = custom_params(claims)
    context = claims.get(CONTEXT) or {}
    ags = claims.get(AGS_ENDPOINT) or {}
    nrps = claims.get(NRPS) or {}
    return LaunchContext(
        tenant_id=tenant_id,
        registration_id=registration_id,
        issuer=str(claims["iss"]),
        deployment_id=str(claims[DEPLOYMENT_ID]),
        # A learner is (issuer, sub): LTI Core 1.3 §5.3.6, sub is stable per platform user.
        sub=str(claims["sub"]),
        name=display_name(claims),
        roles=tuple(str(r) for r in claims.get(ROLES) or ()),
        resource_link_id=str(claims[RESOURCE_LINK]["id"]),
        target=target_of(claims, custom),
        locale=locale_of(claims),
        context_id=str(context.get("id") or ""),
        context_title=str(context.get("title") or ""),
        # AGS 2.0 §3.1: `lineitem` is present when the link has exactly one line item.
        ags_lineitem=ags.get("lineitem") or None,
        # With only `lineitems` the tool finds or creates its own line item (lti_tool.ags_links).
        ags_lineitems=ags.get("lineitems") or None,
        ags_scopes=tuple(str(s) for s in ags.get("scope") or ()),
        nrps_url=nrps.get("context_memberships_url") or None,
        custom=custom,
    )
