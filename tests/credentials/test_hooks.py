"""The hooks the composition root hands to the player and the LTI tool (``credentials.hooks``): after a
quiz attempt, the credential is issued when the course is complete and never otherwise; the AGS
comment carries its link (AGS 2.0 §3.4 Score ``comment``); a failure never reaches the caller."""

from __future__ import annotations

from flask import Flask

from credentials.hooks import CredentialHooks
from hocvu.app import CREDENTIAL_HOOKS
from tests.credentials.support import COURSE, learner


def test_quiz_finished_issues_once_the_course_is_complete(sqlite_app: Flask) -> None:
    hooks: CredentialHooks = sqlite_app.extensions[CREDENTIAL_HOOKS]
    who = learner(sqlite_app)
    args = (who.launch.tenant_id, who.launch.learner.home_page, who.launch.learner.account)
    assert hooks.quiz_finished(*args, COURSE) is None          # nothing passed yet
    assert hooks.ags_comment(*args, COURSE) is None
    who.pass_quiz(wrong=5)
    assert hooks.quiz_finished(*args, COURSE) is None          # failed: still not complete
    who.pass_quiz()
    url = hooks.quiz_finished(*args, COURSE)
    assert url is not None and url.startswith("http://127.0.0.1:8000/credentials/")
    assert hooks.quiz_finished(*args, COURSE) == url           # idempotent: the same live credential
    assert hooks.credential_link(*args, COURSE) == url
    assert hooks.ags_comment(*args, COURSE) == f"Chứng chỉ số / Digital credential: {url}"
    assert [c["id"] for c in who.mine()] == [url]


def test_a_failure_is_logged_not_raised(sqlite_app: Flask) -> None:
    hooks: CredentialHooks = sqlite_app.extensions[CREDENTIAL_HOOKS]
    assert hooks.quiz_finished(10**9, "https://lms.example.vn", "nobody", "no-such-course") is None


def test_the_player_issues_the_credential_when_the_last_quiz_is_passed(sqlite_app: Flask) -> None:
    """Wired by the composition root: the player's attempt-finished listener calls quiz_finished, so a
    learner who completes the course holds a credential without asking (OB 3.0 §1: issued on
    achievement); a failed attempt issues nothing."""
    who = learner(sqlite_app)
    who.pass_quiz(wrong=5)
    assert who.mine() == []
    who.pass_quiz()
    [held] = who.mine()
    assert held["course_id"] == COURSE and held["status"] == "live"
