"""lrs.multipart: xAPI attachments over multipart/mixed.

Clauses: xAPI 1.0.3 Part Three §1.5.2 (Multipart/Mixed) and Part Two §2.4.11 (Attachments);
xAPI 2.0 (IEEE 9274.1.1) §4.1.3 (Content Types) and §4.2.2.6 (Attachments); RFC 2046 §5.1.1.
XAPI-nnnnn are the ADL conformance requirement ids. Request bodies are written out by hand here,
never with build_multipart.
"""

from __future__ import annotations

import email.policy
import hashlib
import json
from email.parser import BytesParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from lrs.errors import BadRequest
from lrs.multipart import AttachmentPart, build_multipart, check_attachments, parse_multipart

B = "-------314159265358979323846"
CT = f"multipart/mixed; boundary={B}"
TEXT = b"here is a simple attachment"
TEXT_SHA = hashlib.sha256(TEXT).hexdigest()
# Every byte value, CR/LF runs, lines that start like a boundary, a NUL: must come back as sent.
BINARY = bytes(range(256)) + b"\r\n\r\n--" + B[:-1].encode() + b"\r\r\n\n\x00--\r\n"
BINARY_SHA = hashlib.sha256(BINARY).hexdigest()


def attachment(sha2: str, **extra: Any) -> dict[str, Any]:
    return {"usageType": "http://example.com/attachment-usage/test", "display": {"en-US": "A test attachment"},
            "contentType": "text/plain", "length": 27, "sha2": sha2, **extra}


def statement(*attachments: dict[str, Any]) -> dict[str, Any]:
    return {"actor": {"mbox": "mailto:xapi@adlnet.gov"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-US": "attended"}},
            "object": {"id": "http://www.example.com/meetings/occurances/34534"},
            "attachments": list(attachments)}


def json_part(value: Any, header: bytes = b"Content-Type: application/json") -> bytes:
    return header + b"\r\n\r\n" + json.dumps(value).encode()


def data_part(body: bytes, sha2: str, content_type: bytes = b"text/plain") -> bytes:
    return (b"Content-Type: " + content_type + b"\r\nContent-Transfer-Encoding: binary\r\n"
            b"X-Experience-API-Hash: " + sha2.encode() + b"\r\n\r\n" + body)


def mixed(*parts: bytes, boundary: str = B) -> bytes:
    """RFC 2046 framing written out: --B CRLF part CRLF --B ... CRLF --B-- CRLF."""
    dash = b"--" + boundary.encode()
    return b"".join(dash + b"\r\n" + part + b"\r\n" for part in parts) + dash + b"--\r\n"


def rejected(content_type: str, body: bytes, version: str = "2.0.0") -> str:
    with pytest.raises(BadRequest) as caught:
        parse_multipart(content_type, body, version)
    assert caught.value.status == 400
    return caught.value.message


# --- parse_multipart: what must be accepted ----------------------------------------------------


def test_statement_and_binary_attachment_round_trip_byte_exact() -> None:
    # 1.0.3 §1.5.2.s3.b4 / 2.0 §4.1.3: accept the transmission format; data is binary.
    st = statement(attachment(BINARY_SHA, contentType="application/octet-stream"))
    body = mixed(json_part(st), data_part(BINARY, BINARY_SHA.upper(), b"application/octet-stream"))
    parsed, parts = parse_multipart(CT, body, "1.0.3")
    assert parsed == st
    assert parts == [AttachmentPart(sha2=BINARY_SHA, content_type="application/octet-stream", body=BINARY)]


def test_batch_of_statements_in_first_part() -> None:
    # 1.0.3 §1.5.2.s2.b2.b1: the first part holds "the Statements" (a batch is an array).
    batch = [statement(attachment(TEXT_SHA)), statement(attachment(TEXT_SHA))]
    parsed, parts = parse_multipart(CT, mixed(json_part(batch), data_part(TEXT, TEXT_SHA)), "2.0.0")
    assert parsed == batch and [p.body for p in parts] == [TEXT]


def test_no_attachment_parts_is_accepted() -> None:
    # 1.0.3 §1.5.2.s3.b8-b9 / 2.0 §4.1.3: multipart with no attachment data is fine.
    parsed, parts = parse_multipart(CT, mixed(json_part(statement())), "2.0.0")
    assert parsed == statement() and parts == []


def test_signed_statement_shape_from_the_conformance_suite() -> None:
    # E.Data2.6: a leading CRLF preamble, "Content-Type:value" without a space and no CRLF after
    # the close delimiter (RFC 2046 §5.1.1 allows all three).
    jws = b"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
    sha = hashlib.sha256(jws).hexdigest()
    st = statement(attachment(sha, contentType="application/octet-stream"))
    body = (f"\r\n--{B}\r\nContent-Type:application/json\r\n\r\n{json.dumps(st)}"
            f"\r\n--{B}\r\nContent-Type:application/octet-stream\r\nContent-Transfer-Encoding:binary\r\n"
            f"X-Experience-API-Hash:{sha}\r\n\r\n").encode() + jws + f"\r\n--{B}--".encode()
    parsed, parts = parse_multipart(CT, body, "1.0.3")
    assert parsed == st and parts[0].body == jws and parts[0].sha2 == sha


def test_quoted_boundary_mixed_case_type_and_json_charset() -> None:
    # RFC 2045 §5.1: type names are case-insensitive and parameters may be quoted.
    boundary = "a'b(c)+_,-./:=? z"
    body = mixed(json_part(statement(), b"Content-Type: application/json; charset=UTF-8"), boundary=boundary)
    parsed, _ = parse_multipart(f'Multipart/Mixed; boundary="{boundary}"', body, "2.0.0")
    assert parsed == statement()


def test_epilogue_and_transport_padding_are_ignored() -> None:
    # RFC 2046 §5.1.1: blanks may follow a boundary; text after the close delimiter is ignored.
    body = (f"--{B}  \r\n").encode() + json_part(statement()) + f"\r\n--{B}--\r\nepilogue".encode()
    assert parse_multipart(CT, body, "2.0.0")[0] == statement()


def test_missing_content_transfer_encoding_is_assumed_binary() -> None:
    # 1.0.3 §1.5.2.s3.b6 / 2.0 §4.1.3: the LRS SHOULD assume binary when the header is absent.
    part = b"Content-Type: text/plain\r\nX-Experience-API-Hash: " + TEXT_SHA.encode() + b"\r\n\r\n" + TEXT
    _, parts = parse_multipart(CT, mixed(json_part(statement()), part), "1.0.3")
    assert parts[0].body == TEXT


def test_content_transfer_encoding_value_is_case_insensitive() -> None:
    # RFC 2045 §6.1: "BINARY" is "binary".
    part = data_part(TEXT, TEXT_SHA).replace(b"binary", b"BINARY")
    assert parse_multipart(CT, mixed(json_part(statement()), part), "2.0.0")[1][0].body == TEXT


def test_attachment_part_without_content_type_gets_the_rfc_default() -> None:
    # 1.0.3 §1.5.2.s2.b2.b6: Content-Type on attachment parts is only a SHOULD; RFC 2046 §5.1 default.
    part = b"Content-Transfer-Encoding: binary\r\nX-Experience-API-Hash: " + TEXT_SHA.encode() + b"\r\n\r\n" + TEXT
    _, parts = parse_multipart(CT, mixed(json_part(statement()), part), "2.0.0")
    assert parts[0].content_type == "text/plain; charset=us-ascii"


@pytest.mark.parametrize("inner", [
    b"From: a@example.com\nSubject: bare LF\n\nbody\n",  # message/rfc822, as a mail file stores it
    b"--inner\r\nContent-Type: text/plain\r\n\r\nx\r\n--inner--",  # a multipart document as data
])
def test_message_and_multipart_attachments_stay_byte_exact(inner: bytes) -> None:
    # 1.0.3 §1.5.2.s1.b4: data is matched by its SHA-2, so it must not be re-serialised.
    sha = hashlib.sha256(inner).hexdigest()
    for media in (b"message/rfc822", b'multipart/mixed; boundary="inner"'):
        _, parts = parse_multipart(CT, mixed(json_part(statement()), data_part(inner, sha, media)), "2.0.0")
        assert parts[0].body == inner


@given(hs.lists(hs.binary(max_size=400), max_size=4))
@settings(max_examples=150, deadline=None)
def test_any_bytes_survive_parsing(bodies: list[bytes]) -> None:
    # 1.0.3 §1.5.2.s1.b4 / 2.0 §4.1.3: parts are matched by the SHA-2 of their raw data.
    hashes = [hashlib.sha256(b).hexdigest() for b in bodies]
    st = statement(*(attachment(h) for h in hashes))
    data = [data_part(b, h, b"application/octet-stream") for b, h in zip(bodies, hashes, strict=True)]
    parsed, parts = parse_multipart(CT, mixed(json_part(st), *data), "2.0.0")
    assert parsed == st and [p.body for p in parts] == bodies
    check_attachments([st], parts)


# --- parse_multipart: what must be rejected ----------------------------------------------------


def test_no_boundary_parameter() -> None:
    # XAPI-00131 / RFC 2046 §5.1.1: "multipart/mixed;" without boundary.
    assert "no boundary parameter" in rejected("multipart/mixed;", mixed(json_part(statement())))


@pytest.mark.parametrize("boundary", ["x" * 71, "bad\\char", "ends with space "])
def test_malformed_boundary(boundary: str) -> None:
    # RFC 2046 §5.1.1: 1-70 bchars, no trailing space.
    assert "malformed" in rejected(f'multipart/mixed; boundary="{boundary}"', b"")


def test_not_multipart_mixed() -> None:
    # XAPI-00127: multipart/form-data is refused with 400.
    message = rejected(f"multipart/form-data; boundary={B}", mixed(json_part(statement())))
    assert "not multipart/mixed" in message


def test_body_without_the_boundary() -> None:
    # XAPI-00131: the announced boundary never occurs in the body.
    assert "does not contain the multipart boundary" in rejected(CT, json.dumps(statement()).encode())


def test_statements_in_the_preamble() -> None:
    # XAPI-00131: no boundary before the statements, so they are preamble and part 1 is the text.
    body = json_part(statement(attachment(TEXT_SHA))) + b"\r\n" + mixed(data_part(TEXT, TEXT_SHA))
    message = rejected(CT, body)
    assert "must be the statements as application/json" in message and "preamble" in message


def test_missing_boundary_before_an_attachment() -> None:
    # XAPI-00130: the attachment runs into the statements part, which is then not JSON.
    body = mixed(json_part(statement(attachment(TEXT_SHA))) + b"\r\n" + data_part(TEXT, TEXT_SHA))
    assert "not valid JSON" in rejected(CT, body)


def test_first_part_not_application_json() -> None:
    # XAPI-00134 / 1.0.3 §1.5.2.s2.b2.b1.
    body = mixed(json_part(statement(), b"Content-Type: text/plain"), data_part(TEXT, TEXT_SHA))
    assert "has Content-Type 'text/plain'" in rejected(CT, body)


def test_first_part_without_content_type() -> None:
    # 1.0.3 §1.5.2.s2.b2.b6: for the first part the type MUST be application/json.
    body = mixed(b"\r\n" + json.dumps(statement()).encode())
    assert "has no Content-Type" in rejected(CT, body)


def test_statements_split_over_two_parts() -> None:
    # XAPI-00133: a second JSON part is an attachment part without X-Experience-API-Hash.
    body = mixed(json_part(statement()), json_part(statement()), data_part(TEXT, TEXT_SHA))
    assert "multipart part 2 has no X-Experience-API-Hash" in rejected(CT, body)


def test_missing_hash_header() -> None:
    # XAPI-00132 / 1.0.3 §1.5.2.s2.b2.b3.
    part = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\n" + TEXT
    assert "no X-Experience-API-Hash header" in rejected(CT, mixed(json_part(statement()), part))


@pytest.mark.parametrize("value", ["not-hex", "ab" * 20, ""])
def test_hash_header_not_a_sha2_hex_digest(value: str) -> None:
    # 1.0.3 Part Two §2.4.11 / 2.0 §4.2.2.6: sha2 is a SHA-2 digest.
    message = rejected(CT, mixed(json_part(statement()), data_part(TEXT, value)))
    assert "is not a hex SHA-2 digest" in message


def test_content_transfer_encoding_other_than_binary() -> None:
    # XAPI-00135 / 1.0.3 §1.5.2.s2.b2.b4.
    part = data_part(TEXT, TEXT_SHA).replace(b"binary", b"base64")
    assert "Content-Transfer-Encoding 'base64'" in rejected(CT, mixed(json_part(statement()), part))


def test_duplicate_hash_headers() -> None:
    # 1.0.3 §1.5.2.s1.b4: a part is matched by its one hash; two would be ambiguous.
    part = data_part(TEXT, TEXT_SHA).replace(b"\r\n\r\n", b"\r\nX-Experience-API-Hash: " + b"0" * 64 + b"\r\n\r\n", 1)
    assert "more than one X-Experience-API-Hash" in rejected(CT, mixed(json_part(statement()), part))


@pytest.mark.parametrize(("payload", "expected"), [
    (b"{not json", "not valid JSON"),
    (b'{"score": NaN}', "NaN is not a JSON value"),
    (b'"a string"', "Statement object or an array"),
    (b'{"name": "\xff"}', "not UTF-8"),
    (b"", "not valid JSON"),
])
def test_first_part_not_a_json_statement(payload: bytes, expected: str) -> None:
    # 1.0.3 §1.5.2.s2.b2.b1 / Part Three §3.2: malformed JSON is a 400.
    body = mixed(b"Content-Type: application/json\r\n\r\n" + payload)
    assert expected in rejected(CT, body)


def test_first_part_in_another_charset() -> None:
    # 1.0.3 Part Three §1.4 / 2.0 §4.1.2: strings are UTF-8.
    body = mixed(json_part(statement(), b"Content-Type: application/json; charset=iso-8859-1"))
    assert "must be UTF-8" in rejected(CT, body)


def test_truncated_body_without_close_delimiter() -> None:
    # RFC 2046 §5.1.1: the body ends with the close delimiter; without it the data may be cut.
    body = mixed(json_part(statement()), data_part(TEXT, TEXT_SHA))[: -len(B) - 6]
    assert "without its closing boundary" in rejected(CT, body)


def test_bare_line_feeds() -> None:
    # RFC 2046 §5.1.1: boundary lines end with CRLF.
    body = mixed(json_part(statement()), data_part(TEXT, TEXT_SHA)).replace(b"\r\n", b"\n")
    assert "bare line feed" in rejected(CT, body)
    assert "not a bare LF" in rejected(CT, b"preamble\n" + body)


def test_header_line_without_colon() -> None:
    # RFC 2046 §5.1 / RFC 5322 §2.2: part headers are "Name: value" lines.
    part = b"Content-Type: text/plain\r\nthis is not a header\r\nX-Experience-API-Hash: " + TEXT_SHA.encode()
    message = rejected(CT, mixed(json_part(statement()), part + b"\r\n\r\n" + TEXT))
    assert "malformed header line b'this is not a header'" in message


def test_body_with_no_parts() -> None:
    # 1.0.3 §1.5.2.s2.b2.b1: there must be a statements part.
    assert "has no parts" in rejected(CT, f"--{B}--\r\n".encode())


def test_messages_cite_the_version_of_the_request() -> None:
    # 1.0.3 Part Three §1.5.2 vs 2.0 §4.1.3.
    body = mixed(json_part(statement(), b"Content-Type: text/plain"))
    assert "xAPI 1.0.3 Part Three §1.5.2" in rejected(CT, body, "1.0.3")
    assert "IEEE 9274.1.1) §4.1.3" in rejected(CT, body, "2.0.0")
    with pytest.raises(ValueError):
        parse_multipart(CT, body, "0.95")


# --- check_attachments -------------------------------------------------------------------------


def part(body: bytes, sha2: str | None = None) -> AttachmentPart:
    return AttachmentPart(sha2=sha2 or hashlib.sha256(body).hexdigest(), content_type="text/plain", body=body)


def check_rejected(statements: list[dict[str, Any]], parts: list[AttachmentPart]) -> str:
    with pytest.raises(BadRequest) as caught:
        check_attachments(statements, parts)
    return caught.value.message


def test_declared_parts_and_file_urls_are_accepted() -> None:
    # 1.0.3 §1.5.2.s3.b4/b5: data by hash, or a fileUrl instead of data.
    st = statement(attachment(TEXT_SHA), attachment("a" * 64, fileUrl="http://example.com/file.txt"))
    check_attachments([st], [part(TEXT)])


def test_other_sha2_lengths() -> None:
    # 1.0.3 Part Two §2.4.11: "SHA-2", so SHA-224, -384 and -512 digests as well as SHA-256.
    digests = [hashlib.new(name, TEXT).hexdigest() for name in ("sha224", "sha384", "sha512", "sha512_256")]
    check_attachments([statement(*(attachment(d) for d in digests))], [part(TEXT, d) for d in digests])


def test_hash_comparison_ignores_case() -> None:
    # sha2 is hex; "AB" and "ab" are the same digest.
    check_attachments([statement(attachment(TEXT_SHA.upper()))], [part(TEXT)])


def test_one_part_serves_every_statement_that_declares_it() -> None:
    # 1.0.3 §1.5.2.s2.b2.b5: one copy of data used by several statements.
    check_attachments([statement(attachment(TEXT_SHA)), statement(attachment(TEXT_SHA))], [part(TEXT)])


def test_signature_and_substatement_attachments_are_declarations_too() -> None:
    # 1.0.3 Part Two §2.6.s4.b1 (signature attachment); 2.0 §4.2.2.3 (SubStatement attachments).
    jws = b"header.payload.signature"
    sig = attachment(hashlib.sha256(jws).hexdigest(), usageType="http://adlnet.gov/expapi/attachments/signature",
                     contentType="application/octet-stream")
    st = statement(sig)
    st["object"] = {"objectType": "SubStatement", **statement(attachment(TEXT_SHA))}
    check_attachments([st], [part(jws), part(TEXT)])


def test_hash_mismatch() -> None:
    # 1.0.3 §1.5.2.s1.b4: the part is matched by the SHA-2 of its data, which must be its hash.
    message = check_rejected([statement(attachment(TEXT_SHA))], [part(b"other data", TEXT_SHA)])
    assert f"multipart part 2 (X-Experience-API-Hash {TEXT_SHA}): its 10 bytes hash to" in message


def test_undeclared_part() -> None:
    # XAPI-00128: an excess part that is not a declared attachment.
    extra = part(b"surplus")
    message = check_rejected([statement(attachment(TEXT_SHA))], [part(TEXT), extra])
    assert f"multipart part 3 (X-Experience-API-Hash {extra.sha2}) matches the sha2 of no attachment" in message


def test_missing_part() -> None:
    # XAPI-00129 / 1.0.3 §1.5.2.s3.b5: an attachment with neither fileUrl nor data.
    other = hashlib.sha256(b"missing").hexdigest()
    st = statement(attachment(TEXT_SHA), attachment(other))
    st["id"] = "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"
    message = check_rejected([st], [part(TEXT)])
    assert f"statement {st['id']}, attachments[1] (sha2 {other}) has no fileUrl" in message


def test_application_json_request_needs_file_urls() -> None:
    # 1.0.3 §1.5.2.s2.b1: without parts every attachment needs a fileUrl.
    assert "has no fileUrl" in check_rejected([statement(attachment(TEXT_SHA))], [])


def test_attachments_not_an_array() -> None:
    # 1.0.3 Part Two §2.4 (XAPI-00025): attachments is an array of Attachment objects.
    st = statement()
    st["attachments"] = attachment(TEXT_SHA)
    assert "must be an array" in check_rejected([st], [])


# --- build_multipart ---------------------------------------------------------------------------


def test_build_multipart_response_format() -> None:
    # 1.0.3 §1.5.2.s3.b1 / 2.0 §4.1.6.1 (attachments=true): the transmission format, CRLF lines,
    # Content-Transfer-Encoding: binary and X-Experience-API-Hash on each part, one copy per hash.
    doc = json.dumps({"statements": [statement(attachment(TEXT_SHA), attachment(BINARY_SHA))]}).encode()
    binary = AttachmentPart(sha2=BINARY_SHA, content_type="application/octet-stream", body=BINARY)
    content_type, body = build_multipart(doc, [part(TEXT), binary, part(TEXT)])

    assert content_type.startswith("multipart/mixed; boundary=")
    boundary = content_type.split("boundary=", 1)[1]
    assert body.startswith(f"--{boundary}\r\n".encode()) and body.endswith(f"\r\n--{boundary}--\r\n".encode())
    # Each hash shows once in the statements and once as a part header (conformance XAPI-00164).
    assert body.count(TEXT_SHA.encode()) == 2 and body.count(BINARY_SHA.encode()) == 2

    # Read back with an independent parser (the stdlib's) rather than parse_multipart.
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    first, *rest = message.iter_parts()
    assert first.get_content_type() == "application/json" and first.get_payload(decode=True) == doc
    assert [(p["Content-Type"], p["Content-Transfer-Encoding"], p["X-Experience-API-Hash"]) for p in rest] == [
        ("text/plain", "binary", TEXT_SHA), ("application/octet-stream", "binary", BINARY_SHA)]
    assert [p.get_payload(decode=True) for p in rest] == [TEXT, BINARY]


def test_build_multipart_boundary_never_occurs_in_the_data() -> None:
    # RFC 2046 §5.1.1: the boundary must not appear in any part; and our own parser reads it back.
    content_type, body = build_multipart(json.dumps(statement(attachment(BINARY_SHA))).encode(),
                                         [AttachmentPart(BINARY_SHA, "application/octet-stream", BINARY)])
    boundary = content_type.split("boundary=", 1)[1].encode()
    assert body.count(boundary) == 3 and boundary not in BINARY  # open, between the two parts, close
    parsed, parts = parse_multipart(content_type, body, "2.0.0")
    check_attachments([parsed], parts)  # type: ignore[list-item]
    assert parts[0].body == BINARY


@given(hs.lists(hs.binary(max_size=400), max_size=4))
@settings(max_examples=100, deadline=None)
def test_build_then_parse_round_trip(bodies: list[bytes]) -> None:
    # 1.0.3 §1.5.2.s3.b1: what the LRS sends is the transmission format it accepts.
    parts = [AttachmentPart(hashlib.sha256(b).hexdigest(), "application/octet-stream", b) for b in bodies]
    doc = json.dumps(statement(*(attachment(p.sha2) for p in parts))).encode()
    parsed, back = parse_multipart(*build_multipart(doc, parts), "1.0.3")
    assert parsed == json.loads(doc)
    assert back == list({p.sha2: p for p in parts}.values())  # one copy per hash


def test_build_multipart_refuses_header_injection() -> None:
    # RFC 5322 §2.2: a header value cannot hold CR or LF.
    with pytest.raises(ValueError):
        build_multipart(b"{}", [AttachmentPart(TEXT_SHA, "text/plain\r\nX-Evil: 1", TEXT)])
