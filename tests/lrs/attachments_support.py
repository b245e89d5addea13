"""What the attachment tests share: a statement with one attachment, sent as multipart/mixed
(xAPI 1.0.3 Part Three §1.5.2), and the tenant of a test client."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from flask import Flask
from sqlalchemy import select

from lrs.multipart import AttachmentPart, build_multipart, parse_multipart
from lrs.storage import Credential, Database
from tests.conftest import Xapi, statement

USAGE = "https://hocvu.vn/attachments/certificate"


def content() -> bytes:
    """Bytes no other test sends (each test's blob is its own)."""
    return f"Chứng nhận hoàn thành {uuid.uuid4()}".encode()


def with_attachment(body: bytes, *, actor: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    att = {"usageType": USAGE, "display": {"vi": "Chứng nhận"}, "contentType": "text/plain; charset=utf-8",
           "length": len(body), "sha2": hashlib.sha256(body).hexdigest(), **extra}
    st = statement(id=str(uuid.uuid4()), attachments=[att])
    if actor is not None:
        st["actor"] = actor
    return st


def post(xapi: Xapi, st: dict[str, Any], parts: list[AttachmentPart]) -> Any:
    content_type, body = build_multipart(json.dumps(st).encode(), parts)
    return xapi.post("statements", data=body, headers={"Content-Type": content_type})


def part(body: bytes, sha2: str | None = None) -> AttachmentPart:
    return AttachmentPart(sha2 or hashlib.sha256(body).hexdigest(), "text/plain; charset=utf-8", body)


def get_parts(xapi: Xapi, statement_id: str) -> tuple[Any, list[AttachmentPart]]:
    res = xapi.get("statements", statementId=statement_id, attachments="true")
    assert res.status_code == 200, res.get_data(as_text=True)
    parsed, parts = parse_multipart(res.headers["Content-Type"], res.get_data(), "1.0.3")
    return parsed, parts


def tenant_of(app: Flask, xapi: Xapi) -> int:
    database: Database = app.extensions["hocvu.db"]
    with database.session() as s:
        found = s.scalar(select(Credential.tenant_id).where(Credential.key == xapi.key))
        assert found is not None
        return found
