"""POST /player/sync (player.offline): ops a learner's device queued while offline reach the tenant's
LRS exactly once, in order, as the learner's own and of the opened course only — tried the way an
adversary would: replayed, forged, another learner's, out of order, oversized, late.

Every rule names its clause: xAPI 2.0 Part 2 §2.2.2 (an id names one statement: the same content
again is accepted, other content refused), cmi5 §9.3 (AU session order), RFC 9562 §5.4/§5.5 (UUIDs).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from lrs.storage import Statement
from player.domain import registration_for
from player.offline import tickets
from player.offline.ops import MAX_BODY_BYTES, MAX_OPS
from player.session import KEY, Learner, PlayerSession
from player.storage import QuizAttempt, SyncedOp
from tests.conftest import Xapi
from tests.player.player_support import CSRF, SHIPPED, answers, open_player, read, verbs

COURSE = "course/ky-nang-so-vneid"
LESSON = f"{COURSE}/module/nen-tang/lesson/dien-thoai-an-toan"
QUIZ = f"{COURSE}/module/vneid-dich-vu-cong/quiz/kiem-tra-cuoi-khoa"             # untimed
FRAUD = "course/an-toan-khong-gian-mang"
TIMED = f"{FRAUD}/module/phong-tranh-va-xu-ly/quiz/kiem-tra"              # 10 minutes
OTHER_COURSE_LESSON = f"{FRAUD}/module/nhan-dien/lesson/gia-danh-co-quan-chuc-nang"
ISSUER = "https://lms.mic.example.vn"


@dataclass
class Device:
    """One learner's phone: its browser (cookie), its queue's id and order, and a page's ticket."""

    client: FlaskClient
    launch: PlayerSession
    xapi: Xapi
    ticket: str = ""
    device: str = field(default_factory=lambda: str(uuid.uuid4()))
    seq: int = 0

    def open_page(self, target: str) -> str:
        page = self.client.get(f"/player/view/{target}")
        assert page.status_code == 200, page.get_data(as_text=True)
        html = page.get_data(as_text=True)
        self.ticket = html.split('data-ticket="', 1)[1].split('"', 1)[0]
        return html

    def op(self, kind: str, target: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        return {"id": str(uuid.uuid4()), "seq": self.seq, "kind": kind, "ticket": self.ticket, "target": target,
                "at": datetime.now(UTC).isoformat(), **fields}

    def sync(self, ops: list[dict[str, Any]], csrf: str = CSRF, **extra: Any) -> Any:
        return self.client.post("/player/sync", json={"csrf": csrf, "device": self.device, "ops": ops, **extra})

    def statuses(self, ops: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
        res = self.sync(ops)
        assert res.status_code == 200, res.get_data(as_text=True)
        return [(r["status"], r.get("code")) for r in res.get_json()["results"]]


def device(app: Flask, target: str = COURSE) -> Device:
    launch, client, xapi = open_player(app, target, issuer=ISSUER)
    return Device(client, launch, xapi)


def stored_ids(app: Flask, tenant_id: int) -> list[str]:
    with app.extensions["hocvu.db"].session() as s:
        return list(s.scalars(select(Statement.statement_id).where(Statement.tenant_id == tenant_id)
                              .order_by(Statement.seq)))


def start_quiz(d: Device, target: str) -> str:
    assert d.client.post(f"/player/start/{target}", data={"csrf": CSRF}).status_code == 303
    html = d.open_page(target)
    return html.split('data-attempt="', 1)[1].split('"', 1)[0]


def test_a_lesson_done_offline_is_stored_once_and_a_replay_is_a_duplicate(app: Flask) -> None:
    """xAPI 2.0 Part 2 §2.2.2: the same statement (id and content) sent again is not stored again."""
    d = device(app)
    d.client.get(f"/player/view/{COURSE}")   # the outline: the lesson page is then fetched ahead, offline
    d.ticket = tickets.issue("test-secret", d.launch, None)   # a page fetched ahead carries no AU session
    ops = [d.op("progress", LESSON, position=0, paragraph=3, progress=60), d.op("complete", LESSON)]
    assert d.statuses(ops) == [("stored", None), ("stored", None)]
    got = read(d.xapi, d.launch)
    # The visit had no AU session (the page was kept ahead): it gets one of its own (cmi5 §9.3).
    assert verbs(got) == ["launched", "initialized", "completed", "terminated"]
    completed = got[2]
    assert completed["id"] == ops[1]["id"]   # the device made the id of the statement its op is about
    first = stored_ids(app, d.launch.tenant_id)
    again = d.sync(ops).get_json()["results"]
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert again[1]["statements"] == [s["id"] for s in got]
    assert stored_ids(app, d.launch.tenant_id) == first   # nothing stored twice


def test_ops_of_a_page_with_an_au_session_land_in_it(app: Flask) -> None:
    d = device(app)
    d.open_page(LESSON)   # launched, initialized: the page's ticket names its AU session
    ops = [d.op("progress", LESSON, position=0, paragraph=2, progress=50), d.op("complete", LESSON)]
    assert d.statuses(ops) == [("stored", None), ("stored", None)]
    got = read(d.xapi, d.launch)
    assert verbs(got) == ["launched", "initialized", "progressed", "completed"]
    sessions = {s["context"]["extensions"]["https://w3id.org/xapi/cmi5/context/extensions/sessionid"] for s in got}
    assert len(sessions) == 1
    assert [got[2]["id"], got[3]["id"]] == [ops[0]["id"], ops[1]["id"]]


def test_answers_and_submission_queued_offline_arrive_in_order_once(app: Flask) -> None:
    d = device(app)
    attempt = start_quiz(d, QUIZ)
    right = answers(QUIZ)
    ops = [d.op("answer", QUIZ, attempt=attempt, question=q, choices=c) for q, c in right.items()]
    ops.append(d.op("submit", QUIZ, attempt=attempt, answers=right))
    results = d.sync(ops).get_json()["results"]
    assert [r["status"] for r in results] == ["stored"] * len(ops)
    got = read(d.xapi, d.launch)
    assert verbs(got) == ["launched", "initialized"] + ["answered"] * len(right) + ["completed", "passed",
                                                                                      "terminated"]
    assert got[-2]["id"] == ops[-1]["id"]   # the submission's own statement: passed, with the device's id
    # The other statements of the op: UUID v5 of the op's id and their role (RFC 9562 §5.5).
    base = uuid.UUID(ops[-1]["id"])
    assert got[-1]["id"] == str(uuid.uuid5(base, "terminated"))
    assert [s["id"] for s in got[2:-3]] == [str(uuid.uuid5(base, f"answered/{q}")) for q in right]
    assert d.statuses(ops) == [("duplicate", None)] * len(ops)
    assert len(read(d.xapi, d.launch)) == len(got)
    with app.extensions["hocvu.db"].session() as s:
        assert s.scalar(select(func.count()).select_from(SyncedOp).where(SyncedOp.device == d.device)) == len(ops)


def test_the_same_op_id_with_other_content_is_refused(app: Flask) -> None:
    """xAPI 2.0 Part 2 §2.2.2: a used id with other content is refused, and nothing is changed."""
    d = device(app)
    attempt = start_quiz(d, QUIZ)
    question, choices = next(iter(answers(QUIZ).items()))
    op = d.op("answer", QUIZ, attempt=attempt, question=question, choices=choices)
    assert d.statuses([op]) == [("stored", None)]
    forged = dict(op, choices=["zz"])
    assert d.statuses([forged]) == [("refused", "conflict")]


def neighbour(app: Flask, d: Device) -> Device:
    """Another learner of the same tenant (the same LMS), in a browser of their own."""
    launch = replace(d.launch, learner=Learner(ISSUER, f"hv-{uuid.uuid4().hex[:10]}"), link="rl-neighbour")
    client = app.test_client()
    with client.session_transaction() as sess:
        sess[KEY] = launch.to_session()
        sess["csrf"] = CSRF
    return Device(client, launch, d.xapi)


def test_another_learners_ticket_or_op_id_stores_nothing(app: Flask) -> None:
    mine = device(app)
    theirs = neighbour(app, mine)
    mine.open_page(LESSON)
    theirs.open_page(LESSON)
    stolen = theirs.op("complete", LESSON)            # their page's ticket, sent from my browser
    assert mine.statuses([stolen]) == [("refused", "not_yours")]
    op = mine.op("progress", LESSON, position=0, paragraph=1, progress=10)
    assert mine.statuses([op]) == [("stored", None)]
    reused = dict(op, ticket=theirs.ticket, seq=1)     # my op id, sent again as theirs
    assert theirs.statuses([reused]) == [("refused", "conflict")]
    assert verbs(read(theirs.xapi, theirs.launch)) == ["launched", "initialized"]


def test_a_forged_or_expired_ticket_stores_nothing(app: Flask) -> None:
    d = device(app)
    forged = tickets.issue("not-the-hub-secret", d.launch, None)
    d.ticket = forged
    assert d.statuses([d.op("complete", LESSON)]) == [("refused", "bad_ticket")]
    old = tickets._serializer("test-secret")
    payload = {"s": d.launch.to_session(), "au": None}
    too_old = int((datetime.now(UTC) - tickets.MAX_AGE - timedelta(days=1)).timestamp())
    d.ticket = _dated(old, payload, too_old)
    assert d.statuses([d.op("complete", LESSON)]) == [("refused", "bad_ticket")]
    assert read(d.xapi, d.launch) == []


def _dated(serializer: Any, payload: dict[str, Any], when: int) -> str:
    """A ticket signed by the hub ``when`` (itsdangerous's timestamp signer, its clock moved back)."""
    signer = serializer.make_signer(serializer.salt)
    signer.get_timestamp = lambda: when
    return str(signer.sign(serializer.dump_payload(payload)).decode())


def test_a_target_outside_the_tickets_course_is_refused(app: Flask) -> None:
    d = device(app)
    d.open_page(LESSON)
    assert d.statuses([d.op("complete", OTHER_COURSE_LESSON)]) == [("refused", "error.outside_launch")]
    assert d.statuses([d.op("complete", f"{COURSE}/module/nen-tang/lesson/no-such")]) == \
        [("refused", "error.not_in_catalogue")]
    assert d.statuses([d.op("complete", QUIZ)]) == [("refused", "error.not_found")]


def test_ops_name_no_learner_verb_or_score(app: Flask) -> None:
    """Only the fields of its kind: an op cannot say who the learner is or what they scored."""
    d = device(app)
    d.open_page(LESSON)
    for extra in ({"actor": {"mbox": "mailto:x@example.vn"}}, {"verb": "passed"}, {"score": 100},
                  {"statement": {}}):
        assert d.statuses([d.op("complete", LESSON, **extra)]) == [("refused", "bad_op")]
    bad = [d.op("complete", LESSON, id="not-a-uuid"), d.op("complete", LESSON, at="2026-12-07T08:00:00"),
           d.op("complete", LESSON, at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()),
           d.op("progress", LESSON, progress=101), d.op("progress", LESSON, paragraph=True),
           dict(d.op("complete", LESSON), seq=0), "not an object"]
    assert [s for s, _ in d.statuses(bad)] == ["refused"] * len(bad)
    assert read(d.xapi, d.launch)[-1]["verb"]["id"].endswith("initialized")


def test_a_device_cannot_go_back_in_its_own_order(app: Flask) -> None:
    d = device(app)
    d.open_page(LESSON)
    d.seq = 5
    later = d.op("progress", LESSON, position=0, paragraph=1, progress=10)
    earlier = dict(d.op("progress", LESSON, position=0, paragraph=2, progress=20), seq=later["seq"] - 1)
    assert d.statuses([later, earlier]) == [("stored", None), ("refused", "out_of_order")]


def test_the_whole_request_is_refused_without_session_token_or_within_limits(app: Flask) -> None:
    d = device(app)
    d.open_page(LESSON)
    op = d.op("complete", LESSON)
    assert d.sync([op], csrf="wrong").status_code == 400
    stranger = Device(app.test_client(), d.launch, d.xapi, d.ticket)   # no player session in that browser
    with stranger.client.session_transaction() as sess:
        sess["csrf"] = CSRF
    assert stranger.sync([op]).status_code == 403
    assert d.sync([op] * (MAX_OPS + 1)).status_code == 413
    huge = d.client.post("/player/sync", data=json.dumps({"csrf": CSRF, "device": d.device, "ops": [],
                                                           "pad": "x" * MAX_BODY_BYTES}),
                         content_type="application/json")
    assert huge.status_code == 413
    assert d.sync([op], device="not-a-uuid").status_code == 400
    assert d.sync([op], extra=1).status_code == 400
    assert read(d.xapi, d.launch)[-1]["verb"]["id"].endswith("initialized")   # nothing of it stored


def test_sync_never_writes_the_session_cookie(app: Flask) -> None:
    """A sync races the next page's request: only that page may set the cookie."""
    d = device(app)
    d.open_page(LESSON)
    res = d.sync([d.op("complete", LESSON)])
    assert res.status_code == 200 and "Set-Cookie" not in res.headers
    assert res.headers["Cache-Control"] == "no-store"
    token = d.client.get("/player/sync")
    assert token.get_json()["csrf"] == CSRF and token.headers["Cache-Control"] == "no-store"


def test_a_timed_quiz_stays_server_authoritative(app: Flask) -> None:
    """Answers reaching the server after its deadline (plus grace) do not count, whatever the
    device's clock said; a reconnection in time keeps the attempt."""
    d = device(app, FRAUD)
    attempt = start_quiz(d, TIMED)
    quiz = SHIPPED.resolve(TIMED).quiz
    assert quiz is not None
    right = answers(TIMED)
    first, second = list(right)[:2]
    assert d.statuses([d.op("answer", TIMED, attempt=attempt, question=first, choices=right[first])]) == \
        [("stored", None)]
    with app.extensions["hocvu.db"].session() as s:   # the learner was offline past the deadline
        s.execute(update(QuizAttempt).where(QuizAttempt.registration == registration_for(d.launch))
                  .values(deadline=datetime.now(UTC) - timedelta(minutes=1)))
        s.commit()
    late = [d.op("answer", TIMED, attempt=attempt, question=second, choices=right[second]),
            d.op("submit", TIMED, attempt=attempt, answers=right)]
    assert [s for s, _ in d.statuses(late)] == ["refused", "stored"]
    got = read(d.xapi, d.launch)
    assert got[-2]["result"]["score"]["raw"] == 1   # scored on the one answer saved in time
    with app.extensions["hocvu.db"].session() as s:
        assert s.scalar(select(QuizAttempt.status).where(QuizAttempt.registration == registration_for(d.launch))) \
            == "expired"


def test_an_op_of_an_ended_attempt_is_refused(app: Flask) -> None:
    d = device(app)
    attempt = start_quiz(d, QUIZ)
    assert d.statuses([d.op("submit", QUIZ, attempt=attempt, answers={})]) == [("stored", None)]
    question = next(iter(answers(QUIZ)))
    again = [d.op("answer", QUIZ, attempt=attempt, question=question, choices=["a"]),
             d.op("submit", QUIZ, attempt=attempt, answers={})]
    assert d.statuses(again) == [("refused", "error.attempt_closed")] * 2
    other = str(uuid.uuid4())
    start_quiz(d, QUIZ)
    assert d.statuses([d.op("answer", QUIZ, attempt=other, question=question, choices=["a"])]) == \
        [("refused", "error.attempt_closed")]


def test_a_statement_id_already_used_by_another_statement_refuses_the_op(app: Flask) -> None:
    """xAPI 2.0 Part 2 §2.2.2 through the LRS: a derived id taken by a different statement is a
    conflict, and the op stores nothing at all."""
    d = device(app)
    d.ticket = tickets.issue("test-secret", d.launch, None)
    op = d.op("complete", LESSON)
    taken = str(uuid.uuid5(uuid.UUID(op["id"]), "launched"))
    res = d.xapi.put("statements", statementId=taken, json_body={
        "actor": {"mbox": "mailto:someone@example.vn"}, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "https://example.vn/x"}})
    assert res.status_code == 204, res.get_data(as_text=True)
    assert d.statuses([op]) == [("refused", "conflict")]
    assert read(d.xapi, d.launch) == []


@pytest.mark.parametrize("bad", [[], {"ops": 1}])
def test_a_body_that_is_not_a_sync_request_is_refused(app: Flask, bad: Any) -> None:
    d = device(app)
    res = d.client.post("/player/sync", json=bad)
    assert res.status_code == 400
