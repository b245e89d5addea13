"""identity.stamp and identity.signing: the verification stamp and the hub's statement signature.

Spec clauses: xAPI 1.0.3 Part Two §2.6 "Signed Statements" and IEEE 9274.1.1 (xAPI 2.0) §4.2.6
"Statement Signing"; RFC 7515 (JWS) §3.1 compact serialization and §4.1.6 ``x5c``; context
extensions 1.0.3 Part Two §2.4.6.2 / §5.3 (2.0 §4.2.2.5, §4.2.4.4); attachments over HTTP
1.0.3 Part Three §1.5.2 / 2.0 §4.1.3, read back with ``attachments=true`` (Part Three §2.1.3).

The signature is checked by our LRS over its real HTTP API and then, independently, by PyJWT and
jwcrypto, given nothing but the hub's public certificate.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import json
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws
from jwt import api_jws
from jwt.exceptions import InvalidSignatureError

from face_check.challenge import LIVENESS_METHOD
from face_check.verification import CheckResult, Outcome
from hocvu import configs
from hocvu.settings import SettingError, Settings
from identity.signing import (
    KEY_FILE_NAME,
    SignatureInvalid,
    SigningMaterial,
    load_signing_material,
    sign_statement,
    verify_stamped,
)
from identity.stamp import (
    ASSURANCE_LIVENESS,
    ASSURANCE_NONE,
    ASSURANCE_PHOTO,
    LIVENESS_NONE,
    PHOTO_ONLY,
    STAMP_IRI,
    UNVERIFIED,
    VERIFIED,
    build_stamp,
    pseudonymous_subject,
    stamp_statement,
)
from lrs.comparison import SIGNATURE_USAGE_TYPE
from tests.conftest import Xapi, statement

PEPPER = b"test-pepper-0123456789abcdef-not-a-real-one"
ISSUER = "http://localhost/demo-vneid"
CITIZEN_ID = "003090000001"  # a demo citizen's (unassignable) ID, see identity.demo_provider
SIGNED_IN = datetime(2025, 3, 1, 1, 2, 3, 456789, tzinfo=UTC)
CHECKED = SIGNED_IN + timedelta(minutes=7)
MATCH = CheckResult(Outcome.MATCH, 0.31, 0.40, "euclidean_l2")
NO_MATCH = CheckResult(Outcome.NO_MATCH, 0.52, 0.40, "euclidean_l2")


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> SigningMaterial:
    return load_signing_material(tmp_path_factory.mktemp("instance"))


def verified_stamp() -> dict[str, Any]:
    subject = pseudonymous_subject(PEPPER, ISSUER, "demo-0001")
    return build_stamp(subject=subject, signed_in_at=SIGNED_IN, level=2, check=MATCH, checked_at=CHECKED,
                       liveness=LIVENESS_METHOD, liveness_result="passed")


def signed_statement(material: SigningMaterial) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """(statement as signed, statement as sent with its signature attachment, JWS bytes)."""
    original = stamp_statement(statement(id=str(uuid.uuid4())), verified_stamp())
    sent, part = sign_statement(original, material.key, material.cert)
    return original, sent, part.body


def multipart_request(sent: dict[str, Any], token: bytes) -> tuple[str, bytes]:
    """1.0.3 Part Three §1.5.2 / 2.0 §4.1.3: statements first, then each attachment with its
    X-Experience-API-Hash; written out by hand so the test does not lean on the LRS's own code."""
    boundary = "hocvu-test-" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode()
            + json.dumps(sent).encode()
            + f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n"
              f"Content-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {hashlib.sha256(token).hexdigest()}"
              f"\r\n\r\n".encode()
            + token + f"\r\n--{boundary}--\r\n".encode())
    return f"multipart/mixed; boundary={boundary}", body


def read_multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The statement part and the attachment parts (by hash), read with the stdlib MIME parser."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    assert message.is_multipart()
    first, *rest = list(message.iter_parts())
    assert first.get_content_type() == "application/json"
    parts = {p["X-Experience-API-Hash"]: p.get_payload(decode=True) for p in rest}
    return json.loads(first.get_payload(decode=True)), parts


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def unb64url(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def pyjwt_payload(token: bytes, cert_pem: bytes) -> bytes:
    """PyJWT, with only the hub's certificate: its public key, RS256 alone allowed."""
    from cryptography import x509

    public_key = x509.load_pem_x509_certificate(cert_pem).public_key()
    return api_jws.decode_complete(token, key=public_key, algorithms=["RS256"])["payload"]


def jwcrypto_payload(token: bytes, cert_pem: bytes) -> bytes:
    """jwcrypto, with only the hub's certificate."""
    from cryptography import x509

    pem = x509.load_pem_x509_certificate(cert_pem).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    checked = jwcrypto_jws.JWS()
    checked.deserialize(token.decode(), jwcrypto_jwk.JWK.from_pem(pem), alg="RS256")
    return checked.payload


# --- (a) accepted by our LRS over HTTP and read back -------------------------------------------


def test_stamped_signed_statement_round_trips_through_the_lrs(app: Any, xapi2: Xapi) -> None:
    """1.0.3 Part Two §2.6.s5 / 2.0 §4.2.6: the LRS decodes the JWS, checks it against the x5c
    certificate and the statement's equivalence, and stores it; GET with attachments=true
    (Part Three §2.1.3, §1.5.2) returns the statement and the JWS byte for byte."""
    from identity.gate.http import CONFIG_EXT

    # Signed with the hub's own key: the LRS stores a stamp only then (identity.stamp_guard).
    material: SigningMaterial = app.extensions[CONFIG_EXT].material()
    original, sent, token = signed_statement(material)
    content_type, body = multipart_request(sent, token)
    res = xapi2.post("statements", data=body, headers={"Content-Type": content_type})
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.get_json() == [original["id"]]

    res = xapi2.get("statements", statementId=original["id"], attachments="true")
    assert res.status_code == 200
    stored, parts = read_multipart(res.headers["Content-Type"], res.get_data())
    signature = next(a for a in stored["attachments"] if a["usageType"] == SIGNATURE_USAGE_TYPE)
    assert signature["contentType"] == "application/octet-stream"
    assert signature["length"] == len(token) and signature["sha2"] == hashlib.sha256(token).hexdigest()
    assert parts[signature["sha2"]] == token
    assert stored["context"]["extensions"][STAMP_IRI] == verified_stamp()

    # (b) what came back verifies for an auditor holding only the certificate.
    assert verify_stamped(json.dumps(stored), parts[signature["sha2"]], material.cert_pem) == original
    assert json.loads(pyjwt_payload(parts[signature["sha2"]], material.cert_pem)) == original


# --- (b) independent JWS libraries -------------------------------------------------------------


def test_signature_verifies_with_independent_libraries(material: SigningMaterial) -> None:
    """RFC 7515 §3.1 compact serialization, alg RS256 (1.0.3 §2.6.s4.b4 / 2.0 §4.2.6), x5c the
    hub's certificate as base64 DER (RFC 7515 §4.1.6), payload the statement before the
    signature attachment was added (1.0.3 §2.6.s4.b3): checked by PyJWT and by jwcrypto."""
    original, sent, token = signed_statement(material)
    header = api_jws.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert base64.b64decode(header["x5c"][0]) == material.cert.public_bytes(serialization.Encoding.DER)
    assert json.loads(pyjwt_payload(token, material.cert_pem)) == original
    assert json.loads(jwcrypto_payload(token, material.cert_pem)) == original
    assert "attachments" not in original and len(sent["attachments"]) == 1


# --- (c) one changed byte ----------------------------------------------------------------------


def tampered(token: bytes, *, segment: int) -> bytes:
    """The JWS with exactly one byte of its decoded payload (1) or signature (2) changed."""
    segments = token.split(b".")
    raw = unb64url(segments[segment])
    if segment == 1:
        # A meaningful forgery: the face distance 0.31 becomes 0.21, still valid JSON.
        changed = raw.replace(b'"faceDistance":0.31', b'"faceDistance":0.21', 1)
    else:
        changed = raw[:-1] + bytes([raw[-1] ^ 0x01])
    assert len(changed) == len(raw) and sum(a != b for a, b in zip(raw, changed, strict=True)) == 1
    segments[segment] = b64url(changed)
    return b".".join(segments)


@pytest.mark.parametrize("segment", [1, 2], ids=["payload", "signature"])
def test_one_changed_byte_fails_verification(material: SigningMaterial, segment: int) -> None:
    """RFC 7515 §5.2 (validation): a JWS whose payload or signature changed by one byte does not
    verify; 1.0.3 §2.6.s5.b3 / 2.0 §4.2.6: the LRS must then reject the statement."""
    _, sent, token = signed_statement(material)
    bad = tampered(token, segment=segment)
    with pytest.raises(InvalidSignatureError):
        pyjwt_payload(bad, material.cert_pem)
    with pytest.raises(jwcrypto_jws.InvalidJWSSignature):
        jwcrypto_payload(bad, material.cert_pem)
    with pytest.raises(SignatureInvalid):
        verify_stamped(json.dumps(sent), bad, material.cert_pem)


@pytest.mark.parametrize("segment", [1, 2], ids=["payload", "signature"])
def test_lrs_rejects_a_changed_byte(xapi2: Xapi, material: SigningMaterial, segment: int) -> None:
    """1.0.3 §2.6.s5.b1 / 2.0 §4.2.6: a signature that does not verify is a 400, nothing stored."""
    original, sent, token = signed_statement(material)
    bad = tampered(token, segment=segment)
    attachment = sent["attachments"][0]
    attachment.update(sha2=hashlib.sha256(bad).hexdigest(), length=len(bad))
    content_type, body = multipart_request(sent, bad)
    res = xapi2.post("statements", data=body, headers={"Content-Type": content_type})
    assert res.status_code == 400
    assert xapi2.get("statements", statementId=original["id"]).status_code == 404


def test_auditor_trusts_the_given_certificate_not_the_header(material: SigningMaterial, tmp_path: Path) -> None:
    """RFC 7515 §4.1.6: x5c is only what the signer claims; the auditor pins the hub's certificate."""
    other = load_signing_material(tmp_path)
    _, sent, token = signed_statement(other)  # valid, with the *other* key's own x5c
    with pytest.raises(SignatureInvalid):
        verify_stamped(json.dumps(sent), token, material.cert_pem)


def test_auditor_rejects_a_statement_other_than_the_signed_one(material: SigningMaterial) -> None:
    """1.0.3 §2.6.s5.b3.b2 / 2.0 §4.2.6: the statement must be equivalent to the payload."""
    _, sent, token = signed_statement(material)
    sent["context"]["extensions"][STAMP_IRI]["outcome"] = UNVERIFIED
    with pytest.raises(SignatureInvalid, match="not the one its JWS signs"):
        verify_stamped(json.dumps(sent), token, material.cert_pem)


# --- (d) the stamp: derived outcome, no citizen ID ---------------------------------------------


def test_verified_stamp_carries_the_check() -> None:
    """DESIGN.md "Stamp": method, level, times, distance and threshold, model, pseudonymous subject."""
    stamp = verified_stamp()
    assert stamp["outcome"] == VERIFIED and stamp["level"] == 2 and stamp["method"] == "vneid+face"
    assert stamp["signedInAt"] == "2025-03-01T01:02:03.456789+00:00"
    assert stamp["faceCheckedAt"] == "2025-03-01T01:09:03.456789+00:00"
    assert (stamp["faceDistance"], stamp["threshold"], stamp["metric"]) == (0.31, 0.40, "euclidean_l2")
    assert stamp["model"] == MATCH.model and stamp["detector"] == MATCH.detector
    assert stamp["liveness"] == LIVENESS_METHOD and stamp["livenessResult"] == "passed"
    assert stamp["assurance"] == ASSURANCE_LIVENESS


@pytest.mark.parametrize(("liveness", "result", "outcome", "assurance"), [
    (None, None, PHOTO_ONLY, ASSURANCE_PHOTO),             # a photo (the fallback): lower, never verified
    (LIVENESS_NONE, None, PHOTO_ONLY, ASSURANCE_PHOTO),
    (LIVENESS_METHOD, "static", UNVERIFIED, ASSURANCE_NONE),   # a match on a burst that failed liveness
    (LIVENESS_METHOD, "passed", VERIFIED, ASSURANCE_LIVENESS),
], ids=["photo", "liveness-none", "not-live", "live"])
def test_verified_needs_liveness(liveness: str | None, result: str | None, outcome: str, assurance: str) -> None:
    """ISO/IEC 30107-1 §5.2 / issue 12: the same face match is "verified" only with a passed liveness
    challenge; without liveness it is "photo-only" at the "face-photo" level and says ``liveness: none``."""
    stamp = build_stamp(subject=pseudonymous_subject(PEPPER, ISSUER, "demo-0001"), signed_in_at=SIGNED_IN, level=2,
                        check=MATCH, checked_at=CHECKED, liveness=liveness, liveness_result=result)
    assert (stamp["outcome"], stamp["assurance"]) == (outcome, assurance)
    assert stamp["liveness"] == (liveness or LIVENESS_NONE)
    assert ("livenessResult" in stamp) == (liveness not in (None, LIVENESS_NONE))


@pytest.mark.parametrize(("check", "level"), [
    (NO_MATCH, 2),
    (None, 2),
    (CheckResult(Outcome.NO_FACE, None, 0.40, "euclidean_l2"), 2),
    (CheckResult(Outcome.SEVERAL_FACES, None, 0.40, "euclidean_l2", faces=2), 2),
    (CheckResult(Outcome.MATCH, 0.45, 0.40, "euclidean_l2"), 2),  # a "match" the numbers contradict
    (CheckResult(Outcome.MATCH, None, 0.40, "euclidean_l2"), 2),
    (MATCH, None),  # no VNeID level known
], ids=["no-match", "no-check", "no-face", "several-faces", "over-threshold", "no-distance", "no-level"])
def test_failed_or_missing_check_is_unverified(check: CheckResult | None, level: int | None) -> None:
    """DESIGN.md "Stamp" rule: after a failed or missing check the stamp says "unverified"."""
    stamp = build_stamp(subject=pseudonymous_subject(PEPPER, ISSUER, "demo-0001"), signed_in_at=SIGNED_IN,
                        level=level, check=check, checked_at=CHECKED if check else None)
    assert stamp["outcome"] == UNVERIFIED
    if check is None:
        assert "faceDistance" not in stamp and "faceCheckedAt" not in stamp


def test_outcome_is_not_an_argument() -> None:
    """The outcome is derived from the check; a caller cannot assert "verified"."""
    with pytest.raises(TypeError):
        build_stamp(subject="x", signed_in_at=SIGNED_IN, level=2, check=None, outcome=VERIFIED)  # type: ignore[call-arg]


def test_stamp_never_contains_a_citizen_id() -> None:
    """DESIGN.md "Identity assurance": the citizen ID is kept only as a keyed hash; even a provider
    whose sub is the citizen ID gives a pseudonym, and a citizen-ID-shaped subject is refused."""
    subject = pseudonymous_subject(PEPPER, ISSUER, CITIZEN_ID)
    stamp = build_stamp(subject=subject, signed_in_at=SIGNED_IN, level=2, check=NO_MATCH, checked_at=CHECKED)
    assert CITIZEN_ID not in json.dumps(stamp)
    assert subject == pseudonymous_subject(PEPPER, ISSUER, CITIZEN_ID) != pseudonymous_subject(
        PEPPER, ISSUER, "003090000002")
    for bad in (CITIZEN_ID, "0030 9000 0001", "123456789", ""):
        with pytest.raises(ValueError):
            build_stamp(subject=bad, signed_in_at=SIGNED_IN, level=2, check=MATCH, checked_at=CHECKED)


def test_naive_times_are_refused() -> None:
    """DESIGN.md Conventions: times are UTC with a timezone; a naive one would be a guess."""
    with pytest.raises(ValueError, match="timezone-aware"):
        build_stamp(subject="s", signed_in_at=datetime(2025, 1, 1), level=2, check=None)


def test_stamp_statement_copies() -> None:
    """1.0.3 Part Two §2.4.6.2: context.extensions is created when absent; other extensions kept;
    the input statement is left as it was."""
    bare = statement()
    stamped = stamp_statement(bare, verified_stamp())
    assert "context" not in bare and stamped["context"]["extensions"][STAMP_IRI] == verified_stamp()
    other = statement(context={"extensions": {"https://example.vn/x": 1}, "language": "vi"})
    stamped = stamp_statement(other, verified_stamp())
    assert set(stamped["context"]["extensions"]) == {"https://example.vn/x", STAMP_IRI}
    assert other["context"]["extensions"] == {"https://example.vn/x": 1}


# --- (e) key material --------------------------------------------------------------------------


def test_key_file_is_private_and_stable(tmp_path: Path) -> None:
    """The private key is generated once, kept with mode 0600, and loaded again unchanged;
    the certificate is of that key and self-signed, RSA of at least 2048 bits."""
    first = load_signing_material(tmp_path)
    assert stat.S_IMODE((tmp_path / KEY_FILE_NAME).stat().st_mode) == 0o600
    second = load_signing_material(tmp_path)
    assert second.key.private_numbers() == first.key.private_numbers()
    assert second.cert == first.cert and first.key.key_size >= 2048
    assert first.cert.issuer == first.cert.subject
    first.cert.verify_directly_issued_by(first.cert)


def test_key_and_certificate_from_files(material: SigningMaterial, tmp_path: Path) -> None:
    """The key and certificate files (HOCVU_SIGNING_KEY_FILE / HOCVU_SIGNING_CERT_FILE, DESIGN.md
    Conventions) win over the instance folder, must come together, and must be a matching pair;
    through the settings tree a lone one stops start-up with one line."""
    key_pem = material.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
    (tmp_path / "k.pem").write_bytes(key_pem)
    (tmp_path / "c.pem").write_bytes(material.cert_pem)
    with pytest.raises(ValueError, match="both"):
        load_signing_material(tmp_path / "instance", key_file=tmp_path / "k.pem")
    with pytest.raises(SettingError, match="HOCVU_SIGNING_CERT_FILE"):
        Settings.from_env({"HOCVU_SIGNING_KEY_FILE": str(tmp_path / "k.pem")})
    settings = Settings.from_env({"HOCVU_SIGNING_KEY_FILE": str(tmp_path / "k.pem"),
                                  "HOCVU_SIGNING_CERT_FILE": str(tmp_path / "c.pem"),
                                  "HOCVU_INSTANCE_DIR": str(tmp_path / "instance")})
    loaded = configs.hub_key(settings).material()
    assert loaded.cert == material.cert and not (tmp_path / "instance").exists()
    mismatched = load_signing_material(tmp_path / "elsewhere")
    (tmp_path / "c2.pem").write_bytes(mismatched.cert_pem)
    with pytest.raises(ValueError, match="not the certificate of the signing key"):
        load_signing_material(tmp_path / "instance", tmp_path / "k.pem", tmp_path / "c2.pem")
