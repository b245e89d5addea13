"""Signed statements: a JWS over the statement, sent as an attachment.

xAPI 1.0.3 Part Two §2.6 "Signed Statements" and xAPI 2.0 (IEEE 9274.1.1) §4.2.6 "Statement
Signing", with the comparison rules of 1.0.3 Part Two §2.3.1 "Statement Comparison Requirements"
and 2.0 §4.2.7 (durations). Flask-free.

What the LRS must do (1.0.3 §2.6.s5.b3, 2.0 §4.2.6 "Additional Requirements"): decode the JWS and
load the statement from its payload, check the original is logically equivalent to the received
statement, validate the signature against the X.509 certificate *if the header has one* (``x5c``),
and check the signature requirements (attachment contentType, RS256/384/512, a JSON payload).
Without ``x5c`` there is no key to check against, so such a JWS is accepted once well formed and
equivalent; the spec notes the certificate check catches mistakes and is not a security measure,
so neither trust anchors nor validity dates are checked.

JOSE work is joserfc's; certificates are read with cryptography. Nothing here hand-rolls crypto.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from joserfc.util import urlsafe_b64decode

from lrs.comparison import SIGNATURE_USAGE_TYPE, comparable, difference
from lrs.errors import BadRequest
from lrs.json_text import loads_strict
from lrs.multipart import AttachmentPart

SIGNATURE_CONTENT_TYPE = "application/octet-stream"
# 1.0.3 §2.6.s4.b4 / 2.0 §4.2.6: the only algorithms allowed (so never HS*, none, ES*, PS*).
ALGORITHMS = ("RS256", "RS384", "RS512")
_REF = "xAPI 1.0.3 Part Two §2.6 / xAPI 2.0 §4.2.6"


class _Registry(jws.JWSRegistry):
    # joserfc's defaults (512-byte header, 128 kB payload, 1 kB signature) are for tokens: an x5c
    # chain alone passes 512 bytes, a statement can pass 128 kB, an RSA-8192 signature 1 kB.
    max_header_length = 64 * 1024
    max_payload_length = 16 * 1024 * 1024
    max_signature_length = 4 * 1024


# Header parameters outside the IANA registry are legal (RFC 7515 §4.2-4.3) unless marked crit.
JWS_REGISTRY = _Registry(algorithms=list(ALGORITHMS), strict_check_header=False)


def _who(statement: dict[str, Any]) -> str:
    return f"statement {statement['id']}" if isinstance(statement.get("id"), str) else "the statement"


def signature_parts(statement: dict[str, Any], parts: list[AttachmentPart]) -> list[AttachmentPart]:
    """The parts holding the JWS of each signature attachment of ``statement``, in order.

    Raises BadRequest when a signature attachment is not application/octet-stream or its JWS is
    not in the request (XAPI-00115: "usageType signature ... but does not have a signature
    attached"), even when it also has a fileUrl: the LRS must check the signature now.
    """
    by_hash = {part.sha2.lower(): part for part in parts}
    found: list[AttachmentPart] = []
    attachments = statement.get("attachments")
    for index, attachment in enumerate(attachments if isinstance(attachments, list) else []):
        if not isinstance(attachment, dict) or attachment.get("usageType") != SIGNATURE_USAGE_TYPE:
            continue
        where = f"{_who(statement)}, attachments[{index}]"
        content_type = attachment.get("contentType")
        media = content_type.split(";")[0].strip().lower() if isinstance(content_type, str) else None
        if media != SIGNATURE_CONTENT_TYPE:
            # 1.0.3 §2.6.s4.b1 / 2.0 §4.2.6: the signature attachment is application/octet-stream.
            raise BadRequest(
                f"{where} is a signature but its contentType is {content_type!r}; "
                f"a signature attachment must be {SIGNATURE_CONTENT_TYPE} ({_REF})"
            )
        sha2 = attachment.get("sha2")
        part = by_hash.get(sha2.lower()) if isinstance(sha2, str) else None
        if part is None:
            raise BadRequest(
                f"{where} declares a signature (sha2 {sha2}) but the request has no part with the JWS ({_REF})"
            )
        found.append(part)
    return found


# --- the JWS -----------------------------------------------------------------------------------


def _token(jws_bytes: bytes) -> jws.CompactSignature:
    value = jws_bytes.strip()
    if value.startswith(b"{"):
        # 2.0 §4.2.6: Compact Serialization "shall" be used; 1.0.3 §2.6.s4.b2 already SHOULD*.
        raise BadRequest(f"the signature uses JWS JSON Serialization; use JWS Compact Serialization ({_REF})")
    if value.count(b".") != 2:
        raise BadRequest(
            f"the signature is not a JWS Compact Serialization (three base64url parts joined by '.') ({_REF})"
        )
    try:
        token = jws.extract_compact(value, registry=JWS_REGISTRY)
        if not isinstance(token.headers(), dict):
            raise BadRequest(f"the JWS header is not a JSON object ({_REF})")
        JWS_REGISTRY.check_header(token.headers())
    except JoseError as err:
        raise BadRequest(f"the signature is not a well-formed JWS: {err.description or err.error} ({_REF})") from None
    if token.headers().get("b64") is False:
        # RFC 7797 unencoded payloads are an extension; xAPI names RFC 7515, whose payload is base64url.
        raise BadRequest(f"the JWS payload must be base64url-encoded (RFC 7515), not b64=false ({_REF})")
    return token


def _check_algorithm(token: jws.CompactSignature) -> None:
    alg = token.headers().get("alg")
    if alg not in ALGORITHMS:
        raise BadRequest(f"the JWS uses alg {alg!r}; only {', '.join(ALGORITHMS)} are allowed ({_REF})")
    try:
        signature = urlsafe_b64decode(token.segments["signature"])
    except (TypeError, ValueError):
        signature = b""
    if not signature:
        raise BadRequest(f"the JWS signature part is empty or not base64url ({_REF})")


def _signed_statement(token: jws.CompactSignature) -> dict[str, Any]:
    # 1.0.3 §2.6.s4.b3 / 2.0 §4.2.6: the payload is a valid JSON serialization of the complete
    # statement as it was before the signature was added (XAPI-00116).
    payload = loads_strict(token.payload, f"the JWS payload ({_REF})")
    if not isinstance(payload, dict):
        raise BadRequest(f"the JWS payload must be a statement (a JSON object), not {type(payload).__name__} ({_REF})")
    return payload


def _verify_with_x5c(token: jws.CompactSignature, x5c: Any) -> None:
    """1.0.3 §2.6.s5.b3.b3 / 2.0 §4.2.6: validate the signature against the header's certificate."""
    if not isinstance(x5c, list) or not x5c:
        raise BadRequest("the JWS x5c header must be a non-empty array of certificates (RFC 7515 §4.1.6)")
    certificates: list[x509.Certificate] = []
    for index, encoded in enumerate(x5c):
        try:
            # RFC 7515 §4.1.6: standard base64 (not base64url) of DER.
            certificates.append(x509.load_der_x509_certificate(base64.b64decode(encoded, validate=True)))
        except (TypeError, ValueError, binascii.Error):
            raise BadRequest(f"JWS x5c[{index}] is not a base64 DER X.509 certificate (RFC 7515 §4.1.6)") from None
    for index, (certificate, issuer) in enumerate(itertools.pairwise(certificates)):
        # RFC 7515 §4.1.6: each certificate is certified by the next one. Catches a chain sent
        # in the wrong order or with the wrong certificate first.
        try:
            certificate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise BadRequest(f"JWS x5c[{index}] is not issued by x5c[{index + 1}] (RFC 7515 §4.1.6)") from None
    public_key = certificates[0].public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise BadRequest(f"the JWS x5c certificate holds no RSA key, which RS256/384/512 need ({_REF})")
    key = RSAKey.import_key(public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    try:
        valid = jws.validate_compact(token, key, registry=JWS_REGISTRY)
    except JoseError as err:
        reason = err.description or err.error
        raise BadRequest(f"the JWS could not be checked against its x5c certificate: {reason} ({_REF})") from None
    if not valid:
        raise BadRequest(f"the JWS signature does not verify with the key of its x5c certificate ({_REF})")


def verify_signed_statement(statement: dict[str, Any], jws_bytes: bytes) -> None:
    """Check one signature (the bytes of its attachment part) of ``statement``.

    ``statement`` may already carry what the LRS adds (id, stored, authority, timestamp, version).
    Raises BadRequest with what is wrong: 1.0.3 §2.6.s5.b1 / 2.0 §4.2.6 require 400 for a
    malformed signature.
    """
    token = _token(jws_bytes)
    _check_algorithm(token)
    signed = _signed_statement(token)
    x5c = token.headers().get("x5c")
    if x5c is not None:
        _verify_with_x5c(token, x5c)
    # 1.0.3 §2.6.s5.b3.b2 / 2.0 §4.2.6: the original must be logically equivalent to the
    # received statement (1.0.3 §2.3.1 "Statement Comparison Requirements").
    found = difference(comparable(signed, signed), comparable(statement, signed))
    if found is not None:
        raise BadRequest(f"{_who(statement)} is not the statement its JWS signs: {found} ({_REF})")
