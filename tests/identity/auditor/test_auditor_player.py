"""The auditor's view of an attempt the real course player wrote: the demo VNeID sign-in, a real
face service and photos (tests/lti/player_identity_support.py), a gate check that matches, a
recheck by another person that does not, then the quiz submitted. The auditor sees that attempt,
its two checks, every statement signed and chained, and its proof bundle verifies offline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from identity.auditor.proof_bundle import verify_bundle
from identity.gate.domain import RECHECK_GRACE
from identity.storage import AttemptAssurance
from lrs import credentials
from lrs.storage import Tenant
from tests.identity.auditor.auditor_support import access_entries, basic


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.identity.gate.gate_support import build_identity_env

    built, server = build_identity_env(tmp_path_factory.mktemp("auditor-player"))
    yield built
    server.shutdown()
    server.server_close()


def test_an_attempt_written_by_the_course_player(env: Any, tmp_path: Path) -> None:
    from tests.identity.gate.gate_support import ENROLLED

    learner = env.learner()
    learner.ready(ENROLLED)
    assert learner.enrol("A_img2.jpg").status_code == 303
    assert learner.check("A_img2.jpg").status_code == 303
    assert learner.start().status_code == 303
    [row] = learner.assurance()
    with env.db.session() as s:  # the recheck falls due now
        s.execute(update(AttemptAssurance).where(AttemptAssurance.id == row.id).values(
            recheck_due=datetime.now(UTC) - RECHECK_GRACE - timedelta(seconds=5)))
        s.commit()
    assert learner.recheck("C_img47.jpg").status_code == 200  # another person: no match
    assert learner.submit().status_code in (200, 303)

    with env.db.session() as s:
        slug = s.scalar(select(Tenant.slug).where(Tenant.id == learner.launch.tenant_id))
        cred, secret = credentials.create_national_credential(s, "auditor", "player test")
        s.commit()
        key = cred.key
    client = env.app.test_client()
    res = client.get("/audit/attempts.json", query_string={"tenant": slug}, headers=basic(key, secret))
    assert res.status_code == 200, res.get_data(as_text=True)
    [attempt] = res.get_json()["attempts"]
    assert attempt["session_id"] == row.session_id and attempt["registration"] == row.registration
    assert attempt["subject"] == row.subject and attempt["level"] == 2
    assert [(c["kind"], c["outcome"], c["success"]) for c in attempt["checks"]] == [
        ("initial", "match", True), ("recheck", "no_match", False)]
    assert all(c["distance"] is not None and c["threshold"] > 0 for c in attempt["checks"])
    assert attempt["outcome"] == "unverified" and attempt["problems"] == ["failed_checks", "unverified"]
    assert len(attempt["statements"]) >= 5
    assert {s["signature"] for s in attempt["statements"]} == {"valid"}
    assert {s["chain"] for s in attempt["statements"]} == {"included"}

    bundle = client.get("/audit/bundle", query_string={"tenant": slug, "registration": row.registration,
                                                        "session": row.session_id}, headers=basic(key, secret))
    assert bundle.status_code == 200
    path = tmp_path / "proof.json"
    path.write_bytes(bundle.get_data())
    report = verify_bundle(path)
    assert report.ok, report.failure
    assert report.statements == len(attempt["statements"]) == len(json.loads(path.read_bytes())["statements"])
    assert [e["detail"]["view"] for e in access_entries(env.app, learner.launch.tenant_id)] == [
        "attempts.json", "bundle"]
