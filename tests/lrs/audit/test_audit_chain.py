"""The audit chain (issue 5 item 1; DESIGN.md "Data: Audit trail"): one entry per stored, voided
and erased statement, chained by SHA-256 over RFC 8785 canonical JSON, checkpoints signed by the
hub's key (RFC 7515 JWS, RS256, x5c). Real database (SQLite and PostgreSQL), real HTTP through the
Flask test client, real keys; tampering is done the way an intruder would, with SQL.

The helpers and fixtures here are shared by test_audit_chain_tamper.py and
test_audit_chain_concurrency.py."""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from click.testing import CliRunner
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from hocvu.app import create_app
from hocvu.cli import main as hocvu_cli
from hocvu.settings import Settings
from identity.signing import SigningMaterial, load_signing_material
from lrs.audit import chain as audit_chain
from lrs.audit import erasure as audit_erasure
from lrs.audit import verify as audit_verify
from lrs.audit.chain import canonical_json
from lrs.storage import AuditCheckpoint, AuditEntry, AuditHead, Database, Statement, Tenant
from tests.conftest import Xapi, new_credential, run_instance, statement

CHECKPOINT_EVERY = 5
KEY_FILE_ENV, CERT_FILE_ENV = "HOCVU_SIGNING_KEY_FILE", "HOCVU_SIGNING_CERT_FILE"
VOIDED = {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}}


# --- fixtures and helpers (shared with the other test_audit_chain_* modules) --------------------


def _fresh_material(folder: Path) -> SigningMaterial:
    """A new key pair in ``folder``."""
    return load_signing_material(folder)


# One hub key for the whole session (the apps' lazily loaded signer must match every module's). The
# apps get its files through the settings tree; the variables naming them (what the CLI reads) are
# set only while a test that asks for it runs: other tests must not silently get this one back.
_HUB: list[tuple[SigningMaterial, Path, Path]] = []


def _hub() -> tuple[SigningMaterial, Path, Path]:
    if not _HUB:
        folder = Path(tempfile.mkdtemp(prefix="hocvu-hub-keys-"))
        _HUB.append((_fresh_material(folder), folder / "hocvu_signing_key.pem", folder / "hocvu_signing_cert.pem"))
    return _HUB[0]


@pytest.fixture
def hub_keys() -> Iterator[tuple[SigningMaterial, Path, Path]]:
    """The hub's signing key and certificate, files in a temporary instance folder, named by
    HOCVU_SIGNING_KEY_FILE / HOCVU_SIGNING_CERT_FILE as production would (hocvu.settings)."""
    material, key, cert = _hub()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_FILE_ENV, str(key))
        mp.setenv(CERT_FILE_ENV, str(cert))
        yield material, key, cert


@pytest.fixture(scope="session")
def forger_keys(tmp_path_factory: pytest.TempPathFactory) -> SigningMaterial:
    """Someone else's key: a checkpoint signed with it must not verify."""
    return _fresh_material(tmp_path_factory.mktemp("forger"))


_apps: dict[str, Flask] = {}


@pytest.fixture
def chain_app(app: Flask, hub_keys: Any) -> Flask:
    """The real app on the same database as ``app`` (SQLite and PostgreSQL), checkpointing every
    CHECKPOINT_EVERY entries with the hub key of ``hub_keys`` (wired by hocvu.app, lazily loaded)."""
    url = app.extensions["hocvu.db"].url
    if url not in _apps:
        _, key, cert = _hub()
        _apps[url] = create_app(Settings.of(database_url=url, secret_key="test-secret", signing_key_file=key,
                                            signing_cert_file=cert, checkpoint_every=CHECKPOINT_EVERY,
                                            instance_dir=run_instance()),
                                db=Database(url))
    return _apps[url]


def db_of(app: Flask) -> Database:
    database: Database = app.extensions["hocvu.db"]
    return database


def new_tenant(app: Flask, version: str = "2.0.0") -> tuple[str, int, Xapi]:
    slug, key, secret = new_credential(app, ["all"])
    with db_of(app).session() as s:
        tid = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
    assert tid is not None
    return slug, tid, Xapi(app.test_client(), key, secret, version)


def post(x: Xapi, body: Any) -> list[str]:
    res = x.post("statements", json_body=body)
    assert res.status_code == 200, res.get_json()
    return list(res.get_json())


def entries(app: Flask, tenant_id: int) -> list[AuditEntry]:
    with db_of(app).session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
                              .order_by(AuditEntry.position)))


def sql(app: Flask, query: str, **params: Any) -> None:
    """Change the database behind the hub's back, as an intruder with SQL access would."""
    with db_of(app).engine.begin() as conn:
        conn.execute(text(query), params)


def cli(app: Flask, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`hocvu ...` through click's runner, on the app's database."""
    base = {"HOCVU_DATABASE_URL": db_of(app).url, "HOCVU_SECRET_KEY": "test-secret"}
    result = CliRunner().invoke(hocvu_cli, list(args), env={**base, **(env or {})}, catch_exceptions=False)
    return result.exit_code, result.output


def verify(app: Flask, slug: str, cert: Path | None) -> tuple[int, dict[str, Any]]:
    """`hocvu audit verify --tenant SLUG --json`; returns (exit code, the tenant's report)."""
    code, out = cli(app, "audit", "verify", "--tenant", slug, "--json", *(["--cert", str(cert)] if cert else []))
    report = json.loads(out)
    assert report["ok"] == (code == 0)
    return code, report["tenants"][0]


def assert_fails(app: Flask, slug: str, cert: Path, *, position: int | None, statement_id: str | None,
                 reason: str) -> dict[str, Any]:
    code, report = verify(app, slug, cert)
    assert code == 1, report
    failure = report["failure"]
    assert failure["position"] == position and failure["statement_id"] == statement_id, failure
    assert reason in failure["reason"], failure
    return failure


# --- appending ------------------------------------------------------------------------------


def test_each_stored_statement_gets_one_entry_in_seq_order(chain_app: Flask, hub_keys: Any) -> None:
    """Issue 5 item 1: every stored statement has an entry holding SHA-256(JCS(statement as
    stored)), chained to the one before; a batch's entries follow its `seq` order; an idempotent
    re-send (xAPI 1.0.3 Part Three §2.1.2: stored once) adds none."""
    slug, tid, x = new_tenant(chain_app)
    batch = [statement(id=str(uuid.uuid4())) for _ in range(3)]
    ids = post(x, batch) + post(x, statement())
    post(x, batch)  # the same statements again: no new entry
    rows = entries(chain_app, tid)
    assert [(e.position, e.kind, e.statement_id) for e in rows] == [(i + 1, "stored", sid) for i, sid in enumerate(ids)]
    with db_of(chain_app).session() as s:
        stored = dict(s.execute(select(Statement.statement_id, Statement.full).where(Statement.tenant_id == tid)).all())
        seqs = dict(s.execute(select(Statement.statement_id, Statement.seq).where(Statement.tenant_id == tid)).all())
    assert [seqs[sid] for sid in ids] == sorted(seqs.values())
    prev = audit_chain.GENESIS
    for e in rows:
        assert e.content_hash == hashlib.sha256(rfc8785.dumps(stored[e.statement_id])).hexdigest()
        assert e.prev_hash == prev
        prev = e.entry_hash
    code, report = verify(chain_app, slug, hub_keys[2])
    assert code == 0 and report["entries"] == 4 and report["failure"] is None


def test_canonical_json_is_rfc8785() -> None:
    """RFC 8785 §3.2.3 (sorting, escaping) and Appendix B (number serialisation) examples."""
    value = {"numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
             "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/", "literals": [None, True, False]}
    assert canonical_json(value) == (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}').encode()
    # §3.2.3's sorting example: keys in UTF-16 code unit order (the emoji before U+FB33).
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    assert canonical_json({k: i for i, k in enumerate(keys)}) == (
        '{"\\r":1,"1":3,"\u0080":5,"ö":6,"€":0,"\U0001f600":4,"\ufb33":2}').encode()
    assert canonical_json({"lone": "\ud800"}) == b'{"lone":"\\\\ud800"}'  # not JCS-expressible: as escaped text
    # Beyond JCS's number domain (§3.2.2.3: IEEE-754 doubles): the double a JS implementation sees.
    assert canonical_json({"n": 2**64}) == b'{"n":18446744073709552000}'
    # A non-finite number (JSON has none; "1e400" parses to one) is kept apart from null.
    assert canonical_json({"n": float("inf")}) == b'{"n":"<number inf>"}' != canonical_json({"n": None})


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=4),
                                                               inner, max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_fast_canonical_form_is_byte_for_byte_rfc8785(value: Any) -> None:
    """RFC 8785: the stdlib fast path of canonical_json yields exactly the reference library's
    bytes for any JSON value (numbers, escapes, non-BMP keys included)."""
    try:
        expected = rfc8785.dumps(value)
    except ValueError:  # outside JCS (integers past 2^53): canonical_json's documented extension
        return
    assert canonical_json(value) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.none(), st.none() | st.dictionaries(st.text(max_size=4), _json, max_size=3),
       st.integers(1, 2**53 - 1))
def test_entry_hash_is_sha256_of_prev_hash_and_jcs_fields(statement_id: str | None, detail: Any, position: int) -> None:
    """The documented entry hash: H(prev_hash ‖ JCS(fields)), whatever the fields hold."""
    prev, recorded = "ab" * 32, "2026-11-22T10:00:00.000001Z"
    fields = {"tenant_id": 7, "position": position, "kind": "access", "statement_id": statement_id,
              "content_hash": None, "detail": detail, "recorded": recorded}
    try:
        jcs = rfc8785.dumps(fields)
    except ValueError:
        return
    assert audit_chain.entry_hash(prev, 7, position, "access", statement_id, None, detail, recorded) == \
        hashlib.sha256(prev.encode() + jcs).hexdigest()


def test_hashes_survive_the_database_round_trip(chain_app: Flask, hub_keys: Any) -> None:
    """The content hash is recomputed from the row as the database returns it (JSONB on
    PostgreSQL normalises numbers and key order), so verification must agree with the hash
    taken at store time for awkward values too."""
    slug, _tid, x = new_tenant(chain_app)
    awkward = {"https://hocvu.vn/ext/n": [1.0, 100.0, 1e-7, 0.1, 1e21, -0.0, 12345678901234567890, 2.50],
               "https://hocvu.vn/ext/s": "Tiếng Việt \u0007 \"quoted\" \\ 😀 \u2028",
               "https://hocvu.vn/ext/o": {"z": 1, "a": {"é": True, "e": None}}}
    post(x, statement(result={"score": {"raw": 7.50, "min": 0, "max": 10}, "extensions": awkward}))
    assert verify(chain_app, slug, hub_keys[2])[0] == 0


def test_voiding_adds_a_voided_entry(chain_app: Flask, hub_keys: Any) -> None:
    """xAPI 1.0.3 Part Two §2.3.2: the voiding statement is stored (a 'stored' entry) and the
    target's change is its own 'voided' entry; voiding it again changes nothing and adds none."""
    slug, tid, x = new_tenant(chain_app)
    [target] = post(x, statement())
    voiding = statement(verb=VOIDED, object={"objectType": "StatementRef", "id": target})
    [by] = post(x, voiding)
    [again] = post(x, dict(voiding, id=str(uuid.uuid4())))
    rows = [(e.kind, e.statement_id, e.detail) for e in entries(chain_app, tid)]
    assert rows == [("stored", target, None), ("stored", by, None), ("voided", target, {"voided_by": by}),
                    ("stored", again, None)]
    assert verify(chain_app, slug, hub_keys[2])[0] == 0
    # Un-voiding behind the hub's back is seen (Part Two §2.3.2: voiding is irreversible).
    sql(chain_app, "UPDATE statements SET voided = false WHERE tenant_id = :t AND statement_id = :s", t=tid, s=target)
    assert_fails(chain_app, slug, hub_keys[2], position=3, statement_id=target, reason="not marked voided")


def test_rejected_batches_add_no_entry(chain_app: Flask) -> None:
    """DESIGN.md "nothing partial is written on a rejected request": a 400 (invalid statement)
    or 409 (Part Three §2.1.2: an id reused with other content) leaves the chain as it was."""
    _slug, tid, x = new_tenant(chain_app)
    [sid] = post(x, statement())
    before = [(e.position, e.entry_hash) for e in entries(chain_app, tid)]
    bad = x.post("statements", json_body=[statement(), statement(verb={"id": "not an IRI"})])
    assert bad.status_code == 400
    conflict = x.post("statements", json_body=[statement(), statement(id=sid, verb={"id": "http://adlnet.gov/expapi/verbs/passed"})])
    assert conflict.status_code == 409
    assert [(e.position, e.entry_hash) for e in entries(chain_app, tid)] == before
    with db_of(chain_app).session() as s:
        assert s.get(AuditHead, tid).position == 1  # type: ignore[union-attr]


def test_record_access_appends_an_access_entry(chain_app: Flask, hub_keys: Any) -> None:
    """Issue 5 item 2: every auditor access is logged in the audit trail."""
    slug, tid, x = new_tenant(chain_app)
    post(x, statement())
    with db_of(chain_app).session() as s:
        pos = audit_chain.record_access(s, tid, "hv_auditor_1", {"page": "attempts", "course": "ky-nang-so"})
        s.commit()
        with pytest.raises(ValueError, match="under"):
            audit_chain.record_access(s, tid, "hv_auditor_1", {"ids": ["x" * 100] * 100})
    last = entries(chain_app, tid)[-1]
    assert (pos, last.kind, last.detail) == (2, "access", {"actor": "hv_auditor_1",
                                                           "detail": {"page": "attempts", "course": "ky-nang-so"}})
    assert verify(chain_app, slug, hub_keys[2])[0] == 0


# --- checkpoints -----------------------------------------------------------------------------


def test_checkpoints_every_n_entries_verify_with_the_certificate_only(chain_app: Flask, hub_keys: Any) -> None:
    """Issue 5 item 1: checkpoints every N entries, signed by the hub's key: RFC 7515 compact JWS,
    RS256, x5c (§4.1.6, standard base64 DER) — checked here with jwcrypto, an independent JOSE
    library, trusting only the certificate."""
    from jwcrypto import jwk, jws

    material, _, cert = hub_keys
    slug, tid, x = new_tenant(chain_app)
    for _ in range(2 * CHECKPOINT_EVERY + 2):
        post(x, statement())
    with db_of(chain_app).session() as s:
        cps = list(s.scalars(select(AuditCheckpoint).where(AuditCheckpoint.tenant_id == tid)
                             .order_by(AuditCheckpoint.position)))
    assert [cp.position for cp in cps] == [CHECKPOINT_EVERY, 2 * CHECKPOINT_EVERY]
    by_pos = {e.position: e for e in entries(chain_app, tid)}
    for cp in cps:
        token = jws.JWS()
        token.deserialize(cp.jws)
        token.verify(jwk.JWK.from_pem(material.cert_pem))
        header = token.jose_header
        assert header["alg"] == "RS256" and len(header["x5c"]) == 1
        payload = json.loads(token.payload)
        assert payload == {"chain": "hocvu-audit-chain/1", "tenant_id": tid, "tenant": slug, "position": cp.position,
                           "entry_hash": by_pos[cp.position].entry_hash, "time": audit_chain.iso(cp.created)}
    code, report = verify(chain_app, slug, cert)
    assert code == 0 and (report["checkpoints"], report["last_checkpoint"], report["uncovered"]) == (2, 10, 2)


def test_verify_without_the_certificate_fails_closed(chain_app: Flask) -> None:
    """A checkpoint nobody can check proves nothing: no certificate, no pass."""
    slug, _tid, x = new_tenant(chain_app)
    post(x, [statement() for _ in range(CHECKPOINT_EVERY)])
    code, report = cli(chain_app, "audit", "verify", "--tenant", slug, env={CERT_FILE_ENV: "/nonexistent.pem"})
    assert code == 1 and "no certificate" in report


def test_time_based_checkpoints_on_append_and_by_the_cli(chain_app: Flask, hub_keys: Any) -> None:
    """Issue 5 item 1: a checkpoint once T minutes (HOCVU_AUDIT_CHECKPOINT_MINUTES) have passed,
    checked on append and by `hocvu audit checkpoint` (cron) for quiet tenants."""
    slug, tid, x = new_tenant(chain_app)
    post(x, statement())
    sql(chain_app, "UPDATE audit_heads SET checkpoint_time = checkpoint_time - INTERVAL '2 hours' WHERE tenant_id = :t"
        if db_of(chain_app).dialect == "postgresql" else
        "UPDATE audit_heads SET checkpoint_time = datetime(checkpoint_time, '-2 hours') WHERE tenant_id = :t", t=tid)
    post(x, statement())  # T has passed: this append checkpoints, at its own position
    with db_of(chain_app).session() as s:
        assert list(s.scalars(select(AuditCheckpoint.position).where(AuditCheckpoint.tenant_id == tid))) == [2]
    post(x, statement())
    code, out = cli(chain_app, "audit", "checkpoint", "--tenant", slug, "--json")
    assert code == 0 and json.loads(out) == {"checkpoints": []}  # not due yet
    sql(chain_app, "UPDATE audit_heads SET checkpoint_time = checkpoint_time - INTERVAL '2 hours' WHERE tenant_id = :t"
        if db_of(chain_app).dialect == "postgresql" else
        "UPDATE audit_heads SET checkpoint_time = datetime(checkpoint_time, '-2 hours') WHERE tenant_id = :t", t=tid)
    code, out = cli(chain_app, "audit", "checkpoint", "--tenant", slug, "--json")
    assert code == 0 and [c["position"] for c in json.loads(out)["checkpoints"]] == [3]
    code, report = verify(chain_app, slug, hub_keys[2])
    assert code == 0 and report["checkpoints"] == 2 and report["uncovered"] == 0


# --- erasure ---------------------------------------------------------------------------------


def test_erasure_removes_content_and_keeps_the_chain_provable(chain_app: Flask, hub_keys: Any) -> None:
    """Issue 5 item 1: erasing a learner's data (a privacy request) removes the statements (GET is
    404, xAPI 1.0.3 Part Three §2.1.3), their index rows and the learner's documents; the chain keeps
    each entry's hash, records the erasure as an entry, and still verifies, checkpoints included."""
    slug, tid, x = new_tenant(chain_app)
    an = {"objectType": "Agent", "mbox": "mailto:an@example.vn"}
    binh = {"objectType": "Agent", "mbox": "mailto:binh@example.vn"}
    an_ids = post(x, [statement(actor=an) for _ in range(3)])
    binh_ids = post(x, [statement(actor=binh) for _ in range(2)])
    state = {"activityId": "https://hocvu.vn/courses/ky-nang-so", "agent": json.dumps(an), "stateId": "progress"}
    assert x.put("activities/state", json_body={"page": 3}, **state).status_code == 204
    code, out = cli(chain_app, "audit", "erase", "--tenant", slug, "--agent", json.dumps(an), "--yes", "--json")
    assert code == 0, out
    assert json.loads(out) == {"tenant": slug, "statements": 3, "documents": 1, "attachments": 0, "entries": [6]}
    for sid in an_ids:
        assert x.get("statements", statementId=sid).status_code == 404
    for sid in binh_ids:
        assert x.get("statements", statementId=sid).status_code == 200
    assert x.get("statements", agent=json.dumps(an)).get_json()["statements"] == []
    assert x.get("activities/state", **state).status_code == 404
    rows = entries(chain_app, tid)
    assert [e.kind for e in rows] == ["stored"] * 5 + ["erased"]
    assert rows[-1].detail is not None and rows[-1].detail["statements"] == an_ids
    assert "an@example.vn" not in json.dumps(rows[-1].detail)  # the chain does not keep who was erased
    code, report = verify(chain_app, slug, hub_keys[2])
    assert code == 0 and report["checkpoints"] == 1 and report["entries"] == 6
    # A statement deleted without an erasure entry is still caught.
    sql(chain_app, "DELETE FROM statement_agents WHERE seq IN (SELECT seq FROM statements WHERE statement_id = :s)",
        s=binh_ids[0])
    sql(chain_app, "DELETE FROM statement_activities WHERE seq IN (SELECT seq FROM statements WHERE statement_id = :s)",
        s=binh_ids[0])
    sql(chain_app, "DELETE FROM statements WHERE statement_id = :s", s=binh_ids[0])
    assert_fails(chain_app, slug, hub_keys[2], position=4, statement_id=binh_ids[0], reason="no 'erased' entry")


def test_an_erased_statement_sent_again_is_stored_with_a_new_entry(chain_app: Flask, hub_keys: Any) -> None:
    """After erasure the id is free: an LMS re-sending the statement stores it anew, with a new entry."""
    slug, tid, x = new_tenant(chain_app)
    st = statement(id=str(uuid.uuid4()))
    post(x, st)
    with db_of(chain_app).session() as s:
        audit_erasure.erase_agent(s, tid, st["actor"], actor="test", reason="privacy request")
        s.commit()
    post(x, st)
    assert [e.kind for e in entries(chain_app, tid)] == ["stored", "erased", "stored"]
    assert verify(chain_app, slug, hub_keys[2])[0] == 0


def test_erase_rejects_an_agent_without_identifier(chain_app: Flask) -> None:
    slug, tid, x = new_tenant(chain_app)
    post(x, statement())
    code, out = cli(chain_app, "audit", "erase", "--tenant", slug, "--agent", '{"name": "An"}', "--yes")
    assert code != 0 and "agent" in out.lower()
    assert len(entries(chain_app, tid)) == 1


# --- proof material (for auditors' proof bundles) --------------------------------------------


def test_proof_segment_and_checkpoint_verify_offline(chain_app: Flask, hub_keys: Any,
                                                     forger_keys: SigningMaterial) -> None:
    """Issue 5 item 2: a proof bundle's chain segment and signed checkpoint check with no
    database: the statements' hashes, the links up to the checkpoint and its signature."""
    _slug, tid, x = new_tenant(chain_app)
    ids = post(x, [statement() for _ in range(3)])  # a batch checkpoints at its end: singles from here
    for _ in range(4):
        ids += post(x, statement())
    with db_of(chain_app).session() as s:
        segment, cp = audit_verify.proof_material(s, tid, ids[1:3])
        full = dict(s.execute(select(Statement.statement_id, Statement.full).where(
            Statement.statement_id.in_(ids[1:3]))).all())
    assert cp is not None and cp["position"] == CHECKPOINT_EVERY
    assert [e["position"] for e in segment] == [2, 3, 4, 5]
    certs = [hub_keys[0].cert_pem]
    assert audit_verify.verify_segment(segment, cp, certs, full) is None
    altered = dict(full[ids[2]], verb={"id": "http://adlnet.gov/expapi/verbs/passed"})
    failure = audit_verify.verify_segment(segment, cp, certs, {ids[2]: altered})
    assert failure is not None and failure.statement_id == ids[2] and "hash" in failure.reason
    forged = dict(cp, jws=audit_chain.JwsSigner(forger_keys.key, forger_keys.cert).sign(
        audit_chain.checkpoint_payload(tid, "x", cp["position"], cp["entry_hash"], cp["created"])))
    failure = audit_verify.verify_segment(segment, forged, certs, full)
    assert failure is not None and failure.position == CHECKPOINT_EVERY and "signature" in failure.reason
    with db_of(chain_app).session() as s:
        assert audit_verify.positions_of(s, tid, ids[:2]) == {ids[0]: 1, ids[1]: 2}
        assert audit_verify.covering_checkpoint(s, tid, 6) is None
        assert len(audit_verify.chain_segment(s, tid, 1, 7)) == 7
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.tenant_id == tid)) == 7
