"""The hub's statement signature: its key and certificate, signing, and an auditor's check.

xAPI 1.0.3 Part Two §2.6 "Signed Statements" and xAPI 2.0 (IEEE 9274.1.1) §4.2.6 "Statement
Signing": a JWS (RFC 7515) in Compact Serialization, alg RS256, whose payload is the JSON
statement *before* the signature attachment was added, sent as an attachment with usageType
``http://adlnet.gov/expapi/attachments/signature`` and contentType ``application/octet-stream``.
The header carries the hub's certificate in ``x5c`` (RFC 7515 §4.1.6: standard base64 of DER), so
the LRS (``lrs.signatures``) and any auditor can check the signature with no other material.

Key material (DESIGN.md Conventions: settings from ``HOCVU_`` variables, safe defaults):

| variable | meaning |
|---|---|
| ``HOCVU_SIGNING_KEY_FILE`` | PEM private key (RSA, 2048 bits or more) |
| ``HOCVU_SIGNING_CERT_FILE`` | PEM X.509 certificate of that key |

When neither is set, an RSA-3072 key and a self-signed certificate are generated once and kept in
the instance folder (``hocvu_signing_key.pem``, mode 0600, and ``hocvu_signing_cert.pem``), as
``identity.demo_provider`` keeps its key. A self-signed certificate is enough: the spec says the
certificate check catches mistakes and is not a trust mechanism; an auditor pins the hub's
certificate, obtained out of band.

JOSE work is joserfc's; keys and certificates are cryptography's. Nothing here hand-rolls crypto.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from identity.errors import IdentityError
from lrs.comparison import SIGNATURE_USAGE_TYPE, comparable, difference
from lrs.multipart import AttachmentPart

# lrs.signatures' JWS limits and algorithms (1.0.3 §2.6.s4.b4 / 2.0 §4.2.6: RS256, RS384 or RS512
# only; ``verify_stamped`` accepts all three, so an auditor can also check statements signed by others).
from lrs.signatures import ALGORITHMS as VERIFY_ALGORITHMS
from lrs.signatures import JWS_REGISTRY, SIGNATURE_CONTENT_TYPE

KEY_FILE_NAME: Final = "hocvu_signing_key.pem"
CERT_FILE_NAME: Final = "hocvu_signing_cert.pem"
ALGORITHM: Final = "RS256"
MIN_KEY_BITS: Final = 2048
NEW_KEY_BITS: Final = 3072  # NIST SP 800-57 Part 1: 128-bit security, past 2030
CERT_VALIDITY: Final = timedelta(days=3650)  # validity dates are not checked (§2.6), only shown
_REF = "xAPI 1.0.3 Part Two §2.6 / xAPI 2.0 §4.2.6"


class SignatureInvalid(IdentityError):
    """A signed statement that does not verify with the given certificate."""

    status, code = 400, "signature_invalid"


@dataclass(frozen=True)
class SigningMaterial:
    """The hub's private key and the certificate of its public key."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        """What to hand an auditor: the public certificate, never the key."""
        return self.cert.public_bytes(serialization.Encoding.PEM)


# --- key material ------------------------------------------------------------------------------


def write_once(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` unless it exists. A temporary file linked into place, so two
    workers starting together end up with one file (the loser's is discarded)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own per call (threads share a pid): once linked, a shared temporary name would
    # let another writer's O_TRUNC empty the file already in place.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hocvu"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "hocvu xAPI statement signing")])
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))  # small clock skew on other machines
            .not_valid_after(now + CERT_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))


def _check_pair(key: Any, cert: x509.Certificate) -> SigningMaterial:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the signing key must be an RSA private key (RS256, xAPI §2.6)")
    if key.key_size < MIN_KEY_BITS:
        raise ValueError(f"the signing key has {key.key_size} bits; at least {MIN_KEY_BITS} are required")
    # A certificate of another key would make every signature fail at the LRS; say so at start-up.
    if cert.public_key() != key.public_key():
        raise ValueError("the signing certificate is not the certificate of the signing key")
    return SigningMaterial(key, cert)


def load_signing_material(instance_dir: Path | None = None, key_file: Path | None = None,
                          cert_file: Path | None = None) -> SigningMaterial:
    """The hub's key and certificate: from ``key_file`` and ``cert_file`` when given (both, or
    neither), else from the instance folder, generated there on first use."""
    if key_file or cert_file:
        if not (key_file and cert_file):
            raise ValueError("the signing key and its certificate go together: give both files, or neither")
        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
        return _check_pair(key, x509.load_pem_x509_certificate(Path(cert_file).read_bytes()))
    directory = instance_dir or Path("instance")
    key_path, cert_path = directory / KEY_FILE_NAME, directory / CERT_FILE_NAME
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=NEW_KEY_BITS) if not key_path.exists() else None
    if new_key is not None:
        write_once(key_path, new_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()), 0o600)
    # Read back what is on disk: another worker may have won the race with its own key.
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not cert_path.exists():
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{key_path} holds no RSA private key")
        write_once(cert_path, _self_signed(key).public_bytes(serialization.Encoding.PEM), 0o644)
    return _check_pair(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))


class HubKey:
    """The hub's signing key, loaded once on first use (a process that never signs never reads it)
    and shared by everything that signs as the hub: the identity gate's stamps, the audit chain's
    checkpoints, the certificates auditors and the stamp guard trust. Made by the composition root."""

    def __init__(self, instance_dir: Path | None = None, *, key_file: Path | None = None,
                 cert_file: Path | None = None) -> None:
        self._instance_dir, self._files = instance_dir, (key_file, cert_file)
        self._lock = threading.Lock()
        self._material: SigningMaterial | None = None

    def __repr__(self) -> str:  # never the key
        return f"HubKey(instance_dir={self._instance_dir!r})"

    def material(self) -> SigningMaterial:
        with self._lock:
            if self._material is None:
                self._material = load_signing_material(self._instance_dir, *self._files)
            return self._material


# --- signing -----------------------------------------------------------------------------------


def _jose_key(key: rsa.RSAPrivateKey) -> RSAKey:
    return RSAKey.import_key(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))


def x5c_of(cert: x509.Certificate) -> list[str]:
    """RFC 7515 §4.1.6: an array of standard base64 (not base64url) DER certificates."""
    return [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")]


def sign_statement(statement: dict[str, Any], key: rsa.RSAPrivateKey,
                   cert: x509.Certificate) -> tuple[dict[str, Any], AttachmentPart]:
    """Sign ``statement``: returns (a copy with the signature attachment added, the JWS part).

    The payload is ``statement`` exactly as given, i.e. before this signature attachment is
    added (1.0.3 §2.6.s4.b3 / 2.0 §4.2.6); earlier signature attachments stay in it, which is
    how a countersignature works. Send both to the LRS in one multipart/mixed request.
    """
    _check_pair(key, cert)
    # UTF-8 JSON, compact: the LRS compares logically (§2.3.1), so the form is free; no NaN.
    payload = json.dumps(statement, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    header = {"alg": ALGORITHM, "x5c": x5c_of(cert)}
    token = jws.serialize_compact(header, payload, _jose_key(key), algorithms=[ALGORITHM],
                                  registry=JWS_REGISTRY).encode("ascii")
    sha2 = hashlib.sha256(token).hexdigest()
    signed = copy.deepcopy(statement)
    signed.setdefault("attachments", []).append({
        "usageType": SIGNATURE_USAGE_TYPE,
        "display": {"en-US": "hocvu hub signature", "vi": "Chữ ký của hệ thống hocvu"},
        "contentType": SIGNATURE_CONTENT_TYPE,  # 1.0.3 §2.6.s4.b1 / 2.0 §4.2.6
        "length": len(token),
        "sha2": sha2,
    })
    return signed, AttachmentPart(sha2=sha2, content_type=SIGNATURE_CONTENT_TYPE, body=token)


# --- the auditor's check -----------------------------------------------------------------------


def verify_stamped(statement_json: str | bytes, jws_bytes: bytes, cert_pem: bytes) -> dict[str, Any]:
    """Check a statement as an LRS returned it against its JWS, trusting only ``cert_pem``.

    The key comes from ``cert_pem`` (the hub's certificate, obtained out of band), never from the
    JWS header: whoever forges a statement can put any certificate in ``x5c``. Then the signed
    payload must be logically equivalent to the statement (1.0.3 §2.3.1, §2.6.s5.b3.b2; what the
    LRS adds and signature attachments are ignored). Returns the signed statement (the payload).
    Raises ``SignatureInvalid`` otherwise.
    """
    public_key = x509.load_pem_x509_certificate(cert_pem).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SignatureInvalid(f"the certificate holds no RSA key, which RS256/384/512 need ({_REF})")
    key = RSAKey.import_key(public_key.public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo))
    try:
        token = jws.deserialize_compact(jws_bytes.strip(), key, algorithms=list(VERIFY_ALGORITHMS),
                                        registry=JWS_REGISTRY)
    except JoseError as err:
        raise SignatureInvalid(f"the JWS does not verify with the hub's certificate: "
                               f"{err.description or err.error} ({_REF})") from None
    except ValueError as err:  # malformed base64/JSON in the header
        raise SignatureInvalid(f"the signature is not a well-formed JWS: {err} ({_REF})") from None
    try:
        signed = json.loads(token.payload)
        received = json.loads(statement_json)
    except ValueError as err:
        raise SignatureInvalid(f"the payload or the statement is not JSON: {err}") from None
    if not isinstance(signed, dict) or not isinstance(received, dict):
        raise SignatureInvalid("the payload and the statement must both be JSON objects")
    found = difference(comparable(signed, signed), comparable(received, signed))
    if found is not None:
        raise SignatureInvalid(f"the statement is not the one its JWS signs: {found} ({_REF})")
    return signed
