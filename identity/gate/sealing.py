"""The statement writers' sealer (registered by the gate's HTTP layer): statements of an attempt the
gate guards are stamped from its row and signed with the hub's key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.gate.domain import stamp_for
from identity.signing import SigningMaterial, sign_statement
from identity.storage import AttemptAssurance
from lrs.multipart import AttachmentPart
from schemas.cmi5 import EXT_SESSION


def _session_of(statement: dict[str, Any]) -> str | None:
    context = statement.get("context")
    extensions = context.get("extensions") if isinstance(context, dict) else None
    value = extensions.get(EXT_SESSION) if isinstance(extensions, dict) else None
    return value if isinstance(value, str) else None


class Sealer:
    """The statement writers' sealer: statements whose cmi5 session id is a gate's are
    stamped from that gate's row and signed by the hub (xAPI 1.0.3 Part Two §2.6 / xAPI 2.0
    §4.2.6: JWS RS256 with x5c, sent as the signature attachment). Others pass unchanged."""

    def __init__(self, material: Callable[[], SigningMaterial]) -> None:
        self.material = material

    def __call__(self, db: Session, tenant_id: int,
                 statements: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[AttachmentPart]]:
        from identity.stamp import stamp_statement

        sessions = {sid for st in statements if (sid := _session_of(st))}
        if not sessions:
            return statements, []
        rows = {r.session_id: r for r in db.scalars(select(AttemptAssurance).where(
            AttemptAssurance.tenant_id == tenant_id, AttemptAssurance.session_id.in_(sessions)))}
        if not rows:
            return statements, []
        material = self.material()
        out: list[dict[str, Any]] = []
        parts: list[AttachmentPart] = []
        for st in statements:
            row = rows.get(_session_of(st) or "")
            if row is None:
                out.append(st)
                continue
            signed, part = sign_statement(stamp_statement(st, stamp_for(row)), material.key, material.cert)
            out.append(signed)
            parts.append(part)
        return out, parts
