"""AGS 2.0 scores reach the platform's line item — through an outage too, exactly once."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from lti_tool.ags import _claim, post_score, retry_pending_scores
from lti_tool.errors import InvalidScore, ServiceNotOffered
from lti_tool.launch_context import LaunchContext
from lti_tool.storage import LtiScoreOutbox
from tests.lti.conftest import Browser, Env, Lms


def _graded_launch(browser: Browser, lms: Lms, lineitem: str | None = None) -> tuple[LaunchContext, str]:
    platform = lms.env.platform
    context_id = f"ctx-{uuid.uuid4().hex[:6]}"
    lineitem = lineitem or platform.add_line_item(context_id, "Bài kiểm tra", 10)
    user = f"learner-{uuid.uuid4().hex[:6]}"
    response = browser.launch(platform.resource_link(lms.client, user=user, context_id=context_id,
                                                     lineitem=lineitem), user)
    assert response.status_code == 303
    return browser.lti_launch(), lineitem.rsplit("/", 1)[1]


def _row(env: Env, outbox_id: int) -> LtiScoreOutbox:
    with env.db.session() as session:
        row = session.get(LtiScoreOutbox, outbox_id)
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
    row = _row(lti_env, outcome.outbox_id)
    assert row.status == "delivered" and row.attempts == 1 and row.delivered is not None


def test_platform_down_then_back_delivers_exactly_once(browser: Browser, lms: Lms, lti_env: Env) -> None:
    platform, tool = lti_env.platform, lti_env.tool
    context, item_id = _graded_launch(browser, lms)
    platform.down = True
    try:
        outcome = post_score(context, 6, 10, "Completed", "FullyGraded", context.sub, tool=tool)
        assert outcome.status == "pending" and "503" in (outcome.error or "")
        row = _row(lti_env, outcome.outbox_id)
        assert row.attempts == 1 and row.status == "pending"
        # Not due yet: nothing is sent before the backoff delay.
        assert retry_pending_scores(tool).delivered == 0
        # Still down when due: the delay doubles.
        first_delay = row.next_attempt.replace(tzinfo=UTC) - row.created.replace(tzinfo=UTC)
        later = datetime.now(UTC) + timedelta(minutes=5)
        report = retry_pending_scores(tool, now=later)
        assert report.delivered == 0 and report.pending >= 1
        row = _row(lti_env, outcome.outbox_id)
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
    row = _row(lti_env, outcome.outbox_id)
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
    assert _row(lti_env, outcome.outbox_id).score["scoreGiven"] == 1.0   # kept for an operator


def test_one_sender_at_a_time(browser: Browser, lms: Lms, lti_env: Env) -> None:
    context, _ = _graded_launch(browser, lms)
    lti_env.platform.down = True
    try:
        outcome = post_score(context, 2, 10, "Completed", "FullyGraded", context.sub, tool=lti_env.tool)
    finally:
        lti_env.platform.down = False
    now = datetime.now(UTC) + timedelta(hours=3)
    with lti_env.db.session() as session:
        assert _claim(session, outcome.outbox_id, now) is True
        assert _claim(session, outcome.outbox_id, now) is False   # a second sender backs off


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
        session.execute(update(LtiScoreOutbox).where(LtiScoreOutbox.id == outcome.outbox_id)
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
    assert _row(lti_env, outcome.outbox_id).status == "delivered"
