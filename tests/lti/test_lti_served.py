"""The LTI tool as deployed: ``make run``'s server (gunicorn, 2 workers, no Redis), a new TCP connection
for every request, and two independent platforms over real HTTP — the spec-written one
(tests/lti/lti_platform.py) and lti1p3platform from PyPI (tests/lti/platform_independent.py).

- Every launch succeeds whichever worker each step reaches, and a replayed id_token is still refused
  (1EdTech Security Framework 1.0 §5.1.3 step 9; DESIGN.md, Scale).
- A platform that gives only ``lineitems`` gets the score in the tool's own line item, found again
  and never duplicated (LTI AGS 2.0 §3.1, §3.2).
- A platform whose keys are re-created answers 403 to the token issued before: the score arrives
  after one new token (Security Framework 1.0 §4.1, RFC 6750 §3.1), and the launch signed with the
  new key passes (Security Framework 1.0 §6.3: the unknown kid is fetched).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from lrs.storage import Database
from lti_tool import keys
from lti_tool.ags import post_score, read_results
from lti_tool.launch_cache import make_cache
from lti_tool.message_launch import TimeoutSession
from lti_tool.score_delivery import delivery_states
from lti_tool.services import LtiTool
from lti_tool.storage import LtiResourceLink, LtiScoreOutbox
from tests.conftest import scratch_pg
from tests.lti.lti_platform import Client, Platform
from tests.lti.platform_independent import IndependentPlatform
from tests.lti.served import SECRET, HttpBrowser, ServedHub, register, serve_hub, spec_login_url
from tests.player.player_support import answers

QUIZ = "course/ky-nang-so-vneid/module/vneid-dich-vu-cong/quiz/kiem-tra-cuoi-khoa"
LAUNCHES = 200


@pytest.fixture(scope="module")
def spec_platform() -> Iterator[Platform]:
    platform = Platform()
    yield platform
    platform.close()


@pytest.fixture(scope="module")
def sqlite_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    """``make run``'s set-up: its default database (SQLite), 2 workers, no Redis."""
    workdir = tmp_path_factory.mktemp("served-sqlite")
    hub = serve_hub(workdir, f"sqlite:///{workdir / 'hocvu.db'}", access_log=True)
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def pg_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    with scratch_pg("lti_served") as url:
        hub = serve_hub(tmp_path_factory.mktemp("served-pg"), url)
        yield hub
        hub.stop()


def _spec_client(hub: ServedHub, platform: Platform) -> Client:
    client = platform.add_client(hub.url)
    register(hub.db_url, platform.issuer, client.client_id, client.deployment_id, auth_url=platform.auth_url,
             token_url=platform.token_url, jwks_url=platform.jwks_url, name="spec platform")
    return client


def _independent(hub: ServedHub) -> IndependentPlatform:
    platform = IndependentPlatform()
    client_id, deployment_id = platform.register_tool(hub.url)
    register(hub.db_url, platform.issuer, client_id, deployment_id, auth_url=platform.auth_url,
             token_url=platform.token_url, jwks_url=platform.jwks_url, name="lti1p3platform")
    return platform


def _tool(hub: ServedHub) -> LtiTool:
    """The tool as `hocvu lti retry-scores` builds it, on the served hub's database."""
    database = Database(hub.db_url)
    return LtiTool(db=database, ring=keys.KeyRing.from_secret(SECRET), cache=make_cache(None, database),
                   base_url=hub.url, http=TimeoutSession())


def _launch(start: str) -> tuple[HttpBrowser, Any]:
    browser = HttpBrowser()
    return browser, browser.launch(start)


def test_200_launches_reach_either_worker_and_a_replay_is_still_refused(
        sqlite_hub: ServedHub, spec_platform: Platform) -> None:
    """Security Framework 1.0 §5.1.1-§5.1.3 over `make run`'s server: each launch is 3 requests to the
    hub on 3 new connections (login, login after the cookie check, id_token POST), so its nonce and
    state are written by one worker and taken by another about half the time."""
    client, independent = _spec_client(sqlite_hub, spec_platform), _independent(sqlite_hub)
    try:
        starts = []
        for i in range(LAUNCHES):
            user = f"learner-{i}"
            if i % 2:
                starts.append((user, independent.start_url(user, target=QUIZ, context_id=f"ctx-{i % 7}")))
            else:
                hint = spec_platform.resource_link(client, user=user, target=QUIZ, context_id=f"ctx-{i % 7}")
                starts.append((user, spec_login_url(sqlite_hub.url, spec_platform, client, hint, user)))
        with ThreadPoolExecutor(4) as pool:
            done = list(pool.map(lambda s: _launch(s[1]), starts))
        assert Counter(step.response.status_code for _, step in done) == {303: LAUNCHES}
        assert all(b.launch_context().sub == user for (b, _), (user, _) in zip(done, starts, strict=True))
        assert all(b.requests >= 4 for b, _ in done)   # every request on its own connection
        workers = {path: {pid for _, p, _, _, pid in sqlite_hub.access() if p == path}
                   for path in ("/lti/login", "/lti/launch")}
        assert len(workers["/lti/login"]) == len(workers["/lti/launch"]) == 2   # both workers took both steps

        for browser, step in (done[0], done[1]):   # one launch of each platform, posted again
            replay = browser.post_again(sqlite_hub.url, step.posted)
            assert replay.status_code == 401 and "already used" in replay.text
    finally:
        independent.close()


def test_the_same_id_token_posted_twice_at_once_passes_once(sqlite_hub: ServedHub, spec_platform: Platform) -> None:
    """Security Framework 1.0 §5.1.3 step 9: two posts of one id_token race to the two workers; the
    nonce is taken atomically, so exactly one passes."""
    client = _spec_client(sqlite_hub, spec_platform)
    for i in range(10):
        user = f"racer-{i}"
        browser = HttpBrowser()
        hint = spec_platform.resource_link(client, user=user, target=QUIZ)
        ready = browser.launch(spec_login_url(sqlite_hub.url, spec_platform, client, hint, user), post=False)
        assert set(ready.posted) == {"id_token", "state"}

        def post(_: int, browser: HttpBrowser = browser, fields: dict[str, str] = ready.posted) -> int:
            return browser.post_again(sqlite_hub.url, fields).status_code

        with ThreadPoolExecutor(2) as pool:
            assert sorted(pool.map(post, (1, 2))) == [303, 401]


@pytest.mark.parametrize("which", ["spec", "lti1p3platform"])
def test_programmatic_ags_finds_its_line_item_again(which: str, pg_hub: ServedHub, spec_platform: Platform) -> None:
    """AGS 2.0 §3.1: the launch has ``lineitems`` and no ``lineitem``. The first score creates the tool's
    line item (§3.2: resourceLinkId, resourceId, tag), later ones go to it — also when the tool has to
    look it up again in the container's pages (§3.2.7) — and results can be read (§3.3)."""
    tool = _tool(pg_hub)
    context_id, link_id = f"ctx-{uuid.uuid4().hex[:6]}", f"rl-{uuid.uuid4().hex[:6]}"
    independent = _independent(pg_hub) if which == "lti1p3platform" else None
    client = _spec_client(pg_hub, spec_platform) if independent is None else None
    if independent is None:   # other columns in the course: the tool's one is on the container's 2nd page
        for label in ("Chuyên cần", "Bài tập 1", "Bài tập 2"):
            spec_platform.add_line_item(context_id, label, 10)

    def launch(user: str) -> Any:
        if independent is not None:
            start = independent.start_url(user, target=QUIZ, context_id=context_id, resource_link_id=link_id,
                                          ags="programmatic")
        else:
            assert client is not None
            hint = spec_platform.resource_link(client, user=user, target=QUIZ, context_id=context_id,
                                               lineitems_only=True, overrides={
                                                   "https://purl.imsglobal.org/spec/lti/claim/resource_link":
                                                       {"id": link_id, "title": "Bài kiểm tra cuối khoá"}})
            start = spec_login_url(pg_hub.url, spec_platform, client, hint, user)
        browser = HttpBrowser()
        assert browser.launch(start).response.status_code == 303
        return browser.launch_context()

    def ours() -> list[dict[str, Any]]:
        if independent is not None:
            return [i for i in independent.line_items.get(context_id, {}).values() if i.get("resourceLinkId")]
        return [spec_platform.line_items[u.rsplit("/", 1)[1]] for u in spec_platform.created_line_items
                if spec_platform.line_items[u.rsplit("/", 1)[1]].get("contextId") == context_id]

    try:
        first = launch("an")
        assert first.ags_lineitem is None
        assert post_score(first, 7, 10, "Completed", "FullyGraded", first.sub, tool=tool).status == "delivered"
        [item] = ours()
        assert (item["resourceLinkId"], item["resourceId"], item["tag"]) == (link_id, QUIZ, "hocvu")
        second = launch("binh")
        assert post_score(second, 9, 10, "Completed", "FullyGraded", second.sub, tool=tool).status == "delivered"
        with tool.session() as session:   # the remembered line item is lost: it is looked up, not re-created
            session.execute(update(LtiResourceLink).values(lineitem_url=None))
            session.commit()
        third = launch("chau")
        assert post_score(third, 5, 10, "Completed", "FullyGraded", third.sub, tool=tool).status == "delivered"
        assert len(ours()) == 1
        given = {r["userId"]: r["resultScore"] for r in read_results(third, tool=tool)}
        assert given == {"an": 7.0, "binh": 9.0, "chau": 5.0}
        states = delivery_states(third, tool=tool)
        assert {u: s.status for u, s in states.items()} == {"an": "delivered", "binh": "delivered", "chau": "delivered"}
    finally:
        tool.db.dispose()
        if independent is not None:
            independent.close()


def _take_quiz(browser: HttpBrowser, hub: ServedHub) -> None:
    """Through the player, in the served hub: start the quiz and submit the right answers; the
    player hands the grade to AGS at once."""
    csrf = browser.player_form(hub.url, f"/player/view/{QUIZ}")
    assert browser.send("POST", f"{hub.url}/player/start/{QUIZ}", data={"csrf": csrf}).status_code == 303
    form: dict[str, Any] = {"csrf": csrf, **{f"q.{q}": c for q, c in answers(QUIZ).items()}}
    assert browser.send("POST", f"{hub.url}/player/submit/{QUIZ}", data=form).status_code == 303


def test_keys_recreated_on_the_platform_score_arrives_after_one_retry(pg_hub: ServedHub) -> None:
    """The LMS re-creates its keys: new launches carry a kid the tool has not seen (fetched once,
    Security Framework 1.0 §6.3), and the token the tool holds is answered with 403; the tool drops
    it, takes one new token and the score arrives (AGS 2.0 §3.4; RFC 6750 §3.1)."""
    platform = _independent(pg_hub)
    context_id, first, second = (f"{p}-{uuid.uuid4().hex[:6]}" for p in ("ctx", "an", "binh"))
    try:
        before = HttpBrowser()
        assert before.launch(platform.start_url(first, target=QUIZ, context_id=context_id,
                                                ags="declarative")).response.status_code == 303
        _take_quiz(before, pg_hub)
        item = before.launch_context().ags_lineitem
        assert item and [s["userId"] for s in platform.scores[item.rsplit("/", 1)[1]]] == [first]
        assert platform.token_requests == 1

        platform.rotate_keys()
        after = HttpBrowser()
        step = after.launch(platform.start_url(second, target=QUIZ, context_id=context_id, ags="declarative"))
        assert step.response.status_code == 303, step.response.text[:500]
        _take_quiz(after, pg_hub)
        item = after.launch_context().ags_lineitem
        assert item and [s["userId"] for s in platform.scores[item.rsplit("/", 1)[1]]] == [second]
        assert (platform.refused_tokens, platform.token_requests) == (1, 2)   # one 403, exactly one new token
        database = Database(pg_hub.db_url)
        with database.session() as session:
            row = session.query(LtiScoreOutbox).filter_by(user_id=second).one()
            assert (row.status, row.attempts, row.last_error) == ("delivered", 1, None)
        database.dispose()
    finally:
        platform.close()


def _cli(hub: ServedHub, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "hocvu.cli", "lti", *args], env=hub.env(), capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_refused_token_waits_and_retry_scores_sends_it(pg_hub: ServedHub, spec_platform: Platform) -> None:
    """Security Framework 1.0 §4.1: the token endpoint refuses the grant (here: the scope, RFC 6749
    §5.2 invalid_scope). The score is not given up: it waits, `hocvu lti scores --pending` says why,
    and `hocvu lti retry-scores` sends it once the platform grants the token. A score the platform
    refuses for good (its line item gone: 404) is listed by `hocvu lti scores --failed`."""
    client = _spec_client(pg_hub, spec_platform)
    tool = _tool(pg_hub)
    item = spec_platform.add_line_item("ctx-token", "Bài kiểm tra", 10)
    hint = spec_platform.resource_link(client, user="dung", target=QUIZ, context_id="ctx-token", lineitem=item)
    browser = HttpBrowser()
    assert browser.launch(spec_login_url(pg_hub.url, spec_platform, client, hint, "dung")).response.status_code == 303
    launch = browser.launch_context()
    granted = set(client.scopes)
    client.scopes = set()
    try:
        outcome = post_score(launch, 8, 10, "Completed", "FullyGraded", launch.sub, tool=tool)
    finally:
        client.scopes = granted
    assert outcome.status == "pending" and "access token" in (outcome.error or "")
    listed = _cli(pg_hub, "scores", "--pending")
    assert f"{outcome.outbox_id}\tpending" in listed and "invalid_scope" in listed
    assert "1 delivered" not in _cli(pg_hub, "retry-scores", "--now", "--json")
    assert spec_platform.results[item.rsplit("/", 1)[1]]["dung"]["scoreGiven"] == 8.0

    gone = spec_platform.url + "/api/lineitems/deleted"
    hint = spec_platform.resource_link(client, user="em", target=QUIZ, context_id="ctx-gone", lineitem=gone)
    browser = HttpBrowser()
    assert browser.launch(spec_login_url(pg_hub.url, spec_platform, client, hint, "em")).response.status_code == 303
    refused = post_score(browser.launch_context(), 1, 10, "Completed", "FullyGraded", "em", tool=tool)
    assert refused.status == "failed"
    assert f"{refused.outbox_id}\tfailed" in _cli(pg_hub, "scores", "--failed") and "HTTP 404" in _cli(
        pg_hub, "scores", "--failed")
    tool.db.dispose()


@pytest.mark.parametrize("which", ["spec", "lti1p3platform"])
def test_the_lms_receives_the_credential_link_in_the_score_comment(
        which: str, sqlite_hub: ServedHub, spec_platform: Platform) -> None:
    """Issue 15, LMS side: a learner launched from the LMS passes the course's only graded quiz in the
    player; the completion issues the credential (OB 3.0 §1) and the score the platform receives
    carries its link in the Score ``comment`` (LTI AGS 2.0 §3.4.5: text the platform shows with the
    grade). The link opens the credential, which verifies, over HTTP from the served hub."""
    context_id, user = f"ctx-{uuid.uuid4().hex[:6]}", f"hv-{uuid.uuid4().hex[:6]}"
    independent = _independent(sqlite_hub) if which == "lti1p3platform" else None
    try:
        if independent is not None:
            start = independent.start_url(user, target=QUIZ, context_id=context_id, ags="declarative")
        else:
            client = _spec_client(sqlite_hub, spec_platform)
            lineitem = spec_platform.add_line_item(context_id, "Kiểm tra cuối khoá", 10)
            hint = spec_platform.resource_link(client, user=user, target=QUIZ, context_id=context_id,
                                               lineitem=lineitem)
            start = spec_login_url(sqlite_hub.url, spec_platform, client, hint, user)
        browser = HttpBrowser()
        assert browser.launch(start).response.status_code == 303
        _take_quiz(browser, sqlite_hub)
        item = browser.launch_context().ags_lineitem
        assert item
        received = (independent.scores if independent is not None else spec_platform.scores)[item.rsplit("/", 1)[1]]
        [score] = [s for s in received if s["userId"] == user]
        assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
        prefix = "Chứng chỉ số / Digital credential: "
        assert score["comment"].startswith(prefix), score
        link = score["comment"].removeprefix(prefix)
        assert link.startswith(f"{sqlite_hub.url}/credentials/")
        credential = browser.send("GET", link, headers={"Accept": "application/vc"})
        assert credential.status_code == 200
        document = credential.json()
        assert "OpenBadgeCredential" in document["type"] and document["id"] == link
        report = browser.send("POST", f"{sqlite_hub.url}/credentials/api/verify", json=document)
        assert report.status_code == 200 and report.json()["outcome"] == "valid", report.text
    finally:
        if independent is not None:
            independent.close()
