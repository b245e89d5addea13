"""The rule that keeps the verification stamp the hub's: only hub-signed statements may carry it.

A stamp (``identity.stamp.STAMP_IRI``) says "this learner was identified"; reports count a
statement carrying one as verified. Any tenant credential may write statements, so without a rule
a tenant could write that claim itself. The LRS therefore refuses (400, nothing stored) a
statement that carries the stamp unless one of its signatures (xAPI 1.0.3 Part Two §2.6 / xAPI 2.0
§4.2.6: a JWS in a signature attachment) verifies with a certificate the hub trusts: by default
only the hub's own, the key the course player signs stamped statements with.

``lrs`` may not import ``identity`` (DESIGN.md, one-way imports), so the LRS only knows a hook:
``lrs.reserved_extensions.ReservedCheck``, a function (statement, JWS bytes of its signatures) -> why it may
not carry the extension, or None. ``stamp_guard`` makes that function; ``hocvu.app`` hands it to
``lrs.http.LrsConfig.reserved_extensions`` under ``STAMP_IRI``.

More certificates to trust (another hub whose stamped statements are forwarded here, say):
``extra_certificates`` reads the PEM files the settings name (``HOCVU_STAMP_TRUSTED_CERTS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from identity.signing import SignatureInvalid, verify_stamped

Certificates = Callable[[], Sequence[bytes]]


def extra_certificates(paths: Iterable[Path]) -> list[bytes]:
    """The PEM certificates in ``paths`` (each file may hold several). A file that does not exist
    or holds no certificate is a start-up error, not an empty trust."""
    found: list[bytes] = []
    for path in paths:
        try:
            certs = x509.load_pem_x509_certificates(Path(path).read_bytes())
        except (OSError, ValueError) as err:
            raise ValueError(f"{path} is not a readable PEM certificate file ({err})") from None
        found.extend(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    return found


def signed_by_trusted(statement: Mapping[str, Any], signatures: Sequence[bytes],
                      certificates: Sequence[bytes]) -> str | None:
    """None when one of ``signatures`` (compact JWS bytes) signs ``statement`` and verifies with one
    of ``certificates`` (PEM); else why not. The key is the certificate's, never the JWS header's
    ``x5c`` (whoever forges a stamp can put any certificate there)."""
    if not signatures:
        return "it is not signed; only statements signed by the hub may carry it"
    if not certificates:
        return "the hub has no certificate to check its signature with"
    text = json.dumps(statement, ensure_ascii=False)
    last = ""
    for token in signatures:
        for pem in certificates:
            try:
                verify_stamped(text, token, pem)
                return None
            except SignatureInvalid as err:
                last = err.message
    return f"no signature of it verifies with a certificate the hub trusts ({last})"


def stamp_guard(certificates: Certificates) -> Callable[[dict[str, Any], list[bytes]], str | None]:
    """The LRS hook for ``STAMP_IRI``. ``certificates`` is called on each stamped statement (not at
    start-up), so the hub's key is read only once something needs it and a replaced key is seen."""

    def check(statement: dict[str, Any], signatures: list[bytes]) -> str | None:
        return signed_by_trusted(statement, signatures, certificates())

    return check
