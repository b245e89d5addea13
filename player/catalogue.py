"""The course catalogue: the courses in ``courses/*.yaml``, addressed by catalogue targets.

A target names one item: ``course/<c>``, ``course/<c>/module/<m>``,
``course/<c>/module/<m>/lesson/<l>`` or ``course/<c>/module/<m>/quiz/<q>``. Deep Linking stores a
target in the LMS's link (custom parameter), a launch hands it to the player in
``PlayerSession.target``, and the player's xAPI Activity ids are built from it, so a target
never changes meaning once published. Flask-free; the file format is ``schemas.course``, read and
checked by ``player.catalogue_files``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from player.catalogue_files import course_files, read_files
from schemas.course import duration_seconds

Kind = Literal["course", "module", "lesson", "quiz", "package", "au"]
# More linkable items from elsewhere (imported packages: ``player.packages``), listed after the YAML
# courses: called with the locale, in an app context.
ItemsProvider = Callable[[str], "list[CatalogueItem]"]
# xAPI Activity ids of catalogue items are this prefix + the target (see ``activity_id``).
ACTIVITY_BASE = "https://hocvu.vn/xapi/activities/"
DEFAULT_COURSES_DIR = Path(__file__).resolve().parent.parent / "courses"


class CatalogueError(Exception):
    """The catalogue cannot be loaded; ``problems`` says what is wrong and where, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the course catalogue is invalid:\n" + "\n".join(problems))
        self.problems = problems


class UnknownTarget(LookupError):
    """A target that names nothing in the catalogue (or is not a target at all)."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"{target!r}: {reason}")
        self.target, self.reason = target, reason


def localized(text: Mapping[str, str], locale: str) -> str:
    """The text in ``locale``, else Vietnamese (the language every text has)."""
    return text.get(locale) or text["vi"]


def activity_id(target: str) -> str:
    return ACTIVITY_BASE + target


@dataclass(frozen=True)
class Choice:
    id: str
    text: Mapping[str, str]


@dataclass(frozen=True)
class Question:
    id: str
    type: Literal["single", "multiple"]
    text: Mapping[str, str]
    choices: tuple[Choice, ...]
    correct: frozenset[str]
    points: int
    explanation: Mapping[str, str] | None

    @property
    def choice_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.choices)


@dataclass(frozen=True)
class IdentityRequirement:
    """A quiz that requires identity assurance (``schemas.course.IdentitySchema``): VNeID sign-in
    at ``min_level`` or above and a face check before the attempt, repeated every
    [recheck_min_seconds, recheck_max_seconds] during it when those are set."""

    min_level: int = 2
    recheck_min_seconds: int | None = None
    recheck_max_seconds: int | None = None

    @property
    def recheck(self) -> tuple[int, int] | None:
        """The interval of the repeated checks, or None when none is scheduled."""
        if self.recheck_min_seconds is None or self.recheck_max_seconds is None:
            return None
        return self.recheck_min_seconds, self.recheck_max_seconds


@dataclass(frozen=True)
class Quiz:
    id: str
    target: str
    title: Mapping[str, str]
    graded: bool
    passing_score: float
    time_limit_seconds: int | None
    questions: tuple[Question, ...]
    identity: IdentityRequirement | None = None  # None: no identity assurance required

    @property
    def max_score(self) -> int:
        return sum(q.points for q in self.questions)

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)


@dataclass(frozen=True)
class Lesson:
    id: str
    target: str
    title: Mapping[str, str]
    video_url: str
    video_placeholder: bool
    poster: str | None
    duration_seconds: int
    transcript: Mapping[str, str]
    key_points: Mapping[str, tuple[str, ...]]

    def paragraphs(self, locale: str) -> list[str]:
        """The transcript in ``locale`` (else Vietnamese) split at blank lines."""
        return [p.strip() for p in localized(self.transcript, locale).split("\n\n") if p.strip()]


@dataclass(frozen=True)
class Module:
    id: str
    target: str
    title: Mapping[str, str]
    lessons: tuple[Lesson, ...]
    quizzes: tuple[Quiz, ...]


@dataclass(frozen=True)
class Course:
    id: str
    target: str
    title: Mapping[str, str]
    description: Mapping[str, str]
    modules: tuple[Module, ...]
    source: str
    # (framework, code) of each competence the course builds, e.g. ("digcomp-2.2", "4.2"): its credential's alignment.
    competences: tuple[tuple[str, str], ...] = ()

    def quizzes(self) -> Iterator[Quiz]:
        for m in self.modules:
            yield from m.quizzes


@dataclass(frozen=True)
class CatalogueItem:
    """One row of the Deep Linking picker."""

    target: str
    title: str
    kind: Kind
    graded: bool
    max_score: float | None


@dataclass(frozen=True)
class Resolved:
    """What a target names, with the items that contain it."""

    course: Course
    module: Module | None = None
    lesson: Lesson | None = None
    quiz: Quiz | None = None

    @property
    def kind(self) -> Kind:
        return "lesson" if self.lesson else "quiz" if self.quiz else "module" if self.module else "course"

    @property
    def item(self) -> Course | Module | Lesson | Quiz:
        return self.lesson or self.quiz or self.module or self.course

    @property
    def target(self) -> str:
        return self.item.target

    def graded_quizzes(self) -> list[Quiz]:
        """The graded quizzes at or under this item: what its grade is made of."""
        if self.quiz is not None:
            return [self.quiz] if self.quiz.graded else []
        if self.lesson is not None:
            return []
        quizzes = self.module.quizzes if self.module is not None else tuple(self.course.quizzes())
        return [q for q in quizzes if q.graded]


def contains(outer: str, inner: str) -> bool:
    """True when target ``inner`` is ``outer`` or lies under it."""
    return inner == outer or inner.startswith(outer + "/")


class Catalogue:
    def __init__(self, courses: list[Course]) -> None:
        self.courses: dict[str, Course] = {c.id: c for c in courses}
        self.providers: list[ItemsProvider] = []

    def list_items(self, locale: str) -> list[CatalogueItem]:
        """Every linkable item, course by course in file order, titles in ``locale``."""
        items: list[CatalogueItem] = []
        for course in self.courses.values():
            items.append(self._container(Resolved(course), locale))
            for module in course.modules:
                items.append(self._container(Resolved(course, module), locale))
                items.extend(CatalogueItem(lesson.target, localized(lesson.title, locale), "lesson", False, None)
                             for lesson in module.lessons)
                items.extend(CatalogueItem(q.target, localized(q.title, locale), "quiz", q.graded,
                                           float(q.max_score) if q.graded else None) for q in module.quizzes)
        for provider in self.providers:
            items.extend(provider(locale))
        return items

    @staticmethod
    def _container(r: Resolved, locale: str) -> CatalogueItem:
        # A course or module link is graded when it holds graded quizzes; its grade is their sum
        # (see player.grades), so its maximum is the sum of theirs.
        graded = r.graded_quizzes()
        return CatalogueItem(r.target, localized(r.item.title, locale), r.kind, bool(graded),
                             float(sum(q.max_score for q in graded)) if graded else None)

    def resolve(self, target: str) -> Resolved:
        parts = target.split("/")
        if len(parts) not in (2, 4, 6) or parts[0] != "course" or (len(parts) >= 4 and parts[2] != "module"):
            raise UnknownTarget(target, "not a catalogue target (course/<c>[/module/<m>[/lesson|quiz/<id>]])")
        course = self.courses.get(parts[1])
        if course is None:
            raise UnknownTarget(target, f"no course {parts[1]!r}")
        if len(parts) == 2:
            return Resolved(course)
        module = next((m for m in course.modules if m.id == parts[3]), None)
        if module is None:
            raise UnknownTarget(target, f"course {course.id!r} has no module {parts[3]!r}")
        if len(parts) == 4:
            return Resolved(course, module)
        kind, item_id = parts[4], parts[5]
        if kind == "lesson":
            lesson = next((lesson for lesson in module.lessons if lesson.id == item_id), None)
            if lesson is not None:
                return Resolved(course, module, lesson=lesson)
        elif kind == "quiz":
            quiz = next((q for q in module.quizzes if q.id == item_id), None)
            if quiz is not None:
                return Resolved(course, module, quiz=quiz)
        else:
            raise UnknownTarget(target, f"{kind!r} is neither 'lesson' nor 'quiz'")
        raise UnknownTarget(target, f"module {module.id!r} of course {course.id!r} has no {kind} {item_id!r}")


# --- building the domain types from validated data ---------------------------------------------

def _identity(own: dict[str, Any] | None, course: dict[str, Any] | None) -> IdentityRequirement | None:
    """The quiz's own ``identity``, else the course's; None when neither requires it."""
    data = own if own is not None else course
    if not data or not data["required"]:
        return None
    recheck = data.get("recheck") or {}
    return IdentityRequirement(data["min_level"], recheck.get("min_seconds"), recheck.get("max_seconds"))


def _course(data: dict[str, Any], source: str) -> Course:
    ct = f"course/{data['id']}"
    modules = []
    for m in data["modules"]:
        mt = f"{ct}/module/{m['id']}"
        lessons = tuple(
            Lesson(id=lesson["id"], target=f"{mt}/lesson/{lesson['id']}", title=lesson["title"],
                   video_url=lesson["video"]["url"], video_placeholder=lesson["video"]["placeholder"],
                   poster=lesson["video"].get("poster"), duration_seconds=duration_seconds(lesson["duration"]),
                   transcript=lesson["transcript"],
                   key_points={k: tuple(v) for k, v in lesson.get("key_points", {}).items()})
            for lesson in m["lessons"])
        quizzes = tuple(
            Quiz(id=q["id"], target=f"{mt}/quiz/{q['id']}", title=q["title"], graded=q["graded"],
                 passing_score=q["passing_score"],
                 time_limit_seconds=duration_seconds(q["time_limit"]) if "time_limit" in q else None,
                 questions=tuple(Question(id=x["id"], type=x["type"], text=x["text"],
                                          choices=tuple(Choice(c["id"], c["text"]) for c in x["choices"]),
                                          correct=frozenset(x["correct"]), points=x["points"],
                                          explanation=x.get("explanation")) for x in q["questions"]),
                 identity=_identity(q.get("identity"), data.get("identity")))
            for q in m["quizzes"])
        modules.append(Module(m["id"], mt, m["title"], lessons, quizzes))
    return Course(data["id"], ct, data["title"], data["description"], tuple(modules), source,
                  tuple((c["framework"], c["code"]) for c in data.get("competences", ())))


def load_catalogue(path: str | os.PathLike[str]) -> Catalogue:
    """All courses in a directory of course files (or one file); CatalogueError lists every problem."""
    files = course_files(path)
    if not files:
        raise CatalogueError([f"{path}: no course files (*.yaml) here"])
    good, problems = read_files(files)
    if problems:
        raise CatalogueError(problems)
    return Catalogue([_course(data, str(f)) for f, data in good])


def default_courses_dir() -> Path:
    """The shipped ``courses/`` (a deployment names its own with HOCVU_COURSES_DIR)."""
    return DEFAULT_COURSES_DIR


@cache
def default_catalogue() -> Catalogue:
    return load_catalogue(default_courses_dir())


