"""AGS 2.0 scores reach the platform's line item — through an outage too, exactly once."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from lti_tool.ags import _claim, can_post_scores, post_score, read_results, retry_pending_scores
from lti_tool.ags_links import LINEITEM_READ_SCOPE, SCORE_SCOPE
from lti_tool.errors import InvalidScore, ServiceNotOffered
from lti_tool.launch_context import LaunchContext
from lti_tool.storage import LtiScoreOutbox
from tests.lti.conftest import Browser, Env, Lms
from tests.lti.lti_platform import Platform


def _graded_launch(browser: Browser, lms: Lms, lineitem: str | None = None, *,
                   scopes: set[str] | None = None) -> tuple[LaunchContext, str]:
    """A learner's launch of a graded link; ``scopes``: the AGS scopes the platform grants (all by default)."""
    platform = lms.env.platform
    context_id = f"ctx-{uuid.uuid4().hex[:6]}"
    lineitem = lineitem or platform.add_line_item(context_id, "Bài kiểm tra", 10)
    user = f"learner-{uuid.uuid4().hex[:6]}"
    response = browser.launch(platform.resource_link(lms.client, user=user, context_id=context_id,
                                                     lineitem=lineitem, ags_scopes=scopes), user)
    assert response.status_code == 303
    return browser.lti_launch(), lineitem.rsplit("/", 1)[1]


def _row(env: Env, tenant_id: int, outbox_id: int) -> LtiScoreOutbox:
    with env.db.session() as session:
        row = session.get(LtiScoreOutbox, (tenant_id, outbox_id))   # the ORM's identity: (tenant_id, id)
        assert row is not None
        return row


def test_score_reaches_the_line_item(browser: Browser, lms: Lms, lti_env: Env) -> None:
    context, item_id = _graded_launch(browser, lms)
    with lti_env.app.app_context():  # inside a request the player passes no tool=
        outcome = post_score(context, 8, 10, "Completed", "FullyGraded", context.sub, comment="Tốt lắm")
    assert outcome.status == "delivered"
    result = lti_env.platform.results[item_id][context.sub]
    assert result["scoreGiven"] == 8.0 and result["scoreMaximum"] == 10.0 and result["comment"] == "Tốt lắm"
    assert result["activityProgress"] == "Completed" and result["gradingProgress"] == "FullyGraded"
    assert result["timestamp"].endswith("Z")
    row = _row(lti_env, context.tenant_id, outcome.outbox_id)
    assert row.status == "delivered" and row.attempts == 1 and row.delivered is not None


def test_platform_down_then_back_delivers_exactly_once(browser: Browser, lms: Lms, lti_env: Env) -> None:
    platform, tool = lti_env.platform, lti_env.tool
    context, item_id = _graded_launch(browser, lms)
    platform.down = True
    try:
        outcome = post_score(context, 6, 10, "Completed", "FullyGraded", context.sub, tool=tool)
        assert outcome.status == "pending" and "503" in (outcome.error or "")
        row = _row(lti_env, context.tenant_id, outcome.outbox_id)
        assert row.attempts == 1 and row.status == "pending"
        # Not due yet: nothing is sent before the backoff delay.
        assert retry_pending_scores(tool).delivered == 0
        # Still down when due: the delay doubles.
        first_delay = row.next_attempt.replace(tzinfo=UTC) - row.created.replace(tzinfo=UTC)
        later = datetime.now(UTC) + timedelta(minutes=5)
        report = retry_pending_scores(tool, now=later)
        assert report.delivered == 0 and report.pending >= 1
        row = _row(lti_env, context.tenant_id, outcome.outbox_id)
        assert row.attempts == 2
        assert row.next_attempt.replace(tzinfo=UTC) - later > first_delay
    finally:
        platform.down = False
    assert item_id not in platform.scores

    much_later = datetime.now(UTC) + timedelta(hours=2)
    assert retry_pending_scores(tool, now=much_later).delivered >= 1
    assert retry_pending_scores(tool, now=much_later + timedelta(hours=2)).delivered == 0
    assert len(platform.scores[item_id]) == 1
    assert platform.results[item_id][context.sub]["scoreGiven"] == 6.0
    row = _row(lti_env, context.tenant_id, outcome.outbox_id)
    assert row.status == "delivered" and row.attempts == 3 and row.last_error is None


def test_unreachable_line_item_stays_pending(browser: Browser, lms: Lms, lti_env: Env) -> None:
    # Port 9 (discard) on loopback refuses connections: a network failure, not an HTTP answer.
    context, _ = _graded_launch(browser, lms, lineitem="http://127.0.0.1:9/api/lineitems/gone")
    outcome = post_score(context, 1, 10, "Submitted", "Pending", context.sub, tool=lti_env.tool)
    assert outcome.status == "pending" and "ConnectionError" in (outcome.error or "")


def test_refused_score_is_kept_as_failed(browser: Browser, lms: Lms, lti_env: Env) -> None:
    unknown = lti_env.platform.url + "/api/lineitems/deleted"
    context, _ = _graded_launch(browser, lms, lineitem=unknown)
    outcome = post_score(context, 1, 10, "Completed", "FullyGraded", context.sub, tool=lti_env.tool)
    assert outcome.status == "failed" and "404" in (outcome.error or "")
    assert _row(lti_env, context.tenant_id, outcome.outbox_id).score["scoreGiven"] == 1.0   # kept for an operator


def test_one_sender_at_a_time(browser: Browser, lms: Lms, lti_env: Env) -> None:
    context, _ = _graded_launch(browser, lms)
    lti_env.platform.down = True
    try:
        outcome = post_score(context, 2, 10, "Completed", "FullyGraded", context.sub, tool=lti_env.tool)
    finally:
        lti_env.platform.down = False
    now = datetime.now(UTC) + timedelta(hours=3)
    with lti_env.db.session() as session:
        assert _claim(session, context.tenant_id, outcome.outbox_id, now) is True
        assert _claim(session, context.tenant_id, outcome.outbox_id, now) is False   # a second sender backs off


def test_scores_are_checked_before_queuing(browser: Browser, lms: Lms, lti_env: Env) -> None:
    context, _ = _graded_launch(browser, lms)
    tool = lti_env.tool
    with pytest.raises(InvalidScore):
        post_score(context, 5, 10, "Done", "FullyGraded", context.sub, tool=tool)
    with pytest.raises(InvalidScore):
        post_score(context, -1, 10, "Completed", "FullyGraded", context.sub, tool=tool)
    with pytest.raises(ServiceNotOffered):
        post_score(LaunchContext(**{**context.to_session(), "ags_lineitem": None, "roles": (), "ags_scopes": ()}),
                   5, 10, "Completed", "FullyGraded", context.sub, tool=tool)


def test_background_retries_deliver_without_anyone_running_the_cli(browser: Browser, lms: Lms,
                                                                   lti_env: Env) -> None:
    """AGS 2.0: a score kept while the platform was down reaches it once it is back, by the
    hub's own periodic retries (hocvu.background), with nobody running `hocvu lti retry-scores`."""
    from sqlalchemy import update

    from hocvu.background import PeriodicTask

    platform, tool = lti_env.platform, lti_env.tool
    context, item_id = _graded_launch(browser, lms)
    platform.down = True
    try:
        outcome = post_score(context, 9, 10, "Completed", "FullyGraded", context.sub, tool=tool)
        assert outcome.status == "pending"
    finally:
        platform.down = False
    with lti_env.db.session() as session:  # make it due now rather than after the 30 s backoff
        session.execute(update(LtiScoreOutbox).where(LtiScoreOutbox.tenant_id == context.tenant_id,
                                                     LtiScoreOutbox.id == outcome.outbox_id)
                        .values(next_attempt=datetime.now(UTC) - timedelta(seconds=1)))
        session.commit()
    task = PeriodicTask("test-retries", 0.1, lambda: retry_pending_scores(tool)).start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while item_id not in platform.scores and datetime.now(UTC) < deadline:
            time.sleep(0.1)
    finally:
        task.stop()
    assert len(platform.scores[item_id]) == 1
    assert _row(lti_env, context.tenant_id, outcome.outbox_id).status == "delivered"


# --- only the scopes the platform granted (LTI AGS 2.0 §3.1: the claim's ``scope`` lists what the tool
# may ask an access token for; §3.2 line items need lineitem[.readonly], §3.3 results result.readonly,
# §3.4 scores score) -----------------------------------------------------------------------------------

def _since(platform: Platform, mark: int) -> list[str]:
    with platform.lock:
        return platform.requests[mark:]


def test_a_score_only_grant_posts_to_the_given_line_item_and_touches_nothing_else(
        browser: Browser, lms: Lms, lti_env: Env) -> None:
    """LTI AGS 2.0 §3.1: the platform grants only the score scope (Moodle's "grade sync only"). The
    score still reaches the launch's ``lineitem`` (§3.4), with a token asked for that scope alone; the
    tool never reads or creates a line item (§3.2) and does not read results (§3.3)."""
    platform, tool = lti_env.platform, lti_env.tool
    context, item_id = _graded_launch(browser, lms, scopes={SCORE_SCOPE})
    assert context.ags_scopes == (SCORE_SCOPE,)
    mark, uses = len(platform.requests), len(platform.token_uses)
    outcome = post_score(context, 6, 10, "Completed", "FullyGraded", context.sub, tool=tool)
    assert outcome.status == "delivered"
    assert platform.results[item_id][context.sub]["scoreGiven"] == 6.0
    sent = [r for r in _since(platform, mark) if r != "GET /jwks"]
    assert f"POST /api/lineitems/{item_id}/scores" in sent
    assert not [r for r in sent if "/lineitems" in r and not r.endswith("/scores")], sent  # no line item read or made
    assert {scopes for _, scopes in platform.token_uses[uses:]} == {frozenset({SCORE_SCOPE})}
    with pytest.raises(ServiceNotOffered, match=r"result\.readonly"):
        read_results(context, tool=tool)
    assert not [r for r in _since(platform, mark) if r.endswith("/results")]


def test_a_score_only_grant_without_a_line_item_does_not_look_for_one(browser: Browser, lms: Lms,
                                                                      lti_env: Env) -> None:
    """LTI AGS 2.0 §3.1/§3.2: a container (``lineitems``) but no lineitem scope: the tool may neither find
    nor create its column, so it takes no score — nothing queued, nothing sent."""
    platform, tool = lti_env.platform, lti_env.tool
    context_id, user = f"ctx-{uuid.uuid4().hex[:6]}", f"learner-{uuid.uuid4().hex[:6]}"
    response = browser.launch(platform.resource_link(lms.client, user=user, context_id=context_id,
                                                     lineitems_only=True, ags_scopes={SCORE_SCOPE}), user)
    assert response.status_code == 303
    context = browser.lti_launch()
    mark = len(platform.requests)
    assert can_post_scores(context, tool=tool) is False
    with pytest.raises(ServiceNotOffered, match="no lineitem scope"):
        post_score(context, 6, 10, "Completed", "FullyGraded", context.sub, tool=tool)
    assert _since(platform, mark) == []
    with lti_env.db.session() as session:
        assert session.query(LtiScoreOutbox).filter_by(user_id=user).count() == 0


def test_a_lineitem_readonly_grant_posts_no_score(browser: Browser, lms: Lms, lti_env: Env) -> None:
    """LTI AGS 2.0 §3.1/§3.4: the platform lets the tool read its line item but grants no score scope:
    the tool posts no score and asks for no token; nothing is queued (the player's reporter asks
    ``can_post_scores`` first and logs why it sends nothing, see test_lti_roster.py)."""
    platform, tool = lti_env.platform, lti_env.tool
    context, item_id = _graded_launch(browser, lms, scopes={LINEITEM_READ_SCOPE})
    mark = len(platform.requests)
    assert can_post_scores(context, tool=tool) is False
    with pytest.raises(ServiceNotOffered, match="score scope"):
        post_score(context, 6, 10, "Completed", "FullyGraded", context.sub, tool=tool)
    assert _since(platform, mark) == [] and item_id not in platform.scores
    with lti_env.db.session() as session:
        assert session.query(LtiScoreOutbox).filter_by(user_id=context.sub).count() == 0


# --- the sender's statements name the tenant (issue 17 item 5b) ---------------------------------------


def _by_id_statements(env: Env, run: Callable[[], object]) -> list[str]:
    """The SQL this thread sends while ``run`` runs that picks rows of the sender's tables by id."""
    seen: list[str] = []
    me = threading.get_ident()

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if threading.get_ident() == me and re.search(r"lti_(score_outbox|resource_links)\.id (=|IN)", statement):
            seen.append(" ".join(statement.split()))

    event.listen(env.db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(env.db.engine, "before_cursor_execute", record)
    return seen


def test_the_score_sender_names_the_tenant_whenever_it_picks_a_row_by_id(browser: Browser, lms: Lms,
                                                                        lti_env: Env) -> None:
    """On PostgreSQL these tables' primary keys are (tenant_id, id) (migration 0211): the claim, the
    load, the line item's claim and every save must name the tenant, or they cannot use the key's
    index (a sequential scan per score) and, on Citus, would ask every shard."""
    platform, tool = lti_env.platform, lti_env.tool
    user = f"learner-{uuid.uuid4().hex[:6]}"
    response = browser.launch(platform.resource_link(lms.client, user=user, context_id=f"ctx-{uuid.uuid4().hex[:6]}",
                                                     lineitems_only=True), user)
    assert response.status_code == 303
    context = browser.lti_launch()
    platform.down = True
    try:
        outcome = post_score(context, 7, 10, "Completed", "FullyGraded", context.sub, tool=tool)
    finally:
        platform.down = False
    assert outcome.status == "pending"
    seen = _by_id_statements(lti_env, lambda: retry_pending_scores(tool, now=datetime.now(UTC) + timedelta(hours=3)))
    assert _row(lti_env, context.tenant_id, outcome.outbox_id).status == "delivered"
    # The score's claim, load and save, and its link's load, claim and save (programmatic mode).
    assert sum("UPDATE lti_score_outbox" in s for s in seen) >= 2, seen
    assert any(s.startswith("SELECT") and "FROM lti_score_outbox" in s for s in seen), seen
    assert sum("UPDATE lti_resource_links" in s for s in seen) >= 2, seen
    assert [s for s in seen if not re.search(r"lti_(score_outbox|resource_links)\.tenant_id =", s)] == []
