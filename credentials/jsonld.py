"""JSON-LD for Data Integrity: the contexts the hub ships, a document loader that serves only them,
and RDF Dataset Canonicalization (RDFC-1.0) by ``pyld`` — never a hand-written canonicaliser.

The contexts are files in ``credentials/contexts/`` (their sources, npm package and version, are in
that folder's README.md; a test checks they equal what the independent verifier loads). A document
naming any other context is refused (``ContextNotAvailable``): at run time the hub fetches nothing
(DESIGN.md, and VC Data Model 2.0 §4.3 "Contexts": a verifier SHOULD use cached, static contexts).

RDFC-1.0 is the W3C Recommendation of the URDNA2015 algorithm (RDFC-1.0 §1.1, "this specification
was previously known as URDNA2015"); ``pyld`` implements it under that name.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Final

from pyld import jsonld

from credentials.errors import ContextNotAvailable

CONTEXTS_DIR: Final = Path(__file__).resolve().parent / "contexts"
VC_V2: Final = "https://www.w3.org/ns/credentials/v2"
OB_V3P0: Final = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
FILES: Final = {VC_V2: "credentials-v2.jsonld", OB_V3P0: "ob-v3p0-context-3.0.3.json"}

# N-Quads escapes only some control characters the same way in every implementation; text the hub
# signs is kept free of them (a tab becomes a space), so any RDFC-1.0 verifier hashes the same bytes.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@cache
def context(url: str) -> dict[str, Any]:
    """The shipped context document for ``url``; ``ContextNotAvailable`` for any other."""
    name = FILES.get(url)
    if name is None:
        raise ContextNotAvailable(f"the context {url!r} is not one the hub ships (nothing is fetched)")
    loaded: dict[str, Any] = json.loads((CONTEXTS_DIR / name).read_text(encoding="utf-8"))
    return loaded


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld's loader: shipped contexts only."""
    try:
        document = context(url)
    except ContextNotAvailable as err:
        raise jsonld.JsonLdError(err.message, "jsonld.LoadDocumentError", code="loading document failed") from None
    # "static": pyld keeps a context so tagged in its process-wide cache of processed contexts; untagged,
    # it would process the (large) VC and OB contexts again for every document.
    return {"contextUrl": None, "documentUrl": url, "document": document, "tag": "static"}


def clean_text(value: str) -> str:
    """``value`` without the control characters canonical N-Quads may escape differently."""
    return _CONTROL.sub(" ", value.replace("\t", " ")).strip()


def canonize(document: dict[str, Any]) -> str:
    """The RDFC-1.0 canonical N-Quads of ``document`` (VC Data Integrity EdDSA §3.3.1 step 2)."""
    try:
        out: str = jsonld.normalize(document, {"algorithm": "URDNA2015", "format": "application/n-quads",
                                               "documentLoader": document_loader})
    except jsonld.JsonLdError as err:
        raise ContextNotAvailable(f"the document cannot be read as JSON-LD: {err}") from None
    return out
