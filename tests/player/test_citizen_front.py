"""The citizen's front door: with VNeID alone (the built-in demo provider, over real HTTP for the
back channel), a person learns without any LMS; their records go to the national tenant with a
pseudonymous account, are theirs to download, and are erased on request through the chain-
preserving erasure (the audit chain still verifies)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from credentials.http import CONFIG_EXT as CREDENTIALS_CONFIG
from credentials.issuing import credential_url
from credentials.revocation import revoke
from credentials.storage import IssuedCredential
from identity import storage as identity_storage
from identity.claims import subject_hmac
from identity.stamp import pseudonymous_subject
from lrs import credentials
from lrs.audit.verify import verify_tenant
from player.citizen import CITIZEN_HOME
from player.storage import QuizAttempt
from tests.player.citizen_support import PEPPER, citizen, citizen_app, fresh_national_tenant, reader
from tests.player.player_support import answers

COURSE = "ky-nang-so-vneid"
LESSON = f"course/{COURSE}/module/nen-tang/lesson/dien-thoai-an-toan"
QUIZ = f"course/{COURSE}/module/vneid-dich-vu-cong/quiz/kiem-tra-cuoi-khoa"


@pytest.fixture(scope="module")
def front_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with citizen_app(tmp_path_factory.mktemp("citizen")) as (app, _base):
        yield app


def test_the_front_door_is_vietnamese_with_the_catalogue_and_vneid(front_app: Flask) -> None:
    page = front_app.test_client().get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and '<html lang="vi">' in html
    assert "Đăng nhập bằng VNeID" in html and "Bình dân học vụ số" in html
    for course in ("Kỹ năng số cơ bản, VNeID và dịch vụ công trực tuyến", "An toàn trên không gian mạng"):
        assert course in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'rel="manifest"' in html
    client = front_app.test_client()
    csrf = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    with client.session_transaction() as sess:
        sess["csrf"] = csrf
    switched = client.post("/player/locale", data={"csrf": csrf, "lang": "en", "next": "/"})
    assert switched.status_code == 303 and switched.headers["Location"] == "/"
    english = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in english and "Sign in with VNeID" in english and "Tiếng Việt" in english


def test_a_citizen_signs_in_and_learns_in_the_national_tenant(front_app: Flask) -> None:
    slug = fresh_national_tenant(front_app)
    me = citizen(front_app)
    assert me.open_course(COURSE).headers["Location"].startswith("/identity/login")   # sign in first
    done = me.sign_in("demo-0002", next_url=f"/courses/{COURSE}")
    assert done.headers["Location"] == f"/courses/{COURSE}"
    opened = me.open_course(COURSE)
    assert opened.status_code == 303 and opened.headers["Location"] == "/player/"
    outline = me.page("/player/", follow_redirects=True).get_data(as_text=True)
    assert "Kỹ năng số cơ bản" in outline and 'id="begin"' in outline
    assert me.page(f"/player/view/{LESSON}").status_code == 200
    csrf = me.csrf(f"/player/view/{LESSON}")
    assert me.client.post(f"/player/complete/{LESSON}", data={"csrf": csrf}).status_code == 303
    assert me.client.post(f"/player/start/{QUIZ}", data={"csrf": csrf}).status_code == 303
    chosen = answers(QUIZ)
    form = {"csrf": csrf, **{f"q.{q}": c for q, c in chosen.items()}}
    assert me.client.post(f"/player/submit/{QUIZ}", data=form).status_code == 303

    xapi = reader(front_app, slug)
    got = xapi.get("statements", ascending="true").get_json()["statements"]
    assert {s["verb"]["id"].rsplit("/", 1)[1] for s in got} >= {"launched", "completed", "passed", "terminated"}
    # The learner is the hub's pseudonym of the VNeID account (never a citizen ID), in every statement.
    with front_app.extensions["hocvu.db"].session() as s:
        # Accounts keep only the keyed hash of (iss, sub): find demo-0002's by recomputing it.
        [account] = [a for a in s.scalars(select(identity_storage.IdentityAccount))
                     if a.subject_hmac == subject_hmac(PEPPER, a.issuer, "demo-0002")]
        expected = pseudonymous_subject(PEPPER, account.issuer, "demo-0002")
        tenant = credentials.get_tenant(s, slug)
        bound = identity_storage.account_for_external(s, tenant_id=tenant.id, issuer=CITIZEN_HOME,
                                                      subject=expected)
        assert bound is not None and bound.id == account.id   # the gate will see a bound learner
    assert {json.dumps(s["actor"], sort_keys=True) for s in got} == {json.dumps(
        {"objectType": "Agent", "account": {"homePage": CITIZEN_HOME, "name": expected}}, sort_keys=True)}
    assert all("005301000002" not in json.dumps(s) for s in got)
    assert all(s["authority"]["account"]["name"] == "course-player" for s in got)   # as for LTI launches

    mine = me.page("/learning/").get_data(as_text=True)
    assert "Việc học của tôi" in mine and "Bài học đã xong: 1/" in mine and "điểm cao nhất" in mine
    assert 'id="certificates"' in mine


def test_a_citizen_session_closes_when_the_account_signs_out_or_changes(front_app: Flask) -> None:
    fresh_national_tenant(front_app)
    me = citizen(front_app)
    me.sign_in("demo-0003")
    me.open_course(COURSE)
    assert me.page(f"/player/view/{LESSON}").status_code == 200
    me.sign_in("demo-0004")   # someone else signs in on the same phone
    closed = me.page(f"/player/view/{LESSON}")
    assert closed.status_code == 403 and "Về trang chủ" in closed.get_data(as_text=True)
    me.open_course(COURSE)
    assert me.page(f"/player/view/{LESSON}").status_code == 200
    out = me.client.post("/sign-out", data={"csrf": me.csrf("/")})
    assert out.status_code == 303 and out.headers["Location"] == "/?signed_out=1"
    assert me.page(f"/player/view/{LESSON}").status_code == 403
    assert me.page("/learning/").headers["Location"].startswith("/identity/login")


def test_my_records_download_as_xapi_json_and_csv(front_app: Flask) -> None:
    slug = fresh_national_tenant(front_app)
    me, other = citizen(front_app), citizen(front_app)
    for who, sub in ((me, "demo-0001"), (other, "demo-0005")):
        who.sign_in(sub)
        who.open_course(COURSE)
        who.page(f"/player/view/{LESSON}")
        who.client.post(f"/player/complete/{LESSON}", data={"csrf": who.csrf(f"/player/view/{LESSON}")})
    res = me.page("/learning/records.json")
    assert res.status_code == 200 and res.headers["Content-Type"].startswith("application/json")
    assert res.headers["Content-Disposition"].startswith('attachment; filename="hocvu-records.json')
    statements = json.loads(res.get_data(as_text=True))["statements"]
    names = {s["actor"]["account"]["name"] for s in statements}
    assert len(statements) == 3 and len(names) == 1   # launched, initialized, completed: only mine
    table = list(csv.reader(io.StringIO(me.page("/learning/records.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0][:3] == ["stored", "timestamp", "verb"] and len(table) == 4
    assert [row[2] for row in table[1:]] == ["đã mở", "đã bắt đầu", "đã hoàn thành"]
    assert {row[-1] for row in table[1:]} == {s["id"] for s in statements}
    assert reader(front_app, slug).get("statements").get_json()["statements"]   # the other's are still there


def test_erasure_needs_confirmation_a_fresh_sign_in_and_keeps_the_chain(front_app: Flask) -> None:
    slug = fresh_national_tenant(front_app)
    me = citizen(front_app)
    me.sign_in("demo-0002")
    me.open_course(COURSE)
    csrf = me.csrf(f"/player/view/{LESSON}")
    me.client.post(f"/player/complete/{LESSON}", data={"csrf": csrf})
    me.client.post(f"/player/start/{QUIZ}", data={"csrf": csrf})
    page = me.page("/learning/erase").get_data(as_text=True)
    assert 'id="erase-form"' in page and "không thể hoàn tác" in page
    assert me.client.post("/learning/erase", data={"csrf": csrf}).status_code == 400        # not confirmed
    assert me.client.post("/learning/erase", data={"csrf": "x", "confirm": "yes"}).status_code == 400
    with me.client.session_transaction() as sess:   # a sign-in more than 15 minutes old
        sess["identity.signed_in_at"] -= 16 * 60
    stale = me.client.post("/learning/erase", data={"csrf": csrf, "confirm": "yes"})
    assert stale.status_code == 303 and stale.headers["Location"].startswith("/identity/login")
    assert 'id="reauth"' in me.page("/learning/erase").get_data(as_text=True)
    me.sign_in("demo-0002", next_url="/learning/erase")
    done = me.client.post("/learning/erase", data={"csrf": csrf, "confirm": "yes"})
    assert done.status_code == 303 and "erased=" in done.headers["Location"]
    assert "Đã xoá" in me.page(done.headers["Location"]).get_data(as_text=True)
    xapi = reader(front_app, slug)
    assert xapi.get("statements").get_json()["statements"] == []
    with front_app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, slug).id
        assert s.scalars(select(QuizAttempt).where(QuizAttempt.tenant_id == tenant_id)).all() == []
        report = verify_tenant(s, tenant_id, [front_app.extensions["identity.gate"].material().cert_pem])
    assert report.ok, report


def _certificate_links(page: str) -> list[tuple[str, str]]:
    """(href, text) of each link in "my learning"'s certificates section."""
    section = page.split('id="certificates"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<a href="([^"]+)">([^<]+)</a>', section)


def test_my_learning_lists_an_issued_credential_with_its_link_and_the_attempt_counts(front_app: Flask) -> None:
    """Issue 14 "my learning" + issue 15 "the credential appears in my learning": a citizen who fails
    then passes the course's only graded quiz sees two attempts, none identity-verified (no gate on
    this course), and the credential the player issued on completion (OB 3.0 §1), linked to its own
    page; a revoked credential (Bitstring Status List v1.0 §3.2) is no longer listed."""
    slug = fresh_national_tenant(front_app)
    me = citizen(front_app)
    me.sign_in("demo-0005")
    me.open_course(COURSE)
    csrf = me.csrf(f"/player/view/{LESSON}")
    for wrong in (len(answers(QUIZ)), 0):   # all wrong (failed), then all right (passed)
        assert me.client.post(f"/player/start/{QUIZ}", data={"csrf": csrf}).status_code == 303
        chosen = {f"q.{q}": c for q, c in answers(QUIZ, wrong=wrong).items()}
        assert me.client.post(f"/player/submit/{QUIZ}", data={"csrf": csrf, **chosen}).status_code == 303
        page = me.page("/learning/").get_data(as_text=True)
        if wrong:
            assert _certificate_links(page) == [] and "Bạn chưa có chứng chỉ nào" in page
    record = page.split(f'data-quiz="{QUIZ}"', 1)[1].split("</li>", 1)[0]
    assert "2 lần làm" in record and '<strong class="ok">đạt</strong>' in record
    assert "xác minh danh tính" not in record   # no attempt of this course passes the identity gate

    with front_app.extensions["hocvu.db"].session() as s:
        tenant = credentials.get_tenant(s, slug)
        [row] = s.scalars(select(IssuedCredential).where(IssuedCredential.tenant_id == tenant.id)).all()
        assert row.course_id == COURSE and row.revoked is None
        title = row.document["name"] if row.document else ""
    [(href, text)] = _certificate_links(page)
    assert href == credential_url(front_app.extensions[CREDENTIALS_CONFIG], slug, row.public_id)
    assert html.unescape(text) == title and title
    shown = me.page(urlsplit(href).path)   # the link opens the credential's page: valid, this course
    assert shown.status_code == 200
    assert title in html.unescape(shown.get_data(as_text=True))

    with front_app.extensions["hocvu.db"].session() as s:
        revoke(s, front_app.extensions[CREDENTIALS_CONFIG], [s.merge(row)], "operator", datetime.now(UTC))
        s.commit()
    after = me.page("/learning/").get_data(as_text=True)
    assert _certificate_links(after) == [] and "Bạn chưa có chứng chỉ nào" in after


def test_db_upgrade_and_demo_seed_make_the_national_tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from hocvu.cli import main

    monkeypatch.setenv("HOCVU_DATABASE_URL", f"sqlite:///{tmp_path / 'seed.db'}")
    monkeypatch.setenv("HOCVU_SECRET_KEY", "test-secret")
    monkeypatch.setenv("HOCVU_NATIONAL_TENANT", "quoc-gia-thu")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    listed = runner.invoke(main, ["tenant", "list", "--json"])
    assert {"slug": "quoc-gia-thu", "name": "Bình dân học vụ số — người học trực tiếp (quốc gia)"} in [
        {"slug": t["slug"], "name": t["name"]} for t in json.loads(listed.output)]
    seeded = runner.invoke(main, ["demo", "seed"])
    assert seeded.exit_code == 0, seeded.output
    lines = [line for line in seeded.output.splitlines() if line.strip("=")]
    assert lines[0].startswith("front door:    http://127.0.0.1:8000/")   # the front door first
