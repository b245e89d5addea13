"""Identity assurance in the course files and the gate's settings (issue 4, item 4): the
``identity`` property of a quiz or course (schemas/course.py), its messages, its inheritance, the
shipped demo quiz that requires it, the face key, and the recheck moments the server draws."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from hocvu.settings import SettingError, Settings
from identity.gate.domain import consume
from identity.gate.face import AssuranceConfig, face_key_from
from identity.storage import AttemptAssurance
from player.catalogue import IdentityRequirement, load_catalogue
from player.catalogue_files import validate_file
from tests.identity.gate.gate_support import QUIZ, IdentityEnv
from tests.player.player_support import SHIPPED

COURSE_FILE = Path(__file__).resolve().parents[3] / "courses" / "an-toan-khong-gian-mang.yaml"


def course_with(tmp_path: Path, *, course: Any = None, quiz: Any = None) -> Path:
    data = yaml.safe_load(COURSE_FILE.read_text(encoding="utf-8"))
    if course is not None:
        data["identity"] = course
    if quiz is not None:
        data["modules"][-1]["quizzes"][0]["identity"] = quiz
    path = tmp_path / COURSE_FILE.name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_demo_quiz_requires_identity() -> None:
    """`make run` shows the flow: one shipped quiz requires level 2 and rechecks every 3-7 minutes."""
    quiz = SHIPPED.resolve(QUIZ).quiz
    assert quiz is not None and quiz.identity == IdentityRequirement(2, 180, 420)
    others = [q for c in SHIPPED.courses.values() for q in c.quizzes() if q.target != QUIZ]
    assert others and all(q.identity is None for q in others)


def test_course_level_identity_applies_to_its_quizzes_unless_they_opt_out(tmp_path: Path) -> None:
    path = course_with(tmp_path, course={"min_level": 1})
    [quiz] = load_catalogue(path).courses["an-toan-khong-gian-mang"].quizzes()
    assert quiz.identity == IdentityRequirement(1, None, None)  # required defaults to true
    path = course_with(tmp_path, course={"required": True}, quiz={"required": False})
    [quiz] = load_catalogue(path).courses["an-toan-khong-gian-mang"].quizzes()
    assert quiz.identity is None
    path = course_with(tmp_path, quiz={"recheck": {"min_seconds": 60, "max_seconds": 60}})
    [quiz] = load_catalogue(path).courses["an-toan-khong-gian-mang"].quizzes()
    assert quiz.identity == IdentityRequirement(2, 60, 60)  # min_level defaults to 2


@pytest.mark.parametrize(("identity", "message"), [
    ({"min_level": 3}, "identity.min_level: must be 1 or 2 (VNeID identification level)"),
    ({"recheck": {"min_seconds": 300, "max_seconds": 120}}, "identity.recheck: max_seconds must not be less"),
    ({"recheck": {"min_seconds": 5, "max_seconds": 60}}, "identity.recheck.min_seconds: must be a whole number"),
    ({"recheck": {"min_seconds": 60}}, "identity.recheck.max_seconds: Missing data"),
    ({"requried": True}, "identity.requried: is not a known property here"),
], ids=["level", "order", "too-often", "missing-max", "misspelt"])
def test_identity_mistakes_are_named(tmp_path: Path, identity: dict[str, Any], message: str) -> None:
    """schemas/course.py: every rule names the property and says what is wrong."""
    problems = validate_file(course_with(tmp_path, quiz=identity))
    assert len(problems) == 1 and f"modules[1].quizzes[0].{message}" in problems[0], problems


def test_face_key_from_the_settings_or_derived_from_the_secret() -> None:
    """HOCVU_FACE_KEY (base64, 16/24/32 bytes) wins; else HKDF-SHA256 of the app secret under its
    own label (RFC 5869), never the secret itself; a malformed key is a start-up error."""
    key = bytes(range(32))
    assert face_key_from("s", base64.b64encode(key).decode()) == key
    derived = face_key_from("app-secret")
    assert derived is not None and len(derived) == 32 and derived == face_key_from("app-secret", "")
    assert derived != face_key_from("other-secret") and b"app-secret" not in derived
    assert face_key_from("") is None
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError, match="face key"):
            face_key_from("s", bad)
        with pytest.raises(SettingError, match="HOCVU_FACE_KEY"):
            Settings.from_env({"HOCVU_FACE_KEY": bad})
    cfg = AssuranceConfig(face_key=key, pepper=b"p" * 16, instance_dir=Path("x"))
    assert base64.b64encode(key).decode() not in repr(cfg) and "p" * 16 not in repr(cfg)


def test_recheck_moments_are_drawn_within_the_bounds(identity_env: IdentityEnv) -> None:
    """Each recheck falls due at a random moment in [min_seconds, max_seconds] after the last."""
    now = datetime.now(UTC)
    with identity_env.db.session() as s:
        learner = identity_env.learner()
        draws = []
        for seed in range(20):
            row = AttemptAssurance(tenant_id=learner.launch.tenant_id, registration="r", target=QUIZ,
                                   session_id=f"s-{seed}", pending_key=f"k-{seed}", account_id=1, subject="x",
                                   level=2, signed_in_at=now, min_level=2, checks=0, created=now)
            s.add(row)
            consume(s, row, now, recheck=(180, 420), rng=random.Random(seed))
            assert row.pending_key is None and row.recheck_due is not None
            draws.append((row.recheck_due - now).total_seconds())
        s.rollback()
    assert all(180 <= d <= 420 for d in draws) and len({round(d) for d in draws}) > 10
    assert timedelta(seconds=min(draws)) >= timedelta(seconds=180)
