"""The player's request plumbing: the learner's session, the language, the database, the page chrome.

Used by the player's routes (``player.http``) and by the pages a source adds in the player's look
(an LMS instructor's roster, ``lti_tool.roster_page``). A source opens the player with
``open_session`` and sends the browser to ``url_for("player.open")``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, render_template, request, session, url_for
from markupsafe import Markup
from sqlalchemy.orm import Session

from identity import web
from lrs.storage import Database
from player.catalogue import Catalogue, localized
from player.domain import BadInput, NoLaunch, end_au, launch_from_session
from player.grades import ScoreReporter
from player.i18n import t
from player.offline import tickets
from player.session import KEY, PlayerSession
from player.statements import SEALER_KEY, AuSession

AU_KEY = "player_au"              # the learner's open lesson AU session
# Sent by the service worker when it fetches a page ahead for offline use (player/web/src/sw.js).
AHEAD_HEADER = "X-Hocvu-Ahead"
CATALOGUE_EXT = "player.catalogue"
REPORTERS_EXT = "player.reporters"
FINISHED_EXT = "player.attempt_finished"
# Told once a quiz attempt of ``session`` has ended and is committed (credentials, say): it must not
# raise, and it runs before the grade goes to the session's reporter.
AttemptFinished = Callable[[PlayerSession], None]
SOURCE_CHECKS_EXT = "player.source_checks"
# Whether a source's session still holds in this browser (a citizen's: still signed in as the same
# VNeID account), asked on every request; an LTI launch's holds as long as its cookie.
SourceCheck = Callable[[PlayerSession], bool]


def open_session(opened: PlayerSession) -> None:
    """A source hands the browser to the player: this session replaces any earlier one."""
    session[KEY] = opened.to_session()
    session.pop(AU_KEY, None)


def register_reporter(app: Flask, name: str, reporter: ScoreReporter) -> None:
    """A source's way to report scores (``PlayerSession.reporter`` names it), registered at start-up."""
    reporters = app.extensions.setdefault(REPORTERS_EXT, {})
    if name in reporters:
        raise ValueError(f"a score reporter {name!r} is already registered")
    reporters[name] = reporter


def on_attempt_finished(app: Flask, listener: AttemptFinished) -> None:
    """Registered at start-up by whoever needs to know when an attempt ended (the composition root
    wires the credentials package's hook here: the player does not import it)."""
    app.extensions.setdefault(FINISHED_EXT, []).append(listener)


def attempt_finished(opened: PlayerSession) -> None:
    for listener in current_app.extensions.get(FINISHED_EXT, ()):
        try:
            listener(opened)
        except Exception:  # the attempt is committed; a listener's failure must not cost the learner it
            current_app.logger.exception("an attempt-finished listener failed for %s", opened.target)


def register_source_check(app: Flask, source: str, check: SourceCheck) -> None:
    """A source's rule for whether its sessions still hold (``PlayerSession.source``), at start-up."""
    app.extensions.setdefault(SOURCE_CHECKS_EXT, {})[source] = check


def reporters() -> Mapping[str, ScoreReporter]:
    found: Mapping[str, ScoreReporter] = current_app.extensions.get(REPORTERS_EXT, {})
    return found


def now() -> datetime:
    return datetime.now(UTC)


def catalogue() -> Catalogue:
    cat: Catalogue = current_app.extensions[CATALOGUE_EXT]
    return cat


def current_launch() -> PlayerSession:
    opened = launch_from_session(session.get(KEY))
    check: SourceCheck | None = current_app.extensions.get(SOURCE_CHECKS_EXT, {}).get(opened.source)
    if check is not None and not check(opened):
        raise NoLaunch(f"the {opened.source} session no longer holds in this browser")
    return opened


# The citizen's own pages (the front door, "my learning", the web app's) are Vietnamese unless the
# person chose English with the switch, whatever language the browser asks for.
VIETNAMESE_FIRST = ("front", "learning", "webapp")


def locale() -> str:
    try:
        opened: str | None = current_launch().locale
    except NoLaunch:
        opened = None
    return web.page_locale(opened or ("vi" if request.blueprint in VIETNAMESE_FIRST else None))


@contextmanager
def db() -> Iterator[Session]:
    database: Database = current_app.extensions["hocvu.db"]
    with database.transaction() as s:
        s.info[SEALER_KEY] = current_app.extensions.get(SEALER_KEY)  # stamps and signs assured attempts
        yield s


def current_au() -> AuSession | None:
    return AuSession.from_session(session.get(AU_KEY))


def set_au(au: AuSession | None) -> None:
    if au is None:
        session.pop(AU_KEY, None)
    else:
        session[AU_KEY] = au.to_session()


def leave_au(s: Session, launch: PlayerSession, when: datetime) -> None:
    """Off a lesson page the lesson's AU session is over (cmi5 §9.3.8)."""
    au = current_au()
    if au is not None:
        end_au(s, launch, catalogue(), au, when)


def fetched_ahead() -> bool:
    """The service worker is keeping this page for offline use: the learner has not opened it."""
    return request.headers.get(AHEAD_HEADER) == "1"


def ticket(au: AuSession | None = None) -> str:
    """The page's ticket for the ops its device queues (``player.offline.tickets``); "" without a session."""
    try:
        opened = current_launch()
    except NoLaunch:
        return ""
    secret = current_app.secret_key
    return tickets.issue(secret, opened, au) if isinstance(secret, str) else ""


def check_csrf(sent: Any) -> None:
    if not web.csrf_ok(sent):
        raise BadInput("missing or wrong form token")


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadInput("expected a JSON object")
    check_csrf(body.get("csrf"))
    return body


def view_url(target: str, **kw: Any) -> str:
    return url_for("player.view", target=target, **kw)


def render(template: str, status: int = 200, *, texts: Any = None, au: AuSession | None = None,
           **ctx: Any) -> Response:
    """A page in the player's chrome (``player/base.html``). ``texts``: a source's own lookup
    (key, locale, **params) tried before the player's, for the pages it adds; ``au``: the AU session
    the page is in, for its ticket."""
    lang = locale()

    def text(key: str, **kw: Any) -> str:
        found = texts(key, lang, **kw) if texts is not None else None
        return found if found is not None else t(key, lang, **kw)

    html = render_template(
        template, locale=lang, other_locale="en" if lang == "vi" else "vi", t=text, t_in=t,
        loc=lambda value: localized(value, lang) if value else "", csrf=web.csrf_token(), ticket=ticket(au),
        front=current_app.blueprints.get("front") is not None, sync_texts=_sync_texts(text), **ctx)
    return Response(html, status=status, content_type="text/html; charset=utf-8")


SYNC_TEXTS = {"synced": "sync.synced", "waiting": "sync.waiting", "offline": "sync.offline", "refused": "sync.refused",
              "signin": "sync.signin", "time_up": "sync.reason.error.time_up",
              "attempt_closed": "sync.reason.error.attempt_closed", "other": "sync.reason.other",
              "unsynced": "front.unsynced", "submitted_offline": "quiz.submitted_offline",
              "offline_hold": "quiz.offline_hold", "video_saved": "lesson.video_saved"}


def _sync_texts(text: Callable[..., str]) -> Markup:
    """The texts player.js shows, in the page's language, as JSON for a script element ("{n}" kept)."""
    data = {name: text(key, n="{n}") for name, key in SYNC_TEXTS.items()}
    return Markup(json.dumps(data, ensure_ascii=False).replace("<", "\\u003c"))

