"""Retention of face enrolments (issue 12, item 3): an enrolment is kept HOCVU_FACE_RETENTION_DAYS after
its consent, then deleted — by `hocvu identity purge-enrolments`, by each web process every
HOCVU_FACE_PURGE_SECONDS, and at the gate when it would be used (Decree 13/2023/NĐ-CP Art. 3: kept no
longer than the purpose needs; Art. 16: storage and deletion; Personal Data Protection Law 2025).
The settings are validated: a value out of range stops the start, it is never clamped silently."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from face_check import generate_key
from hocvu import configs
from hocvu.app import create_app
from hocvu.cli import main
from hocvu.settings import SettingError, Settings
from identity import storage
from identity.gate.face import AssuranceConfig, current_enrolment, purge_expired
from identity.oidc_client import VerifiedIdentity
from identity.settings import AssurancePolicy, IdentitySettings
from lrs.storage import Database
from tests.conftest import run_instance

NOW = datetime.now(UTC)


def _account(app: Flask, consented_days_ago: float) -> int:
    """An account with an enrolment consented ``consented_days_ago`` days ago."""
    with app.extensions["hocvu.db"].session() as s:
        signed_in = VerifiedIdentity(issuer="https://vneid.example", subject_hmac=uuid.uuid4().hex * 2, name=None,
                                     birthdate=None, citizen_id_hmac=None, level=2)
        account = storage.record_sign_in(s, signed_in)
        when = NOW - timedelta(days=consented_days_ago)
        storage.save_face_enrolment(s, account.id, ciphertext=b"hvfe1-sealed", model="Dlib", detector="dlib",
                                    consent_at=when, now=when)
        s.commit()
        return account.id


def _enrolled(app: Flask, *accounts: int) -> list[bool]:
    with app.extensions["hocvu.db"].session() as s:
        return [storage.face_enrolment(s, a) is not None for a in accounts]


@pytest.fixture
def app(make_app: Callable[[IdentitySettings], Flask]) -> Flask:
    return make_app(IdentitySettings())


def test_purge_deletes_only_what_is_past_the_period(app: Flask) -> None:
    """Decree 13/2023/NĐ-CP Art. 16: past the period the reference is deleted; within it, kept."""
    old, recent = _account(app, 400), _account(app, 10)
    with app.extensions["hocvu.db"].session() as s:
        assert purge_expired(s, AssurancePolicy(face_retention_days=365), NOW) >= 1
        s.commit()
    assert _enrolled(app, old, recent) == [False, True]


def test_an_expired_enrolment_is_not_used_at_the_gate(app: Flask, tmp_path: Path) -> None:
    """Between two purges the gate itself deletes an expired reference instead of checking against it."""
    old = _account(app, 40)
    cfg = AssuranceConfig(face_key=generate_key(), pepper=b"p" * 32, instance_dir=tmp_path,
                          policy=AssurancePolicy(face_retention_days=30))
    with app.extensions["hocvu.db"].session() as s:
        assert current_enrolment(s, cfg, old, NOW) is None
        s.commit()
    assert _enrolled(app, old) == [False]


def test_the_command_counts_then_deletes(app: Flask, identity_db_url: str) -> None:
    """`hocvu identity purge-enrolments` (for cron when the in-process purge is off); --dry-run deletes
    nothing. It names no one: a count only."""
    old = _account(app, 100)
    env = {"HOCVU_DATABASE_URL": identity_db_url, "HOCVU_FACE_RETENTION_DAYS": "90", "HOCVU_SECRET_KEY": "x"}
    dry = CliRunner().invoke(main, ["identity", "purge-enrolments", "--dry-run"], env=env)
    assert dry.exit_code == 0 and "would delete" in dry.output and _enrolled(app, old) == [True]
    done = CliRunner().invoke(main, ["identity", "purge-enrolments"], env=env)
    assert done.exit_code == 0 and "deleted" in done.output and "90 days" in done.output
    assert _enrolled(app, old) == [False]


def test_each_web_process_purges_on_a_schedule(identity_db_url: str) -> None:
    """HOCVU_FACE_PURGE_SECONDS: the app starts the periodic purge (its round is the same function)."""
    def app_with(**values: float) -> Flask:
        return create_app(Settings.of(instance_dir=run_instance(),
                                      database_url=identity_db_url, secret_key="test-secret", **values),
                          db=Database(identity_db_url), identity=IdentitySettings())

    app = app_with(face_purge_seconds=120, face_retention_days=30)
    task = app.extensions["identity.face_purge"]
    try:
        assert task.every == 120
        old = _account(app, 31)
        task.work()
        assert _enrolled(app, old) == [False]
    finally:
        task.stop(timeout=0.1)
    assert "identity.face_purge" not in app_with(face_purge_seconds=0).extensions


@pytest.mark.parametrize(("name", "value"), [
    ("HOCVU_FACE_RETENTION_DAYS", "0"), ("HOCVU_FACE_RETENTION_DAYS", "3650"), ("HOCVU_FACE_PURGE_SECONDS", "10"),
    ("HOCVU_FACE_CROSSMATCH_MAX", "-1"), ("HOCVU_FACE_CROSSMATCH_MAX", "50000"), ("HOCVU_AUDIT_REPEATED_FAILURES", "1"),
    ("HOCVU_FACE_RETENTION_DAYS", "a year")])
def test_settings_out_of_range_stop_the_start(name: str, value: str) -> None:
    with pytest.raises(SettingError, match=name):
        Settings.from_env({name: value})


def test_settings_defaults_and_values() -> None:
    assert configs.assurance_policy(Settings.from_env({})) == AssurancePolicy()
    policy = configs.assurance_policy(Settings.from_env({
        "HOCVU_DATA_CONTROLLER": " Bộ Giáo dục và Đào tạo ", "HOCVU_FACE_PURGE_SECONDS": "0",
        "HOCVU_FACE_RETENTION_DAYS": "180", "HOCVU_AUDIT_REPEATED_FAILURES": "5"}))
    assert (policy.controller, policy.face_purge_seconds, policy.face_retention_days, policy.repeated_failures) == (
        "Bộ Giáo dục và Đào tạo", 0, 180, 5)
    with pytest.raises(ValueError, match="HOCVU_DEMO_IDP_SUB"):
        IdentitySettings.demo("http://hub", "s", Path("/nonexistent"), pepper=b"p" * 32, demo_sub="cccd").validate()
