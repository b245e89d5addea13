"""lrs.signatures: signed statements.

Clauses: xAPI 1.0.3 Part Two §2.6 (Signed Statements) and §2.3.1 (Statement Immutability,
Statement Comparison Requirements); xAPI 2.0 (IEEE 9274.1.1) §4.2.6 (Statement Signing) and §4.2.7
(durations); RFC 7515 (JWS). XAPI-nnnnn are the ADL conformance requirement ids. Every JWS is made
here with real RSA keys (cryptography + joserfc); certificates are real self-signed X.509.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from joserfc import jws
from joserfc.jwk import OctKey, RSAKey

from lrs.errors import BadRequest
from lrs.multipart import AttachmentPart, check_attachments, parse_multipart
from lrs.signatures import SIGNATURE_USAGE_TYPE, signature_parts, verify_signed_statement

STATEMENT: dict[str, Any] = {
    "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
    "actor": {"objectType": "Agent", "name": "Nguyễn Thị Lan", "mbox": "mailto:lan@Example.VN"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/completed",
             "display": {"en-US": "completed", "vi-VN": "hoàn thành"}},
    "object": {"objectType": "Activity", "id": "http://example.vn/khoa-hoc/1",
               "definition": {"name": {"vi-VN": "Kỹ năng số cơ bản"}}},
    "result": {"success": True, "duration": "PT1H2M3.45S", "score": {"scaled": 0.9}},
    "context": {"registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
                "contextActivities": {"parent": {"id": "http://example.vn/chuong-trinh"}},
                "team": {"objectType": "Group", "name": "Tổ 1",
                         "member": [{"mbox": "mailto:a@example.vn"}, {"mbox": "mailto:b@example.vn"}]},
                "extensions": {"http://example.vn/ext/tinh": "Hà Nội"}},
    "timestamp": "2024-05-04T12:00:00.123+07:00",
}


# --- keys, certificates, signing ---------------------------------------------------------------


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return _rsa()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return _rsa()


def certificate(subject_key: Any, name: str, issuer_key: Any = None, issuer_name: str | None = None) -> str:
    """A base64 DER certificate for ``subject_key``, self-signed unless an issuer is given."""
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name or name)]))
               .public_key(subject_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1))
               .not_valid_after(now + timedelta(days=30)))
    cert = builder.sign(issuer_key or subject_key, hashes.SHA256())
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def jose_key(private: rsa.RSAPrivateKey) -> RSAKey:
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return RSAKey.import_key(pem)


def sign(payload: Any, private: rsa.RSAPrivateKey, alg: str = "RS256", x5c: list[str] | None = None) -> bytes:
    header: dict[str, Any] = {"alg": alg}
    if x5c is not None:
        header["x5c"] = x5c
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return jws.serialize_compact(header, data, jose_key(private), algorithms=[alg]).encode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_signature(statement: dict[str, Any], token: bytes, content_type: str = "application/octet-stream") -> dict:
    """The statement as sent: the signature attachment added after signing (§2.6.s4.b3)."""
    sent = copy.deepcopy(statement)
    sent.setdefault("attachments", []).append({
        "usageType": SIGNATURE_USAGE_TYPE, "display": {"en-US": "Signature"}, "contentType": content_type,
        "length": len(token), "sha2": hashlib.sha256(token).hexdigest()})
    return sent


def rejected(statement: dict[str, Any], token: bytes) -> str:
    with pytest.raises(BadRequest) as caught:
        verify_signed_statement(statement, token)
    assert caught.value.status == 400
    return caught.value.message


# --- accepted signatures -----------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
def test_rs_algorithms_with_x5c_verify(key: rsa.RSAPrivateKey, alg: str) -> None:
    # XAPI-00117 / 1.0.3 §2.6.s4.b4, §2.6.s5.b3.b3: RS256/384/512, checked against the x5c certificate.
    token = sign(STATEMENT, key, alg, x5c=[certificate(key, "signer")])
    verify_signed_statement(with_signature(STATEMENT, token), token)


def test_without_x5c_a_well_formed_equivalent_jws_is_accepted(key: rsa.RSAPrivateKey) -> None:
    # 1.0.3 §2.6.s5.b3: the key check applies "if the JWS header includes an X.509 certificate";
    # the conformance suite signs with {"alg": "RS256"} only and expects 200.
    token = sign(STATEMENT, key)
    verify_signed_statement(with_signature(STATEMENT, token), token)


def test_certificate_chain_in_x5c(key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey) -> None:
    # RFC 7515 §4.1.6: the signer's certificate first, then the one that certifies it.
    chain = [certificate(key, "signer", other_key, "issuing CA"), certificate(other_key, "issuing CA")]
    token = sign(STATEMENT, key, x5c=chain)
    verify_signed_statement(with_signature(STATEMENT, token), token)


def test_what_the_lrs_adds_is_ignored(key: rsa.RSAPrivateKey) -> None:
    # 1.0.3 §2.3.1.b1 and §2.3.1.s9.b1: id, authority, stored, timestamp and version assigned by the LRS.
    signed = {k: v for k, v in STATEMENT.items() if k not in ("id", "timestamp")}
    token = sign(signed, key)
    stored = with_signature(signed, token)
    stored.update(id="0b5dcb45-8c3a-4c36-9ae2-0e2f9b6e0cf5", stored="2024-05-05T00:00:00.000Z",
                  timestamp="2024-05-05T00:00:00.000Z", version="2.0.0",
                  authority={"objectType": "Agent", "account": {"homePage": "https://lrs.example.vn", "name": "k1"}})
    verify_signed_statement(stored, token)


def test_serialization_differences_are_ignored(key: rsa.RSAPrivateKey) -> None:
    # 1.0.3 §2.3.1: key order; b4 timestamp zone; b5 Group member order; b7 case of UUIDs, language
    # tags and the e-mail domain; Part Two §2.4.6.2 contextActivities returned as arrays.
    token = sign(STATEMENT, key)
    received = json.loads(json.dumps(with_signature(STATEMENT, token)), object_pairs_hook=lambda p: dict(reversed(p)))
    received["id"] = STATEMENT["id"].upper()
    received["timestamp"] = "2024-05-04T05:00:00.123000Z"
    received["context"]["registration"] = received["context"]["registration"].upper()
    received["context"]["contextActivities"]["parent"] = [STATEMENT["context"]["contextActivities"]["parent"]]
    received["context"]["team"]["member"].reverse()
    received["verb"]["display"] = {"EN-us": "completed", "vi-vn": "hoàn thành"}
    received["actor"]["mbox"] = "mailto:lan@example.vn"
    verify_signed_statement(received, token)


def test_duration_precision_beyond_hundredths_is_ignored(key: rsa.RSAPrivateKey) -> None:
    # 2.0 §4.2.7 / 1.0.3 Part Two §4.6.s1.b5 (conformance: "comparing a statement to its signature").
    signed = {**STATEMENT, "result": {"duration": "P1DT12H36M0.12S"}}
    token = sign(signed, key)
    verify_signed_statement(with_signature({**signed, "result": {"duration": "P1DT12H36M0.1237S"}}, token), token)


def test_countersigned_statement(key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey) -> None:
    # 1.0.3 §2.6.s4.b3: each payload is the statement before *its* signature was added.
    first = sign(STATEMENT, key)
    once = with_signature(STATEMENT, first)
    second = sign(once, other_key)
    twice = with_signature(once, second)
    verify_signed_statement(twice, first)
    verify_signed_statement(twice, second)


# --- rejected signatures -----------------------------------------------------------------------


def test_hs256_is_rejected() -> None:
    # XAPI-00117: "another algorithm" (the suite signs HS256 with the PEM as the HMAC secret).
    token = jws.serialize_compact({"alg": "HS256"}, json.dumps(STATEMENT), OctKey.import_key(b"k" * 32),
                                  algorithms=["HS256"]).encode()
    assert "alg 'HS256'; only RS256, RS384, RS512" in rejected(with_signature(STATEMENT, token), token)


def test_alg_none_is_rejected() -> None:
    # XAPI-00117 / RFC 7518 §3.6: an unsecured JWS is no signature.
    header = b64url(json.dumps({"alg": "none"}).encode())
    token = f"{header}.{b64url(json.dumps(STATEMENT).encode())}.".encode()
    assert "alg 'none'" in rejected(with_signature(STATEMENT, token), token)


def test_other_asymmetric_algorithm_is_rejected() -> None:
    # 1.0.3 §2.6.s4.b4: not even ES256.
    from joserfc.jwk import ECKey
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    token = jws.serialize_compact({"alg": "ES256"}, json.dumps(STATEMENT), ECKey.import_key(pem),
                                  algorithms=["ES256"]).encode()
    assert "alg 'ES256'" in rejected(with_signature(STATEMENT, token), token)


def test_tampered_payload_fails_verification(key: rsa.RSAPrivateKey) -> None:
    # 1.0.3 §2.6.s5.b3.b3: the signature no longer matches once the payload changes.
    token = sign(STATEMENT, key, x5c=[certificate(key, "signer")])
    header, _, signature = token.split(b".")
    forged_statement = {**STATEMENT, "result": {"success": False}}
    forged = header + b"." + b64url(json.dumps(forged_statement).encode()).encode() + b"." + signature
    message = rejected(with_signature(forged_statement, forged), forged)
    assert "does not verify with the key of its x5c certificate" in message


def test_wrong_key_fails_verification(key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey) -> None:
    # 1.0.3 §2.6.s5.b3.b3: signed with one key, certificate of another.
    token = sign(STATEMENT, key, x5c=[certificate(other_key, "someone else")])
    assert "does not verify" in rejected(with_signature(STATEMENT, token), token)


def test_broken_chain_in_x5c(key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey) -> None:
    # RFC 7515 §4.1.6: each certificate must be certified by the next one.
    token = sign(STATEMENT, key, x5c=[certificate(key, "signer"), certificate(other_key, "unrelated")])
    assert "x5c[0] is not issued by x5c[1]" in rejected(with_signature(STATEMENT, token), token)


@pytest.mark.parametrize(("x5c", "expected"), [
    ("not-a-list", "'x5c' in header must be a list[str]"),
    ([], "non-empty array"),
    (["!!!not base64"], "x5c[0] is not a base64 DER"),
    ([base64.b64encode(b"not DER").decode()], "x5c[0] is not a base64 DER"),
])
def test_malformed_x5c(key: rsa.RSAPrivateKey, x5c: Any, expected: str) -> None:
    # RFC 7515 §4.1.6: x5c is an array of base64 DER certificates.
    header = b64url(json.dumps({"alg": "RS256", "x5c": x5c}).encode())
    good = sign(STATEMENT, key)
    token = header.encode() + good[good.index(b"."):]
    assert expected in rejected(with_signature(STATEMENT, token), token)


def test_x5c_certificate_without_rsa_key(key: rsa.RSAPrivateKey) -> None:
    # 1.0.3 §2.6.s4.b4: RS* needs an RSA key; an EC certificate cannot have made the signature.
    ec_key = ec.generate_private_key(ec.SECP256R1())
    token = sign(STATEMENT, key, x5c=[certificate(ec_key, "ec signer")])
    assert "holds no RSA key" in rejected(with_signature(STATEMENT, token), token)


def test_payload_not_json(key: rsa.RSAPrivateKey) -> None:
    # XAPI-00116 / 1.0.3 §2.6.s4.b3: the suite's breakJson turns the first '"' into "'".
    token = sign(json.dumps(STATEMENT).replace('"', "'", 1).encode(), key)
    message = rejected(with_signature(STATEMENT, token), token)
    assert "JWS payload (xAPI 1.0.3 Part Two §2.6 / xAPI 2.0 §4.2.6) is not valid JSON" in message


def test_payload_json_but_not_a_statement(key: rsa.RSAPrivateKey) -> None:
    # 1.0.3 §2.6.s4.b3: the payload is the Statement, a JSON object.
    token = sign([STATEMENT], key)
    assert "must be a statement (a JSON object), not list" in rejected(with_signature(STATEMENT, token), token)


@pytest.mark.parametrize("token", [
    b"only.two",
    b"a.b.c.d.e",
    b"!!!.e30.c2ln",
    b64url(b'{"typ":"JWT"}').encode() + b".e30.c2ln",  # no alg
    b64url(b'"alg"').encode() + b".e30.c2ln",  # header not an object
    b64url(b'{"alg":"RS256","crit":["x-unknown"],"x-unknown":1}').encode() + b".e30.c2ln",  # RFC 7515 §4.1.11
    b64url(b'{"alg":"RS256","b64":false,"crit":["b64"]}').encode() + b".{}.c2ln",  # RFC 7797, not 7515
    b'{"payload":"e30","signatures":[]}',  # JWS JSON Serialization
])
def test_malformed_jws(token: bytes) -> None:
    # XAPI-00115 "bad JWS" / 1.0.3 §2.6.s5.b1 and §2.6.s4.b2 (Compact Serialization).
    message = rejected(with_signature(STATEMENT, token), token)
    assert "JWS" in message and "(xAPI 1.0.3 Part Two §2.6 / xAPI 2.0 §4.2.6)" in message


def test_empty_signature_segment(key: rsa.RSAPrivateKey) -> None:
    # RFC 7515 §7.1: an RS* JWS carries a signature.
    token = sign(STATEMENT, key)
    token = token[: token.rindex(b".") + 1]
    assert "signature part is empty" in rejected(with_signature(STATEMENT, token), token)


@pytest.mark.parametrize(("change", "where"), [
    (lambda s: s["verb"].update(id="http://adlnet.gov/expapi/verbs/failed"), "verb.id"),
    (lambda s: s["result"].update(success=1), "result.success"),
    (lambda s: s["result"].update(duration="PT1H2M3.46S"), "result.duration"),
    (lambda s: s.update(timestamp="2024-05-04T12:00:01.123+07:00"), "timestamp"),
    (lambda s: s.update(id="00000000-0000-4000-8000-000000000000"), "id"),
    (lambda s: s["context"]["extensions"].update({"http://example.vn/ext/tinh": "Huế"}), "context.extensions"),
    (lambda s: s["actor"].update(mbox="mailto:LAN@example.vn"), "actor.mbox"),
    (lambda s: s["object"]["definition"].pop("name"), "object.definition.name"),
    (lambda s: s.update(version="1.0.3"), "version"),
])
def test_payload_not_equivalent_to_the_statement(key: rsa.RSAPrivateKey, change: Any, where: str) -> None:
    # 1.0.3 §2.6.s5.b3.b2 and §2.3.1.s9.b2: any other difference is not ignored.
    signed = {**STATEMENT, "version": "1.0.0"}
    token = sign(signed, key)
    received = copy.deepcopy(with_signature(signed, token))
    change(received)
    message = rejected(received, token)
    assert f"statement {received['id']} is not the statement its JWS signs: {where}" in message


def test_payload_of_another_statement_with_valid_x5c(key: rsa.RSAPrivateKey) -> None:
    # 1.0.3 §2.6.s5.b3.b2: a valid signature over a different statement is still rejected.
    other = {**STATEMENT, "object": {"id": "http://example.vn/khoa-hoc/2"}}
    token = sign(other, key, x5c=[certificate(key, "signer")])
    assert "not the statement its JWS signs: object" in rejected(with_signature(STATEMENT, token), token)


# --- signature_parts ---------------------------------------------------------------------------


def test_signature_parts_finds_the_jws(key: rsa.RSAPrivateKey) -> None:
    # 1.0.3 §2.6.s4.b1: the JWS is the attachment with the signature usageType.
    token = sign(STATEMENT, key)
    sent = with_signature(STATEMENT, token)
    jws_part = AttachmentPart(hashlib.sha256(token).hexdigest(), "application/octet-stream", token)
    other = AttachmentPart("0" * 64, "text/plain", b"x")
    assert signature_parts(sent, [other, jws_part]) == [jws_part]
    assert signature_parts(STATEMENT, [other]) == []


def test_signature_with_wrong_content_type(key: rsa.RSAPrivateKey) -> None:
    # XAPI-00115 "bad content type" / 1.0.3 §2.6.s4.b1: application/octet-stream only.
    token = sign(STATEMENT, key)
    sent = with_signature(STATEMENT, token, content_type="text/plain; charset=ascii")
    part = AttachmentPart(hashlib.sha256(token).hexdigest(), "text/plain; charset=ascii", token)
    with pytest.raises(BadRequest, match=r"contentType is 'text/plain; charset=ascii'; a signature attachment must"):
        signature_parts(sent, [part])


def test_signature_declared_but_not_attached(key: rsa.RSAPrivateKey) -> None:
    # XAPI-00115: a signature attachment "but does not have a signature attached", fileUrl or not.
    sent = with_signature(STATEMENT, sign(STATEMENT, key))
    sent["attachments"][0]["fileUrl"] = "http://example.vn/sig.jws"
    with pytest.raises(BadRequest, match="has no part with the JWS"):
        signature_parts(sent, [])


def test_signed_statement_end_to_end_over_multipart(key: rsa.RSAPrivateKey) -> None:
    # E.Data2.6 request shape: multipart/mixed, statement then JWS part (1.0.3 Part Three §1.5.2).
    token = sign(STATEMENT, key, "RS512", x5c=[certificate(key, "signer")])
    sent = with_signature(STATEMENT, token)
    boundary = "-------------1234567890"
    body = (f"\r\n--{boundary}\r\nContent-Type:application/json\r\n\r\n{json.dumps(sent)}\r\n--{boundary}\r\n"
            f"Content-Type:application/octet-stream\r\nContent-Transfer-Encoding:binary\r\n"
            f"X-Experience-API-Hash:{hashlib.sha256(token).hexdigest()}\r\n\r\n").encode()
    body += token + f"\r\n--{boundary}--".encode()
    parsed, parts = parse_multipart(f"multipart/mixed; boundary={boundary}", body, "1.0.3")
    assert isinstance(parsed, dict)
    check_attachments([parsed], parts)
    (found,) = signature_parts(parsed, parts)
    verify_signed_statement(parsed, found.body)
