"""The course catalogue's file format: one course per file, course → modules → lessons and quizzes.

Loading returns plain dicts (the domain, ``player.catalogue``, builds its own types from them).
Every rule raises ``marshmallow.ValidationError`` whose messages name the property and say what is
wrong, so ``player.catalogue_files.validate_file`` can print ``modules[1].quizzes[0]...: <problem>``.
Rules spanning several properties (a correct answer that is no choice, duplicate ids) are raised
on the object that holds them (marshmallow's ``_schema`` key), so the message names that object.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from schemas.digcomp import COMPETENCES, FRAMEWORK_ID

# Ids become path segments of catalogue targets ("course/<c>/module/<m>/...") and of xAPI Activity
# ids, so they are kept to what needs no escaping in either.
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
ID_MESSAGE = "must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit"
LOCALES = ("vi", "en")
# ISO 8601 durations limited to hours, minutes and whole seconds ("PT6M30S"): enough for lessons
# and time limits, and what xAPI's result.duration uses, so authors learn one notation.
_DURATION = re.compile(r"PT(?=[0-9])(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)S)?")
MAX_TIME_LIMIT_SECONDS = 4 * 3600
QUESTION_TYPES = ("single", "multiple")
MIN_RECHECK_SECONDS = 30  # a face check takes the learner a few seconds; closer ones would leave no time to answer


def duration_seconds(value: str) -> int:
    """Seconds in a "PT#H#M#S" duration; ValueError when ``value`` is not one."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a duration like PT6M30S")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _check_id(value: str) -> None:
    if not ID_PATTERN.fullmatch(value):
        raise ValidationError(f"{value!r} {ID_MESSAGE}")


def _check_duration(value: str) -> None:
    try:
        if duration_seconds(value) <= 0:
            raise ValidationError("must be longer than zero")
    except ValueError:
        raise ValidationError(f"{value!r} is not an ISO 8601 duration like PT6M30S (hours H, minutes M, "
                              "seconds S)") from None


def _check_time_limit(value: str) -> None:
    _check_duration(value)
    if duration_seconds(value) > MAX_TIME_LIMIT_SECONDS:
        raise ValidationError("a time limit longer than 4 hours (PT4H) is surely a mistake")


def _check_http_url(value: str) -> None:
    if not re.fullmatch(r"https://[^\s/]+/\S*", value):
        raise ValidationError(f"{value!r} is not an https:// URL")


def _duplicates(ids: list[str]) -> list[str]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


class _Strict(Schema):
    class Meta:
        unknown = RAISE  # a misspelt key ("trancript") is an error, never silently dropped

    error_messages = {"unknown": "is not a known property here (misspelt?)",  # noqa: RUF012 (marshmallow's API)
                      "type": "must be a mapping of properties"}


def _text(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, error="must not be empty"), **kwargs)


class LocalizedText(fields.Dict):
    """Text per UI language: {"vi": "...", "en": "..."}; ``required_locales`` must be present."""

    def __init__(self, required_locales: tuple[str, ...] = LOCALES, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(validate=validate.OneOf(LOCALES, error="language must be one of "
                                                                     + ", ".join(LOCALES))),
                         values=_text(), **kwargs)
        self.required_locales = required_locales

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        result = super()._deserialize(value, attr, data, **kwargs)  # type: ignore[no-untyped-call]  # marshmallow's Mapping
        missing_locales = [loc for loc in self.required_locales if loc not in result]
        if missing_locales:
            raise ValidationError(f"needs text in {', '.join(missing_locales)} (Vietnamese 'vi' and English 'en')"
                                  if len(missing_locales) > 1 else f"needs text in '{missing_locales[0]}'")
        return result


class LocalizedList(fields.Dict):
    """A list of short texts per language, e.g. a lesson's key points."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(validate=validate.OneOf(LOCALES)),
                         values=fields.List(_text(), validate=validate.Length(min=1)), **kwargs)


class VideoSchema(_Strict):
    url = fields.String(required=True, validate=_check_http_url)
    # True while the real recording does not exist yet: the player then leads with the transcript
    # and says so, instead of showing a video that cannot load.
    placeholder = fields.Boolean(load_default=False)
    poster = fields.String(validate=_check_http_url)


class LessonSchema(_Strict):
    id = fields.String(required=True, validate=_check_id)
    title = LocalizedText(required=True)
    video = fields.Nested(VideoSchema, required=True)
    duration = fields.String(required=True, validate=_check_duration)
    # Vietnamese is the language of record; an English transcript is welcome but optional.
    transcript = LocalizedText(required_locales=("vi",), required=True)
    key_points = LocalizedList()


class ChoiceSchema(_Strict):
    id = fields.String(required=True, validate=_check_id)
    text = LocalizedText(required_locales=("vi",), required=True)


class QuestionSchema(_Strict):
    id = fields.String(required=True, validate=_check_id)
    type = fields.String(load_default="single",
                         validate=validate.OneOf(QUESTION_TYPES, error="must be one of: single, multiple"))
    text = LocalizedText(required_locales=("vi",), required=True)
    choices = fields.List(fields.Nested(ChoiceSchema), required=True,
                          validate=validate.Length(min=2, error="needs at least 2 choices"))
    correct = fields.List(fields.String(), required=True,
                          validate=validate.Length(min=1, error="needs at least one correct answer"))
    points = fields.Integer(load_default=1, strict=True,
                            validate=validate.Range(min=1, max=100, error="must be a whole number from 1 to 100"))
    explanation = LocalizedText(required_locales=("vi",))

    @validates_schema(skip_on_field_errors=True)
    def _answers(self, data: dict[str, Any], **kwargs: Any) -> None:
        ids = [c["id"] for c in data["choices"]]
        dup = _duplicates(ids)
        if dup:
            raise ValidationError(f"choice id {', '.join(repr(d) for d in dup)} is used more than once")
        for answer in data["correct"]:
            if answer not in ids:
                raise ValidationError(f"correct answer {answer!r} is not one of the choices {', '.join(ids)}")
        if len(set(data["correct"])) != len(data["correct"]):
            raise ValidationError("a correct answer is listed more than once")
        if data["type"] == "single" and len(data["correct"]) != 1:
            raise ValidationError(f"a 'single' question has exactly one correct answer, not {len(data['correct'])} "
                                  "(use type: multiple for several)")


class RecheckSchema(_Strict):
    """Repeated face checks during an attempt: each next check falls due at a moment the server
    draws at random in [min_seconds, max_seconds] after the previous one, so it cannot be foreseen."""

    min_seconds = fields.Integer(required=True, strict=True, validate=validate.Range(
        min=MIN_RECHECK_SECONDS, max=MAX_TIME_LIMIT_SECONDS,
        error=f"must be a whole number of seconds from {MIN_RECHECK_SECONDS} to {MAX_TIME_LIMIT_SECONDS}"))
    max_seconds = fields.Integer(required=True, strict=True, validate=validate.Range(
        min=MIN_RECHECK_SECONDS, max=MAX_TIME_LIMIT_SECONDS,
        error=f"must be a whole number of seconds from {MIN_RECHECK_SECONDS} to {MAX_TIME_LIMIT_SECONDS}"))

    @validates_schema(skip_on_field_errors=True)
    def _order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["max_seconds"] < data["min_seconds"]:
            raise ValidationError("max_seconds must not be less than min_seconds")


class IdentitySchema(_Strict):
    """Identity assurance (issue 4): before the quiz the learner signs in with VNeID at
    ``min_level`` or above and passes a face check; ``recheck`` repeats the check during the attempt.
    On a course it applies to every quiz of the course that has no ``identity`` of its own; a quiz
    opts out with ``identity: {required: false}``."""

    required = fields.Boolean(load_default=True)
    # VNeID identification level: 1 (registered online) or 2 (verified in person with the chip card).
    min_level = fields.Integer(load_default=2, strict=True,
                               validate=validate.OneOf((1, 2), error="must be 1 or 2 (VNeID identification level)"))
    recheck = fields.Nested(RecheckSchema)


class QuizSchema(_Strict):
    id = fields.String(required=True, validate=_check_id)
    title = LocalizedText(required=True)
    # Graded quizzes send their score to the LMS gradebook (LTI AGS); ungraded ones are practice.
    graded = fields.Boolean(load_default=True)
    # The scaled score (0..1) needed to pass: cmi5's masteryScore (cmi5 §10.2.4), same value space.
    passing_score = fields.Float(required=True, validate=validate.Range(
        min=0, max=1, error="must be a fraction from 0 to 1 (e.g. 0.8 for 80%)"))
    time_limit = fields.String(validate=_check_time_limit)
    identity = fields.Nested(IdentitySchema)
    questions = fields.List(fields.Nested(QuestionSchema), required=True,
                            validate=validate.Length(min=1, error="needs at least one question"))

    @validates_schema(skip_on_field_errors=True)
    def _unique(self, data: dict[str, Any], **kwargs: Any) -> None:
        dup = _duplicates([q["id"] for q in data["questions"]])
        if dup:
            raise ValidationError(f"question id {', '.join(repr(d) for d in dup)} is used more than once")


class ModuleSchema(_Strict):
    id = fields.String(required=True, validate=_check_id)
    title = LocalizedText(required=True)
    lessons = fields.List(fields.Nested(LessonSchema), load_default=list)
    quizzes = fields.List(fields.Nested(QuizSchema), load_default=list)

    @validates_schema(skip_on_field_errors=True)
    def _content(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data["lessons"] and not data["quizzes"]:
            raise ValidationError("a module needs at least one lesson or quiz")
        for kind in ("lessons", "quizzes"):
            dup = _duplicates([item["id"] for item in data[kind]])
            if dup:
                raise ValidationError(f"{kind[:-1] if kind == 'lessons' else 'quiz'} id "
                                      f"{', '.join(repr(d) for d in dup)} is used more than once")


class CompetenceSchema(_Strict):
    """A competence of a framework the course builds: what a credential for the course is aligned to
    (Open Badges 3.0 ``Alignment``). The one framework known is DigComp 2.2 (``schemas.digcomp``)."""

    framework = fields.String(load_default=FRAMEWORK_ID, validate=validate.OneOf(
        (FRAMEWORK_ID,), error=f"must be {FRAMEWORK_ID!r} (DigComp 2.2, the one framework known)"))
    # Quoted in YAML ("4.2"): unquoted, 4.2 is a number, and 1.10 would read as 1.1.
    code = fields.String(required=True, validate=validate.OneOf(
        tuple(COMPETENCES), error="must be a DigComp 2.2 competence code, from 1.1 to 5.4 (in quotes: \"4.2\")"))


class CourseSchema(_Strict):
    id = fields.String(required=True, validate=_check_id)
    title = LocalizedText(required=True)
    description = LocalizedText(required=True)
    identity = fields.Nested(IdentitySchema)
    competences = fields.List(fields.Nested(CompetenceSchema), load_default=list)
    modules = fields.List(fields.Nested(ModuleSchema), required=True,
                          validate=validate.Length(min=1, error="a course needs at least one module"))

    @validates_schema(skip_on_field_errors=True)
    def _unique(self, data: dict[str, Any], **kwargs: Any) -> None:
        dup = _duplicates([m["id"] for m in data["modules"]])
        if dup:
            raise ValidationError(f"module id {', '.join(repr(d) for d in dup)} is used more than once")
        dup = _duplicates([f"{c['framework']} {c['code']}" for c in data["competences"]])
        if dup:
            raise ValidationError(f"competence {', '.join(dup)} is listed more than once")


def load_course(data: Any) -> dict[str, Any]:
    """Validate one course document; raises ValidationError with per-property messages."""
    if not isinstance(data, dict):
        raise ValidationError(f"a course file holds one mapping (id, title, modules, ...), not {type(data).__name__}")
    result: dict[str, Any] = CourseSchema().load(data)
    return result
