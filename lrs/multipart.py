"""xAPI attachments sent and returned as ``multipart/mixed``.

xAPI 1.0.3 Part Two §2.4.11 "Attachments" and Part Three §1.5.2 "Multipart/Mixed"; xAPI 2.0
(IEEE 9274.1.1) §4.2.2.6 "Attachments" and §4.1.3 "Content Types". Flask-free: the HTTP layer
hands over the Content-Type header and the raw body bytes.

Why the body is split here rather than by a library: PyPI ``multipart`` (1.x) and Werkzeug's
decoder parse ``multipart/form-data`` only and reject parts without ``Content-Disposition:
form-data``, which xAPI parts never carry; the stdlib ``email`` parser recurses into
``message/*`` and ``multipart/*`` parts, so such attachments would not come back byte for byte
and their SHA-2 would no longer match. RFC 2046 §5.1.1 framing is a few lines of ``bytes.find``;
each part's header block is still parsed by the stdlib (``email.parser.BytesHeaderParser``:
folding, quoting and parameters).
"""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any

from lrs.errors import BadRequest
from lrs.json_text import loads_strict

HASH_HEADER = "X-Experience-API-Hash"
CTE_HEADER = "Content-Transfer-Encoding"

# Error messages name the clause of the version the request was made under.
_REFS = {"1.0.3": "xAPI 1.0.3 Part Three §1.5.2", "2.0.0": "xAPI 2.0 (IEEE 9274.1.1) §4.1.3"}
_BOTH_REFS = "xAPI 1.0.3 Part Three §1.5.2 / xAPI 2.0 §4.1.3"

# RFC 2046 §5.1: a part without Content-Type is "text/plain; charset=us-ascii". xAPI only says a
# client SHOULD send one on attachment parts (1.0.3 §1.5.2.s2.b2.b6, 2.0 §4.1.3), so it is not
# required there; the statement's attachment object keeps the authoritative contentType.
_DEFAULT_PART_TYPE = "text/plain; charset=us-ascii"

# RFC 2046 §5.1.1: 1-70 characters from bchars, not ending in a space.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")

# "sha2" is "the SHA-2 (FIPS PUB 180-2) hash" (1.0.3 Part Two §2.4.11, 2.0 §4.2.2.6), not only
# SHA-256: the digest length tells the candidates (SHA-512/t shares lengths with SHA-224/256).
SHA2_BY_HEX_LENGTH: dict[int, tuple[str, ...]] = {
    56: ("sha224", "sha512_224"),
    64: ("sha256", "sha512_256"),
    96: ("sha384",),
    128: ("sha512",),
}
_HEX = re.compile(r"[0-9a-f]+")
# After "--boundary": "--" closes the body; otherwise optional blanks (RFC 2046 transport padding)
# and CRLF end the boundary line.
_AFTER_DELIMITER = re.compile(rb"--|[ \t]*\r\n")
_LINE_END = re.compile(rb"[ \t]*\r\n")
# The opening boundary may also be followed by a bare LF here, so that such bodies get the
# precise "must end with CRLF" message below rather than "boundary not found".
_AFTER_OPENING = re.compile(rb"--|[ \t]*\r?\n")

_HEADERS = BytesHeaderParser(policy=email.policy.HTTP)


@dataclass(frozen=True)
class AttachmentPart:
    """One attachment part: its declared hash, its media type as sent, its raw bytes."""

    sha2: str  # from X-Experience-API-Hash, lower-case hex
    content_type: str
    body: bytes


def _ref(version: str) -> str:
    try:
        return _REFS[version]
    except KeyError:
        raise ValueError(f"unsupported xAPI version {version!r}") from None


def _part_name(number: int) -> str:
    """Parts are numbered from 1 as they appear; part 1 holds the statements."""
    return f"multipart part {number}"


def is_sha2_hex(value: str) -> bool:
    return len(value) in SHA2_BY_HEX_LENGTH and _HEX.fullmatch(value) is not None


def sha2_matches(sha2: str, body: bytes) -> bool:
    """True when ``body`` hashes to ``sha2`` under a SHA-2 function of that digest length."""
    value = sha2.lower()
    for name in SHA2_BY_HEX_LENGTH.get(len(value), ()):
        try:
            if hashlib.new(name, body).hexdigest() == value:
                return True
        except ValueError:  # an OpenSSL build without SHA-512/t
            continue
    return False


# --- parsing -----------------------------------------------------------------------------------


def _boundary(content_type_header: str, ref: str) -> bytes:
    header = Message()
    header["Content-Type"] = content_type_header
    if header.get_content_type() != "multipart/mixed":
        # 400, not 415: the conformance suite expects 400 for multipart/form-data (XAPI-00127).
        raise BadRequest(f"Content-Type {content_type_header!r} is not multipart/mixed ({ref})")
    # get_boundary() would strip a trailing space, hiding a malformed boundary.
    param = header.get_param("boundary")
    boundary = email.utils.collapse_rfc2231_value(param) if param is not None else None
    if not boundary:
        # RFC 2046 §5.1.1: the boundary parameter is required (XAPI-00131).
        raise BadRequest(f"Content-Type multipart/mixed has no boundary parameter ({ref}, RFC 2046 §5.1.1)")
    if not _BOUNDARY.fullmatch(boundary):
        raise BadRequest(
            f"the multipart boundary {boundary!r} is malformed: RFC 2046 §5.1.1 allows 1 to 70 letters, "
            "digits or '()+_,-./:=? and no trailing space"
        )
    return boundary.encode("ascii")


def _next_delimiter(body: bytes, delimiter: bytes, start: int) -> int:
    """Index of the next CRLF--boundary that really ends a part (followed by "--" or a line end)."""
    while (index := body.find(delimiter, start)) >= 0:
        if _AFTER_DELIMITER.match(body, index + len(delimiter)):
            return index
        start = index + 1  # "--boundaryXYZ" is data, not a delimiter (RFC 2046 §5.1.1)
    return -1


def _split(body: bytes, boundary: bytes, ref: str) -> tuple[list[bytes], bytes]:
    """RFC 2046 §5.1.1 framing: the raw parts (headers + body) and the preamble."""
    dash = b"--" + boundary
    delimiter = b"\r\n" + dash
    if body.startswith(dash) and _AFTER_OPENING.match(body, len(dash)):
        pos = 0
    else:
        found = _next_delimiter(body, delimiter, 0)
        if found < 0:
            # XAPI-00131: a body that never uses the announced boundary.
            hint = "; its lines must end with CRLF, not a bare LF" if b"\n" + dash in body else ""
            raise BadRequest(f"the body does not contain the multipart boundary {boundary.decode()!r}{hint} ({ref})")
        pos = found + 2
    preamble = body[:pos]
    parts: list[bytes] = []
    while True:
        pos += len(dash)
        if body.startswith(b"--", pos):  # close delimiter; the epilogue after it is ignored
            return parts, preamble
        line_end = _LINE_END.match(body, pos)
        if line_end is None:
            what = "a bare line feed" if body[pos:pos + 1] == b"\n" else "other text"
            raise BadRequest(
                f"a multipart boundary line ends with {what}; boundary lines must end with CRLF "
                f"(RFC 2046 §5.1.1, {ref})"
            )
        start = line_end.end()
        end = _next_delimiter(body, delimiter, start)
        if end < 0:
            raise BadRequest(f"the multipart body ends without its closing boundary '--{boundary.decode()}--' ({ref})")
        parts.append(body[start:end])
        pos = end + 2


def _part_headers(raw: bytes, number: int, ref: str) -> tuple[Message, bytes]:
    """Split one raw part into its parsed header block and its body bytes (kept exact)."""
    if raw.startswith(b"\r\n"):  # no header lines at all
        block, content = b"", raw[2:]
    elif (blank := raw.find(b"\r\n\r\n")) >= 0:
        block, content = raw[:blank], raw[blank + 4:]
    else:  # only header lines: the CRLF ending the last one belongs to the delimiter
        block, content = raw, b""
    headers = _HEADERS.parsebytes(block + b"\r\n\r\n")
    leftover = headers.get_payload()
    if headers.defects or (isinstance(leftover, str) and leftover.strip()):
        lines = block.split(b"\r\n")
        bad = next((line for line in lines if b":" not in line and line[:1] not in (b" ", b"\t")), lines[0])
        raise BadRequest(
            f"{_part_name(number)} has a malformed header line {bad[:60]!r}; headers are 'Name: value' ({ref})"
        )
    for name in ("Content-Type", HASH_HEADER, CTE_HEADER):
        if len(headers.get_all(name) or []) > 1:
            raise BadRequest(f"{_part_name(number)} has more than one {name} header ({ref})")
    return headers, content


def _load_statements(content: bytes, ref: str) -> Any:
    # Part Three §1.4 / 2.0 §4.1.2: UTF-8 JSON; strictness lives in one place (lrs.json_text).
    value = loads_strict(content, "the statements part")
    if not isinstance(value, dict | list):
        raise BadRequest(f"the statements part must hold a Statement object or an array of Statements ({ref})")
    return value


def _statement_part(raw: bytes, preamble: bytes, ref: str) -> Any:
    headers, content = _part_headers(raw, 1, ref)
    declared = headers.get("Content-Type")
    if declared is None or headers.get_content_type() != "application/json":
        # 1.0.3 §1.5.2.s2.b2.b1 / 2.0 §4.1.3: the first part holds the statements, as
        # application/json (XAPI-00134).
        got = "has no Content-Type" if declared is None else f"has Content-Type {str(declared)!r}"
        hint = "; text before the first boundary is preamble and is ignored" if preamble.strip() else ""
        raise BadRequest(
            f"the first multipart part must be the statements as application/json, but it {got}{hint} ({ref})"
        )
    charset = headers.get_param("charset")
    if isinstance(charset, str) and charset.lower() not in ("utf-8", "utf8", "us-ascii"):
        raise BadRequest(
            f"the statements part must be UTF-8, not charset {charset!r} (1.0.3 Part Three §1.4 / 2.0 §4.1.2)"
        )
    cte = headers.get(CTE_HEADER)
    if cte is not None and str(cte).strip().lower() not in ("binary", "8bit", "7bit"):
        raise BadRequest(f"the statements part must not be transfer-encoded (Content-Transfer-Encoding {str(cte)!r})")
    return _load_statements(content, ref)


def _attachment_part(raw: bytes, number: int, ref: str) -> AttachmentPart:
    headers, content = _part_headers(raw, number, ref)
    name = _part_name(number)
    sha2 = headers.get(HASH_HEADER)
    if sha2 is None:
        # 1.0.3 §1.5.2.s2.b2.b3 / 2.0 §4.1.3: every part after the first carries the hash
        # (XAPI-00132); a second statements part ends up here too (XAPI-00133).
        raise BadRequest(f"{name} has no {HASH_HEADER} header; every part after the statements needs one ({ref})")
    value = str(sha2).strip().lower()
    if not is_sha2_hex(value):
        raise BadRequest(
            f"{name}: {HASH_HEADER} {str(sha2)!r} is not a hex SHA-2 digest (56, 64, 96 or 128 hex digits)"
        )
    cte = headers.get(CTE_HEADER)
    # Clients MUST send "binary" (1.0.3 §1.5.2.s2.b2.b4; 2.0 §4.1.3 "shall"); the LRS SHOULD
    # assume binary when the header is absent (1.0.3 §1.5.2.s3.b6; 2.0 §4.1.3 LRS requirements),
    # so only another encoding is refused (XAPI-00135). RFC 2045 §6.1: values are case-insensitive.
    if cte is not None and str(cte).strip().lower() != "binary":
        raise BadRequest(f"{name} has {CTE_HEADER} {str(cte)!r}; attachment parts must be 'binary' ({ref})")
    content_type = headers.get("Content-Type")
    return AttachmentPart(sha2=value, content_type=str(content_type).strip() if content_type else _DEFAULT_PART_TYPE,
                          body=content)


def parse_multipart(content_type_header: str, body: bytes, version: str) -> tuple[object, list[AttachmentPart]]:
    """Parse a statements request sent as multipart/mixed.

    Returns the JSON of the first part (a statement object or an array) and the attachment parts
    in order. Raises BadRequest naming what is wrong; ``version`` ("1.0.3" or "2.0.0") picks the
    clause cited in messages.
    """
    ref = _ref(version)
    boundary = _boundary(content_type_header, ref)
    raw_parts, preamble = _split(body, boundary, ref)
    if not raw_parts:
        raise BadRequest(f"the multipart body has no parts; the first must hold the statements ({ref})")
    statements = _statement_part(raw_parts[0], preamble, ref)
    parts = [_attachment_part(raw, number, ref) for number, raw in enumerate(raw_parts[1:], start=2)]
    return statements, parts


# --- matching parts to attachment objects ------------------------------------------------------


def declared_attachments(statement: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, attachment object) for a statement's attachments and its SubStatement's."""
    who = f"statement {statement['id']}" if isinstance(statement.get("id"), str) else "the statement"
    obj = statement.get("object")
    sources = [("", statement.get("attachments"))]
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        # 2.0 §4.2.2.3 lets a SubStatement carry attachments; their data travels the same way.
        sources.append(("object.", obj.get("attachments")))
    for prefix, attachments in sources:
        if attachments is None:
            continue
        if not isinstance(attachments, list):
            raise BadRequest(f"{who}: {prefix}attachments must be an array of Attachment objects")
        for index, attachment in enumerate(attachments):
            where = f"{who}, {prefix}attachments[{index}]"
            if not isinstance(attachment, dict) or not isinstance(attachment.get("sha2"), str):
                raise BadRequest(f"{where} must be an Attachment object with a string sha2")
            yield where, attachment


def check_attachments(statements: list[dict[str, Any]], parts: list[AttachmentPart]) -> None:
    """Match attachment parts to the attachment objects of ``statements`` by SHA-2.

    The only matching the spec allows is by hash (1.0.3 §1.5.2.s1.b4 / 2.0 §4.1.3 "shall not do so
    any other way"). Content-Type and length are not compared with the attachment object: they
    are the client's duty (§1.5.2.s2.b2.b7) and the conformance suite itself sends a part whose
    length differs from the declared one.
    """
    declared = [(where, att) for statement in statements for where, att in declared_attachments(statement)]
    known = {att["sha2"].lower() for _, att in declared}
    for number, part in enumerate(parts, start=2):
        name = f"{_part_name(number)} ({HASH_HEADER} {part.sha2})"
        if not sha2_matches(part.sha2, part.body):
            algorithm = SHA2_BY_HEX_LENGTH.get(len(part.sha2), ("sha256",))[0]
            actual = hashlib.new(algorithm, part.body).hexdigest()
            raise BadRequest(
                f"{name}: its {len(part.body)} bytes hash to {actual} ({algorithm}), not to its {HASH_HEADER}"
            )
        if part.sha2.lower() not in known:
            # XAPI-00128: a part that is no declared attachment is refused, not silently stored.
            raise BadRequest(f"{name} matches the sha2 of no attachment declared by the statements ({_BOTH_REFS})")
    received = {part.sha2.lower() for part in parts}
    for where, att in declared:
        if "fileUrl" not in att and att["sha2"].lower() not in received:
            # 1.0.3 §1.5.2.s3.b5 / 2.0 §4.1.3 (XAPI-00129); for application/json, §1.5.2.s2.b1.
            raise BadRequest(
                f"{where} (sha2 {att['sha2']}) has no fileUrl and the request has no part with its data ({_BOTH_REFS})"
            )


# --- building a response -----------------------------------------------------------------------


def _fresh_boundary(chunks: list[bytes]) -> str:
    # RFC 2046 §5.1.1: the boundary must not occur inside any part. Hex keeps it free of
    # characters that need quoting (and of regex metacharacters, which some clients splice in).
    while True:
        boundary = "xapi-" + secrets.token_hex(16)
        if not any(boundary.encode() in chunk for chunk in chunks):
            return boundary


def build_multipart(json_body: bytes, parts: list[AttachmentPart]) -> tuple[str, bytes]:
    """A multipart/mixed response for GET statements?attachments=true.

    Returns (Content-Type header value, body). The statements come first as application/json,
    then one part per distinct hash (1.0.3 §1.5.2.s2.b2.b5: one copy per attachment) with
    Content-Type, Content-Transfer-Encoding: binary and X-Experience-API-Hash; lines end in CRLF.
    """
    unique: dict[str, AttachmentPart] = {}
    for part in parts:
        sha2 = part.sha2.lower()
        if not is_sha2_hex(sha2):
            raise ValueError(f"attachment part hash {part.sha2!r} is not a hex SHA-2 digest")
        if any(c in part.content_type for c in "\r\n\0"):
            raise ValueError(f"attachment content type {part.content_type!r} cannot go into a header")
        unique.setdefault(sha2, part)
    boundary = _fresh_boundary([json_body, *(p.body for p in unique.values())])
    dash = b"--" + boundary.encode("ascii")
    chunks = [dash, b"\r\nContent-Type: application/json\r\n\r\n", json_body]
    for sha2, part in unique.items():
        head = (
            f"Content-Type: {part.content_type or 'application/octet-stream'}\r\n"
            f"{CTE_HEADER}: binary\r\n"
            f"{HASH_HEADER}: {sha2}\r\n\r\n"
        )
        chunks += [b"\r\n", dash, b"\r\n", head.encode("utf-8"), part.body]
    chunks += [b"\r\n", dash, b"--\r\n"]
    # The boundary goes first among the parameters: some clients read only the first one.
    return f"multipart/mixed; boundary={boundary}", b"".join(chunks)

