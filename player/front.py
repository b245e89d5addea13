"""The public front door at ``/``: what the platform is, the national courses, "Đăng nhập bằng VNeID".

A citizen needs no LMS: they sign in with VNeID (``identity.http``: the same OIDC client, the demo
provider under ``make run``) and open a course, which opens a player session of the citizen source
(``player.citizen``) in the national tenant. Thin: parse, call ``player.citizen``, render.

- ``GET /``: the front door (Vietnamese; English with the page's switch);
- ``GET /courses/<course>``: open a course (signing in first when needed; opening again resumes);
- ``POST /sign-out``: sign out of VNeID and close the player session (``front.js`` first syncs the
  device's queue and forgets the pages kept for offline use).

"My learning" is ``player.learning_http``; the installable web app's files are ``player.webapp``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, request, session, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from identity import web
from identity.errors import AccountNotFound
from identity.gate.http import gate_config
from identity.http import ACCOUNT_KEY, PENDING_KEY, signed_in_account_id
from player import citizen, pages
from player.catalogue import Course
from player.domain import NoLaunch, NotInCatalogue
from player.session import KEY, PlayerSession

bp = Blueprint("front", __name__, template_folder="templates")
CONFIG_EXT = "player.front"
SIGNED_IN_AT_KEY = "identity.signed_in_at"   # identity.http's callback writes it


@dataclass(frozen=True)
class FrontConfig:
    national_tenant: str        # Settings.national_tenant
    national_tenant_name: str


def init_front(app: Flask, cfg: FrontConfig) -> None:
    """Mount the front door at the site's root, and have the player close a citizen's session once
    its VNeID account is no longer the one signed in. ("My learning" and the web app's files are
    mounted beside it by the composition root: ``player.learning_http``, ``player.webapp``.)"""
    app.extensions[CONFIG_EXT] = cfg
    app.register_blueprint(bp)
    pages.register_source_check(app, citizen.SOURCE, lambda opened: citizen.belongs_to(opened,
                                                                                        signed_in_account_id()))


def config() -> FrontConfig:
    cfg: FrontConfig = current_app.extensions[CONFIG_EXT]
    return cfg


# --- the signed-in citizen ---------------------------------------------------------------------------

def sign_in_ready() -> bool:
    """VNeID sign-in is configured (a pepper for the pseudonymous subjects exists)."""
    return len(gate_config().pepper) >= 16


def current_citizen(db: Session) -> citizen.Citizen | None:
    account_id = signed_in_account_id()
    if account_id is None or not sign_in_ready():
        return None
    try:
        return citizen.citizen_of(db, account_id)
    except AccountNotFound:
        return None


def national_tenant(db: Session) -> int:
    cfg = config()
    return citizen.national_tenant_id(db, cfg.national_tenant, cfg.national_tenant_name)


@contextmanager
def citizen_db() -> Iterator[tuple[Session, citizen.Citizen | None]]:
    with pages.db() as db:
        yield db, current_citizen(db)


def login_url(next_url: str) -> str:
    return url_for("identity.login", next=next_url)


def current_course_session() -> PlayerSession | None:
    """The citizen's open player session, if this browser has one."""
    try:
        opened = pages.current_launch()
    except NoLaunch:
        return None
    return opened if opened.source == citizen.SOURCE else None


# --- pages ----------------------------------------------------------------------------------------

@bp.get("/")
def home() -> Response:
    with citizen_db() as (_db, who):
        pass   # the citizen is read (a plain value) inside the transaction, used after it
    courses = list(pages.catalogue().courses.values())
    opened = current_course_session()
    return pages.render("player/front.html", courses=courses, who=who, ready=sign_in_ready(),
                        login=login_url(url_for("learning.mine")), resume_url=pages.view_url(opened.target)
                        if opened else None, signed_out=request.args.get("signed_out") == "1",
                        lessons=lambda c: sum(len(m.lessons) for m in c.modules),
                        minutes=lambda c: sum(lesson.duration_seconds for m in c.modules for lesson in m.lessons) // 60)


@bp.get("/courses/<course_id>")
def open_course(course_id: str) -> BaseResponse:
    """Open a course as the signed-in citizen (idempotent: it only opens, or reopens, the session)."""
    course: Course | None = pages.catalogue().courses.get(course_id)
    if course is None:
        raise NotInCatalogue(f"no course {course_id!r}")
    here = url_for("front.open_course", course_id=course_id)
    with citizen_db() as (db, who):
        if who is None:
            return web.see_other(login_url(here))
        tenant_id = national_tenant(db)
        citizen.bind_to_account(db, tenant_id, who)
    opened = current_course_session()
    if opened is None or opened.target != course.target or opened.source_data.get(citizen.ACCOUNT_ID) != who.account_id:
        pages.open_session(citizen.course_session(tenant_id, who, course.target, web.chosen_locale() or "vi"))
    return web.see_other(url_for("player.open"))


@bp.post("/sign-out")
def sign_out() -> BaseResponse:
    """Sign out of VNeID here and close the player session: on a shared phone the next person
    starts from the front door. (The device's queue was synced by front.js before this.)"""
    pages.check_csrf(request.form.get("csrf"))
    try:
        launch = pages.current_launch()
        with pages.db() as db:
            pages.leave_au(db, launch, pages.now())   # cmi5 §9.3.8: the open lesson session ends
    except NoLaunch:
        pass
    for key in (ACCOUNT_KEY, SIGNED_IN_AT_KEY, PENDING_KEY, KEY, pages.AU_KEY):
        session.pop(key, None)
    return web.see_other(url_for("front.home", signed_out=1))


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"   # who is signed in, their courses
    return response
