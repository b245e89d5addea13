"""An external witness of the audit chain's checkpoints: a JSON Lines file an auditor keeps
outside the hub (``hocvu audit witness export`` adds the checkpoints it does not hold yet; a
write-once bucket or another organisation's disk is the place for it).

A checkpoint is signed by the hub's key, so the file cannot be forged by whoever holds the database
and not the key; and once a checkpoint is in the file, the database cannot take it back:
``check`` (``hocvu audit witness verify``, ``hocvu audit verify --witness``) names every witnessed
checkpoint that is missing from the store (deleted), differs from the store's (rewritten), or whose
position in the chain now holds another hash (the chain re-forged after it was witnessed), however
self-consistent the rewritten chain and its remaining checkpoints are.

One line per checkpoint: ``{"chain", "tenant", "tenant_id", "position", "entry_hash", "created",
"jws"}`` (the checkpoint as ``lrs.audit.verify.checkpoint_dict`` gives it, with the chain's name
and the tenant's slug for the reader).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.audit.chain import CHAIN_VERSION
from lrs.audit.verify import CheckpointInvalid, checkpoint_dict, verify_checkpoint_jws
from lrs.storage import AuditCheckpoint, AuditEntry, Tenant

FIELDS = ("chain", "tenant", "tenant_id", "position", "entry_hash", "created", "jws")


@dataclass(frozen=True)
class Contradiction:
    """A witnessed checkpoint the store no longer agrees with."""

    tenant: str
    position: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "position": self.position, "reason": self.reason}


def lines(session: Session, tenant_slug: str | None = None) -> Iterator[dict[str, Any]]:
    """The store's checkpoints as witness lines, tenant by tenant, in position order."""
    q = (select(AuditCheckpoint, Tenant.slug).join(Tenant, Tenant.id == AuditCheckpoint.tenant_id)
         .order_by(AuditCheckpoint.tenant_id, AuditCheckpoint.position))
    if tenant_slug is not None:
        q = q.where(Tenant.slug == tenant_slug)
    for cp, slug in session.execute(q):
        yield {"chain": CHAIN_VERSION, "tenant": slug, **checkpoint_dict(cp)}


def read(path: Path) -> list[dict[str, Any]]:
    """The witness file's lines (an absent file witnesses nothing yet)."""
    if not path.exists():
        return []
    found = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            raise ValueError(f"{path}:{number} is not JSON") from None
        if not isinstance(line, dict) or any(k not in line for k in FIELDS):
            raise ValueError(f"{path}:{number} is not a witness line ({', '.join(FIELDS)})")
        found.append(line)
    return found


def export(session: Session, path: Path, tenant_slug: str | None = None) -> int:
    """Append to ``path`` the checkpoints it does not hold yet; returns how many. Lines already in
    the file are never rewritten, whatever the store says now (that is the point of a witness)."""
    held = {(line["tenant_id"], line["position"]) for line in read(path)}
    new = [line for line in lines(session, tenant_slug) if (line["tenant_id"], line["position"]) not in held]
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.writelines(json.dumps({k: line[k] for k in FIELDS}, ensure_ascii=False, separators=(",", ":")) + "\n"
                          for line in new)
    return len(new)


def check(session: Session, witnessed: Iterable[dict[str, Any]], certificates: Sequence[bytes],
          tenant_slug: str | None = None) -> list[Contradiction]:
    """Every witnessed checkpoint the store contradicts (see the module docstring), in file order."""
    found: list[Contradiction] = []
    for line in witnessed:
        if tenant_slug is not None and line["tenant"] != tenant_slug:
            continue
        reason = _contradiction(session, line, certificates)
        if reason is not None:
            found.append(Contradiction(str(line["tenant"]), int(line["position"]), reason))
    return found


def _contradiction(session: Session, line: dict[str, Any], certificates: Sequence[bytes]) -> str | None:
    when = f"witnessed with hash {str(line['entry_hash'])[:16]}... (signed {line['created']})"
    try:
        signed = verify_checkpoint_jws(str(line["jws"]), certificates)
    except CheckpointInvalid as err:
        return f"the witness line is not a checkpoint the hub signed: {err}"
    if any(signed.get(k) != line[k] for k in ("tenant_id", "position", "entry_hash")):
        return "the witness line disagrees with the checkpoint it carries (the file was edited)"
    tenant_id, position = int(line["tenant_id"]), int(line["position"])
    stored = session.get(AuditCheckpoint, (tenant_id, position))
    entry = session.scalar(select(AuditEntry.entry_hash).where(AuditEntry.tenant_id == tenant_id,
                                                               AuditEntry.position == position))
    if entry is None:
        return f"the chain has no entry at this position any more; the checkpoint was {when}"
    if entry != line["entry_hash"]:
        return (f"the chain holds hash {entry[:16]}... at this position, not the one {when}: the chain was rewritten "
                "after the checkpoint was witnessed")
    if stored is None:
        return f"the checkpoint {when} is missing from the store (deleted)"
    if stored.jws != line["jws"] or stored.entry_hash != line["entry_hash"]:
        return f"the store's checkpoint differs from the one {when} (replaced)"
    return None
