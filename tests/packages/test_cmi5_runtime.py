"""cmi5 runtime against the real app: launch (§8.1), the one-time fetch URL (§8.2), LMS.LaunchData
(§10), the LRS's cmi5 rules for an AU session's credential (§9.3, §9.5, §9.6, §10.2.2), and the
LMS's statements (launched §9.3.1, satisfied §9.3.9, abandoned §9.3.6, waived §9.3.7).
Each refused statement is refused whole: nothing stored."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.packages.cmi5_support import au_xml, block, package, structure

API = "/player/cmi5/admin/packages"
ACTOR = {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "learner-1"}}
V = "http://adlnet.gov/expapi/verbs/"
CMI5 = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
MOVEON = "https://w3id.org/xapi/cmi5/context/categories/moveon"
SESSION = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
MASTERY = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore"


class Au:
    """An AU as a browser would run it: the launch URL's parameters, the fetched token, statements."""

    def __init__(self, client: FlaskClient, launch: dict[str, Any]) -> None:
        self.client = client
        q = {k: v[0] for k, v in parse_qs(urlsplit(launch["url"]).query).items()}
        self.q, self.session_id, self.registration = q, launch["sessionId"], launch["registration"]
        self.actor = json.loads(q["actor"])
        self.activity = q["activityId"]
        self.auth = ""

    def fetch(self) -> Any:
        return self.client.post(urlsplit(self.q["fetch"]).path)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Basic {self.auth}", "X-Experience-API-Version": "1.0.3",
                "Content-Type": "application/json"}

    def statement(self, verb: str, *, cmi5: bool = True, moveon: bool = False, result: dict[str, Any] | None = None,
                  mastery: float | None = None, **over: Any) -> dict[str, Any]:
        cats = ([{"id": CMI5}] if cmi5 else []) + ([{"id": MOVEON}] if moveon else [])
        ext: dict[str, Any] = {SESSION: self.session_id}
        if mastery is not None:
            ext[MASTERY] = mastery
        st: dict[str, Any] = {"id": str(uuid.uuid4()), "actor": self.actor, "timestamp": "2026-12-07T03:00:00Z",
                              "verb": {"id": verb if verb.startswith("http") else V + verb},
                              "object": {"id": self.activity},
                              "context": {"registration": self.registration, "extensions": ext,
                                          "contextActivities": {"category": cats} if cats else {}}}
        if result is not None:
            st["result"] = result
        st.update(over)
        return st

    def send(self, st: dict[str, Any]) -> Any:
        return self.client.put("/xapi/statements", query_string={"statementId": st["id"]}, data=json.dumps(st),
                               headers=self.headers())

    def prefs(self) -> Any:
        return self.client.get("/xapi/agents/profile", headers=self.headers(), query_string={
            "agent": json.dumps(self.actor), "profileId": "cmi5LearnerPreferences"})

    def launch_data(self) -> Any:
        return self.client.get("/xapi/activities/state", headers=self.headers(), query_string={
            "activityId": self.activity, "agent": json.dumps(self.actor), "registration": self.registration,
            "stateId": "LMS.LaunchData"})


@pytest.fixture
def course(pkg_app: Flask, admin: dict[str, str]) -> str:
    xml = structure(block(au_xml(1) + au_xml(2, move_on="Completed", mastery=None)),
                    course_id=f"https://example.org/cmi5/course/{uuid.uuid4().hex[:8]}")
    r = pkg_app.test_client().post(API, data=package(xml), headers=admin)
    assert r.status_code == 201, r.get_json()
    slug: str = r.get_json()["slug"]
    return slug


def launch(app: Flask, admin: dict[str, str], slug: str, au: int = 0, registration: str | None = None,
           mode: str = "Normal") -> Au:
    body = {"actor": ACTOR, "au": au, "launchMode": mode, **({"registration": registration} if registration else {})}
    r = app.test_client().post(f"{API}/{slug}/launch", json=body, headers=admin)
    assert r.status_code == 200, r.get_json()
    return Au(app.test_client(), r.get_json())


def started(app: Flask, admin: dict[str, str], slug: str, **kw: Any) -> Au:
    au = launch(app, admin, slug, **kw)
    au.auth = au.fetch().get_json()["auth-token"]
    assert au.prefs().status_code in (200, 404)   # cmi5 §11: read before Initialized (saved or not)
    assert au.send(au.statement("initialized")).status_code == 204
    return au


def by_registration(app: Flask, admin: dict[str, str], registration: str) -> list[dict[str, Any]]:
    r = app.test_client().get("/xapi/statements", query_string={"registration": registration, "ascending": "true",
                                                                 "limit": 100},
                              headers={**admin, "X-Experience-API-Version": "1.0.3"})
    assert r.status_code == 200
    statements: list[dict[str, Any]] = r.get_json()["statements"]
    return statements


def test_launch_url_fetch_once_and_launch_data(pkg_app: Flask, admin: dict[str, str], course: str) -> None:
    """cmi5 §8.1 launch parameters; §8.2 fetch once (second: error JSON); §10 LMS.LaunchData."""
    au = launch(pkg_app, admin, course)
    assert set(au.q) >= {"endpoint", "fetch", "actor", "registration", "activityId"}
    assert au.q["endpoint"].endswith("/xapi")
    first = au.fetch()
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("application/json")
    au.auth = first.get_json()["auth-token"]
    second = au.fetch()
    assert second.status_code == 200 and second.get_json()["error-code"] == "1"
    data = au.launch_data()
    assert data.status_code == 200, data.get_json()
    doc = data.get_json()
    assert doc["contextTemplate"]["extensions"][SESSION] == au.session_id
    assert doc["launchMode"] == "Normal" and doc["moveOn"] == "CompletedAndPassed" and doc["masteryScore"] == 0.8
    assert doc["returnURL"] and doc["launchParameters"] == '{"n": 1}'
    assert {"id": "https://example.org/cmi5/au/1", "objectType": "Activity"} in \
        doc["contextTemplate"]["contextActivities"]["grouping"]


def test_full_session_satisfies_block_and_course(pkg_app: Flask, admin: dict[str, str], course: str) -> None:
    """cmi5 §9.3.1 launched first; §9.3.9 satisfied for the block and the course when every AU's moveOn is met."""
    reg = str(uuid.uuid4())
    au = started(pkg_app, admin, course, registration=reg)
    passed = au.statement("passed", moveon=True, mastery=0.8,
                          result={"success": True, "score": {"scaled": 0.9}, "duration": "PT1M"})
    assert au.send(passed).status_code == 204
    assert au.send(au.statement("completed", moveon=True,
                                result={"completion": True, "duration": "PT1M"})).status_code == 204
    assert au.send(au.statement("terminated", result={"duration": "PT2M"})).status_code == 204
    verbs = [s["verb"]["id"].rsplit("/", 1)[1] for s in by_registration(pkg_app, admin, reg)]
    assert verbs == ["launched", "initialized", "passed", "completed", "terminated"]  # AU 2 not yet done
    au2 = started(pkg_app, admin, course, au=1, registration=reg)
    assert au2.send(au2.statement("completed", moveon=True,
                                  result={"completion": True, "duration": "PT1M"})).status_code == 204
    sts = by_registration(pkg_app, admin, reg)
    sat = [s for s in sts if s["verb"]["id"].endswith("/satisfied")]
    assert [s["object"]["definition"]["type"].rsplit("/", 1)[1] for s in sat] == ["block", "course"]
    assert all(s["context"]["extensions"][SESSION] == au2.session_id for s in sat)
    assert sat[1]["context"]["contextActivities"]["grouping"][0]["id"].startswith("https://example.org/cmi5/course/")


RULES = [
    ("cmi5 §9.3.2 first", lambda au: [au.statement("completed", moveon=True,
                                                   result={"completion": True, "duration": "PT1S"})], False),
    ("cmi5 §9.3.1 LMS only", lambda au: [au.statement("launched")], True),
    ("cmi5 §9.3.9 LMS only", lambda au: [au.statement("https://w3id.org/xapi/adl/verbs/satisfied")], True),
    ("cmi5 §9.2 actor", lambda au: [au.statement("experienced", cmi5=False,
                                                 actor={"mbox": "mailto:other@example.org"})], True),
    ("cmi5 §9.6.1 registration", lambda au: [{**au.statement("experienced", cmi5=False),
                                              "context": {"registration": str(uuid.uuid4()),
                                                          "extensions": {SESSION: au.session_id}}}], True),
    ("cmi5 §9.6.3.1 session id", lambda au: [{**au.statement("experienced", cmi5=False),
                                              "context": {"registration": au.registration}}], True),
    ("cmi5 §9.6.2.1 category", lambda au: [au.statement("completed", cmi5=False, moveon=True,
                                                        result={"completion": True, "duration": "PT1S"})], True),
    ("cmi5 §9.6.2.1 allowed", lambda au: [au.statement("experienced")], True),
    ("cmi5 §9.6.2.2 moveOn", lambda au: [au.statement("completed", result={"completion": True, "duration": "PT1S"})],
     True),
    ("cmi5 §9.5.4.1 duration", lambda au: [au.statement("completed", moveon=True, result={"completion": True})], True),
    ("cmi5 §9.5.2 success", lambda au: [au.statement("passed", moveon=True, mastery=0.8,
                                                     result={"success": False, "duration": "PT1S"})], True),
    ("cmi5 §9.3.4 mastery", lambda au: [au.statement("passed", moveon=True, mastery=0.8,
                                                     result={"success": True, "score": {"scaled": 0.5},
                                                             "duration": "PT1S"})], True),
    ("cmi5 §9.6.3.2 mastery ext", lambda au: [au.statement("passed", moveon=True, result={
        "success": True, "score": {"scaled": 0.9}, "duration": "PT1S"})], True),
    ("cmi5 §9.3.3 once", lambda au: [au.statement("completed", moveon=True,
                                                  result={"completion": True, "duration": "PT1S"})] * 0 + [
        au.statement("completed", moveon=True, result={"completion": True, "duration": "PT1S"}),
        au.statement("completed", moveon=True, result={"completion": True, "duration": "PT1S"})], True),
    ("cmi5 §9.3.4 after failed", lambda au: [
        au.statement("failed", moveon=True, result={"success": False, "duration": "PT1S"}),
        au.statement("passed", moveon=True, result={"success": True, "duration": "PT1S"})], True),
    ("cmi5 §9.3.8 last", lambda au: [au.statement("terminated", result={"duration": "PT1S"}),
                                     au.statement("experienced", cmi5=False)], True),
    ("cmi5 §9.7 timestamp", lambda au: [{**au.statement("experienced", cmi5=False),
                                         "timestamp": "2026-12-07T03:00:00-06:00"}], True),
    ("cmi5 §9.5.3 no completion", lambda au: [au.statement("passed", moveon=True,
                                                           result={"success": True, "completion": True,
                                                                   "duration": "PT1S"})], True),
    ("cmi5 §9.5.1 min max", lambda au: [au.statement("passed", moveon=True, mastery=0.8, result={
        "success": True, "score": {"scaled": 0.9, "raw": 9}, "duration": "PT1S"})], True),
    ("cmi5 §9.6.2.2 terminated", lambda au: [au.statement("terminated", moveon=True, result={"duration": "PT1S"})],
     True),
    ("cmi5 §6.3 voiding", lambda au: [au.statement(V + "voided", cmi5=False,
                                                   object={"objectType": "StatementRef", "id": str(uuid.uuid4())})],
     True),
    ("cmi5 §9.4 object", lambda au: [au.statement("completed", moveon=True, object={"id": "https://x.org/other"},
                                                  result={"completion": True, "duration": "PT1S"})], True),
]


@pytest.mark.parametrize(("clause", "make", "initialize"), RULES, ids=[r[0] for r in RULES])
def test_cmi5_rule_refused_nothing_stored(pkg_app: Flask, admin: dict[str, str], course: str, clause: str,
                                         make: Any, initialize: bool) -> None:
    reg = str(uuid.uuid4())
    au = started(pkg_app, admin, course, registration=reg) if initialize else launch(pkg_app, admin, course,
                                                                                     registration=reg)
    if not initialize:
        au.auth = au.fetch().get_json()["auth-token"]
    before = len(by_registration(pkg_app, admin, reg))
    batch = make(au)
    r = au.client.post("/xapi/statements", data=json.dumps(batch), headers=au.headers())
    assert r.status_code == 403, (clause, r.get_json())
    assert r.get_json()["error"]["message"].startswith("cmi5 " + clause.split()[1]), r.get_json()
    assert len(by_registration(pkg_app, admin, reg)) == before


def test_initialized_needs_learner_preferences(pkg_app: Flask, admin: dict[str, str], course: str) -> None:
    """cmi5 §11 (CATAPULT 11.0.0.0-3): Initialized only after the AU read cmi5LearnerPreferences;
    a preferences document that breaks §11 is refused."""
    au = launch(pkg_app, admin, course)
    au.auth = au.fetch().get_json()["auth-token"]
    r = au.send(au.statement("initialized"))
    assert r.status_code == 403 and r.get_json()["error"]["message"].startswith("cmi5 §11")
    bad = au.client.put("/xapi/agents/profile", headers={**au.headers(), "If-None-Match": "*"},
                        data=json.dumps({"languagePreference": "not comma separated", "audioPreference": "on"}),
                        query_string={"agent": json.dumps(au.actor), "profileId": "cmi5LearnerPreferences"})
    assert bad.status_code == 403
    assert au.prefs().status_code == 404
    assert au.send(au.statement("initialized")).status_code == 204


def test_browse_mode_refuses_outcomes(pkg_app: Flask, admin: dict[str, str], course: str) -> None:
    """cmi5 §10.2.2: in Browse mode no Completed, Passed or Failed."""
    au = started(pkg_app, admin, course, mode="Browse")
    r = au.send(au.statement("completed", moveon=True, result={"completion": True, "duration": "PT1S"}))
    assert r.status_code == 403 and "§10.2.2" in r.get_json()["error"]["message"]


def test_new_launch_abandons_open_session(pkg_app: Flask, admin: dict[str, str], course: str) -> None:
    """cmi5 §9.3.6: a session left open is abandoned when the next starts; its credential is then refused."""
    reg = str(uuid.uuid4())
    old = started(pkg_app, admin, course, registration=reg)
    started(pkg_app, admin, course, registration=reg)
    verbs = [s["verb"]["id"].rsplit("/", 1)[1] for s in by_registration(pkg_app, admin, reg)]
    assert verbs == ["launched", "initialized", "abandoned", "launched", "initialized"]
    r = old.send(old.statement("experienced", cmi5=False))
    assert r.status_code == 403 and "has ended (abandoned)" in r.get_json()["error"]["message"]


def test_waive_then_satisfied(pkg_app: Flask, admin: dict[str, str], course: str) -> None:
    """cmi5 §9.3.7: waived (reason extension) counts toward moveOn; the block and course are satisfied."""
    reg = str(uuid.uuid4())
    client = pkg_app.test_client()
    for i in (0, 1):
        r = client.post(f"{API}/{course}/waive", json={"actor": ACTOR, "registration": reg, "au": i,
                                                       "reason": "Tested Out"}, headers=admin)
        assert r.status_code == 200
    verbs = [s["verb"]["id"].rsplit("/", 1)[1] for s in by_registration(pkg_app, admin, reg)]
    assert verbs == ["waived", "waived", "satisfied", "satisfied"]


def test_au_documents_limited_to_its_learner(pkg_app: Flask, admin: dict[str, str], course: str) -> None:
    """cmi5 §10/§11: the AU's credential reaches only its learner's State and profile; LaunchData is read-only."""
    au = started(pkg_app, admin, course)
    r = au.client.put("/xapi/activities/state", headers=au.headers(), data=b"{}", query_string={
        "activityId": au.activity, "agent": json.dumps(au.actor), "registration": au.registration,
        "stateId": "LMS.LaunchData"})
    assert r.status_code == 403
    r = au.client.get("/xapi/agents/profile", headers=au.headers(), query_string={
        "agent": json.dumps({"mbox": "mailto:someone@example.org"}), "profileId": "cmi5LearnerPreferences"})
    assert r.status_code == 403
    r = au.client.put("/xapi/agents/profile", headers={**au.headers(), "If-None-Match": "*"},
                      data=json.dumps({"languagePreference": "vi-VN,en-US", "audioPreference": "on"}),
                      query_string={"agent": json.dumps(au.actor), "profileId": "cmi5LearnerPreferences"})
    assert r.status_code == 204, r.get_json()


def test_grade_goes_to_the_learners_score_reporter(pkg_app: Flask, admin: dict[str, str], course: str) -> None:
    """The learner opened the course from an LMS (a player session with a score reporter, LTI AGS in
    production): the AU's judged score goes back through it, 0-100, FullyGraded once satisfied."""
    from player.pages import register_reporter
    from player.session import KEY, Learner, PlayerSession
    from tests.conftest import new_credential

    got: list[Any] = []
    register_reporter(pkg_app, "test-gradebook", lambda db, launch, grade: got.append((launch.target, grade)) or True)
    slug, _, _ = new_credential(pkg_app, ["all"])
    from lrs import credentials
    with pkg_app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, slug).id
    learner = Learner("https://lms.example.org", f"u-{uuid.uuid4().hex[:6]}")
    opened = PlayerSession(tenant_id=tenant_id, learner=learner, link="rl-1", target=f"package/{course}",
                           reporter="test-gradebook")
    client = pkg_app.test_client()
    with client.session_transaction() as sess:
        sess[KEY] = opened.to_session()
        sess["csrf"] = "t"
    page = client.get(f"/player/cmi5/course/{course}")
    assert page.status_code == 200 and b'id="launch-0"' in page.data
    r = client.post(f"/player/cmi5/course/{course}/au/0", data={"csrf": "t"})
    assert r.status_code == 303
    q = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["Location"]).query).items()}
    au = Au(pkg_app.test_client(), {"url": r.headers["Location"], "sessionId": "", "registration": q["registration"]})
    au.auth = au.fetch().get_json()["auth-token"]
    au.session_id = au.launch_data().get_json()["contextTemplate"]["extensions"][SESSION]
    assert au.prefs().status_code == 404
    assert au.send(au.statement("initialized")).status_code == 204
    assert au.send(au.statement("passed", moveon=True, mastery=0.8, result={
        "success": True, "score": {"scaled": 0.9}, "duration": "PT1M"})).status_code == 204
    assert len(got) == 1
    target, grade = got[0]
    assert target == f"package/{course}" and (grade.score_given, grade.score_max) == (90.0, 100.0)
    assert grade.grading_progress == "Pending"  # CompletedAndPassed: not satisfied until completed too


def test_session_past_its_lifetime_is_abandoned(pkg_app: Flask, admin: dict[str, str], course: str) -> None:
    """cmi5 §9.3.6: a session left open past its lifetime is abandoned by the sweep, with its duration."""
    from datetime import UTC, datetime, timedelta

    from player.packages.cmi5.progress import abandon_expired
    reg = str(uuid.uuid4())
    au = started(pkg_app, admin, course, registration=reg)
    with pkg_app.extensions["hocvu.db"].session() as db:
        assert abandon_expired(db, datetime.now(UTC) + timedelta(days=2)) >= 1
        db.commit()
    last = by_registration(pkg_app, admin, reg)[-1]
    assert last["verb"]["id"].endswith("/abandoned") and last["result"]["duration"].startswith("PT")
    assert last["context"]["extensions"][SESSION] == au.session_id


@pytest.mark.parametrize("body", [{"au": "0"}, {"au": -1}, {"au": 99}, {"actor": {"name": "no ifi"}},
                                  {"registration": "not-a-uuid"}, {"launchMode": "Sneaky"}])
def test_admin_launch_bad_input(pkg_app: Flask, admin: dict[str, str], course: str, body: dict[str, Any]) -> None:
    """Bad input to the admin launch: a clear 4xx with the error shape, no session opened."""
    r = pkg_app.test_client().post(f"{API}/{course}/launch", json={"actor": ACTOR, **body}, headers=admin)
    assert 400 <= r.status_code < 500 and "error" in r.get_json(), r.get_json()
