"""Shared by the credential tests: a learner who completes a shipped course through the real player
(quiz pages, statements in the tenant's LRS), the credential issued through the learner's own API,
and the independent verifier (npm @digitalbazaar/vc, tests/credentials/verifier) run on it."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from credentials.config import CredentialsConfig, Holder
from credentials.http import CONFIG_EXT
from player.session import PlayerSession
from tests.conftest import Xapi
from tests.player.player_support import CSRF, SHIPPED, answers, form, open_player

VERIFIER = Path(__file__).resolve().parent / "verifier"
ISSUER = "https://lms.mic.example.vn"
COURSE = "an-toan-khong-gian-mang"          # one graded quiz, no identity requirement
QUIZ = "course/an-toan-khong-gian-mang/module/phong-tranh-va-xu-ly/quiz/kiem-tra"
IDENTITY_COURSE = "tro-ly-ai-hanh-chinh"    # its quiz requires VNeID level 2 and a face check


@dataclass
class Learner:
    app: Flask
    launch: PlayerSession
    client: FlaskClient
    xapi: Xapi

    @property
    def holder(self) -> Holder:
        learner = self.launch.learner
        return Holder(self.launch.tenant_id, learner.home_page, learner.account)

    def pass_quiz(self, target: str = QUIZ, wrong: int = 0) -> None:
        assert self.client.post(f"/player/start/{target}", data={"csrf": CSRF}).status_code == 303
        assert self.client.post(f"/player/submit/{target}", data=form(answers(target, wrong=wrong))).status_code == 303

    def issue(self, course: str = COURSE, name: str | None = None) -> Any:
        body: dict[str, Any] = {"csrf": CSRF}
        if name is not None:
            body["name"] = name
        return self.client.post(f"/credentials/mine/{course}/issue", json=body)

    def mine(self) -> list[dict[str, Any]]:
        res = self.client.get("/credentials/mine")
        assert res.status_code == 200, res.get_data(as_text=True)
        return res.get_json()["credentials"]  # type: ignore[no-any-return]


def learner(app: Flask, course: str = COURSE) -> Learner:
    launch, client, xapi = open_player(app, f"course/{course}", issuer=ISSUER)
    return Learner(app, launch, client, xapi)


def completed(app: Flask, course: str = COURSE, name: str | None = None) -> tuple[Learner, dict[str, Any]]:
    """A learner who passed every graded quiz of ``course``, and their credential (as downloaded)."""
    who = learner(app, course)
    for quiz in SHIPPED.resolve(f"course/{course}").graded_quizzes():
        who.pass_quiz(quiz.target)
    res = who.issue(course, name)
    # 200: the player's hook issued it when the last quiz was passed; 201: issued (or re-issued
    # under the chosen name) now.
    assert res.status_code in (200, 201), res.get_data(as_text=True)
    download = who.client.get(res.get_json()["links"]["json"])
    assert download.status_code == 200
    return who, json.loads(download.get_data())


def cfg(app: Flask) -> CredentialsConfig:
    found: CredentialsConfig = app.extensions[CONFIG_EXT]
    return found


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def served_documents(client: FlaskClient, *credentials: dict[str, Any]) -> dict[str, Any]:
    """The issuer DID documents and status lists the credentials point at, as the app serves them."""
    docs: dict[str, Any] = {}
    for credential in credentials:
        issuer = credential["issuer"]["id"]
        parts = issuer.split(":")
        path = "/.well-known/did.json" if len(parts) == 3 else "/" + "/".join(parts[3:]) + "/did.json"
        docs[issuer] = client.get(path).get_json()
        status_url = credential["credentialStatus"]["statusListCredential"]
        docs[status_url] = json.loads(client.get(path_of(status_url)).get_data())
    return docs


def independent_verifier(credentials: list[dict[str, Any]], documents: dict[str, Any],
                         now: str | None = None) -> list[dict[str, Any]]:
    """Run npm @digitalbazaar/vc on ``credentials``; skipped (saying why) without node or its packages."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the independent verifier cannot run")
    if not (VERIFIER / "node_modules" / "@digitalbazaar" / "vc" / "package.json").exists():
        pytest.skip(f"run `npm ci --prefix {VERIFIER}` (make test does) for the independent verifier")
    payload = {"credentials": credentials, "documents": documents, **({"now": now} if now else {})}
    done = subprocess.run([node, "verify.mjs"], cwd=VERIFIER, input=json.dumps(payload), capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out: list[dict[str, Any]] = json.loads(done.stdout)
    return out
