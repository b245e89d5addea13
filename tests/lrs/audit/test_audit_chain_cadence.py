"""The chain cannot be trimmed (issue 13 case 6): with database access but not the signing key, an
intruder alters a statement, recomputes the chain and deletes the checkpoints after it. `hocvu audit
verify` now holds the chain to its configured cadence (lrs.audit.cadence) and exits 1 naming the
positions without a checkpoint; a witness file (lrs.audit.witness) names every witnessed checkpoint
the store deleted, or whose position the re-forged chain contradicts. Both databases; checkpoints
are RFC 7515 JWS over RFC 8785 JSON, as the chain's own tests say."""

# Fixtures come from test_audit_chain (imported by name, which pytest needs), hence F811 below.
# ruff: noqa: F811

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from lrs.audit import chain as audit_chain
from lrs.storage import AuditCheckpoint, AuditEntry, Statement
from tests.conftest import statement
from tests.lrs.audit.test_audit_chain import (  # noqa: F401
    CHECKPOINT_EVERY,
    chain_app,
    cli,
    db_of,
    hub_keys,
    new_tenant,
    post,
    sql,
)

STRICT = {"HOCVU_AUDIT_CHECKPOINT_EVERY": str(CHECKPOINT_EVERY), "HOCVU_AUDIT_VERIFY_GRACE_ENTRIES": "0"}


def _chain(app: Flask, n: int) -> tuple[str, int, list[str]]:
    slug, tid, x = new_tenant(app)
    return slug, tid, [post(x, statement(result={"score": {"scaled": i / 100}}))[0] for i in range(n)]


def _verify(app: Flask, slug: str, cert: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    code, out = cli(app, "audit", "verify", "--tenant", slug, "--json", "--cert", str(cert), *extra,
                    env={**STRICT, **(env or {})})
    return code, json.loads(out)


def _forge(app: Flask, tid: int, sid: str) -> None:
    """What the intruder does: raise a score, recompute that entry's content hash and every entry
    hash after it, move the head; the chain is self-consistent again (not its signatures)."""
    if db_of(app).dialect == "postgresql":
        sql(app, """UPDATE statements SET "full" = jsonb_set("full", '{result,score,scaled}', '1')
                    WHERE tenant_id = :t AND statement_id = :s""", t=tid, s=sid)
    else:
        sql(app, """UPDATE statements SET "full" = json_set("full", '$.result.score.scaled', 1)
                    WHERE tenant_id = :t AND statement_id = :s""", t=tid, s=sid)
    with db_of(app).session() as s:
        full = s.scalar(select(Statement.full).where(Statement.tenant_id == tid, Statement.statement_id == sid))
        prev = audit_chain.GENESIS
        for e in s.scalars(select(AuditEntry).where(AuditEntry.tenant_id == tid).order_by(AuditEntry.position)):
            if e.statement_id == sid:
                e.content_hash = audit_chain.content_hash(full)  # type: ignore[arg-type]
            e.prev_hash = prev
            e.entry_hash = prev = audit_chain.entry_hash(prev, tid, e.position, e.kind, e.statement_id, e.content_hash,
                                                         e.detail, e.recorded)
        s.commit()
    sql(app, "UPDATE audit_heads SET entry_hash = :h WHERE tenant_id = :t", h=prev, t=tid)


def test_altered_then_re_forged_with_later_checkpoints_deleted_fails_naming_what_is_missing(
        chain_app: Flask, hub_keys: Any) -> None:
    """Statement 7 of 12 altered, the chain recomputed, the checkpoint at 10 (which would have
    contradicted it) deleted: what is left is consistent, but positions 6..12 lack the checkpoint
    a cadence of 5 makes: exit 1, the positions named."""
    slug, tid, ids = _chain(chain_app, 12)
    assert _verify(chain_app, slug, hub_keys[2])[0] == 0
    _forge(chain_app, tid, ids[6])
    sql(chain_app, "DELETE FROM audit_checkpoints WHERE tenant_id = :t AND position > 5", t=tid)
    code, report = _verify(chain_app, slug, hub_keys[2])
    failure = report["tenants"][0]["failure"]
    assert code == 1 and not report["ok"]
    assert failure["position"] == 6 and "positions 6..12 (7 entries) have no signed checkpoint" in failure["reason"]
    assert "one every 5 entries + 0 of grace" in failure["reason"]
    code, text = cli(chain_app, "audit", "verify", "--tenant", slug, "--cert", str(hub_keys[2]), env=STRICT)
    assert code == 1 and f"tenant {slug}: FAILED at position 6" in text and "checkpoints missing" in text


def test_entries_left_unsigned_longer_than_the_cadence_allows_fail(chain_app: Flask, hub_keys: Any) -> None:
    """HOCVU_AUDIT_CHECKPOINT_MINUTES (+ grace): the oldest entry after the latest checkpoint may
    not be older; `hocvu audit checkpoint` (cron, for quiet tenants) keeps a chain within it."""
    slug, _, _ = _chain(chain_app, 3)
    quick = {"HOCVU_AUDIT_CHECKPOINT_MINUTES": "0.001", "HOCVU_AUDIT_VERIFY_GRACE_MINUTES": "0"}
    time.sleep(0.2)
    code, report = _verify(chain_app, slug, hub_keys[2], env=quick)
    assert code == 1 and "longer ago than the cadence allows" in report["tenants"][0]["failure"]["reason"]
    assert cli(chain_app, "audit", "checkpoint", "--tenant", slug, env=quick)[0] == 0
    assert _verify(chain_app, slug, hub_keys[2], env=quick)[0] == 0


def test_a_batch_larger_than_the_cadence_is_checkpointed_inside(chain_app: Flask, hub_keys: Any) -> None:
    """Checkpoints are made at each cadence step within one batch, so a chain written as the hub
    writes it always keeps the cadence, with no grace at all."""
    slug, tid, x = new_tenant(chain_app)
    post(x, [statement() for _ in range(12)])
    with db_of(chain_app).session() as s:
        positions = list(s.scalars(select(AuditCheckpoint.position).where(AuditCheckpoint.tenant_id == tid)
                                   .order_by(AuditCheckpoint.position)))
    assert positions == [5, 10]  # 11 and 12 wait for the next step, as the cadence allows
    code, report = _verify(chain_app, slug, hub_keys[2])
    assert code == 0 and report["tenants"][0]["gaps"] == []


def test_a_witness_names_deleted_and_contradicted_checkpoints(chain_app: Flask, hub_keys: Any,
                                                             tmp_path: Path) -> None:
    """`hocvu audit witness export` keeps the checkpoints in a file; after the intruder re-forges
    the chain and deletes or re-makes checkpoints, `hocvu audit witness verify` (and `audit verify
    --witness`) exit 1 naming each witnessed checkpoint the store no longer agrees with."""
    slug, tid, ids = _chain(chain_app, 10)
    witness = tmp_path / "witness.jsonl"
    assert cli(chain_app, "audit", "witness", "export", "--out", str(witness), "--tenant", slug)[1].startswith("2 ")
    assert cli(chain_app, "audit", "witness", "export", "--out", str(witness), "--tenant", slug)[1].startswith("0 ")
    lines = [json.loads(t) for t in witness.read_text().splitlines()]
    assert [(w["tenant"], w["position"]) for w in lines] == [(slug, 5), (slug, 10)]
    args = ("audit", "witness", "verify", str(witness), "--tenant", slug, "--cert", str(hub_keys[2]), "--json")
    assert json.loads(cli(chain_app, *args)[1]) == {"ok": True, "witnessed": 2, "contradicted": []}

    sql(chain_app, "DELETE FROM audit_checkpoints WHERE tenant_id = :t AND position = 10", t=tid)
    code, out = cli(chain_app, *args)
    assert code == 1 and json.loads(out)["contradicted"] == [
        {"tenant": slug, "position": 10, "reason": json.loads(out)["contradicted"][0]["reason"]}]
    assert "missing from the store (deleted)" in out

    _forge(chain_app, tid, ids[2])  # the whole chain re-forged from position 3 on
    sql(chain_app, "DELETE FROM audit_checkpoints WHERE tenant_id = :t", t=tid)
    code, out = cli(chain_app, *args)
    found = {c["position"]: c["reason"] for c in json.loads(out)["contradicted"]}
    assert code == 1 and set(found) == {5, 10}
    assert all("the chain was rewritten after the checkpoint was witnessed" in r for r in found.values())
    code, report = _verify(chain_app, slug, hub_keys[2], "--witness", str(witness),
                           env={"HOCVU_AUDIT_VERIFY_GRACE_ENTRIES": "100"})
    assert code == 1 and report["tenants"][0]["ok"] and len(report["witness"]) == 2  # only the witness sees it


def test_an_edited_witness_line_is_named(chain_app: Flask, hub_keys: Any, tmp_path: Path) -> None:
    """The file cannot be forged either: a witness line is a checkpoint signed by the hub."""
    slug, _, _ = _chain(chain_app, 5)
    witness = tmp_path / "witness.jsonl"
    cli(chain_app, "audit", "witness", "export", "--out", str(witness), "--tenant", slug)
    line = json.loads(witness.read_text())
    witness.write_text(json.dumps({**line, "entry_hash": "ab" * 32}) + "\n")
    code, out = cli(chain_app, "audit", "witness", "verify", str(witness), "--cert", str(hub_keys[2]))
    assert code == 1 and "the witness line disagrees with the checkpoint it carries" in out
