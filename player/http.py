"""The course player blueprint at /player: parse, check, call the player domain, render.

The learner comes from the session a source opened (``player.session.PlayerSession``, put in the
browser's cookie by ``player.pages.open_session``: an LTI launch, a citizen's sign-in); without one
every page says how to open the course. Pages work without JavaScript; player.js adds the resume
point, progress beacons, autosave and the quiz countdown on top. The identity gate's pages are
``identity.gate``'s; this blueprint takes its repeated checks during a quiz (``player.identity``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request, send_file, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from identity import web
from identity.gate.consumers import register_consumer
from lrs.errors import XapiError
from player import identity as player_identity
from player import pages
from player import quiz as quiz_domain
from player.catalogue import Catalogue, Resolved, default_catalogue
from player.domain import (
    AttemptClosed,
    BadInput,
    NoLaunch,
    PlayerError,
    complete_lesson,
    enter_au,
    lesson_state,
    record_progress,
    registration_for,
    resolve_in_launch,
    sequence,
)
from player.grades import hand_off_grade
from player.i18n import t
from player.media import file_for, lesson_media
from player.offline.http import init_offline
from player.session import PlayerSession

bp = Blueprint("player", __name__, template_folder="templates", static_folder="static/player",
               static_url_path="/static")
STAFF_ENDPOINT = "player.staff_endpoint"   # app.extensions: the endpoint a source serves staff's class view at


def init_player(app: Flask, catalogue: Catalogue | None = None) -> None:
    """Mount the player at /player with ``catalogue`` (default: HOCVU_COURSES_DIR or courses/) and
    register it with the identity gate as the consumer of ``?target=`` gates."""
    app.extensions[pages.CATALOGUE_EXT] = catalogue or default_catalogue()
    app.register_blueprint(bp, url_prefix="/player")
    init_offline(app)
    register_consumer(app, "target", player_identity.PlayerGate(), default=True)
    # The player's page errors are the learner's message page wherever they are raised (the gate's
    # pages ask the player for its session, and may get NoLaunch).
    app.register_error_handler(PlayerError, _player_error)


def _see_other(url: str) -> BaseResponse:
    return web.see_other(url)


def _nav(launch: PlayerSession, resolved: Resolved) -> dict[str, Any]:
    """Where the learner can go from ``resolved`` within the opened target."""
    root = pages.catalogue().resolve(launch.target)
    path = sequence(root)
    targets = [r.target for r in path]
    i = targets.index(resolved.target) if resolved.target in targets else -1
    nxt = path[i + 1] if 0 <= i < len(path) - 1 else None
    outline_url = pages.view_url(root.target) if root.kind in ("course", "module") else None
    # The pages the device keeps for offline use once the learner opened the target: its outline,
    # lessons and quizzes, but no quiz that requires identity assurance (it needs the network).
    keep = [pages.view_url(r.target) for r in path if r.quiz is None or r.quiz.identity is None]
    return {"outline_url": outline_url, "next": nxt, "next_url": pages.view_url(nxt.target) if nxt else None,
            "root": root, "offline_pages": [outline_url, *keep] if outline_url else keep}


# --- pages ----------------------------------------------------------------------------------------

@bp.get("/", endpoint="open")
def open_launch() -> BaseResponse:
    """The launch lands here (lti_tool.http redirects to player.open)."""
    launch = pages.current_launch()
    if launch.target.startswith("package/"):  # an imported course (player.packages.cmi5.http)
        return _see_other(url_for("cmi5.course_page", slug=launch.target.split("/")[1]))
    if launch.target.startswith("scorm/"):  # an imported SCORM course: its own player (player.packages)
        return _see_other(url_for("scorm.start", course_id=launch.target.split("/")[1]))
    resolved = resolve_in_launch(pages.catalogue(), launch, launch.target)
    return _see_other(pages.view_url(resolved.target))


@bp.get("/view/<path:target>")
def view(target: str) -> BaseResponse:
    launch, cat, now = pages.current_launch(), pages.catalogue(), pages.now()
    resolved = resolve_in_launch(cat, launch, target)
    # A page the service worker fetches ahead, for the learner to open offline later, is only read:
    # it enters no AU session and ends none (the learner has not opened it yet).
    ahead = pages.fetched_ahead()
    expired, au, ctx = None, None, {}
    with pages.db() as db:
        if resolved.lesson is not None:
            au = None if ahead else enter_au(db, launch, cat, resolved, pages.current_au(), now, url_for(
                "player.view", target=target, _external=True))
            state = lesson_state(db, launch, resolved.target)
        else:
            if not ahead:
                pages.leave_au(db, launch, now)
                expired = quiz_domain.expire_due(db, launch, cat, now)
            ctx = _quiz_context(db, launch, resolved, now) if resolved.quiz else _outline_context(db, launch, resolved)
    if not ahead:
        pages.set_au(au)
    if expired is not None:
        _hand_off(launch)
    if resolved.lesson is not None:
        lesson = resolved.lesson
        lang = pages.locale()
        return pages.render("player/lesson.html", r=resolved, lesson=lesson, state=state, au=au,
                            paragraphs=lesson.paragraphs(lang), vi_only=lang != "vi" and lang not in lesson.transcript,
                            key_points=lesson.key_points.get(lang) or lesson.key_points.get("vi") or (),
                            media=lesson_media(resolved), **_nav(launch, resolved))
    template = "player/quiz.html" if resolved.quiz else "player/outline.html"
    return pages.render(template, r=resolved, **ctx, **_nav(launch, resolved))


def _outline_context(db: Session, launch: PlayerSession, resolved: Resolved) -> dict[str, Any]:
    items = sequence(resolved)
    marks: dict[str, Any] = {}  # per item: its LessonState, or the latest quiz attempt
    for item in items:
        if item.lesson is not None:
            marks[item.target] = lesson_state(db, launch, item.target)
        else:
            done = quiz_domain.attempts(db, launch, item.target)
            marks[item.target] = done[0] if done else None
    modules = [resolved.module] if resolved.module is not None else list(resolved.course.modules)

    def finished(item: Resolved) -> bool:
        mark = marks[item.target]
        return bool(mark.completed) if item.lesson is not None else bool(mark and mark.passed)

    # Resume: the first lesson not completed or quiz not passed (the first item when all are done).
    todo = next((item for item in items if not finished(item)), items[0] if items else None)
    resuming = any(finished(i) or (i.lesson is not None and marks[i.target].progress) for i in items)
    return {"modules": modules, "marks": marks, "first_url": pages.view_url(todo.target) if todo else None,
            "resuming": resuming, "roster_url": _staff_url() if launch.staff else None}


def _staff_url() -> str | None:
    """The class view a source offers its staff (``register_staff_page``), if any."""
    endpoint = current_app.extensions.get(STAFF_ENDPOINT)
    return url_for(endpoint) if endpoint else None


def register_staff_page(app: Flask, endpoint: str) -> None:
    """A source's page where staff see the class (an LMS's roster): linked from the outline."""
    app.extensions[STAFF_ENDPOINT] = endpoint


def _quiz_context(db: Session, launch: PlayerSession, resolved: Resolved, now: datetime) -> dict[str, Any]:
    quiz = resolved.quiz
    assert quiz is not None
    open_attempt = quiz_domain.open_attempt(db, launch)
    other_open = open_attempt.quiz_target if open_attempt and open_attempt.quiz_target != quiz.target else None
    mine = open_attempt if open_attempt and not other_open else None
    ended = [a for a in quiz_domain.attempts(db, launch, quiz.target) if a.status != "open"]
    last = ended[0] if ended else None
    review = quiz_domain.score(quiz, last.answers or {}) if last else None
    left = quiz_domain.time_left(mine, now) if mine else None
    return {"quiz": quiz, "attempt": mine, "other_open_url": pages.view_url(other_open) if other_open else None,
            "last": last, "review": review, "seconds_left": max(0, int(left)) if left is not None else None,
            "saved": (mine.answers or {}) if mine else {},
            "gate": player_identity.quiz_panel(db, launch, resolved, mine, now)}


@bp.get("/media/<course_id>/<lesson_id>/<name>")
def media(course_id: str, lesson_id: str, name: str) -> Response:
    """A lesson's low-bitrate video, captions or poster (``player.media``): course content, public like
    the front door's catalogue; byte ranges answered (a video seeks), fingerprinted URLs cached for good."""
    course = pages.catalogue().courses.get(course_id)
    lesson = next((Resolved(course, m, lesson=le) for m in course.modules for le in m.lessons if le.id == lesson_id),
                  None) if course else None
    found = file_for(lesson, name) if lesson else None
    if found is None:
        abort(404)
    response = send_file(found.path, conditional=True, etag=found.version, max_age=0)
    if request.args.get("v") == found.version:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


# --- lesson actions -------------------------------------------------------------------------------

@bp.post("/progress/<path:target>")
def progress(target: str) -> Response:
    """A beacon from player.js: the resume point and how far the learner got (0-100)."""
    launch, cat, now = pages.current_launch(), pages.catalogue(), pages.now()
    body = pages.json_body()
    resolved = resolve_in_launch(cat, launch, target)
    try:
        position, paragraph, reached = float(body.get("position", 0)), int(body.get("paragraph", 0)), \
            int(body.get("progress", 0))
    except (TypeError, ValueError):
        raise BadInput("position, paragraph and progress must be numbers") from None
    current = pages.current_au()
    # Only the lesson's open session gets statements; the beacon never opens one, nor touches the
    # session cookie (it races the next page's request, whose cookie must win).
    au = current if current is not None and current.target == target and \
        current.registration == registration_for(launch) else None
    with pages.db() as db:
        state = record_progress(db, launch, resolved, au, now, position=position, paragraph=paragraph,
                                progress=reached)
    return jsonify(progress=state.progress, completed=state.completed)


@bp.post("/complete/<path:target>")
def complete(target: str) -> BaseResponse:
    launch, cat, now = pages.current_launch(), pages.catalogue(), pages.now()
    pages.check_csrf(request.form.get("csrf"))
    resolved = resolve_in_launch(cat, launch, target)
    with pages.db() as db:
        au = enter_au(db, launch, cat, resolved, pages.current_au(), now,
                      url_for("player.view", target=target, _external=True))
        complete_lesson(db, launch, resolved, au, now)
    pages.set_au(au)
    return _see_other(pages.view_url(target))


@bp.post("/exit")
def exit_session() -> BaseResponse:
    """The learner leaves: ``terminated`` for the open lesson session."""
    launch, now = pages.current_launch(), pages.now()
    pages.check_csrf(request.form.get("csrf"))
    with pages.db() as db:
        pages.leave_au(db, launch, now)
    pages.set_au(None)
    if resolve_in_launch(pages.catalogue(), launch, launch.target).kind in ("course", "module"):
        return _see_other(pages.view_url(launch.target))
    return pages.render("player/message.html", title_key="ended.title", text_key="ended.text")


# --- quiz actions ---------------------------------------------------------------------------------

@bp.post("/start/<path:target>")
def start(target: str) -> BaseResponse:
    launch, cat, now = pages.current_launch(), pages.catalogue(), pages.now()
    pages.check_csrf(request.form.get("csrf"))
    resolved = resolve_in_launch(cat, launch, target)
    with pages.db() as db:
        pages.leave_au(db, launch, now)
        expired = quiz_domain.expire_due(db, launch, cat, now)
    pages.set_au(None)
    if expired is not None:
        _hand_off(launch)
    with pages.db() as db:  # through the identity gate when the quiz requires it
        player_identity.start_quiz(db, launch, resolved, now, url_for("player.view", target=target, _external=True))
    return _see_other(pages.view_url(target))


@bp.post("/answer/<path:target>")
def answer(target: str) -> Response:
    """Autosave of one answer (player.js), so a time-out scores what the learner had chosen."""
    launch, cat, now = pages.current_launch(), pages.catalogue(), pages.now()
    body = pages.json_body()
    resolved = resolve_in_launch(cat, launch, target)
    choices = body.get("choices")
    if not isinstance(body.get("question"), str) or not isinstance(choices, list) or \
            not all(isinstance(c, str) for c in choices):
        raise BadInput("expected question (a string) and choices (a list of strings)")
    with pages.db() as db:
        attempt = quiz_domain.open_attempt(db, launch)
        if attempt is None or attempt.quiz_target != target or resolved.quiz is None:
            raise AttemptClosed("no open attempt at this quiz")
        player_identity.require_current(db, attempt, now)  # an overdue identity recheck holds the answers back
        quiz_domain.save_answer(db, attempt, resolved.quiz, body["question"], choices, now)
    return jsonify(saved=True)


@bp.post("/submit/<path:target>")
def submit(target: str) -> BaseResponse:
    launch, cat, now = pages.current_launch(), pages.catalogue(), pages.now()
    pages.check_csrf(request.form.get("csrf"))
    resolved = resolve_in_launch(cat, launch, target)
    if resolved.quiz is None:
        raise BadInput(f"{target} is not a quiz")
    answers = {q.id: request.form.getlist(f"q.{q.id}") for q in resolved.quiz.questions}
    with pages.db() as db:
        attempt = quiz_domain.open_attempt(db, launch)
        if attempt is None or attempt.quiz_target != target:
            # Already ended (a double submit, or expired): the quiz page shows its result.
            return _see_other(pages.view_url(target))
        player_identity.require_current(db, attempt, now)
        try:
            quiz_domain.submit(db, launch, resolved, attempt, answers, now)
        except AttemptClosed:
            db.rollback()
            return _see_other(pages.view_url(target))  # another request ended it a moment ago
    _hand_off(launch)
    return _see_other(pages.view_url(target, _anchor="result"))


def _hand_off(launch: PlayerSession) -> None:
    """An attempt ended (submitted or expired) and is committed: tell the listeners, then send the
    link's grade through the session's reporter."""
    pages.attempt_finished(launch)
    with pages.db() as db:
        hand_off_grade(db, pages.catalogue(), launch, pages.reporters())


@bp.post("/identity/challenge/<path:target>")
def recheck_challenge(target: str) -> Response:
    """A liveness challenge for the next repeated check at ``target`` (``player.identity.recheck_challenge``)."""
    return player_identity.recheck_challenge(target)


@bp.post("/identity/recheck/<path:target>")
def recheck(target: str) -> BaseResponse:
    """A repeated face check during the open attempt at ``target`` (``player.identity.recheck``)."""
    return player_identity.recheck(target)


# --- language, errors, headers --------------------------------------------------------------------

@bp.post("/locale")
def set_locale() -> BaseResponse:
    pages.check_csrf(request.form.get("csrf"))
    web.choose_locale(request.form.get("lang"))
    back = request.form.get("next") or ""
    # Back to the page it was asked on, the player's or the citizen's (the front door, "my learning"):
    # never elsewhere, on this site (an API) or off it (no open redirect).
    path = back.split("?", 1)[0]
    ours = path == "/" or path.startswith((url_for("player.open"), "/learning", "/courses/", "/offline"))
    return _see_other(back if web.is_same_site_path(back) and ours else url_for("player.open"))


def _player_error(err: PlayerError) -> Response:
    if web.wants_json():
        return Response(jsonify(error={"code": err.key, "message": t(err.key, pages.locale())}).get_data(),
                        status=err.status, content_type="application/json")
    both = isinstance(err, NoLaunch)  # no launch, no known language: say it in both
    return pages.render("player/message.html", err.status, title_key=err.title_key, text_key=err.key, both=both,
                        open_url=err.params.get("target") and pages.view_url(err.params["target"]))


@bp.errorhandler(XapiError)
def _store_error(err: XapiError) -> Response:
    # A statement the LRS rejects is our bug, not the learner's: log it, roll back, say so plainly.
    current_app.logger.exception("the player's statements were rejected: %s", err.message)
    if web.wants_json():
        body = jsonify(error={"code": "error.server", "message": t("error.server", pages.locale())}).get_data()
        return Response(body, status=500, content_type="application/json")
    return pages.render("player/message.html", 500, title_key="error.title", text_key="error.server")


@bp.after_request
def _no_store(response: Response) -> Response:
    if request.endpoint not in ("player.static", "player.media"):
        response.headers["Cache-Control"] = "no-store"  # pages show one learner's state
    return response
