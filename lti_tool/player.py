"""The course player blueprint at /player: parse, check, call the player domain, render.

The learner comes from the LTI launch (``LaunchContext`` in ``session["lti_launch"]``); without it
every page says to open the course from the LMS. Pages work without JavaScript; player.js adds
the resume point, progress beacons, autosave and the quiz countdown on top.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from lrs.errors import XapiError
from lrs.storage import Database
from lti_tool import player_quiz as quiz_domain
from lti_tool.catalogue import Catalogue, Resolved, default_catalogue, localized
from lti_tool.launch_context import LaunchContext
from lti_tool.player_assurance import require_current
from lti_tool.player_domain import (
    BadInput,
    NoLaunch,
    PlayerError,
    complete_lesson,
    end_au,
    enter_au,
    launch_from_session,
    lesson_state,
    record_progress,
    registration_for,
    resolve_in_launch,
    sequence,
)
from lti_tool.player_grades import hand_off_grade
from lti_tool.player_i18n import LOCALES, normalise, t
from lti_tool.player_roster import roster_progress
from lti_tool.player_statements import SEALER_KEY, AuSession

bp = Blueprint("player", __name__, template_folder="templates", static_folder="static/player",
               static_url_path="/static")
LAUNCH_KEY = "lti_launch"         # written by the launch (lti_tool.http)
AU_KEY = "player_au"              # the learner's open lesson AU session
LOCALE_KEY = "player_locale"      # the language the learner switched to, over the launch's
CSRF_KEY = "player_csrf"
CATALOGUE_EXT = "lti_tool.catalogue"


def init_player(app: Flask, catalogue: Catalogue | None = None) -> None:
    """Mount the player at /player with ``catalogue`` (default: HOCVU_COURSES_DIR or courses/)."""
    from lti_tool import player_identity  # the identity gate at /player/identity; it uses this module's plumbing
    app.extensions[CATALOGUE_EXT] = catalogue or default_catalogue()
    app.register_blueprint(bp, url_prefix="/player")
    player_identity.init_app(app)


# --- request plumbing -----------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(UTC)


def _catalogue() -> Catalogue:
    cat: Catalogue = current_app.extensions[CATALOGUE_EXT]
    return cat


def _launch() -> LaunchContext:
    return launch_from_session(session.get(LAUNCH_KEY))


def _locale() -> str:
    chosen = session.get(LOCALE_KEY)
    if chosen in LOCALES:
        return str(chosen)
    try:
        return normalise(_launch().locale)
    except NoLaunch:
        return normalise(request.accept_languages.best_match(LOCALES))


@contextmanager
def _db() -> Iterator[Session]:
    database: Database = current_app.extensions["hocvu.db"]
    db = database.session()
    db.info[SEALER_KEY] = current_app.extensions.get(SEALER_KEY)  # stamps and signs assured attempts
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


def _current_au() -> AuSession | None:
    return AuSession.from_session(session.get(AU_KEY))


def _set_au(au: AuSession | None) -> None:
    if au is None:
        session.pop(AU_KEY, None)
    else:
        session[AU_KEY] = au.to_session()


def _leave_au(db: Session, launch: LaunchContext, now: datetime) -> None:
    """Off a lesson page the lesson's AU session is over (cmi5 §9.3.8)."""
    au = _current_au()
    if au is not None:
        end_au(db, launch, _catalogue(), au, now)


def _csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = session[CSRF_KEY] = secrets.token_urlsafe(24)
    return token


def _check_csrf(sent: Any) -> None:
    # Forms and beacons carry the token from the page: a third-party page cannot read it, so it
    # cannot post as the learner (the session cookie is SameSite=None inside the LMS iframe).
    expected = session.get(CSRF_KEY)
    if not isinstance(sent, str) or not isinstance(expected, str) or not secrets.compare_digest(sent, expected):
        raise BadInput("missing or wrong form token")


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadInput("expected a JSON object")
    _check_csrf(body.get("csrf"))
    return body


def _see_other(url: str) -> BaseResponse:
    # 303: after a POST the browser GETs the page, so a reload never posts twice.
    return redirect(url, 303)


def _view_url(target: str, **kw: Any) -> str:
    return url_for("player.view", target=target, **kw)


def _render(template: str, status: int = 200, **ctx: Any) -> Response:
    locale = _locale()
    html = render_template(
        f"player/{template}", locale=locale, other_locale="en" if locale == "vi" else "vi",
        t=lambda key, **kw: t(key, locale, **kw), t_in=t, loc=lambda text: localized(text, locale) if text else "",
        csrf=_csrf_token(), **ctx)
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def _nav(launch: LaunchContext, resolved: Resolved) -> dict[str, Any]:
    """Where the learner can go from ``resolved`` within the launched link."""
    root = _catalogue().resolve(launch.target)
    path = sequence(root)
    targets = [r.target for r in path]
    i = targets.index(resolved.target) if resolved.target in targets else -1
    nxt = path[i + 1] if 0 <= i < len(path) - 1 else None
    return {"outline_url": _view_url(root.target) if root.kind in ("course", "module") else None,
            "next": nxt, "next_url": _view_url(nxt.target) if nxt else None, "root": root}


# --- pages ----------------------------------------------------------------------------------------

@bp.get("/", endpoint="open")
def open_launch() -> BaseResponse:
    """The launch lands here (lti_tool.http redirects to player.open)."""
    launch = _launch()
    resolved = resolve_in_launch(_catalogue(), launch, launch.target)
    return _see_other(_view_url(resolved.target))


@bp.get("/view/<path:target>")
def view(target: str) -> BaseResponse:
    launch, cat, now = _launch(), _catalogue(), _now()
    resolved = resolve_in_launch(cat, launch, target)
    expired, au, ctx = None, None, {}
    with _db() as db:
        if resolved.lesson is not None:
            au = enter_au(db, launch, cat, resolved, _current_au(), now, url_for(
                "player.view", target=target, _external=True))
            state = lesson_state(db, launch, resolved.target)
        else:
            _leave_au(db, launch, now)
            expired = quiz_domain.expire_due(db, launch, cat, now)
            ctx = _quiz_context(db, launch, resolved, now) if resolved.quiz else _outline_context(db, launch, resolved)
    _set_au(au)
    if expired is not None:
        _hand_off(launch)
    if resolved.lesson is not None:
        lesson = resolved.lesson
        return _render("lesson.html", r=resolved, lesson=lesson, state=state, paragraphs=lesson.paragraphs(_locale()),
                       vi_only=_locale() != "vi" and _locale() not in lesson.transcript,
                       key_points=lesson.key_points.get(_locale()) or lesson.key_points.get("vi") or (),
                       **_nav(launch, resolved))
    return _render("quiz.html" if resolved.quiz else "outline.html", r=resolved, **ctx, **_nav(launch, resolved))


def _outline_context(db: Session, launch: LaunchContext, resolved: Resolved) -> dict[str, Any]:
    items = sequence(resolved)
    marks: dict[str, Any] = {}  # per item: its LessonState, or the latest quiz attempt
    for item in items:
        if item.lesson is not None:
            marks[item.target] = lesson_state(db, launch, item.target)
        else:
            done = quiz_domain.attempts(db, launch, item.target)
            marks[item.target] = done[0] if done else None
    modules = [resolved.module] if resolved.module is not None else list(resolved.course.modules)
    return {"modules": modules, "marks": marks, "first_url": _view_url(items[0].target) if items else None,
            "roster_url": url_for("player.roster") if launch.is_instructor else None}


def _quiz_context(db: Session, launch: LaunchContext, resolved: Resolved, now: datetime) -> dict[str, Any]:
    from lti_tool.player_identity import quiz_panel
    quiz = resolved.quiz
    assert quiz is not None
    open_attempt = quiz_domain.open_attempt(db, launch)
    other_open = open_attempt.quiz_target if open_attempt and open_attempt.quiz_target != quiz.target else None
    mine = open_attempt if open_attempt and not other_open else None
    ended = [a for a in quiz_domain.attempts(db, launch, quiz.target) if a.status != "open"]
    last = ended[0] if ended else None
    review = quiz_domain.score(quiz, last.answers or {}) if last else None
    left = quiz_domain.time_left(mine, now) if mine else None
    return {"quiz": quiz, "attempt": mine, "other_open_url": _view_url(other_open) if other_open else None,
            "last": last, "review": review, "seconds_left": max(0, int(left)) if left is not None else None,
            "saved": (mine.answers or {}) if mine else {}, "gate": quiz_panel(db, launch, resolved, mine, now)}


@bp.get("/roster")
def roster() -> Response:
    """The instructor's view of the class (NRPS 2.0): every member and their progress on this link.
    A learner's launch gets 403, a launch without the NRPS claim a notice, a platform that does not
    answer a 502 page (all PlayerErrors, rendered by ``_player_error``)."""
    launch, cat = _launch(), _catalogue()
    with _db() as db:
        rows = roster_progress(db, launch, cat)
    root = resolve_in_launch(cat, launch, launch.target)
    learners = [p for p in rows if not p.staff]
    return _render("roster.html", r=root, launch=launch, learners=learners, staff=[p for p in rows if p.staff],
                   started=sum(1 for p in learners if p.started), back_url=_view_url(root.target))


# --- lesson actions -------------------------------------------------------------------------------

@bp.post("/progress/<path:target>")
def progress(target: str) -> Response:
    """A beacon from player.js: the resume point and how far the learner got (0-100)."""
    launch, cat, now = _launch(), _catalogue(), _now()
    body = _json_body()
    resolved = resolve_in_launch(cat, launch, target)
    try:
        position, paragraph, reached = float(body.get("position", 0)), int(body.get("paragraph", 0)), \
            int(body.get("progress", 0))
    except (TypeError, ValueError):
        raise BadInput("position, paragraph and progress must be numbers") from None
    current = _current_au()
    # Only the lesson's open session gets statements; the beacon never opens one, nor touches the
    # session cookie (it races the next page's request, whose cookie must win).
    au = current if current is not None and current.target == target and \
        current.registration == registration_for(launch) else None
    with _db() as db:
        state = record_progress(db, launch, resolved, au, now, position=position, paragraph=paragraph,
                                progress=reached)
    return jsonify(progress=state.progress, completed=state.completed)


@bp.post("/complete/<path:target>")
def complete(target: str) -> BaseResponse:
    launch, cat, now = _launch(), _catalogue(), _now()
    _check_csrf(request.form.get("csrf"))
    resolved = resolve_in_launch(cat, launch, target)
    with _db() as db:
        au = enter_au(db, launch, cat, resolved, _current_au(), now, url_for("player.view", target=target,
                                                                             _external=True))
        complete_lesson(db, launch, resolved, au, now)
    _set_au(au)
    return _see_other(_view_url(target))


@bp.post("/exit")
def exit_session() -> BaseResponse:
    """The learner leaves: ``terminated`` for the open lesson session."""
    launch, now = _launch(), _now()
    _check_csrf(request.form.get("csrf"))
    with _db() as db:
        _leave_au(db, launch, now)
    _set_au(None)
    if resolve_in_launch(_catalogue(), launch, launch.target).kind in ("course", "module"):
        return _see_other(_view_url(launch.target))
    return _render("message.html", title_key="ended.title", text_key="ended.text")


# --- quiz actions ---------------------------------------------------------------------------------

@bp.post("/start/<path:target>")
def start(target: str) -> BaseResponse:
    launch, cat, now = _launch(), _catalogue(), _now()
    _check_csrf(request.form.get("csrf"))
    resolved = resolve_in_launch(cat, launch, target)
    with _db() as db:
        _leave_au(db, launch, now)
        expired = quiz_domain.expire_due(db, launch, cat, now)
    _set_au(None)
    if expired is not None:
        _hand_off(launch)
    from lti_tool.player_identity import start_quiz  # through the identity gate when the quiz requires it
    with _db() as db:
        start_quiz(db, launch, resolved, now, url_for("player.view", target=target, _external=True))
    return _see_other(_view_url(target))


@bp.post("/answer/<path:target>")
def answer(target: str) -> Response:
    """Autosave of one answer (player.js), so a time-out scores what the learner had chosen."""
    launch, cat, now = _launch(), _catalogue(), _now()
    body = _json_body()
    resolved = resolve_in_launch(cat, launch, target)
    choices = body.get("choices")
    if not isinstance(body.get("question"), str) or not isinstance(choices, list) or \
            not all(isinstance(c, str) for c in choices):
        raise BadInput("expected question (a string) and choices (a list of strings)")
    with _db() as db:
        attempt = quiz_domain.open_attempt(db, launch)
        if attempt is None or attempt.quiz_target != target or resolved.quiz is None:
            raise quiz_domain.AttemptClosed("no open attempt at this quiz")
        require_current(db, attempt, now)  # an overdue identity recheck holds the answers back
        quiz_domain.save_answer(db, attempt, resolved.quiz, body["question"], choices, now)
    return jsonify(saved=True)


@bp.post("/submit/<path:target>")
def submit(target: str) -> BaseResponse:
    launch, cat, now = _launch(), _catalogue(), _now()
    _check_csrf(request.form.get("csrf"))
    resolved = resolve_in_launch(cat, launch, target)
    if resolved.quiz is None:
        raise BadInput(f"{target} is not a quiz")
    answers = {q.id: request.form.getlist(f"q.{q.id}") for q in resolved.quiz.questions}
    with _db() as db:
        attempt = quiz_domain.open_attempt(db, launch)
        if attempt is None or attempt.quiz_target != target:
            # Already ended (a double submit, or expired): the quiz page shows its result.
            return _see_other(_view_url(target))
        require_current(db, attempt, now)
        try:
            quiz_domain.submit(db, launch, resolved, attempt, answers, now)
        except quiz_domain.AttemptClosed:
            db.rollback()
            return _see_other(_view_url(target))  # another request ended it a moment ago
    _hand_off(launch)
    return _see_other(_view_url(target, _anchor="result"))


def _hand_off(launch: LaunchContext) -> None:
    with _db() as db:
        hand_off_grade(db, _catalogue(), launch)


# --- language, errors, headers --------------------------------------------------------------------

@bp.post("/locale")
def set_locale() -> BaseResponse:
    _check_csrf(request.form.get("csrf"))
    session[LOCALE_KEY] = normalise(request.form.get("lang"))
    back = request.form.get("next") or ""
    # Only back into the player: never an open redirect.
    safe = back.startswith(url_for("player.open")) and "//" not in back and "\\" not in back
    return _see_other(back if safe else url_for("player.open"))


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


@bp.errorhandler(PlayerError)
def _player_error(err: PlayerError) -> Response:
    if _wants_json():
        return Response(jsonify(error={"code": err.key, "message": t(err.key, _locale())}).get_data(),
                        status=err.status, content_type="application/json")
    both = isinstance(err, NoLaunch)  # no launch, no known language: say it in both
    return _render("message.html", err.status, title_key=err.title_key, text_key=err.key, both=both,
                   open_url=err.params.get("target") and _view_url(err.params["target"]))


@bp.errorhandler(XapiError)
def _store_error(err: XapiError) -> Response:
    # A statement the LRS rejects is our bug, not the learner's: log it, roll back, say so plainly.
    current_app.logger.exception("the player's statements were rejected: %s", err.message)
    if _wants_json():
        return Response(jsonify(error={"code": "error.server", "message": t("error.server", _locale())}).get_data(),
                        status=500, content_type="application/json")
    return _render("message.html", 500, title_key="error.title", text_key="error.server")


@bp.after_request
def _no_store(response: Response) -> Response:
    if request.endpoint != "player.static":
        response.headers["Cache-Control"] = "no-store"  # pages show one learner's state
    return response
