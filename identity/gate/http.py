"""The identity gate's pages at /player/identity: VNeID sign-in, binding, face enrolment with consent,
the face check. Thin (DESIGN.md): parse, check the form token, call ``identity.gate.domain`` and
``identity.gate.face``, render.

``GET /player/identity/gate?<field>=<value>&next=<path>`` runs sign-in, binding, enrolment and the
face check for what ``value`` names and then redirects to ``next`` (paths on this site only). The
field says which consumer the request is for (``identity.gate.consumers``): the course player
registers ``target`` (a catalogue item of its session; none: the session's own), LTI Proctoring
``proctoring`` (a proctoring session this browser was launched into). The consumer says who the
learner is, what the gate requires and where the check statements go; the gate knows neither.

Enrolment and every assessed check take a *burst* from the camera answering a liveness challenge
(issue 12): ``POST /player/identity/challenge`` (``purpose`` enrol or check) issues a random challenge,
kept server-side, single use, expiring, bound to the VNeID account and to the enrolment or gate row
(``identity.gate.challenges``); identity.js shows its steps, captures ``(t_ms, JPEG)`` frames with
getUserMedia and posts them with the nonce (``nonce``, ``times``, one ``frame`` part per frame). There is
no upload path, except the single photo (``photo``) where the operator allows the accessibility
fallback (``AssurancePolicy.photo_fallback``): stamped ``liveness: none`` at a lower level. Sign-in and
linking work without JavaScript; the camera needs it (the page says so). identity.js also opens the
sign-in window when an LMS frames the page and runs the repeated checks on a consumer's page
(``render_panel``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request, session, url_for
from markupsafe import Markup
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

from identity import web
from identity.gate import challenges, domain, face
from identity.gate.consumers import GateFor, consumers
from identity.gate.domain import STEP_ERRORS, ExternalId, Learner, Step
from identity.gate.errors import BurstMissing, GateError, NotOpened, PhotoTooLarge, SignInRequired
from identity.gate.face import AssuranceConfig
from identity.gate.sealing import Sealer
from identity.gate.texts import t
from identity.http import config as identity_config
from identity.http import signed_in_account_id

bp = Blueprint("identity_gate", __name__, template_folder="templates", static_folder="static/gate",
               static_url_path="/static")
PREFIX = "/player/identity"
CONFIG_EXT = "identity.gate"
SEALER_EXT = "identity.gate.sealer"
SIGNED_IN_AT_KEY = "identity.signed_in_at"  # written by identity.http's callback
MAX_PHOTO_BYTES = 10 * 1024 * 1024          # face_check.ImageLimits.max_bytes: larger is unreadable anyway
# The gate's outcomes: face_check.Outcome's values and "not_live" (the burst failed its challenge).
OUTCOMES = ("match", "no_match", "no_face", "several_faces", "unreadable", "retry", "not_live")
MAX_FRAMES = 200   # parts read from one burst; face_check.BurstLimits refuses over 80 with a clear reason


def init_app(app: Flask, cfg: AssuranceConfig) -> None:
    """Mount the gate at /player/identity with ``cfg`` (the face model loads on the first check) and
    make its sealer, which the composition root hands to the statement writers."""
    configure(app, cfg)
    app.register_blueprint(bp, url_prefix=PREFIX)
    # A consumer's own pages raise gate errors too (an overdue recheck): the same page, app-wide.
    app.register_error_handler(GateError, render_error)


def configure(app: Flask, cfg: AssuranceConfig) -> None:
    """Use ``cfg`` for the gate and its sealer (tests give their own face home and instance folder)."""
    app.extensions[CONFIG_EXT] = cfg
    sealer = app.extensions.get(SEALER_EXT)
    if isinstance(sealer, Sealer):
        sealer.material = cfg.material   # the writers already hold this sealer
    else:
        app.extensions[SEALER_EXT] = Sealer(cfg.material)


def gate_config() -> AssuranceConfig:
    cfg: AssuranceConfig = current_app.extensions[CONFIG_EXT]
    return cfg


# --- request plumbing -----------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _db() -> Iterator[Session]:
    with identity_config().db.transaction() as db:
        yield db


def signed_in_at(account_signed_in: datetime) -> datetime:
    """When this browser signed in with VNeID (the session's time), else the account's last sign-in."""
    value = session.get(SIGNED_IN_AT_KEY)
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) else account_signed_in


def learner(db: Session, external: ExternalId) -> Learner | None:
    """The VNeID learner signed in in this browser, as the gate sees them for ``external``."""
    cfg = gate_config()
    cfg.require_configured()
    found = domain.learner_for(db, external, signed_in_account_id())
    if found is None:
        return None
    return Learner(found.account_id, found.subject, found.level, signed_in_at(found.signed_in_at), found.name,
                   found.bound)


def _gate_for() -> GateFor:
    found = consumers()
    name = next((n for n in found.by_field if request.values.get(n)), found.default)
    if name is None:
        raise NotOpened("the gate request names nothing to verify identity for")
    value = request.values.get(name) or ""
    nxt = request.values.get("next") or ""
    return found.by_field[name].gate_for(value, nxt if web.is_same_site_path(nxt) else None)


def use_memory_for_uploads() -> None:
    """Werkzeug spools an upload over 500 kB to a temporary file, so a phone's photo would touch the
    disk (DESIGN.md: no photo on disk). Views that take a photo call this first: it is read into
    memory instead, and the body is bounded to what one photo needs (413 beyond)."""
    request.max_content_length = MAX_PHOTO_BYTES + 64 * 1024
    # werkzeug's hook for where an upload goes, replaced on this one request (mypy: assigning to a method).
    request._get_file_stream = _in_memory  # type: ignore[method-assign]


def _in_memory(*args: Any, **kwargs: Any) -> IO[bytes]:
    return io.BytesIO()


def read_capture(account_id: int, scope: str, now: datetime) -> face.Capture:
    """What the form sent, in memory only: a burst answering a challenge (``nonce``, ``times``,
    ``frame`` parts), whose challenge is taken now (used once, committed at once, so a refused burst
    cannot try it again), or a single ``photo`` (refused later unless the fallback is allowed)."""
    nonce = request.form.get("nonce")
    if not nonce:
        upload = request.files.get("photo")
        if upload is None:
            raise BurstMissing("neither a camera burst nor a photo was sent")
        return face.Photo(upload.stream.read(MAX_PHOTO_BYTES + 1))
    with _db() as db:
        challenge = challenges.take(db, nonce, account_id, scope, now)
    return face.Burst(challenge, read_frames())


def read_frames() -> list[tuple[int, bytes]]:
    """The burst's ``(t_ms, bytes)`` frames: ``times`` (comma-separated integers) paired with the
    ``frame`` parts in order; ``BurstMissing`` when they do not pair up."""
    parts = request.files.getlist("frame")
    try:
        times = [int(v) for v in (request.form.get("times") or "").split(",") if v.strip()]
    except ValueError:
        raise BurstMissing("the frame times are not integers") from None
    if not parts or len(parts) != len(times) or len(parts) > MAX_FRAMES:
        raise BurstMissing(f"{len(parts)} frames for {len(times)} times")
    return [(t, part.stream.read(MAX_PHOTO_BYTES + 1)) for t, part in zip(times, parts, strict=True)]


def challenge_response(db: Session, account_id: int, scope: str, now: datetime, locale: str | None = None) -> Response:
    """A new challenge for ``scope`` as the browser needs it (JSON)."""
    challenge = challenges.issue(db, account_id, scope, now)
    return jsonify(challenges.public(challenge, web.page_locale(locale)))


bp.before_request(use_memory_for_uploads)


def render(template: str, status: int = 200, *, default_locale: str | None = None, **ctx: Any) -> Response:
    locale = web.page_locale(default_locale)
    html = render_template(f"gate/{template}", locale=locale, other_locale="en" if locale == "vi" else "vi",
                           t=lambda key, **kw: t(key, locale, **kw), csrf=web.csrf_token(),
                           loc=lambda text: (text.get(locale) or text.get("vi") or "") if text else "", **ctx)
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def _back(url: str, **json_body: Any) -> BaseResponse:
    """303 to ``url`` for a form; JSON (with where to go) for identity.js."""
    if web.wants_json():
        return jsonify(redirect=url, **json_body)
    return web.see_other(url)


def _check_form() -> None:
    if not web.csrf_ok(request.form.get("csrf")):
        raise GateError("missing or wrong form token")


def consent_terms() -> dict[str, Any]:
    """What the consent text names (``AssurancePolicy``): the controller (else "the operator of the hub at
    <host>", the host of this hub's own VNeID callback), the contact, the retention period."""
    policy = gate_config().policy
    host = urlsplit(identity_config().settings.redirect_uri).netloc or request.host
    return {"controller": policy.controller, "contact": policy.controller_contact, "host": host,
            "days": policy.face_retention_days}


def outcome_text(outcome: str, locale: str | None = None) -> str:
    return t(f"identity.outcome.{outcome}", locale or web.page_locale())


# --- the gate -------------------------------------------------------------------------------------

@bp.get("/gate")
def gate() -> BaseResponse:
    g, now = _gate_for(), _now()
    with _db() as db:
        who = learner(db, g.external)
        # An enrolment past its retention period is deleted now: the learner is asked to enrol again.
        enrolled = who is not None and face.current_enrolment(db, gate_config(), who.account_id, now) is not None
        step = domain.gate_step(db, g.key, who, g.min_level, now)
        row = domain.pending_gate(db, g.key)
    if step is Step.PASSED and not request.args.get("manage"):
        return web.see_other(g.next)
    outcome = request.args.get("outcome") or (row.check_outcome if row is not None and who is not None and
                                              row.account_id == who.account_id else None)
    return render("gate.html", 403 if step is Step.LEVEL else 200, default_locale=g.locale, title=g.title,
                  step=step.value, learner=who, min_level=g.min_level, enrolled=enrolled, fields=g.fields,
                  outcome=outcome if outcome in OUTCOMES else None, done=request.args.get("done"),
                  login_url=url_for("identity.login", next=g.url()),
                  popup_url=url_for("identity.login", next=url_for("identity_gate.signed_in")),
                  status_url=url_for("identity_gate.status"), signed_in_at=session.get(SIGNED_IN_AT_KEY) or "",
                  ttl_minutes=int(domain.GATE_TTL.total_seconds() // 60), back_url=g.next, back_here=g.url(),
                  consent=consent_terms(), photo_fallback=gate_config().policy.photo_fallback)


@bp.post("/bind")
def bind() -> BaseResponse:
    """The learner confirms that the consumer's identity of theirs may be linked to the VNeID account (once)."""
    g, now = _gate_for(), _now()
    _check_form()
    with _db() as db:
        domain.bind(db, g.external, require_fresh(db, g, now))
    return web.see_other(g.url())


def _way(g: GateFor) -> str:
    return g.way or g.url()


def require_fresh(db: Session, g: GateFor, now: datetime) -> Learner:
    who = learner(db, g.external)
    if who is None or not domain.fresh(who, now):
        raise SignInRequired("a recent VNeID sign-in is needed", gate_url=_way(g))
    return who


def require_bound(db: Session, g: GateFor) -> Learner:
    who = learner(db, g.external)
    if who is None:
        raise SignInRequired("not signed in with VNeID", gate_url=_way(g))
    if not who.bound:
        raise STEP_ERRORS[Step.BIND]("the identity is not linked yet", gate_url=_way(g))
    return who


@bp.post("/challenge")
def challenge() -> Response:
    """A liveness challenge for the enrolment (``purpose=enrol``) or the check (``purpose=check``) of
    this gate, for the learner signed in (JSON; see ``identity.gate.challenges``)."""
    g, now = _gate_for(), _now()
    _check_form()
    with _db() as db:
        if request.form.get("purpose") == "enrol":
            who = require_fresh(db, g, now)
            if not who.bound:
                raise STEP_ERRORS[Step.BIND]("the identity is not linked yet", gate_url=_way(g))
            return challenge_response(db, who.account_id, challenges.enrol_scope(who.account_id), now, g.locale)
        who, row = _checkable(db, g, now)
        return challenge_response(db, who.account_id, challenges.check_scope(row.session_id), now, g.locale)


def _checkable(db: Session, g: GateFor, now: datetime) -> tuple[Learner, Any]:
    """The learner and the pending gate row a check before the attempt is for."""
    who = require_bound(db, g)
    step = domain.gate_step(db, g.key, who, g.min_level, now)
    if step not in (Step.CHECK, Step.PASSED):
        raise STEP_ERRORS[step](f"identity gate: {step}", gate_url=g.url())
    return who, domain.start_gate(db, g.key, who, g.min_level, now)


@bp.post("/enrol")
def enrol() -> BaseResponse:
    g, now = _gate_for(), _now()
    _check_form()
    with _db() as db:
        who = require_fresh(db, g, now)
        if not who.bound:
            raise STEP_ERRORS[Step.BIND]("the identity is not linked yet", gate_url=_way(g))
    capture = read_capture(who.account_id, challenges.enrol_scope(who.account_id), now)
    with _db() as db:
        face.enrol(db, gate_config(), who, capture, consent=request.form.get("consent") == "yes", now=now)
    del capture
    return _back(g.url(), enrolled=True)


@bp.post("/withdraw")
def withdraw() -> BaseResponse:
    """Consent withdrawn: the face reference is deleted at once."""
    g = _gate_for()
    _check_form()
    with _db() as db:
        face.withdraw(db, gate_config(), require_bound(db, g))
    return web.see_other(g.url(done="withdrawn"))


@bp.post("/check")
def check() -> BaseResponse:
    """The face check before the attempt (initial): a statement either way; the gate opens on a match."""
    g, now = _gate_for(), _now()
    _check_form()
    with _db() as db:
        who, row = _checkable(db, g, now)
        scope = challenges.check_scope(row.session_id)
    capture = read_capture(who.account_id, scope, now)
    with _db() as db:
        who, row = _checkable(db, g, now)
        if challenges.check_scope(row.session_id) != scope:   # another learner's check reset the gate meanwhile
            raise GateError("the gate changed during the check")
        result = face.run_check(db, gate_config(), g.checks, row, capture, now)
    del capture
    where = g.next if result.result.matched else g.url(outcome=result.outcome)
    return _back(where, outcome=result.outcome, matched=result.result.matched,
                 message=outcome_text(result.outcome, web.page_locale(g.locale)))


@bp.get("/status")
def status() -> Response:
    """Polled by a framed page while the learner signs in in another window. Reads only: the
    session cookie is not rewritten, so this never races the sign-in window's cookie."""
    return jsonify(signed_in=signed_in_account_id() is not None, signed_in_at=session.get(SIGNED_IN_AT_KEY) or "")


@bp.get("/signed-in")
def signed_in() -> Response:
    """Where the sign-in window lands: it tells the page that opened it (postMessage, same origin) and closes."""
    return render("signed_in.html")


@bp.post("/locale")
def set_locale() -> BaseResponse:
    _check_form()
    web.choose_locale(request.form.get("lang"))
    back = request.form.get("next") or ""
    return web.see_other(back if web.is_same_site_path(back) and back.startswith(PREFIX) else PREFIX + "/gate")


# --- on a consumer's page ------------------------------------------------------------------------

def render_panel(panel: dict[str, Any]) -> Markup:
    """The gate's part of a consumer's page (``gate/panel.html``): what is required and the way to
    the gate before the attempt, the repeated check during it. ``panel`` is what the template reads."""
    locale = web.page_locale(panel.get("locale"))
    html = render_template("gate/panel.html", gate=panel, attempt=panel.get("row") is not None or
                           panel.get("attempt", False), locale=locale, csrf=web.csrf_token(),
                           t=lambda key, **kw: t(key, locale, **kw),
                           photo_fallback=gate_config().policy.photo_fallback)
    return Markup(html)  # rendered by Jinja with autoescape: already escaped


# --- errors and headers -----------------------------------------------------------------------------

def render_error(err: GateError) -> Response:
    """A gate error as a page with the way back to the gate, or JSON for identity.js (app-wide)."""
    way = err.params.get("gate_url")
    # The form's consumer field leads back to the gate (a body over the limit is never read: no form then).
    if way is None and not isinstance(err, PhotoTooLarge) and request.blueprint == bp.name:
        for name in consumers().by_field:
            if request.values.get(name):
                # As url_for's **values (Any): mypy cannot know the key is not one of its own (_external: bool).
                field: dict[str, Any] = {name: request.values[name]}
                way = url_for("identity_gate.gate", **field, next=request.values.get("next"))
                break
    outcome = err.params.get("outcome")
    if web.wants_json():
        return Response(jsonify(error={"code": err.key, "message": t(err.key, web.page_locale()), "gate_url": way,
                                       "outcome": outcome}).get_data(),
                        status=err.status, content_type="application/json")
    return render("message.html", err.status, title_key=err.title_key, text_key=err.key, gate_url=way,
                  outcome=outcome if outcome in OUTCOMES else None)


bp.register_error_handler(RequestEntityTooLarge, lambda _err: render_error(PhotoTooLarge("the photo is too large")))


@bp.after_request
def _no_store(response: Response) -> Response:
    if request.endpoint != "identity_gate.static":
        response.headers["Cache-Control"] = "no-store"  # pages show one learner's state
    return response
