"""Shared by the player tests: a learner's player session put straight into the browser's cookie (what a
source such as an LTI launch does), and a
reader for the tenant's LRS through the xAPI API (the player writes; the test reads as a client would)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from lrs import credentials
from player.catalogue import load_catalogue
from player.domain import registration_for
from player.session import KEY, Learner, PlayerSession
from tests.conftest import Xapi, new_credential

CSRF = "test-form-token"
SHIPPED = load_catalogue(Path(__file__).resolve().parents[2] / "courses")
ADL = "http://adlnet.gov/expapi/verbs/"
BASE = "https://hocvu.vn/xapi/activities/"


def open_player(app: Flask, target: str, *, issuer: str, name: str = "", tenant_slug: str | None = None,
                **kw: Any) -> tuple[PlayerSession, FlaskClient, Xapi]:
    """A tenant (a new one, or ``tenant_slug``'s), a learner's session in it, the learner's browser, and a
    reader for the tenant's LRS. The learner is an account at ``issuer`` (an LMS, as an LTI launch would
    open it)."""
    slug, key, secret = new_credential(app, ["all"], tenant_slug)
    with app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, slug).id
    launch = PlayerSession(tenant_id=tenant_id, learner=Learner(issuer, f"hv-{uuid.uuid4().hex[:10]}", name),
                           link=f"rl-{uuid.uuid4().hex[:8]}", target=target, **kw)
    client = app.test_client()
    with client.session_transaction() as sess:
        sess[KEY] = launch.to_session()
        sess["csrf"] = CSRF
    return launch, client, Xapi(app.test_client(), key, secret, version="2.0.0")


def read(xapi: Xapi, launch: PlayerSession) -> list[dict[str, Any]]:
    res = xapi.get("statements", registration=registration_for(launch), ascending="true")
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()["statements"]  # type: ignore[no-any-return]


def verbs(statements: list[dict[str, Any]]) -> list[str]:
    return [s["verb"]["id"].removeprefix(ADL) for s in statements]


def categories(st: dict[str, Any]) -> set[str]:
    return {a["id"] for a in st["context"]["contextActivities"].get("category", [])}


def answers(target: str, wrong: int = 0) -> dict[str, list[str]]:
    """The right answers to a shipped quiz, with the first ``wrong`` questions answered wrongly."""
    quiz = SHIPPED.resolve(target).quiz
    assert quiz is not None
    out = {}
    for i, q in enumerate(quiz.questions):
        right = sorted(q.correct)
        out[q.id] = right if i >= wrong else [next(c for c in q.choice_ids if c not in q.correct)]
    return out


def form(chosen: dict[str, list[str]], csrf: str = CSRF) -> dict[str, Any]:
    return {"csrf": csrf, **{f"q.{qid}": choices for qid, choices in chosen.items()}}
