"""Course files may name the DigComp 2.2 competences a course builds (``schemas.course.CompetenceSchema``):
checked against the framework's 21 codes, each at most once; the shipped courses name theirs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from marshmallow import ValidationError

from schemas.course import load_course
from schemas.digcomp import AREAS, COMPETENCES

COURSES = Path(__file__).resolve().parents[2] / "courses"


def _course(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((COURSES / "ky-nang-so-vneid.yaml").read_text(encoding="utf-8"))
    data.update(extra)
    return data


def test_digcomp_has_its_21_competences_in_5_areas() -> None:
    assert len(COMPETENCES) == 21 and set(AREAS) == {"1", "2", "3", "4", "5"}
    assert {c.area for c in COMPETENCES.values()} == set(AREAS)
    assert all(c.en and c.vi for c in COMPETENCES.values())


def test_every_shipped_course_is_aligned_to_digcomp() -> None:
    for path in sorted(COURSES.glob("*.yaml")):
        loaded = load_course(yaml.safe_load(path.read_text(encoding="utf-8")))
        assert loaded["competences"], path.name
        assert all(c["framework"] == "digcomp-2.2" and c["code"] in COMPETENCES for c in loaded["competences"])


def test_competences_are_optional() -> None:
    data = _course()
    del data["competences"]
    assert load_course(data)["competences"] == []


@pytest.mark.parametrize(("competences", "message"), [
    ([{"code": "6.1"}], "must be a DigComp 2.2 competence code"),
    ([{"code": 4.2}], "Not a valid string"),  # unquoted in YAML: a number, not a code
    ([{"framework": "esco", "code": "4.2"}], "must be 'digcomp-2.2'"),
    ([{"code": "4.2", "level": 3}], "is not a known property here"),
    ([{"code": "4.2"}, {"framework": "digcomp-2.2", "code": "4.2"}],
     "competence digcomp-2.2 4.2 is listed more than once"),
])
def test_bad_competences_are_named(competences: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load_course(_course(competences=competences))
    assert message in str(caught.value.messages)
