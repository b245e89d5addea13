"""Concurrency (issue 5, "What it must show"): 8 writers storing statements at once — batches,
singles, voiding, the same Activity defined by all — leave a chain that verifies, with exactly one
'stored' entry per statement. Real threads, each with its own HTTP client and database session,
on SQLite and PostgreSQL (where appends serialise on the tenant's head row lock)."""

# Fixtures come from test_audit_chain (imported by name, which pytest needs), hence F811 below.
# ruff: noqa: F811

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

from flask import Flask
from sqlalchemy import select

from lrs.storage import AuditEntry, Statement
from tests.conftest import Xapi, new_credential, statement
from tests.lrs.audit.test_audit_chain import (  # noqa: F401
    VOIDED,
    chain_app,
    db_of,
    hub_keys,
    verify,
)

WRITERS = 8


def test_eight_concurrent_writers_leave_a_chain_that_verifies(chain_app: Flask, hub_keys: Any) -> None:
    slug, key, secret = new_credential(chain_app, ["all"])
    activity = f"https://hocvu.vn/courses/race/{uuid.uuid4()}"
    barrier = threading.Barrier(WRITERS)
    sent: list[list[str]] = [[] for _ in range(WRITERS)]
    errors: list[Any] = []

    def writer(i: int) -> None:
        x = Xapi(chain_app.test_client(), key, secret, "2.0.0")
        barrier.wait()
        try:
            for round_ in range(4):
                batch = [statement(object={"id": activity, "definition": {"name": {f"x-w{i}": f"tên {i}"}}})
                         for _ in range(10)]
                res = x.post("statements", json_body=batch)
                assert res.status_code == 200, res.get_json()
                sent[i] += res.get_json()
                res = x.post("statements", json_body=statement())
                assert res.status_code == 200, res.get_json()
                sent[i] += res.get_json()
                if round_ == 1:  # each writer voids one of its own statements
                    voiding = statement(verb=VOIDED, object={"objectType": "StatementRef", "id": sent[i][0]})
                    res = x.post("statements", json_body=voiding)
                    assert res.status_code == 200, res.get_json()
                    sent[i] += res.get_json()
        except BaseException as exc:  # reported below: an assert in a thread would vanish
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    all_ids = [sid for ids in sent for sid in ids]
    assert len(all_ids) == len(set(all_ids)) == WRITERS * (4 * 11 + 1)
    with db_of(chain_app).session() as s:
        tid = s.scalar(select(Statement.tenant_id).where(Statement.statement_id == all_ids[0]))
        stored = Counter(s.scalars(select(AuditEntry.statement_id).where(
            AuditEntry.tenant_id == tid, AuditEntry.kind == "stored")))
        voided = list(s.scalars(select(AuditEntry.statement_id).where(
            AuditEntry.tenant_id == tid, AuditEntry.kind == "voided")))
        rows = set(s.scalars(select(Statement.statement_id).where(Statement.tenant_id == tid)))
    assert stored == Counter(all_ids) and rows == set(all_ids)  # exactly one entry per statement
    assert sorted(voided) == sorted(ids[0] for ids in sent)
    code, report = verify(chain_app, slug, hub_keys[2])
    assert code == 0, report
    assert report["entries"] == len(all_ids) + WRITERS and report["checkpoints"] >= 1
