"""An erasure never forgets an attachment that another learner's archived statement cites (a
data-loss fix; lrs.blobs.archived, connectors.archive.listing).

Attachments are stored once per tenant by SHA-2 and referenced by statements (DESIGN.md, Data); an
archived month's attachment rows and blobs stay for its statements (proof bundles read their
signatures there). A privacy erasure forgets the attachments no remaining statement of the tenant
cites (xAPI 1.0.3 Part Two §2.4.11: the attachment is the statement's): live, detached, or in any
archived month. PostgreSQL with real Parquet (archives need its partitions), one database of this
module's own; each scenario archives months of its own (2024-01, 2024-02, ...) with a tenant of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from connectors.archive import month_dir
from identity.auditor.proof_bundle import verify_bundle
from lrs import partitions
from lrs.blobs import attachments as attachment_store
from lrs.multipart import AttachmentPart
from lrs.storage import Database
from tests.conftest import Xapi, new_credential, statement
from tests.conftest import sql_scalar as _sql
from tests.connectors.archive_support import archive_hub
from tests.identity.auditor.auditor_support import MATCH, write_attempt
from tests.lrs.attachments_support import content, get_parts, part, post, with_attachment
from tests.lrs.audit.test_audit_chain import cli

pytestmark = pytest.mark.postgres

LAN = {"objectType": "Agent", "name": "Trần Thị Lan", "mbox": "mailto:lan@example.vn"}
BINH = {"objectType": "Agent", "name": "Lê Văn Bình", "mbox": "mailto:binh@example.vn"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with archive_hub("archive_attach", date(2024, 1, 1), tmp_path_factory.mktemp("instance")) as h:
        months = (date(2024 + n // 12, n % 12 + 1, 1) for n in range(22))  # up to 2025-10
        env = {"HOCVU_SIGNING_KEY_FILE": str(h["key"]), "HOCVU_SIGNING_CERT_FILE": str(h["cert"]),
               "HOCVU_INSTANCE_DIR": str(h["instance"])}
        yield {**h, "months": months, "env": env}


class Tenant:
    """One tenant of a scenario: posts statements, moves them to a month, archives months."""

    def __init__(self, hub: dict[str, Any], root: Path) -> None:
        self.app: Flask = hub["app"]
        self.db: Database = hub["db"]
        self.hub, self.root = hub, root
        self.slug, key, secret = new_credential(self.app, ["all"])
        self.id = int(_sql(self.db, "SELECT id FROM tenants WHERE slug = :s", s=self.slug))
        self.x = Xapi(self.app.test_client(), key, secret)

    def cite(self, actor: dict[str, Any], *bodies: bytes) -> str:
        """A statement of ``actor`` with one attachment per body (multipart, the bytes sent)."""
        st = with_attachment(bodies[0], actor=actor)
        st["attachments"] += [with_attachment(b)["attachments"][0] for b in bodies[1:]]
        res = post(self.x, st, [part(b) for b in bodies])
        assert res.status_code == 200, res.get_json()
        return str(st["id"])

    def move(self, ids: list[str], month: date) -> None:
        _sql(self.db, "UPDATE statements SET stored = :t WHERE statement_id = ANY(:ids)",
             t=f"{month:%Y-%m}-10T08:00:00+00:00", ids=ids)

    def archive(self, month: date) -> None:
        res = self.x.post("statements", json_body=[statement() for _ in range(4)])  # a checkpoint covers them
        assert res.status_code == 200
        code, out = cli(self.app, "lake", "archive", f"{month:%Y-%m}", "--to", str(self.root), "--cert",
                        str(self.hub["cert"]), env=self.hub["env"])
        assert code == 0, out

    def erase(self, agent: dict[str, Any]) -> dict[str, Any]:
        code, out = cli(self.app, "audit", "erase", "--tenant", self.slug, "--agent", json.dumps(agent), "--yes",
                        "--json", env=self.hub["env"])
        assert code == 0, out
        return dict(json.loads(out))

    def lake_erase(self, root: Path | None = None) -> tuple[int, dict[str, Any]]:
        code, out = cli(self.app, "lake", "erase", "--archive", str(root or self.root), "--tenant", self.slug,
                        "--json", env=self.hub["env"])
        return code, json.loads(out)

    def rows(self, *bodies: bytes) -> list[bool]:
        """Whether the tenant still has the attachment row of each body."""
        return [bool(_sql(self.db, "SELECT count(*) FROM attachments WHERE tenant_id = :t AND sha2 = :h",
                          t=self.id, h=sha(b))) for b in bodies]

    def blobs(self, *bodies: bytes) -> list[bool]:
        store = self.app.extensions["hocvu.blobs"]
        return [store.get(sha(b)) == b for b in bodies]

    def load(self, body: bytes) -> list[bytes]:
        """The bytes the tenant's readers (GET, proof bundles) get for the hash."""
        with self.db.session() as s:
            return [p.body for p in attachment_store.load(s, self.id, [sha(body)])]

    def listed(self, month: date) -> list[str]:
        return [h for (h,) in _fetch(self.db, "SELECT sha2 FROM archived_attachments WHERE tenant_id = :t AND "
                                              "month = :m ORDER BY sha2", t=self.id, m=month)]

    def unlist(self, month: date) -> None:
        """What a month archived before migration 0180 looks like: no list of its attachments."""
        _sql(self.db, "DELETE FROM archived_attachments WHERE tenant_id = :t AND month = :m", t=self.id, m=month)
        _sql(self.db, "UPDATE statement_archives SET attachments_listed = false WHERE tenant_id = :t AND month = :m",
             t=self.id, m=month)

    def deferred(self) -> list[list[str] | None]:
        return [a for (a,) in _fetch(self.db, "SELECT attachments FROM archive_erasures WHERE tenant_id = :t "
                                              "ORDER BY month, agent_digest", t=self.id)]


def _fetch(database: Database, query: str, **params: Any) -> list[Any]:
    from sqlalchemy import text

    with database.engine.begin() as conn:
        return list(conn.execute(text(query), params))


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def test_archiving_lists_the_attachments_each_month_cites(hub: dict[str, Any], tmp_path: Path) -> None:
    """`hocvu lake archive` lists the hashes the month's statements cite (archived_attachments), and
    the attachment rows and blobs stay in the store."""
    t, month = Tenant(hub, tmp_path / "lake"), next(hub["months"])
    shared, own = content(), content()
    t.move([t.cite(BINH, shared, own), t.cite(LAN, shared)], month)
    t.archive(month)
    assert t.listed(month) == sorted([sha(shared), sha(own)])
    assert t.rows(shared, own) == [True, True] and t.blobs(shared, own) == [True, True]


def test_a_live_erasure_keeps_an_attachment_an_archived_statement_of_another_learner_cites(
        hub: dict[str, Any], tmp_path: Path) -> None:
    """Bình's statement, archived in month A, and Lan's live one cite the same certificate. Erasing
    Lan (`hocvu audit erase`) forgets her own certificate only: the shared one's row and blob stay
    and the tenant's readers still get its bytes, after `hocvu lake erase` too."""
    t, month = Tenant(hub, tmp_path / "lake"), next(hub["months"])
    shared, hers = content(), content()
    t.move([t.cite(BINH, shared)], month)
    t.archive(month)
    lans = [t.cite(LAN, shared), t.cite(LAN, hers)]
    done = t.erase(LAN)
    assert done["statements"] == 2 and done["attachments"] == 1 and "attachments_pending" not in done, done
    assert t.rows(shared, hers) == [True, False] and t.blobs(shared, hers) == [True, False]
    assert t.load(shared) == [shared]
    code, out = t.lake_erase()
    assert code == 0 and out["months"][0]["erased"] == 0, out
    assert t.rows(shared) == [True] and t.blobs(shared) == [True] and t.listed(month) == [sha(shared)]
    assert all(t.x.get("statements", statementId=i).status_code == 404 for i in lans)


def test_an_archive_erasure_keeps_an_attachment_another_archived_month_cites(hub: dict[str, Any],
                                                                              tmp_path: Path) -> None:
    """Lan's statements archived in month A cite a shared certificate and her own; Bình's archived in
    month B cite the shared one. `hocvu lake erase` rewrites A without her rows: her own certificate
    goes, the shared one stays (B cites it) and B's list still names it; A's list names nothing."""
    t = Tenant(hub, tmp_path / "lake")
    a, b = next(hub["months"]), next(hub["months"])
    shared, hers = content(), content()
    t.move([t.cite(LAN, shared, hers)], a)
    t.move([t.cite(BINH, shared)], b)
    t.archive(a)
    t.archive(b)
    assert t.erase(LAN)["archived_months_pending"] == 2
    code, out = t.lake_erase()
    assert code == 0 and sorted(m["erased"] for m in out["months"]) == [0, 1], out
    assert t.rows(shared, hers) == [True, False] and t.blobs(shared, hers) == [True, False]
    assert t.load(shared) == [shared]
    assert t.listed(a) == [] and t.listed(b) == [sha(shared)]
    manifest = json.loads((month_dir(t.root, t.slug, a) / "manifest.json").read_text())
    assert manifest["erasures"][0]["attachments"] == sorted([sha(shared), sha(hers)])  # no row of A cites them


def test_an_archive_erasure_keeps_an_attachment_a_live_statement_cites(hub: dict[str, Any], tmp_path: Path) -> None:
    """Lan archived in month A, Bình live, one certificate: after `hocvu lake erase` a GET of Bình's
    statement with its attachments still returns the bytes."""
    t, month = Tenant(hub, tmp_path / "lake"), next(hub["months"])
    shared, hers = content(), content()
    t.move([t.cite(LAN, shared), t.cite(LAN, hers)], month)
    t.archive(month)
    his = t.cite(BINH, shared)
    t.erase(LAN)
    code, out = t.lake_erase()
    assert code == 0 and out["months"][0]["erased"] == 2, out
    assert t.rows(shared, hers) == [True, False] and t.blobs(shared, hers) == [True, False]
    assert [p.body for p in get_parts(t.x, his)[1]] == [shared]


def test_a_month_archived_before_the_lists_defers_the_forgetting_to_lake_erase(hub: dict[str, Any],
                                                                                tmp_path: Path) -> None:
    """A month archived before its attachments were listed may cite anything: the live erasure keeps
    every attachment it would forget and records them on the month's pending erasure (it says so);
    `hocvu lake erase` lists the month from its statements file, then forgets what no statement
    cites: her own certificate goes, the one Bình's archived statement cites stays. An archive not
    found under --archive lists nothing and forgets nothing."""
    t, month = Tenant(hub, tmp_path / "lake"), next(hub["months"])
    shared, hers = content(), content()
    t.move([t.cite(BINH, shared)], month)
    t.archive(month)
    t.unlist(month)
    t.cite(LAN, shared, hers)
    done = t.erase(LAN)
    assert done["attachments"] == 0 and done["attachments_pending"] == 2, done
    assert t.rows(shared, hers) == [True, True]
    assert t.deferred() == [sorted([sha(shared), sha(hers)])]
    (tmp_path / "elsewhere").mkdir()
    code, out = t.lake_erase(tmp_path / "elsewhere")
    assert code == 1 and t.rows(shared, hers) == [True, True] and t.listed(month) == [], out
    code, out = t.lake_erase()
    assert code == 0 and out["failures"] == [], out
    assert t.listed(month) == [sha(shared)] and t.deferred() == []
    assert t.rows(shared, hers) == [True, False] and t.blobs(shared, hers) == [True, False]
    assert t.load(shared) == [shared]


def test_an_unlisted_month_out_of_reach_keeps_the_rewrites_attachments_pending(hub: dict[str, Any],
                                                                                tmp_path: Path) -> None:
    """Adversarial: Lan in month A (listed), Bình in month B archived before the lists, both citing a
    certificate. `hocvu lake erase` given an archive holding A only rewrites A, and neither forgets
    the shared certificate (B may cite it) nor her own: both stay pending on B's erasure. Given the
    whole archive, B is listed from its file: her certificate goes, the shared one stays."""
    t = Tenant(hub, tmp_path / "lake")
    a, b = next(hub["months"]), next(hub["months"])
    shared, hers = content(), content()
    t.move([t.cite(LAN, shared, hers)], a)
    t.move([t.cite(BINH, shared)], b)
    t.archive(a)
    t.archive(b)
    t.unlist(b)
    t.erase(LAN)
    away = tmp_path / "away"
    month_dir(t.root, t.slug, b).rename(away)  # B's archive not where --archive says
    code, out = t.lake_erase()
    assert code == 1 and [m["erased"] for m in out["months"]] == [1], out
    away.rename(month_dir(t.root, t.slug, b))
    assert t.rows(shared, hers) == [True, True]
    assert t.deferred() == [sorted([sha(shared), sha(hers)])]  # B's pending erasure
    code, out = t.lake_erase()
    assert code == 0 and t.deferred() == [], out
    assert t.rows(shared, hers) == [True, False] and t.blobs(shared, hers) == [True, False]
    assert t.listed(b) == [sha(shared)]


def test_a_detached_month_keeps_its_attachments_too(hub: dict[str, Any], tmp_path: Path) -> None:
    """Bình's statement in a month detached (`hocvu db partitions --detach`) and not archived yet:
    erasing Lan, live, who cites the same certificate, keeps it (the lake gets it later)."""
    t, month = Tenant(hub, tmp_path / "lake"), next(hub["months"])
    shared, hers = content(), content()
    t.move([t.cite(BINH, shared)], month)
    t.cite(LAN, shared, hers)
    name = partitions.partition_name(month)
    with t.db.engine.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE statements DETACH PARTITION {name}")
    try:
        assert t.erase(LAN)["attachments"] == 1
        assert t.rows(shared, hers) == [True, False] and t.blobs(shared, hers) == [True, False]
    finally:
        with t.db.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {name}")


def test_an_archived_attempts_signatures_survive_an_erasure_citing_their_bytes(hub: dict[str, Any],
                                                                               tmp_path: Path) -> None:
    """Adversarial: Lan sends, as her own attachment, the very bytes of the JWS that signs Bình's
    archived statement (same sha2, another usageType). Erasing her must not take the signature
    away: `hocvu audit bundle --archive DIR` of Bình's attempt still holds every signature and
    verifies. (xAPI 1.0.3 Part Two §2.6: a signed statement's JWS is its attachment.)"""
    t, month = Tenant(hub, tmp_path / "lake"), next(hub["months"])
    attempt = write_attempt(t.app, (t.slug, t.id), course="https://hocvu.vn/activities/course/shared-jws",
                            checks=[MATCH])
    t.move(attempt.ids, month)
    with t.db.session() as s:
        jws_sha = str(_sql(t.db, "SELECT \"full\"->'attachments'->0->>'sha2' FROM statements WHERE statement_id = :i",
                           i=attempt.ids[0]))
        [jws] = attachment_store.load(s, t.id, [jws_sha])
    t.archive(month)
    st = with_attachment(jws.body, actor=LAN, contentType="application/octet-stream")
    res = post(t.x, st, [AttachmentPart(jws_sha, "application/octet-stream", jws.body)])
    assert res.status_code == 200, res.get_json()
    t.erase(LAN)
    assert t.rows(jws.body) == [True] and t.load(jws.body) == [jws.body]
    out = tmp_path / "proof.json"
    code, said = cli(t.app, "audit", "bundle", "--tenant", t.slug, "--registration", attempt.registration,
                     "--session", attempt.session_id, "-o", str(out), "--archive", str(t.root), env=hub["env"])
    assert code == 0, said
    report = verify_bundle(out, [hub["cert"].read_bytes()])
    assert report.ok and report.signatures == len(attempt.ids), report.failure
