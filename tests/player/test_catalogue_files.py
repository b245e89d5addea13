"""The course catalogue: the three shipped courses, validation messages that say what is wrong
and where, targets and the Deep Linking picker's ``list_items``, and the ``hocvu courses`` CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from hocvu import configs
from hocvu.cli_courses import courses
from hocvu.settings import Settings
from player import catalogue, catalogue_files
from player.catalogue import CatalogueError, UnknownTarget, load_catalogue
from player.catalogue_files import validate_file, validate_files

SHIPPED = Path(__file__).resolve().parents[2] / "courses"
VNEID = SHIPPED / "ky-nang-so-vneid.yaml"
TARGET = re.compile(r"course/[a-z0-9-]+(/module/[a-z0-9-]+(/(lesson|quiz)/[a-z0-9-]+)?)?")


@pytest.fixture(scope="module")
def shipped() -> catalogue.Catalogue:
    return load_catalogue(SHIPPED)


def test_the_three_shipped_courses_validate() -> None:
    files = catalogue_files.course_files(SHIPPED)
    assert [f.stem for f in files] == ["an-toan-khong-gian-mang", "ky-nang-so-vneid", "tro-ly-ai-hanh-chinh"]
    assert validate_files(files) == []


def test_shipped_courses_are_complete(shipped: catalogue.Catalogue) -> None:
    """Issue 3: 3-5 lessons with real transcripts, and a graded quiz of 5-8 questions, per course."""
    for course in shipped.courses.values():
        assert set(course.title) == {"vi", "en"} and set(course.description) == {"vi", "en"}
        lessons = [lesson for m in course.modules for lesson in m.lessons]
        assert 3 <= len(lessons) <= 5, course.id
        for lesson in lessons:
            assert len(lesson.paragraphs("vi")) >= 3, lesson.target
            assert lesson.video_placeholder and lesson.video_url.startswith("https://media.hocvu.vn/placeholder/")
        quizzes = list(course.quizzes())
        assert any(q.graded for q in quizzes)
        for quiz in quizzes:
            assert 5 <= len(quiz.questions) <= 8, quiz.target
            for q in quiz.questions:
                assert q.correct <= set(q.choice_ids)
                assert all("en" in c.text for c in q.choices)  # the English player needs the choices too


def test_list_items(shipped: catalogue.Catalogue) -> None:
    items = shipped.list_items("en")
    assert all(TARGET.fullmatch(i.target) for i in items)
    by_target = {i.target: i for i in items}
    course = by_target["course/an-toan-khong-gian-mang"]
    assert course.kind == "course" and course.title.startswith("Staying safe online")
    quiz = by_target["course/an-toan-khong-gian-mang/module/phong-tranh-va-xu-ly/quiz/kiem-tra"]
    assert (quiz.kind, quiz.graded, quiz.max_score) == ("quiz", True, 8.0)
    assert course.graded and course.max_score == 8.0  # a course link is graded by its graded quizzes
    lesson = by_target["course/an-toan-khong-gian-mang/module/nhan-dien/lesson/gia-danh-co-quan-chuc-nang"]
    assert (lesson.kind, lesson.graded, lesson.max_score) == ("lesson", False, None)
    module = by_target["course/an-toan-khong-gian-mang/module/nhan-dien"]  # lessons only: not graded
    assert (module.kind, module.graded, module.max_score) == ("module", False, None)
    vi = {i.target: i.title for i in shipped.list_items("vi")}
    assert vi[course.target].startswith("An toàn trên không gian mạng")
    assert {i.kind for i in items} == {"course", "module", "lesson", "quiz"}


def test_the_hub_reads_the_shipped_catalogue_unless_told_otherwise(shipped: catalogue.Catalogue,
                                                                   tmp_path: Path) -> None:
    """HOCVU_COURSES_DIR names a deployment's own catalogue; without it the shipped courses/."""
    assert configs.catalogue(Settings.from_env({})).list_items("vi") == shipped.list_items("vi")
    with pytest.raises(catalogue.CatalogueError, match="no course files"):
        configs.catalogue(Settings.from_env({"HOCVU_COURSES_DIR": str(tmp_path)}))


def test_every_item_resolves_to_its_kind(shipped: catalogue.Catalogue) -> None:
    for item in shipped.list_items("vi"):
        resolved = shipped.resolve(item.target)
        assert resolved.kind == item.kind and resolved.target == item.target


@pytest.mark.parametrize(("target", "reason"), [
    ("course/nope", "no course 'nope'"),
    ("course/ky-nang-so-vneid/module/nope", "has no module 'nope'"),
    ("course/ky-nang-so-vneid/module/nen-tang/lesson/nope", "has no lesson 'nope'"),
    ("course/ky-nang-so-vneid/module/nen-tang/video/x", "neither 'lesson' nor 'quiz'"),
    ("lesson/x", "not a catalogue target"),
])
def test_unknown_targets_say_why(shipped: catalogue.Catalogue, target: str, reason: str) -> None:
    with pytest.raises(UnknownTarget, match=re.escape(reason)):
        shipped.resolve(target)


# --- broken files: each message names the file, the property path, and the problem -----------------

def _broken(tmp_path: Path, change: Callable[[dict[str, Any]], None], name: str = "ky-nang-so-vneid") -> Path:
    data = yaml.safe_load(VNEID.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = (int(p) if p.isdigit() else p for p in path.split("."))
        node: Any = data
        for p in parents:
            node = node[p]
        node[last] = value
    return change


@pytest.mark.parametrize(("change", "where", "what"), [
    (_set("modules.1.quizzes.0.questions.2.correct", ["a", "e"]), "modules[1].quizzes[0].questions[2]",
     "correct answer 'e' is not one of the choices a, b, c, d"),
    (_set("modules.0.lessons.1.title", {"vi": "Chỉ tiếng Việt"}), "modules[0].lessons[1].title",
     "needs text in 'en'"),
    (_set("modules.0.lessons.0.duration", "7 phút"), "modules[0].lessons[0].duration",
     "is not an ISO 8601 duration like PT6M30S"),
    (_set("modules.0.lessons.0.trancript", {"vi": "x"}), "modules[0].lessons[0].trancript",
     "is not a known property here"),
    (_set("modules.1.quizzes.0.questions.0.correct", ["a", "b"]), "modules[1].quizzes[0].questions[0]",
     "a 'single' question has exactly one correct answer, not 2"),
    (_set("modules.1.quizzes.0.passing_score", 70), "modules[1].quizzes[0].passing_score",
     "must be a fraction from 0 to 1"),
    (_set("modules.1.quizzes.0.time_limit", "PT9H"), "modules[1].quizzes[0].time_limit",
     "longer than 4 hours"),
    (_set("modules.0.lessons.1.id", "dien-thoai-an-toan"), "modules[0]",
     "lesson id 'dien-thoai-an-toan' is used more than once"),
    (_set("modules.0.lessons.0.video", {"url": "http://media.hocvu.vn/x.mp4"}), "modules[0].lessons[0].video.url",
     "is not an https:// URL"),
    (_set("modules.1.id", "VNeID"), "modules[1].id", "must be 1-63 characters of a-z"),
])
def test_validation_names_the_place(tmp_path: Path, change: Callable[[dict[str, Any]], None], where: str,
                                    what: str) -> None:
    path = _broken(tmp_path, change)
    problems = validate_file(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: {where}: "), problems[0]
    assert what in problems[0]
    assert re.search(r"\(line \d+\)$", problems[0])  # and where in the file to look


def test_line_number_points_at_the_problem(tmp_path: Path) -> None:
    path = _broken(tmp_path, _set("modules.1.quizzes.0.questions.2.correct", ["e"]))
    [problem] = validate_file(path)
    line = int(re.search(r"\(line (\d+)\)", problem).group(1))  # type: ignore[union-attr]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "khong-chia-se" in lines[line - 1]  # questions[2] starts at its "- id:" line


def test_file_name_must_match_the_course_id(tmp_path: Path) -> None:
    path = _broken(tmp_path, lambda d: None, name="khac")
    assert validate_file(path) == [f"{path}: id 'ky-nang-so-vneid' does not match the file name 'khac'"]


def test_yaml_syntax_errors_give_the_line(tmp_path: Path) -> None:
    path = tmp_path / "hong.yaml"
    path.write_text("id: hong\ntitle: {vi: x, en: y\nmodules: []\n", encoding="utf-8")
    [problem] = validate_file(path)
    assert problem.startswith(f"{path}: not valid YAML (line ")


def test_a_course_file_is_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    assert validate_file(path) == [f"{path}: a course file holds one mapping (id, title, modules, ...), not list"]


def test_load_catalogue_lists_every_problem_and_duplicate_ids(tmp_path: Path) -> None:
    a = _broken(tmp_path, lambda d: None)
    dup = tmp_path / "sub"
    dup.mkdir()
    b = _broken(dup, lambda d: None)
    assert validate_files([a, b]) == [f"{b}: course id 'ky-nang-so-vneid' is also used by {a}"]
    _broken(tmp_path, _set("modules.1.quizzes.0.questions.2.correct", ["e"]), name="hong")
    with pytest.raises(CatalogueError) as err:
        load_catalogue(tmp_path)
    assert [p.split(": ", 1)[1] for p in err.value.problems if "hong.yaml" in p] == [
        "modules[1].quizzes[0].questions[2]: correct answer 'e' is not one of the choices a, b, c, d (line 482)"]


# --- the CLI ------------------------------------------------------------------------------------------

def test_cli_validate_ok() -> None:
    result = CliRunner().invoke(courses, ["validate", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert "3 course file(s) OK" in result.output


def test_cli_validate_reports_and_fails(tmp_path: Path) -> None:
    path = _broken(tmp_path, _set("modules.1.quizzes.0.questions.2.correct", ["e"]))
    result = CliRunner().invoke(courses, ["validate", str(VNEID), str(path)])
    assert result.exit_code == 1
    assert f"{path}: modules[1].quizzes[0].questions[2]: correct answer 'e'" in result.output


def test_cli_list_json_and_text() -> None:
    runner = CliRunner()
    result = runner.invoke(courses, ["list", "--json", "--locale", "en", "--dir", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert {"target", "title", "kind", "graded", "max_score"} == set(items[0])
    assert any(i["title"] == "Using AI assistants in administrative work" for i in items)
    text = runner.invoke(courses, ["list", "--dir", str(SHIPPED)]).output
    assert "course/tro-ly-ai-hanh-chinh/module/tra-cuu-va-phuc-vu-nguoi-dan/quiz/kiem-tra\tquiz\tgraded /7\t" in text
