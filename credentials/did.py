"""The issuer's identifiers: ``did:web`` DIDs of the hub and of each tenant, and their DID documents.

did:web Method Specification §3.2 "Create": the DID is the host (its port percent-encoded as
``%3A``) followed by the path's segments joined with ":"; it resolves to
``https://<host>/.well-known/did.json`` for a bare host, else ``https://<host>/<path>/did.json``.
The hub is ``did:web:<host>``; a tenant issuing "on the hub's behalf" is
``did:web:<host>:credentials:issuers:<slug>`` (served at ``/credentials/issuers/<slug>/did.json``).

Each DID document lists every published issuer key as a ``Multikey`` verification method
(Controlled Identifiers 1.0 §2.2.2) under ``assertionMethod`` (VC Data Integrity 1.0 §4.3: the
proof purpose a credential's proof uses), so the key that signed a credential is the issuer's.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote, urlsplit

DID_V1: Final = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1: Final = "https://w3id.org/security/multikey/v1"
TENANT_PATH: Final = ("credentials", "issuers")


def did_web(url: str) -> str:
    """The did:web of an http(s) URL's host and path (the scheme is not part of a did:web)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    host = quote(parts.netloc.split("@")[-1], safe="")  # "127.0.0.1:8000" -> "127.0.0.1%3A8000"
    segments = [quote(s, safe="") for s in parts.path.strip("/").split("/") if s]
    return ":".join(["did:web", host, *segments])


def hub_did(public_url: str) -> str:
    return did_web(public_url)


def tenant_did(public_url: str, slug: str) -> str:
    return ":".join([hub_did(public_url), *TENANT_PATH, quote(slug, safe="")])


def tenant_slug_of(did: str, public_url: str) -> str | None:
    """The tenant slug of a tenant issuer DID of this hub, else None."""
    prefix = ":".join([hub_did(public_url), *TENANT_PATH]) + ":"
    rest = did.removeprefix(prefix) if did.startswith(prefix) else None
    return rest if rest and ":" not in rest else None


def verification_method_id(did: str, kid: str) -> str:
    return f"{did}#{kid}"


def did_document(did: str, kids: list[str]) -> dict[str, Any]:
    """``did``'s document with each key in ``kids`` (Multikey, newest first) as an assertion method."""
    methods = [{"id": verification_method_id(did, kid), "type": "Multikey", "controller": did,
                "publicKeyMultibase": kid} for kid in kids]
    return {"@context": [DID_V1, MULTIKEY_V1], "id": did, "verificationMethod": methods,
            "assertionMethod": [m["id"] for m in methods]}
