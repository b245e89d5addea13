"""Who issues: the hub, or a ministry tenant on the hub's behalf (``HOCVU_CREDENTIALS_ISSUER``), as an
Open Badges 3.0 ``Profile`` (OB 3.0 §B.1.14) with a ``did:web`` id; and which keys a verifier of this
hub trusts for which issuer (``key_resolver``).

A tenant issuer's DID document is served by the hub and lists the hub's keys: the hub signs for the
ministry, and says so in the profile (``parentOrg`` is the hub).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from credentials.config import CredentialsConfig
from credentials.did import hub_did, tenant_did, tenant_slug_of, verification_method_id
from credentials.keys import published_public_key
from credentials.multikey import public_key_from_multikey
from credentials.proof import KeyResolver, VerificationKey
from lrs.storage import Tenant


@dataclass(frozen=True)
class Issuer:
    did: str
    profile: dict[str, Any]

    def method(self, kid: str) -> str:
        return verification_method_id(self.did, kid)


def hub_profile(cfg: CredentialsConfig) -> dict[str, Any]:
    return {"id": hub_did(cfg.public_url), "type": ["Profile"], "name": cfg.hub_name, "url": cfg.base + "/"}


def issuer_for(cfg: CredentialsConfig, tenant: Tenant) -> Issuer:
    """The issuer of ``tenant``'s credentials and status lists under the configured mode."""
    hub = hub_profile(cfg)
    if cfg.issuer_mode == "hub":
        return Issuer(hub["id"], hub)
    did = tenant_did(cfg.public_url, tenant.slug)
    return Issuer(did, {"id": did, "type": ["Profile"], "name": tenant.name, "parentOrg": hub})


def tenant_by_slug(session: Session, slug: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.slug == slug))


def controller_known(session: Session, cfg: CredentialsConfig, did: str) -> bool:
    """True for the hub's DID and for the DID of an existing tenant of this hub."""
    if did == hub_did(cfg.public_url):
        return True
    slug = tenant_slug_of(did, cfg.public_url)
    return slug is not None and tenant_by_slug(session, slug) is not None


def key_resolver(session: Session, cfg: CredentialsConfig) -> KeyResolver:
    """Resolves a verification method id of this hub's issuers to its published key; None for
    anything else (another issuer's DID, an unknown or retired key): nothing is fetched."""

    def resolve(method: str) -> VerificationKey | None:
        controller, _, kid = method.partition("#")
        if not kid or not controller_known(session, cfg, controller):
            return None
        row = published_public_key(session, kid)
        if row is None:
            return None
        return VerificationKey(method, controller, public_key_from_multikey(row.kid))

    return resolve
