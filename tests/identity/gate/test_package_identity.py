"""Identity assurance for assessed AUs of imported cmi5 courses (issue 16): the gate before the
launch, the LMS's statements stamped and signed, and the AU's own statements attested by the hub.

Spec clauses: cmi5 §8.1 (launch), §8.2 (fetch), §9.6.3.1 (session id extension); xAPI 1.0.3 Part
Two §2.4 (the LRS does not modify a statement), §2.4.4.3 (StatementRef), §2.6 / xAPI 2.0 §4.2.6
(signed statements: JWS RS256 with x5c, verified with the hub's certificate only).
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from sqlalchemy import func, select

from identity.auditor.http import CSV_COLUMNS, csv_row
from identity.auditor.queries import get_attempt
from identity.gate.attestation import ATTEST_VERB, EXT_ATTESTS, attestation, verify_covers
from identity.signing import _self_signed, sign_statement
from identity.stamp import VERIFIED
from identity.storage import AttemptAssurance
from lrs.cmi5.storage import Cmi5Session
from lrs.storage import Statement, Tenant
from player.domain import registration_for
from player.packages.attest import on_au_batch
from tests.identity.gate.gate_support import ENROLLED, IdentityEnv, Learner, stamp
from tests.packages.cmi5_support import au_xml, block, package, structure
from tests.packages.conftest import national_admin
from tests.player.player_support import CSRF

API = "/player/cmi5/admin/packages"
ADL = "http://adlnet.gov/expapi/verbs/"
CMI5 = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
MOVEON = "https://w3id.org/xapi/cmi5/context/categories/moveon"
SESSION = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
MASTERY = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore"
AU1 = "https://example.org/cmi5/au/1"   # assessed
AU2 = "https://example.org/cmi5/au/2"   # not assessed


@pytest.fixture(scope="module")
def assessed_course(identity_env: IdentityEnv) -> str:
    """A cmi5 course of two AUs, the first marked assessed through the admin API."""
    admin = national_admin(identity_env.app)
    client = identity_env.app.test_client()
    xml = structure(block(au_xml(1) + au_xml(2, move_on="Completed", mastery=None)),
                    course_id=f"https://example.org/cmi5/course/{uuid.uuid4().hex[:8]}")
    r = client.post(API, data=package(xml), headers=admin)
    assert r.status_code == 201, r.get_json()
    slug: str = r.get_json()["slug"]
    marked = client.put(f"{API}/{slug}/assessed", json={"assessed": [AU1]}, headers=admin)
    assert marked.status_code == 200, marked.get_json()
    assert [a["assessed"] for a in marked.get_json()["aus"]] == [True, False]
    return slug


def launch_au(learner: Learner, slug: str, index: int) -> Any:
    return learner.client.post(f"/player/cmi5/course/{slug}/au/{index}", data={"csrf": CSRF})


def pass_gate(learner: Learner, target: str) -> None:
    """Sign in with VNeID, link, and pass a live face check for the package unit ``target``."""
    learner.sign_in(ENROLLED)
    assert learner.client.post("/player/identity/bind", data={"csrf": CSRF, "package": target}).status_code == 303
    asked = learner.client.post("/player/identity/challenge", data={"csrf": CSRF, "package": target,
                                                                    "purpose": "check"})
    assert asked.status_code == 200, asked.get_data(as_text=True)
    doc = asked.get_json()
    done = learner.post_burst("/player/identity/check", learner.burst_for("A_img2.jpg", doc), doc["nonce"],
                              package=target)
    assert done.status_code == 303 and "outcome=" not in done.headers["Location"], done.headers.get("Location")


class RunningAu:
    """The AU in the learner's browser after a launch: fetch (cmi5 §8.2), then its own statements."""

    def __init__(self, app: Flask, url: str) -> None:
        self.client = app.test_client()
        self.q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        self.actor = json.loads(self.q["actor"])
        token = self.client.post(urlsplit(self.q["fetch"]).path).get_json()["auth-token"]
        self.headers = {"Authorization": f"Basic {token}", "X-Experience-API-Version": "1.0.3",
                        "Content-Type": "application/json"}
        prefs = self.client.get("/xapi/agents/profile", headers=self.headers, query_string={
            "agent": json.dumps(self.actor), "profileId": "cmi5LearnerPreferences"})
        assert prefs.status_code in (200, 404)   # cmi5 §11: read before Initialized

    def send(self, verb: str, session_id: str, **over: Any) -> dict[str, Any]:
        cats = [{"id": CMI5}] + ([{"id": MOVEON}] if verb in ("completed", "passed") else [])
        ext: dict[str, Any] = {SESSION: session_id, **({MASTERY: 0.8} if verb == "passed" else {})}
        st: dict[str, Any] = {"id": str(uuid.uuid4()), "actor": self.actor, "verb": {"id": ADL + verb},
                              "object": {"id": self.q["activityId"]}, "timestamp": "2026-12-07T03:00:00Z",
                              "context": {"registration": self.q["registration"], "extensions": ext,
                                          "contextActivities": {"category": cats}}, **over}
        r = self.client.post("/xapi/statements", data=json.dumps([st]), headers=self.headers)
        assert r.status_code == 200, r.get_data(as_text=True)
        return st


def sessions_of(env: IdentityEnv, learner: Learner) -> list[Cmi5Session]:
    with env.db.session() as s:
        return list(s.scalars(select(Cmi5Session).where(Cmi5Session.registration == registration_for(learner.launch))))


def test_assessed_au_refuses_launch_before_the_gate(identity_env: IdentityEnv, assessed_course: str) -> None:
    """cmi5 §8.1: an assessed AU's launch is refused (403, the page links to the gate) before VNeID
    sign-in, and (409) before a passing face check; nothing is opened or written."""
    learner = identity_env.learner(target=f"package/{assessed_course}")
    page = learner.client.get(f"/player/cmi5/course/{assessed_course}").get_data(as_text=True)
    assert 'id="identity-0"' in page and 'id="identity-1"' not in page   # the page says which needs the gate
    res = launch_au(learner, assessed_course, 0)
    assert res.status_code == 403 and "/player/identity/gate?package=" in res.get_data(as_text=True)
    learner.sign_in(ENROLLED)
    assert learner.client.post("/player/identity/bind", data={
        "csrf": CSRF, "package": f"package/{assessed_course}/au/0"}).status_code == 303
    res = launch_au(learner, assessed_course, 0)
    assert res.status_code == 409, res.get_data(as_text=True)[:300]
    assert sessions_of(identity_env, learner) == [] and learner.statements() == []


def test_non_assessed_au_launches_without_the_gate(identity_env: IdentityEnv, assessed_course: str) -> None:
    """An AU the course does not mark assessed launches at once (cmi5 §8.1), with no gate row."""
    learner = identity_env.learner(target=f"package/{assessed_course}")
    res = launch_au(learner, assessed_course, 1)
    assert res.status_code == 303 and "fetch=" in res.headers["Location"]
    [row] = sessions_of(identity_env, learner)
    with identity_env.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AttemptAssurance).where(
            AttemptAssurance.session_id == row.session_id)) == 0


def _attested_run(env: IdentityEnv, slug: str) -> tuple[Learner, str, list[dict[str, Any]]]:
    learner = env.learner(target=f"package/{slug}")
    pass_gate(learner, f"package/{slug}/au/0")
    res = launch_au(learner, slug, 0)
    assert res.status_code == 303, res.get_data(as_text=True)[-1500:]
    [row] = sessions_of(env, learner)
    au = RunningAu(env.app, res.headers["Location"])
    sent = [au.send("initialized", row.session_id),
            au.send("completed", row.session_id, result={"completion": True, "duration": "PT1M"}),
            au.send("passed", row.session_id, result={"success": True, "score": {"scaled": 0.9},
                                                      "duration": "PT1M"})]
    return learner, row.session_id, sent


def test_assessed_au_statements_are_attested_by_the_hub(identity_env: IdentityEnv, assessed_course: str) -> None:
    """After the gate: the AU session takes the gate's session id; the LMS's launched statement is
    stamped and signed (xAPI 1.0.3 Part Two §2.6); each AU statement is stored as sent (Part Two §2.4)
    and has one attestation (StatementRef, §2.4.4.3) stamped "verified", signed by the hub, covering
    its content hash; the auditor's attempt shows every AU statement attested."""
    env = identity_env
    learner, session_id, sent = _attested_run(env, assessed_course)
    with env.db.session() as s:
        gate_row = s.scalar(select(AttemptAssurance).where(AttemptAssurance.session_id == session_id))
        assert gate_row is not None and gate_row.pending_key is None   # consumed by the launch
    cert = env.material.cert_pem
    stored = learner.statements()
    by_id = {st["id"]: (st, token) for st, token in stored}
    launched = next(st for st, _ in stored if st["verb"]["id"] == ADL + "launched")
    assert stamp(launched) is not None and by_id[launched["id"]][1] is not None
    attestations = [(st, tok) for st, tok in stored if st["verb"]["id"] == ATTEST_VERB]
    covered = {st["object"]["id"]: (st, tok) for st, tok in attestations}
    for mine in sent:
        as_stored, token = by_id[mine["id"]]
        assert token is None and stamp(as_stored) is None  # the AU's statement is not rewritten
        att, att_token = covered[mine["id"]]
        assert att["object"]["objectType"] == "StatementRef"
        assert stamp(att)["outcome"] == VERIFIED  # type: ignore[index]
        assert att_token is not None
        assert verify_covers(att, [att_token], [cert], as_stored) is None
    with env.db.session() as s:
        slug = s.scalar(select(Tenant.slug).where(Tenant.id == learner.launch.tenant_id))
        attempt = get_attempt(s, str(slug), registration_for(learner.launch), session_id, [cert])
    audits = {a.statement_id: a for a in attempt.statements}
    assert attempt.outcome == VERIFIED and attempt.checks
    assert attempt.activity == by_id[sent[0]["id"]][0]["object"]["id"]   # listed at the AU's own IRI
    assert all(audits[m["id"]].attestation == "attested" for m in sent)
    assert "signature_invalid" not in attempt.problems()
    row = dict(zip(CSV_COLUMNS, csv_row(attempt), strict=True))
    assert (row["statements_attested"], row["attestations_broken"]) == ("3", "0")
    # A re-sent batch (an idempotent retry reaches the listener again) is not attested twice.
    with env.app.app_context(), env.db.session() as s:
        cmi5_row = s.scalar(select(Cmi5Session).where(Cmi5Session.session_id == session_id))
        assert cmi5_row is not None
        on_au_batch(s, cmi5_row, [by_id[m["id"]][0] for m in sent])
        s.commit()
    again = [st for st, _ in learner.statements() if st["verb"]["id"] == ATTEST_VERB]
    assert sorted(st["object"]["id"] for st in again) == sorted(m["id"] for m in sent)


def test_altered_au_statement_no_longer_matches_its_attestation(identity_env: IdentityEnv,
                                                                 assessed_course: str) -> None:
    """An AU statement changed in the store after it was attested fails the check (its content hash,
    the audit chain's, differs), and the auditor flags the attempt."""
    env = identity_env
    learner, session_id, sent = _attested_run(env, assessed_course)
    target = sent[2]["id"]
    with env.db.session() as s:
        row = s.scalar(select(Statement).where(Statement.statement_id == target))
        assert row is not None
        full = dict(row.full)
        full["result"] = {**full["result"], "score": {"scaled": 1.0}}
        row.full = full
        s.commit()
    stored = learner.statements()
    altered = next(st for st, _ in stored if st["id"] == target)
    att, token = next((st, tok) for st, tok in stored if st["verb"]["id"] == ATTEST_VERB
                      and st["object"]["id"] == target)
    assert token is not None
    problem = verify_covers(att, [token], [env.material.cert_pem], altered)
    assert problem is not None and "altered" in problem
    with env.db.session() as s:
        slug = s.scalar(select(Tenant.slug).where(Tenant.id == learner.launch.tenant_id))
        attempt = get_attempt(s, str(slug), registration_for(learner.launch), session_id, [env.material.cert_pem])
    assert {a.statement_id: a.attestation for a in attempt.statements}[target] == "altered"
    assert "signature_invalid" in attempt.problems()
    assert dict(zip(CSV_COLUMNS, csv_row(attempt), strict=True))["attestations_broken"] == "1"


def test_forged_attestation_fails_verification(identity_env: IdentityEnv, assessed_course: str) -> None:
    """An attestation signed with another key (xAPI 1.0.3 Part Two §2.6: the auditor trusts the hub's
    certificate only, never the JWS's x5c) does not verify, even over the right content hash."""
    env = identity_env
    learner, session_id, sent = _attested_run(env, assessed_course)
    as_stored = next(st for st, _ in learner.statements() if st["id"] == sent[0]["id"])
    from datetime import UTC, datetime

    forged = attestation(learner.launch.tenant_id, as_stored, registration_for(learner.launch), session_id,
                         datetime.now(UTC))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signed, part = sign_statement(forged, key, _self_signed(key))
    assert signed["context"]["extensions"][EXT_ATTESTS]["statement"] == sent[0]["id"]
    problem = verify_covers(signed, [part.body], [env.material.cert_pem], as_stored)
    assert problem is not None and "verif" in problem
    other = x509.load_pem_x509_certificate(env.material.cert_pem)
    assert other is not None


# --- SCORM: the hub writes the session's statements, so it stamps and signs them ----------------------

def test_assessed_sco_gated_and_its_statements_stamped_and_signed(identity_env: IdentityEnv) -> None:
    """An assessed SCO's page is refused (403, the way to the gate) before VNeID sign-in, with no
    attempt opened; after the gate its session's statements (xAPI SCORM Profile §5) carry the gate's
    session id, are stamped "verified" and signed by the hub (xAPI 1.0.3 Part Two §2.6), and verify
    with the hub's certificate alone; a SCO not marked assessed opens at once."""
    from identity.signing import verify_stamped
    from player.packages.scorm_storage import ScormAttempt
    from tests.packages.scorm_support import imported

    env = identity_env
    course = imported(env.app, "scorm2004")
    admin = national_admin(env.app)
    marked = env.app.test_client().put(f"{API}/{course.course_id}/assessed", json={"assessed": ["kiem-tra"]},
                                       headers=admin)
    assert marked.status_code == 200, marked.get_json()
    learner = identity_env.learner(target=course.target)
    page = f"/player/scorm/{course.course_id}/sco/kiem-tra"
    assert learner.client.get(f"/player/scorm/{course.course_id}/sco/gioi-thieu").status_code == 200  # not assessed
    res = learner.client.get(page)
    assert res.status_code == 403 and "/player/identity/gate?package=" in res.get_data(as_text=True)
    with env.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ScormAttempt).where(
            ScormAttempt.course_id == course.course_id, ScormAttempt.sco == "kiem-tra")) == 0
    pass_gate(learner, f"scorm/{course.course_id}/sco/kiem-tra")
    assert learner.client.get(page).status_code == 200
    done = learner.client.post(f"{page}/commit?terminate=true", headers={"X-CSRF-Token": CSRF},
                               data=json.dumps({"cmi.completion_status": "completed", "cmi.success_status": "passed",
                                                "cmi.score.scaled": "0.9", "cmi.session_time": "PT5M"}),
                               content_type="application/json")
    assert done.status_code == 200 and done.get_json()["statements"] > 0, done.get_data(as_text=True)
    cert = env.material.cert_pem
    sco_statements = [(st, tok) for st, tok in learner.statements() if "/sco/kiem-tra" in st["object"]["id"]
                      and not st["object"]["id"].endswith("/identity-check")]
    assert sco_statements
    for st, token in sco_statements:
        assert st["context"]["extensions"][SESSION]
        assert stamp(st)["outcome"] == VERIFIED and token is not None  # type: ignore[index]
        verify_stamped(json.dumps(st), token, cert)


def test_proof_bundle_of_a_package_attempt_checks_its_attestations(identity_env: IdentityEnv) -> None:
    """The auditor's proof bundle of an assessed AU's attempt verifies offline, checking each hub
    attestation (signed, xAPI 1.0.3 Part Two §2.6) against the AU statement it covers; the same bundle
    with an AU statement's result changed fails, naming the attestation and the statement."""
    from identity.auditor.proof_bundle import verify_bundle
    from tests.identity.auditor.auditor_support import basic, national

    env = identity_env
    course = _second_course(env)
    learner, session_id, sent = _attested_run(env, course)
    with env.db.session() as s:
        slug = s.scalar(select(Tenant.slug).where(Tenant.id == learner.launch.tenant_id))
    res = env.app.test_client().get("/audit/bundle", headers=basic(*national(env.app, "auditor")), query_string={
        "tenant": slug, "registration": registration_for(learner.launch), "session": session_id})
    assert res.status_code == 200, res.get_data(as_text=True)
    data = res.get_data()
    report = verify_bundle(data, [env.material.cert_pem])
    assert report.ok, report.failure
    assert report.attestations == 3
    # The LMS's satisfied statements, written in the AU's transaction, are stamped and signed too.
    satisfied = [i for i in json.loads(data)["statements"]
                 if i["statement"]["verb"]["id"] == "https://w3id.org/xapi/adl/verbs/satisfied"]
    assert len(satisfied) == 2 and all(stamp(i["statement"]) and i["signatures"] for i in satisfied)
    with env.db.session() as s:
        attempt = get_attempt(s, str(slug), registration_for(learner.launch), session_id, [env.material.cert_pem])
    assert not attempt.problems() & {"signature_invalid", "unverified"} and attempt.attestations_broken == 0
    bundle = json.loads(data)
    target = next(i for i in bundle["statements"] if i["statement"]["id"] == sent[2]["id"])
    target["statement"]["result"]["score"]["scaled"] = 1.0
    broken = verify_bundle(json.dumps(bundle).encode(), [env.material.cert_pem])
    assert broken.failure is not None and broken.failure.kind == "attestation"
    assert broken.failure.statement_id == sent[2]["id"]


def _second_course(env: IdentityEnv) -> str:
    """A course of one assessed AU (the module's course may have been altered by a test): passing it
    satisfies its block and the course (cmi5 §9.3.9), in the AU's transaction."""
    admin = national_admin(env.app)
    client = env.app.test_client()
    xml = structure(block(au_xml(1)),
                    course_id=f"https://example.org/cmi5/course/{uuid.uuid4().hex[:8]}")
    r = client.post(API, data=package(xml), headers=admin)
    assert r.status_code == 201, r.get_json()
    slug: str = r.get_json()["slug"]
    assert client.put(f"{API}/{slug}/assessed", json={"assessed": [AU1]}, headers=admin).status_code == 200
    return slug


@pytest.fixture(scope="module")
def pg_identity_env(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The identity env on a scratch PostgreSQL database (production's store: JSONB statements)."""
    from tests.identity.gate.gate_support import build_identity_env, fix_challenges
    from tests.identity.gate.test_identity_citizen_sub import _scratch_postgresql

    urls = _scratch_postgresql()
    url = next(urls)
    patch = pytest.MonkeyPatch()
    env, server = build_identity_env(tmp_path_factory.mktemp("pkg-identity-pg"), url=url)
    env.new_challenge = fix_challenges(patch)
    learner = env.learner()
    learner.ready(ENROLLED)
    assert learner.enrol("A_img2.jpg").status_code == 303
    yield env
    patch.undo()
    server.shutdown()
    server.server_close()
    env.db.dispose()
    next(urls, None)


@pytest.mark.postgres
def test_attestation_on_postgresql(pg_identity_env: IdentityEnv) -> None:
    """The same proof on PostgreSQL (statements as JSONB): each AU statement of an assessed AU is
    attested, the attestation verifies with the hub's certificate (xAPI 1.0.3 Part Two §2.6) against the
    statement as the LRS returns it, and the auditor marks every AU statement attested."""
    env = pg_identity_env
    slug = _second_course(env)
    learner, session_id, sent = _attested_run(env, slug)
    stored = learner.statements()
    by_id = {st["id"]: st for st, _ in stored}
    attestations = {st["object"]["id"]: (st, tok) for st, tok in stored if st["verb"]["id"] == ATTEST_VERB}
    for mine in sent:
        att, token = attestations[mine["id"]]
        assert token is not None and verify_covers(att, [token], [env.material.cert_pem], by_id[mine["id"]]) is None
    with env.db.session() as s:
        tenant = s.scalar(select(Tenant.slug).where(Tenant.id == learner.launch.tenant_id))
        attempt = get_attempt(s, str(tenant), registration_for(learner.launch), session_id, [env.material.cert_pem])
    assert {a.statement_id: a.attestation for a in attempt.statements if a.statement_id in by_id
            and by_id[a.statement_id]["verb"]["id"] != ATTEST_VERB and a.signature == "unsigned"} == \
        {m["id"]: "attested" for m in sent}
