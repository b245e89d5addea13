"""Finding a citizen ID where it must not be: in text (logs, pages, exports), in every column of every
table, in a Flask session cookie. Shared by the identity privacy tests (Decree 13/2023/NĐ-CP Art. 2.3:
the personal identification number is personal data; it is kept only as a keyed hash)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import zlib

from sqlalchemy import MetaData, select

from lrs.storage import Database

JWT_LIKE = re.compile(r"eyJ[\w-]+\.([\w-]+)\.[\w-]*")


def forms(value: str) -> list[str]:
    """The clear ID and the ways it could leak: grouped digits, an unkeyed SHA-256."""
    return [value, f"{value[:3]} {value[3:6]} {value[6:]}", hashlib.sha256(value.encode()).hexdigest()]


def leaks(text: str, value: str) -> list[str]:
    found = [f for f in forms(value) if f in text]
    for payload in JWT_LIKE.findall(text):  # a token (a log, a JWS attachment) carries its claims base64url-encoded
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode(errors="replace")
        found += [f"JWT:{f}" for f in forms(value) if f in decoded]
    return found


def dump_database(database: Database) -> str:
    """Every column of every row of every table, as text (bytes decoded, JSON as written)."""
    meta = MetaData()
    meta.reflect(database.engine)
    parts: list[str] = []
    with database.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, memoryview):
                        value = bytes(value)
                    parts.append(value.decode(errors="replace") if isinstance(value, bytes)
                                 else json.dumps(value, ensure_ascii=False, default=str))
    return "\n".join(parts)


def decode_session(cookie_value: str) -> str:
    """Flask's session cookie ("[.]payload.timestamp.signature"): base64url JSON, zlib-compressed when
    it starts with '.'."""
    payload = cookie_value.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    with contextlib.suppress(zlib.error):
        data = zlib.decompress(data)
    return data.decode(errors="replace")
