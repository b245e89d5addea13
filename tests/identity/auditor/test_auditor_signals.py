"""The auditor's signals (issue 12, item 5; identity.auditor.signals), end to end with the real face model
on ../shared/faces, the demo VNeID provider and the real pages: each is flagged on the list and the
attempt's page, in the JSON and the CSV, and selects with its filter.

One tenant T. Learner 1 (VNeID demo-0001) enrols person A's photo; learner 2 (demo-0002) enrols person B's.
Learner 2's checks are then sat with A's photo (no match to B; matches learner 1's enrolment) and twice
with C's (no match): "matches another learner's enrolment" and "repeated failures". A second LMS account
of T signs in with demo-0001 and goes straight to the check on learner 1's enrolment: "one VNeID, several
LMS accounts", for both of demo-0001's attempts. Learner 3 (demo-0005) enrols A's face too, but in another
tenant: the comparison never crosses tenants.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from identity.auditor.http import CSV_COLUMNS
from identity.gate.face import CHECK_VERB, EXT_FACE_CHECK
from identity.stamp import pseudonym_of
from identity.storage import AttemptAssurance, IdentityAccount
from lrs import credentials
from tests.identity.auditor.auditor_support import basic
from tests.identity.gate.gate_support import IdentityEnv, Learner, account_key, build_identity_env, fix_challenges


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityEnv]:
    patch = pytest.MonkeyPatch()
    built, server = build_identity_env(tmp_path_factory.mktemp("auditor-signals"))
    built.new_challenge = fix_challenges(patch)   # the same steps every time: bursts rendered once
    yield built
    patch.undo()
    server.shutdown()
    server.server_close()


def _enrolled(env: IdentityEnv, citizen: str, photo: str, tenant: str | None = None) -> Learner:
    learner = env.learner(tenant=tenant)
    learner.ready(citizen)
    assert learner.enrol(photo).status_code == 303
    return learner


def _pseudonym(env: IdentityEnv, citizen: str) -> str:
    with env.db.session() as s:
        account = s.scalar(select(IdentityAccount).where(IdentityAccount.subject_hmac == account_key(env, citizen)))
        assert account is not None
        return pseudonym_of(account.subject_hmac)


def _session_of(learner: Learner) -> str:
    [row] = learner.assurance()
    return row.session_id


@pytest.fixture(scope="module")
def story(env: IdentityEnv) -> dict[str, Any]:
    first = _enrolled(env, "demo-0001", "A_img2.jpg")
    tenant = env.tenant_of(first)
    assert first.check("A_img2.jpg").status_code == 303          # learner 1 passes on A
    assert first.check(env.photos["extra_couple.jpg"]).status_code == 303    # one "several faces": below the threshold
    other_tenant = _enrolled(env, "demo-0005", "A_img2.jpg")     # A's face enrolled in another tenant too
    second = _enrolled(env, "demo-0002", "B_img26.jpg", tenant)
    crossed = second.check("A_img2.jpg", js=True)                # A sits learner 2's check
    for photo in ("C_img47.jpg", "C_img8.jpg"):                  # then C, twice
        assert second.check(photo).status_code == 303
    again = env.learner(tenant=tenant)                           # a second LMS account, the same VNeID
    again.ready("demo-0001")
    assert again.check("A_img2.jpg").status_code == 303
    return {"tenant": tenant, "first": first, "second": second, "again": again, "crossed": crossed,
            "other_tenant": other_tenant}


def _auditor(env: IdentityEnv) -> dict[str, str]:
    with env.db.session() as s:
        cred, secret = credentials.create_national_credential(s, "auditor", "signals test")
        s.commit()
        return basic(cred.key, secret)


def _attempts(env: IdentityEnv, auth: dict[str, str], **query: Any) -> dict[str, dict[str, Any]]:
    res = env.app.test_client().get("/audit/attempts.json", query_string=query, headers=auth)
    assert res.status_code == 200, res.get_data(as_text=True)
    return {a["session_id"]: a for a in res.get_json()["attempts"]}


def test_a_check_sat_by_another_learner_is_flagged(env: IdentityEnv, story: dict[str, Any]) -> None:
    """Learner 2's check with A's photo: no match to learner 2 (B), a match with learner 1's enrolment (A),
    recorded in the signed check statement and flagged for the auditor; the other tenant's enrolment of A
    is never compared; the learner is told only "no match"."""
    crossed = story["crossed"]
    assert crossed.status_code == 200 and crossed.get_json()["matched"] is False
    body = crossed.get_data(as_text=True)
    assert "hocvu-subject:" not in body and _pseudonym(env, "demo-0001") not in body
    [check_statement] = [st for st, _ in story["second"].statements()
                         if st["verb"]["id"] == CHECK_VERB and st["result"]["extensions"][EXT_FACE_CHECK]
                         .get("otherEnrolments", {}).get("matches")]
    others = check_statement["result"]["extensions"][EXT_FACE_CHECK]["otherEnrolments"]
    # Tenant T holds learner 1's and the second account's (same VNeID, one enrolment): one enrolment
    # besides learner 2's own; demo-0005's enrolment of A, in another tenant, is not compared.
    assert others["compared"] == 1 and others["truncated"] is False
    assert [m["subject"] for m in others["matches"]] == [_pseudonym(env, "demo-0001")]
    assert 0 < others["matches"][0]["distance"] <= check_statement["result"]["extensions"][EXT_FACE_CHECK]["threshold"]

    auth = _auditor(env)
    attempts = _attempts(env, auth, tenant=story["tenant"])
    second = attempts[_session_of(story["second"])]
    assert second["signals"]["matched_other_learners"] == [_pseudonym(env, "demo-0001")]
    assert "matches_other_learner" in second["problems"]
    only = _attempts(env, auth, tenant=story["tenant"], problem="matches_other_learner")
    assert list(only) == [_session_of(story["second"])]


def test_repeated_failures_are_flagged(env: IdentityEnv, story: dict[str, Any]) -> None:
    """Three checks that saw someone else (A once, C twice) in one attempt: "repeated failures" (N = 3,
    AssurancePolicy.repeated_failures); learner 1's single "several faces" is below it."""
    attempts = _attempts(env, _auditor(env), tenant=story["tenant"])
    second = attempts[_session_of(story["second"])]
    assert [c["outcome"] for c in second["checks"]] == ["no_match"] * 3
    assert second["signals"]["suspicious_failures"] == 3 and "repeated_failures" in second["problems"]
    first = attempts[_session_of(story["first"])]
    assert [c["outcome"] for c in first["checks"]] == ["match", "several_faces"]
    assert first["signals"]["suspicious_failures"] == 1 and "repeated_failures" not in first["problems"]


def test_checks_failing_liveness_count_as_repeated_failures(env: IdentityEnv, story: dict[str, Any]) -> None:
    """ISO/IEC 30107-1 §5.2: a photo held up to the camera three times in one attempt's gate (each a burst
    that is ``not_live``) is the pattern "repeated failures" flags; the JSON shows each check's liveness
    and the attempt's assurance level."""
    from tests.face_check.synthetic import decode, place, still

    learner = env.learner()               # demo-0002 (enrolled with B by the story), in a tenant of its own
    learner.ready("demo-0002")
    picture = place(decode(env.photos["B_img42.jpg"]))
    for _ in range(3):
        assert learner.check(lambda ch: still(picture, ch, noise=2.0)).status_code == 303
    attempt = _attempts(env, _auditor(env), tenant=env.tenant_of(learner))[_session_of(learner)]
    assert [c["outcome"] for c in attempt["checks"]] == ["not_live"] * 3
    assert [(c["liveness"], c["liveness_result"]) for c in attempt["checks"]] == [
        ("active-challenge-v1", "static")] * 3
    assert attempt["signals"]["suspicious_failures"] == 3 and "repeated_failures" in attempt["problems"]
    assert (attempt["assurance"], attempt["liveness"], attempt["liveness_result"]) == (
        "none", "active-challenge-v1", "static")


def test_one_vneid_linked_to_several_lms_accounts_is_flagged(env: IdentityEnv, story: dict[str, Any]) -> None:
    """The second LMS account of tenant T signed in with demo-0001 passed on learner 1's enrolment (allowed),
    and both of demo-0001's attempts are flagged; learner 2's (one LMS account) is not. On every view."""
    auth = _auditor(env)
    attempts = _attempts(env, auth, tenant=story["tenant"])
    flagged = {sid for sid, a in attempts.items() if "several_lms_accounts" in a["problems"]}
    assert flagged == {_session_of(story["first"]), _session_of(story["again"])}
    assert attempts[_session_of(story["again"])]["signals"]["lms_accounts"] == 2
    assert attempts[_session_of(story["again"])]["checks"][0]["outcome"] == "match"
    assert attempts[_session_of(story["second"])]["signals"]["lms_accounts"] == 1
    filtered = _attempts(env, auth, tenant=story["tenant"], problem="several_lms_accounts")
    assert set(filtered) == flagged

    client = env.app.test_client()
    page = client.get("/audit/", query_string={"tenant": story["tenant"]}, headers=auth).get_data(as_text=True)
    for signal in ("several_lms_accounts", "repeated_failures", "matches_other_learner"):
        assert f'data-signal="{signal}"' in page
    export = client.get("/audit/attempts.csv", query_string={"tenant": story["tenant"]}, headers=auth)
    rows = {r["session_id"]: r for r in csv.DictReader(io.StringIO(export.get_data(as_text=True)))}
    assert tuple(next(csv.reader(io.StringIO(export.get_data(as_text=True))))) == CSV_COLUMNS
    second = rows[_session_of(story["second"])]
    assert second["matched_other_learners"] == _pseudonym(env, "demo-0001")
    assert second["suspicious_failures"] == "3" and rows[_session_of(story["again"])]["lms_accounts"] == "2"
    assert "matches_other_learner" in second["problems"] and "repeated_failures" in second["problems"]
    with env.db.session() as s:
        row = s.scalar(select(AttemptAssurance).where(AttemptAssurance.session_id == _session_of(story["second"])))
        assert row is not None
    one = client.get("/audit/attempt", headers=auth, query_string={
        "tenant": story["tenant"], "registration": row.registration, "session": row.session_id}).get_data(as_text=True)
    assert _pseudonym(env, "demo-0001") in one and 'class="bad" data-signal="matches_other_learner"' in one


def test_the_other_tenant_sees_no_signal(env: IdentityEnv, story: dict[str, Any], tmp_path: Path) -> None:
    """demo-0005 enrolled A's face in its own tenant: nothing of tenant T's story reaches its attempts."""
    learner = story["other_tenant"]
    assert learner.check("A_img2.jpg").status_code == 303
    attempts = _attempts(env, _auditor(env), tenant=env.tenant_of(learner))
    [attempt] = attempts.values()
    assert attempt["problems"] == [] and attempt["signals"]["lms_accounts"] == 1


def test_the_comparison_is_bounded(env: IdentityEnv, story: dict[str, Any]) -> None:
    """HOCVU_FACE_CROSSMATCH_MAX bounds the work: with two other enrolments in the tenant and a limit of
    one, the most recent is compared and the statement says the list was cut (``truncated``)."""
    from dataclasses import replace

    extra = env.learner(tenant=story["tenant"])
    extra.ready("demo-0005")  # demo-0005 (A's face, enrolled after demo-0001) now has a learner in T too
    policy = env.cfg.policy
    env.cfg.policy = replace(policy, cross_match_max=1)
    try:
        assert story["second"].check("A_img2.jpg").status_code == 303
    finally:
        env.cfg.policy = policy
    last = [st for st, _ in story["second"].statements() if st["verb"]["id"] == CHECK_VERB][-1]
    others = last["result"]["extensions"][EXT_FACE_CHECK]["otherEnrolments"]
    assert others["limit"] == 1 and others["compared"] == 1 and others["truncated"] is True
    assert [m["subject"] for m in others["matches"]] == [_pseudonym(env, "demo-0005")]
