"""The alternative to face enrolment (issue 12, item 3): a supervised in-person check recorded by an
instructor or administrator with `hocvu identity supervised-check` (Decree 13/2023/NĐ-CP Art. 11: consent
is freely given, so refusing it leaves a way to be assessed). The record is a hub-signed statement of the
learner's attempt, stamped ``method: supervised`` at a lower assurance level — never "verified" — and the
auditor lists it as such, with its own filter.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from hocvu.cli import main
from identity import storage
from identity.claims import subject_hmac
from identity.oidc_client import VerifiedIdentity
from identity.settings import IdentitySettings
from identity.stamp import STAMP_IRI, build_supervised_stamp, pseudonym_of
from lrs import credentials
from tests.conftest import new_credential

PEPPER = b"supervised-test-pepper-0123456789"
LMS = "https://lms.moha.example.vn"
QUIZ = "https://hocvu.vn/xapi/activities/course/c1/module/m1/quiz/q1"


@pytest.fixture
def hub(make_app: Callable[[IdentitySettings], Flask], tmp_path: Path,
        identity_db_url: str) -> tuple[Flask, dict[str, str]]:
    """The app and the command's environment, sharing one database and one hub key (instance folder)."""
    instance = tmp_path / "instance"
    app = make_app(IdentitySettings(instance_dir=instance, pepper=PEPPER))
    env = {"HOCVU_DATABASE_URL": identity_db_url, "HOCVU_INSTANCE_DIR": str(instance), "HOCVU_SECRET_KEY": "s",
           "HOCVU_VNEID_PEPPER": PEPPER.decode(), "HOCVU_VNEID_ISSUER": "", "HOCVU_DEMO_IDP": "1"}
    return app, env


def _linked_learner(app: Flask, tenant_id: int) -> tuple[str, str]:
    """An LMS learner of the tenant linked to a level-2 VNeID account (no face enrolled)."""
    learner = f"hv-{uuid.uuid4().hex[:8]}"
    key = subject_hmac(PEPPER, "https://vneid.gov.vn", uuid.uuid4().hex)
    with app.extensions["hocvu.db"].session() as s:
        account = storage.record_sign_in(s, VerifiedIdentity("https://vneid.gov.vn", key, "Nguyễn Văn An", None,
                                                             None, 2))
        storage.bind_external_identity(s, account.id, tenant_id=tenant_id, issuer=LMS, subject=learner)
        s.commit()
    return learner, pseudonym_of(key)


def _record(env: dict[str, str], slug: str, learner: str, *extra: str) -> Any:
    return CliRunner().invoke(main, ["identity", "supervised-check", "--tenant", slug, "--learner-home-page", LMS,
                                     "--learner-account", learner, "--activity", QUIZ,
                                     "--supervisor", "Trần Thị Giám Sát (GV-017)", *extra], env=env)


def _auditor(app: Flask) -> dict[str, str]:
    with app.extensions["hocvu.db"].session() as s:
        cred, secret = credentials.create_national_credential(s, "auditor", "supervised test")
        s.commit()
    return {"Authorization": "Basic " + base64.b64encode(f"{cred.key}:{secret}".encode()).decode()}


def test_a_supervised_check_is_recorded_signed_and_never_verified(hub: tuple[Flask, dict[str, str]]) -> None:
    app, env = hub
    slug, _, _ = new_credential(app, ["all"])
    with app.extensions["hocvu.db"].session() as s:
        tenant_id = credentials.get_tenant(s, slug).id
    learner, pseudonym = _linked_learner(app, tenant_id)
    result = _record(env, slug, learner)
    assert result.exit_code == 0, result.output
    assert pseudonym in result.output and "outcome: supervised" in result.output

    auth = _auditor(app)
    client = app.test_client()
    [attempt] = client.get("/audit/attempts.json", query_string={"tenant": slug}, headers=auth).get_json()["attempts"]
    assert attempt["outcome"] == "supervised" and attempt["problems"] == ["supervised"]
    assert attempt["subject"] == pseudonym and attempt["level"] == 2
    assert [(c["kind"], c["outcome"], c["success"]) for c in attempt["checks"]] == [("supervised", "supervised", True)]
    assert attempt["failed_checks"] == 0 and {s["signature"] for s in attempt["statements"]} == {"valid"}
    assert {s["chain"] for s in attempt["statements"]} == {"included"}
    only = client.get("/audit/attempts.json", query_string={"tenant": slug, "problem": "supervised"}, headers=auth)
    assert len(only.get_json()["attempts"]) == 1
    unverified = client.get("/audit/attempts.json", query_string={"tenant": slug, "problem": "unverified"},
                            headers=auth)
    assert unverified.get_json()["attempts"] == []

    with app.extensions["hocvu.db"].session() as s:
        from sqlalchemy import select

        from lrs.storage import Statement

        [row] = s.scalars(select(Statement).where(Statement.tenant_id == tenant_id))
        stamp = row.full["context"]["extensions"][STAMP_IRI]
    assert stamp["method"] == stamp["assurance"] == stamp["outcome"] == "supervised"
    assert stamp["document"] == "cccd" and stamp["supervisor"] == "Trần Thị Giám Sát (GV-017)" and stamp["level"] == 2
    assert "faceDistance" not in stamp and "verified" not in stamp.values()


def test_a_learner_never_linked_to_vneid_gets_an_lms_pseudonym(hub: tuple[Flask, dict[str, str]]) -> None:
    app, env = hub
    slug, _, _ = new_credential(app, ["all"])
    result = _record(env, slug, "hv-not-linked", "--document", "passport")
    assert result.exit_code == 0, result.output
    assert re.search(r"hocvu-lms-subject:[0-9a-f]{64}", result.output)


@pytest.mark.parametrize(("args", "why"), [
    (["--supervisor", "GV 003192123456"], "citizen ID"),   # a supervisor named by a citizen ID is refused
    (["--document", "cmnd"], "Invalid value"),
])
def test_refusals_store_nothing(hub: tuple[Flask, dict[str, str]], args: list[str], why: str) -> None:
    app, env = hub
    slug, _, _ = new_credential(app, ["all"])
    result = _record(env, slug, "hv-x", *args)
    assert result.exit_code != 0 and why in result.output
    with app.extensions["hocvu.db"].session() as s:
        from sqlalchemy import func, select

        from lrs.storage import Statement

        tenant_id = credentials.get_tenant(s, slug).id
        assert s.scalar(select(func.count()).select_from(Statement).where(Statement.tenant_id == tenant_id)) == 0


def test_the_supervised_stamp_is_never_verified() -> None:
    stamp = build_supervised_stamp(subject="hocvu-subject:" + "a" * 64, supervised_at=datetime.now(UTC),
                                   supervisor="GV-017", document="cccd", level=2)
    assert stamp["outcome"] == "supervised" and stamp["method"] == "supervised"
    with pytest.raises(ValueError):
        build_supervised_stamp(subject="003192123456", supervised_at=datetime.now(UTC), supervisor="GV",
                               document="cccd")
