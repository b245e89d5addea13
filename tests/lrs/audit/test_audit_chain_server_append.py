"""Issue 17 item 1: on PostgreSQL the audit chain is appended by one statement
(lrs.audit.pg_append, the function of migration 0170) that locks the tenant's head, chains the
entries, inserts them and moves the head; the hub sends each entry's JCS text split around its
position. The chain is the same chain: every entry hash is the one the hub computes and `hocvu
audit verify` recomputes (DESIGN.md, Data: Audit trail), whatever the entries hold, and writers
that queue on the head follow on from each other. Real PostgreSQL; the concurrent writers go
through gunicorn over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from hocvu import db as dbops
from identity.signing import load_signing_material
from lrs import credentials
from lrs.audit import chain as audit_chain
from lrs.audit import verify as audit_verify
from lrs.storage import AuditEntry, AuditHead, Database, Statement
from tests.conftest import scratch_pg, statement
from tests.gunicorn_support import ROOT, gunicorn

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def database() -> object:
    with scratch_pg("unlocked_head") as url:
        db = Database(url)
        dbops.upgrade(db)
        yield db
        db.dispose()


def _tenant(db: Database) -> int:
    with db.session() as s:
        tenant = credentials.create_tenant(s, f"t-{uuid.uuid4().hex[:10]}", "chain")
        s.commit()
        return tenant.id


def _stored(n: int) -> list[audit_chain.NewEntry]:
    return [audit_chain.NewEntry("stored", str(uuid.uuid4()), audit_chain.sha256_hex(os.urandom(8)))
            for _ in range(n)]


def _entries_chain(db: Database, tid: int) -> list[int]:
    """The tenant's positions, after checking each entry's link and hash as verification does."""
    with db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.tenant_id == tid).order_by(AuditEntry.position)).all()
        prev = audit_chain.GENESIS
        for row in rows:
            entry = audit_chain.entry_dict(row)
            assert entry["prev_hash"] == prev and audit_chain.recompute_entry_hash(entry) == row.entry_hash
            prev = row.entry_hash
        head = s.get(AuditHead, tid)
        assert head is not None and head.entry_hash == prev and head.position == len(rows)
        return [r.position for r in rows]


def test_the_server_hashes_are_the_hubs(database: Database) -> None:
    """Entries of every shape: stored, voided (a detail), access notes with non-ASCII text, a nested
    "position" key and big numbers; a new tenant's head is made at genesis by the same statement."""
    tid = _tenant(database)
    entries = [*_stored(2),
               audit_chain.NewEntry("voided", str(uuid.uuid4()), None, {"voided_by": str(uuid.uuid4())}),
               audit_chain.NewEntry("access", None, None, {"actor": "kiểm toán viên", "detail": {
                   "position": 2**53 - 1, "n": [1.5, 10**20, -0.0], "q": "\"position\":9007199254740991,"}}),
               *_stored(1)]
    with database.session() as s:
        assert audit_chain.pg_append.available(s)
        assert audit_chain.append(s, tid, entries) == [1, 2, 3, 4, 5]
        s.commit()
    # Each link and hash recomputed by the hub's code (the entries name no stored statements, so
    # this is the hash check of `hocvu audit verify` without its statement checks).
    assert _entries_chain(database, tid) == [1, 2, 3, 4, 5]


def test_a_writer_holding_the_head_is_waited_for(database: Database) -> None:
    """Another transaction holds the head (appended, not committed): the append waits for it and
    follows on from that writer's entries."""
    tid = _tenant(database)
    with database.session() as s:
        audit_chain.append(s, tid, _stored(1))
        s.commit()
    holder = database.session()
    audit_chain.append(holder, tid, _stored(2))  # holds the head's lock
    result: list[list[int]] = []
    waiter = threading.Thread(target=lambda: result.append(_append_and_commit(database, tid)))
    waiter.start()
    waiter.join(0.5)  # not a timing assert: whatever it did by now, it cannot have written
    holder.commit()
    holder.close()
    waiter.join()
    assert result == [[4]]
    assert _entries_chain(database, tid) == [1, 2, 3, 4]


def test_a_rolled_back_append_leaves_the_head_where_it_was(database: Database) -> None:
    tid = _tenant(database)
    with database.session() as s:
        audit_chain.append(s, tid, _stored(2))
        s.commit()
    with database.session() as s:
        audit_chain.append(s, tid, _stored(3))
        s.rollback()
    with database.session() as s:
        assert audit_chain.append(s, tid, _stored(1)) == [3]
        s.commit()
    assert _entries_chain(database, tid) == [1, 2, 3]


def _append_and_commit(db: Database, tid: int) -> list[int]:
    with db.session() as s:
        positions = audit_chain.append(s, tid, _stored(1))
        s.commit()
        return positions


def test_four_concurrent_http_writers_leave_a_chain_that_verifies(tmp_path: Path) -> None:
    """4 clients POSTing single statements (some defining the same Activity) to one tenant through
    gunicorn (2 workers), a checkpoint due every 7 entries: every statement stored once with one
    'stored' entry, each checkpoint signed where it was due though most writes go by the one
    statement that commits (lrs.pg_one_trip, which leaves a due checkpoint to the usual path), and
    `hocvu audit verify` passes with no grace past the cadence."""
    cadence = {"HOCVU_AUDIT_CHECKPOINT_EVERY": "7", "HOCVU_AUDIT_VERIFY_GRACE_ENTRIES": "0"}
    with scratch_pg("four_writers") as url, gunicorn(url, tmp_path, extra_env=cadence) as hub:
        activity = f"https://hocvu.vn/courses/four/{uuid.uuid4()}"
        sent: list[str] = []
        lock = threading.Lock()

        def write(i: int) -> None:
            http = requests.Session()
            http.auth = hub.auth
            http.headers.update({"X-Experience-API-Version": "2.0.0"})
            for j in range(15):
                obj = {"id": activity, "definition": {"name": {f"x-w{i}": f"tên {j}"}}} if j % 3 == 0 else None
                body = statement(**({"object": obj} if obj else {}))
                res = http.post(f"{hub.base}/xapi/statements", json=body, timeout=60)
                assert res.status_code == 200, res.text
                with lock:
                    sent.extend(res.json())

        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(sent) == 60
        env = {**os.environ, "HOCVU_DATABASE_URL": url, "HOCVU_INSTANCE_DIR": str(tmp_path),
               "HOCVU_SECRET_KEY": "gunicorn-test", **cadence}
        done = subprocess.run([sys.executable, "-m", "hocvu.cli", "audit", "verify", "--json"], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        report = json.loads(done.stdout)
        assert done.returncode == 0 and report["ok"], done.stdout[-2000:]
        assert [t["checkpoints"] for t in report["tenants"] if t["entries"]] == [60 // 7], done.stdout[-2000:]
        db = Database(url)
        try:
            with db.session() as s:
                assert s.scalar(select(func.count()).select_from(Statement)) == 60
                assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.kind == "stored")) == 60
                tid = s.scalar(select(Statement.tenant_id).limit(1))
                cert = load_signing_material(tmp_path).cert_pem  # the hub's, made in its instance folder
                assert tid is not None and audit_verify.verify_tenant(s, tid, [cert]).ok
            assert len(_entries_chain(db, tid)) == 60
        finally:
            db.dispose()
