"""The SCORM player at /player/scorm: the SCO page (table of contents, flow buttons, the SCO's frame
and the run-time API), the run-time's commits, and the package's files for the SCO's frame.

Thin: parse, check the session, call ``scorm_play``, serialise. The learner is the session's
(``player.pages.current_launch``); commits carry the page's form token in ``X-CSRF-Token`` (the
session cookie is SameSite=None inside an LMS's iframe) and must be JSON.

Why the SCO's files come from the hub's own origin here, not the sandboxed ``/player/content``: a
SCO finds its API by walking ``window.parent`` (SCORM 1.2 RTE §3.3.6.1, SCORM 2004 RTE §3.1.2.1),
which the browser allows only within one origin, so a SCORM SCO cannot run in an opaque-origin
sandbox. They are served to the course's learners only (the session must have opened the course),
with the store's content type, nosniff, no referrer, and framed by the hub's pages only. README
"SCORM packages" says what this trusts: a SCORM package is imported by the hub's administrators.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file, url_for
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from identity import web
from player import pages
from player.catalogue import Catalogue, CatalogueItem
from player.grades import report_grade
from player.packages import assessed
from player.packages import gate as package_gate
from player.packages.archive import content_type
from player.packages.errors import PackageError
from player.packages.http import package_store
from player.packages.scorm_play import (
    ScormCourse,
    attempts,
    catalogue_items,
    check_launch,
    commit,
    find_course,
    link_grade,
    open_session,
)
from player.packages.scorm_statements import sco_target
from player.packages.storage import ImportedPackage
from player.session import PlayerSession

bp = Blueprint("scorm", __name__, template_folder="../templates")
MAX_COMMIT_BYTES = 2 * 1024 * 1024   # 250 interactions at their SPMs fit well under this

TEXT: dict[str, tuple[str, str]] = {
    "scorm.toc": ("Nội dung khoá học", "Course contents"),
    "scorm.previous": ("Phần trước", "Previous"),
    "scorm.continue": ("Phần tiếp theo", "Continue"),
    "scorm.frame": ("Nội dung bài học: {title}", "Lesson content: {title}"),
    "scorm.current": ("đang học", "current"),
    "scorm.done": ("Đã hoàn thành", "Completed"),
    "scorm.passed": ("Đạt", "Passed"),
    "scorm.failed": ("Chưa đạt", "Not passed"),
    "scorm.incomplete": ("Đang học", "In progress"),
}


def _text(key: str, lang: str, **kw: Any) -> str | None:
    pair = TEXT.get(key)
    if pair is None:
        return None
    return (pair[1] if lang == "en" else pair[0]).format(**kw)


def init_scorm(app: Flask) -> None:
    """Mount the SCORM player and list the SCORM courses in the catalogue (the Deep Linking picker)."""
    app.register_blueprint(bp, url_prefix="/player/scorm")
    catalogue: Catalogue = app.extensions[pages.CATALOGUE_EXT]

    def provider(_locale: str) -> list[CatalogueItem]:
        with pages.db() as db:
            return catalogue_items(db)

    catalogue.providers.append(provider)


def _load(course_id: str, item_id: str | None = None) -> tuple[PlayerSession, ScormCourse]:
    launch = pages.current_launch()
    with pages.db() as db:
        course = find_course(db, course_id)
    check_launch(launch, course, item_id)
    return launch, course


@bp.get("/<course_id>/")
def start(course_id: str) -> BaseResponse:
    """The course's first SCO, or the one the learner left suspended (SCORM 2004 SN §4.3: "resume all")."""
    launch, course = _load(course_id)
    with pages.db() as db:
        suspended = [a.sco for a in attempts(db, launch, course_id) if a.suspended and a.ended is None]
    first = next((i for i in course.items if i.id in suspended), course.items[0])
    if launch.target != course.target:  # a link to one SCO of the course
        first = course.item(launch.target.removeprefix(course.target + "/sco/"))
    return web.see_other(url_for("scorm.sco", course_id=course_id, item_id=first.id))


@bp.get("/<course_id>/sco/<path:item_id>")
def sco(course_id: str, item_id: str) -> Response:
    launch, course = _load(course_id, item_id)
    item = course.item(item_id)
    now = pages.now()
    with pages.db() as db:
        row = db.scalar(select(ImportedPackage).where(ImportedPackage.slug == course_id))
        if item.sco and row is not None and assessed.is_assessed(row, item.id):
            # Identity assurance applies (player.packages.assessed): the gate first, consumed by this session.
            package_gate.require_passed(db, launch, sco_target(course_id, item.id), now,
                                        url_for("scorm.sco", course_id=course_id, item_id=item_id))
        _, cmi = open_session(db, launch, course, item, now) if item.sco else (None, {})
        status = {a.sco: a for a in attempts(db, launch, course_id)}
    previous, following = course.neighbours(item_id)
    whole = launch.target == course.target   # a link to one SCO navigates nowhere else
    flow = whole and (course.flow or course.version == "1.2")   # SCORM 1.2 has no sequencing: both offered
    choice = whole and course.choice
    links = {i.id: url_for("scorm.sco", course_id=course_id, item_id=i.id) for i in course.items}
    config = {
        "version": course.version, "csrf": web.csrf_token(), "cmi": cmi,
        "commitUrl": url_for("scorm.commit_data", course_id=course_id, item_id=item_id),
        "next": links[following.id] if following and flow else None,
        "previous": links[previous.id] if previous and flow else None,
        "choices": links if choice else {},
        "exit": links[item_id],
    }
    return pages.render("player/scorm.html", texts=_text, course=course, item=item, marks=status,
                        links=links if choice else {}, previous=previous if flow else None,
                        following=following if flow else None,
                        frame_url=url_for("scorm.content", course_id=course_id, name=item.launch.split("?")[0])
                        + (("?" + item.launch.split("?", 1)[1]) if "?" in item.launch else ""),
                        runtime="scorm12.js" if course.version == "1.2" else "scorm2004.js",
                        config=Markup(json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")))


@bp.post("/<course_id>/sco/<path:item_id>/commit")
def commit_data(course_id: str, item_id: str) -> Response:
    """A commit of the run-time (scorm-again, flattened). ``?terminate=true`` marks the session's last."""
    launch, course = _load(course_id, item_id)
    if not (web.csrf_ok(request.headers.get("X-CSRF-Token")) or _same_origin()):
        return _refuse(403, "csrf", "missing or wrong form token (X-CSRF-Token), and not sent by the hub's page")
    if not (request.mimetype or "").endswith("json"):
        return _refuse(415, "scorm_commit_type", "a commit is application/json")
    if (request.content_length or 0) > MAX_COMMIT_BYTES:
        return _refuse(413, "scorm_commit_size", f"a commit is at most {MAX_COMMIT_BYTES} bytes")
    body = request.get_json(silent=True)
    item = course.item(item_id)
    terminate = request.args.get("terminate") == "true"
    with pages.db() as db:
        done = commit(db, launch, course, item, body, pages.now(), terminate=terminate, language=launch.locale)
    if done.ended:
        _hand_off(launch, course)
    return jsonify({"result": True, "errorCode": 0, "statements": len(done.statements)})


def _same_origin() -> bool:
    """The session's last commit goes out as the page unloads (a keep-alive request or a beacon, which
    carry no custom header): the browser's own Origin and Sec-Fetch-Site, which no page can forge, say
    it came from the hub's page (OWASP CSRF Prevention, "Verifying Origin With Standard Headers")."""
    origin = urlsplit(request.headers.get("Origin") or "")
    return (request.headers.get("Sec-Fetch-Site") == "same-origin"
            and origin.scheme in ("http", "https") and origin.netloc == request.host)


def _hand_off(launch: PlayerSession, course: ScormCourse) -> None:
    """A session ended and is committed: the course link's grade goes to the session's reporter."""
    with pages.db() as db:
        report_grade(db, launch, link_grade(db, launch, course), pages.reporters())


@bp.get("/<course_id>/content/<path:name>")
def content(course_id: str, name: str) -> Response:
    _, course = _load(course_id)
    path = package_store().file(course.package_id, name).resolve()   # Flask reads relative paths from its root
    response = send_file(path, conditional=True, max_age=0)
    ctype = content_type(name)
    if ctype:
        response.headers["Content-Type"] = ctype
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _refuse(status: int, code: str, message: str) -> Response:
    response = jsonify({"result": False, "errorCode": 101, "error": {"code": code, "message": message}})
    response.status_code = status
    return response


@bp.errorhandler(PackageError)
def _package_error(err: PackageError) -> Response:
    current_app.logger.info("SCORM request refused (%s): %s", err.code, err.message)
    return _refuse(err.status, err.code, err.message)
