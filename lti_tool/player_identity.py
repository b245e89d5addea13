"""The identity gate's pages at /player/identity: VNeID sign-in, binding, face enrolment with
consent, face checks before and during a quiz. Thin (DESIGN.md): parse, check the form token, call
``lti_tool.player_assurance``, render with the player's chrome (``lti_tool.player``'s plumbing).

``GET /player/identity/gate?target=<catalogue target>&next=<path>`` runs sign-in, binding,
enrolment and the face check for ``target`` (default: the launched link) and then redirects to
``next`` (paths on this site only). ``?proctoring=<proctoring session id>`` instead runs it for a
proctored assessment this browser was launched into (``GateFor``; ``lti_tool.http_proctoring``):
the learner and the requirement then come from that session, not from the player's launch.
Every page works without JavaScript (forms, ``<input type=file capture=user>``); identity.js
adds the camera (getUserMedia, a 640×480 JPEG frame), the sign-in window when the LMS frames the
player, and the repeated checks during a quiz.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, session, url_for
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

from identity import storage as identity_storage
from identity.http import is_same_site_path, signed_in_account_id
from lrs.errors import XapiError
from lti_tool import player as p
from lti_tool import player_assurance as gate_domain
from lti_tool import player_face as face_domain
from lti_tool import player_quiz as quiz_domain
from lti_tool.catalogue import Resolved
from lti_tool.launch_context import LaunchContext
from lti_tool.player_assurance import (
    STEP_ERRORS,
    GateError,
    GateKey,
    Learner,
    PhotoMissing,
    PhotoTooLarge,
    Sealer,
    Step,
)
from lti_tool.player_domain import AttemptClosed, PlayerError, resolve_in_launch
from lti_tool.player_face import AssuranceConfig
from lti_tool.player_i18n import t
from lti_tool.player_statements import SEALER_KEY
from lti_tool.player_storage import QuizAttempt

bp = Blueprint("player_identity", __name__, template_folder="templates")
CONFIG_EXT = "lti_tool.player_assurance"
SIGNED_IN_AT_KEY = "identity.signed_in_at"  # written by identity.http's callback
MAX_PHOTO_BYTES = 10 * 1024 * 1024          # face_check.ImageLimits.max_bytes: larger is unreadable anyway


def init_app(app: Flask) -> None:
    """Mount /player/identity and build the gate's configuration once (the face model loads on the
    first check). Called by ``lti_tool.player.init_player``."""
    identity_cfg = app.extensions.get("identity")
    settings = identity_cfg.settings if identity_cfg is not None else None
    pepper = settings.pepper if settings is not None and settings.configured else b""
    instance_dir = settings.instance_dir if settings is not None else Path("instance")
    configure(app, AssuranceConfig.from_env(secret_key=app.config.get("SECRET_KEY") or "", pepper=pepper,
                                            instance_dir=instance_dir))
    app.register_blueprint(bp, url_prefix="/player/identity")


def configure(app: Flask, cfg: AssuranceConfig) -> None:
    """Use ``cfg`` for the gate and the sealer (tests give their own face home and instance folder)."""
    app.extensions[CONFIG_EXT] = cfg
    app.extensions[SEALER_KEY] = Sealer(cfg.material)


def _cfg() -> AssuranceConfig:
    cfg: AssuranceConfig = current_app.extensions[CONFIG_EXT]
    return cfg


# --- request plumbing -----------------------------------------------------------------------------

def _signed_in_at(account_signed_in: datetime) -> datetime:
    """When this browser signed in with VNeID (the session's time), else the account's last sign-in."""
    value = session.get(SIGNED_IN_AT_KEY)
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) else account_signed_in


def _learner(db: Session, launch: LaunchContext) -> Learner | None:
    cfg = _cfg()
    cfg.require_configured()
    learner = gate_domain.learner_for(db, launch, signed_in_account_id(), cfg.pepper)
    if learner is None:
        return None
    return Learner(learner.account_id, learner.subject, learner.level, _signed_in_at(learner.signed_in_at),
                   learner.name, learner.bound)


def _resolved(launch: LaunchContext) -> Resolved:
    return resolve_in_launch(p._catalogue(), launch, request.values.get("target") or launch.target)


def _min_level(resolved: Resolved) -> int:
    quiz = resolved.quiz
    return quiz.identity.min_level if quiz is not None and quiz.identity is not None else gate_domain.DEFAULT_MIN_LEVEL


def _safe_next(resolved: Resolved) -> str:
    value = request.values.get("next") or ""
    return value if is_same_site_path(value) else p._view_url(resolved.target)


def gate_url(target: str, next_url: str | None = None) -> str:
    return url_for("player_identity.gate", target=target, next=next_url or p._view_url(target))


@dataclass(frozen=True)
class GateFor:
    """What one gate request is for: a catalogue item of the player's launch, or a proctored
    assessment (``proctoring=<id>``), and the form fields that lead back to the same gate."""

    launch: LaunchContext
    key: GateKey
    min_level: int
    title: Mapping[str, str]
    fields: dict[str, str]                                # "target" or "proctoring", then "next"
    resolved: Resolved | None = None                      # the catalogue item, when there is one
    assessment: dict[str, Any] | None = None              # the parent activity of an outside one
    way: str | None = None                                # where errors lead (None: the player's gate)

    @property
    def next(self) -> str:
        return self.fields["next"]

    def url(self, **params: str) -> str:
        return url_for("player_identity.gate", **self.fields, **params)


def _gate_for() -> GateFor:
    public_id = request.values.get("proctoring")
    if public_id:
        return _proctored(public_id)
    launch = p._launch()
    resolved = _resolved(launch)
    return GateFor(launch, gate_domain.gate_key(launch, resolved.target), _min_level(resolved), resolved.item.title,
                   {"target": resolved.target, "next": _safe_next(resolved)}, resolved)


def _proctored(public_id: str) -> GateFor:
    """The gate of a proctoring session this browser was launched into (it never reads or writes the
    player's launch, which another tab may be using)."""
    from lti_tool.http_proctoring import proctored_gate, start_url

    gate = proctored_gate(public_id)
    value = request.values.get("next") or ""
    nxt = value if is_same_site_path(value) else start_url(public_id)
    fields = {"proctoring": public_id, "next": nxt}
    way = url_for("player_identity.gate", **fields)
    if gate.target is not None:   # the link names a catalogue item: its requirement, as in the player
        resolved = resolve_in_launch(p._catalogue(), gate.launch, gate.target)
        return GateFor(gate.launch, gate.key, _min_level(resolved), resolved.item.title, fields, resolved, way=way)
    return GateFor(gate.launch, gate.key, gate.min_level, gate.title, fields, assessment=gate.assessment, way=way)


def _in_memory(*args: Any, **kwargs: Any) -> IO[bytes]:
    return io.BytesIO()


@bp.before_request
def _photos_stay_in_memory() -> None:
    # Werkzeug spools an upload over 500 kB to a temporary file, so a phone's photo would touch the
    # disk (DESIGN.md: no photo on disk). Uploads here are read into memory instead, and the body is
    # bounded to what one photo needs (413 beyond).
    request.max_content_length = MAX_PHOTO_BYTES + 64 * 1024
    request._get_file_stream = _in_memory  # type: ignore[method-assign]


def _photo() -> bytes:
    upload = request.files.get("photo")
    if upload is None:
        raise PhotoMissing("no photo was sent")
    # Read in memory only, bounded; the bytes are dropped once embedded (nothing is written to disk).
    return upload.stream.read(MAX_PHOTO_BYTES + 1)


def _back(url: str, **json_body: Any) -> BaseResponse:
    """303 to ``url`` for a form; JSON (with where to go) for identity.js."""
    if p._wants_json():
        return jsonify(redirect=url, **json_body)
    return p._see_other(url)


def _outcome_text(outcome: str) -> str:
    return t(f"identity.outcome.{outcome}", p._locale())


# --- the gate -------------------------------------------------------------------------------------

@bp.get("/gate")
def gate() -> BaseResponse:
    g, now = _gate_for(), p._now()
    nxt = g.next
    with p._db() as db:
        learner = _learner(db, g.launch)
        step = gate_domain.gate_step(db, g.key, learner, g.min_level, now)
        row = gate_domain.pending_gate(db, g.key)
        enrolled = learner is not None and identity_storage.face_enrolment(db, learner.account_id) is not None
    if step is Step.PASSED and not request.args.get("manage"):
        return p._see_other(nxt)
    outcome = request.args.get("outcome") or (row.check_outcome if row is not None and learner is not None and
                                              row.account_id == learner.account_id else None)
    login = url_for("identity.login", next=g.url())
    return p._render("identity_gate.html", 403 if step is Step.LEVEL else 200, title=g.title, step=step.value,
                     learner=learner, min_level=g.min_level, enrolled=enrolled, fields=g.fields,
                     outcome=outcome if outcome in OUTCOMES else None, done=request.args.get("done"),
                     login_url=login, popup_url=url_for("identity.login", next=url_for("player_identity.signed_in")),
                     status_url=url_for("player_identity.status"), signed_in_at=session.get(SIGNED_IN_AT_KEY) or "",
                     ttl_minutes=int(gate_domain.GATE_TTL.total_seconds() // 60), back_url=nxt)


OUTCOMES = ("match", "no_match", "no_face", "several_faces", "unreadable")


@bp.post("/bind")
def bind() -> BaseResponse:
    """The learner confirms that their LMS identity is theirs to link to the VNeID account (once)."""
    g, now = _gate_for(), p._now()
    p._check_csrf(request.form.get("csrf"))
    with p._db() as db:
        learner = _require_fresh(db, g.launch, now, g.way)
        gate_domain.bind(db, g.launch, learner)
    return p._see_other(g.url())


def _require_fresh(db: Session, launch: LaunchContext, now: datetime, way: str | None = None) -> Learner:
    learner = _learner(db, launch)
    if learner is None or not gate_domain.fresh(learner, now):
        raise gate_domain.SignInRequired("a recent VNeID sign-in is needed", gate_url=way or gate_url(launch.target))
    return learner


def _require_bound(db: Session, launch: LaunchContext, way: str | None = None) -> Learner:
    learner = _learner(db, launch)
    if learner is None:
        raise gate_domain.SignInRequired("not signed in with VNeID", gate_url=way or gate_url(launch.target))
    if not learner.bound:
        raise gate_domain.BindRequired("the LMS identity is not linked yet", gate_url=way or gate_url(launch.target))
    return learner


@bp.post("/enrol")
def enrol() -> BaseResponse:
    g, now = _gate_for(), p._now()
    p._check_csrf(request.form.get("csrf"))
    photo = _photo()
    with p._db() as db:
        learner = _require_fresh(db, g.launch, now, g.way)
        if not learner.bound:
            way = g.way or gate_url(g.resolved.target if g.resolved is not None else g.launch.target)
            raise gate_domain.BindRequired("the LMS identity is not linked yet", gate_url=way)
        face_domain.enrol(db, _cfg(), learner, photo, consent=request.form.get("consent") == "yes", now=now)
    del photo
    return _back(g.url(), enrolled=True)


@bp.post("/withdraw")
def withdraw() -> BaseResponse:
    """Consent withdrawn: the face reference is deleted at once."""
    g = _gate_for()
    p._check_csrf(request.form.get("csrf"))
    with p._db() as db:
        face_domain.withdraw(db, _cfg(), _require_bound(db, g.launch, g.way))
    return p._see_other(g.url(done="withdrawn"))


@bp.post("/check")
def check() -> BaseResponse:
    """The face check before the quiz (initial): a statement either way; the gate opens on a match."""
    g, now = _gate_for(), p._now()
    p._check_csrf(request.form.get("csrf"))
    photo = _photo()
    with p._db() as db:
        learner = _require_bound(db, g.launch, g.way)
        step = gate_domain.gate_step(db, g.key, learner, g.min_level, now)
        if step not in (Step.CHECK, Step.PASSED):
            raise STEP_ERRORS[step](f"identity gate: {step}", gate_url=g.url())
        row = gate_domain.start_gate(db, g.key, learner, g.min_level, now)
        result = face_domain.run_check(db, _cfg(), g.launch, row, g.resolved, photo, now, assessment=g.assessment)
    del photo
    where = g.next if result.matched else g.url(outcome=result.outcome.value)
    return _back(where, outcome=result.outcome.value, matched=result.matched,
                 message=_outcome_text(result.outcome.value))


@bp.post("/recheck/<path:target>")
def recheck(target: str) -> BaseResponse:
    """A repeated check during the open attempt at ``target``."""
    launch, now = p._launch(), p._now()
    p._check_csrf(request.form.get("csrf"))
    resolved = resolve_in_launch(p._catalogue(), launch, target)
    photo = _photo()
    with p._db() as db:
        attempt = quiz_domain.open_attempt(db, launch)
        row = gate_domain.assurance_of(db, attempt) if attempt is not None and attempt.quiz_target == target else None
        if row is None:
            raise AttemptClosed("no open attempt with identity assurance at this quiz")
        result = face_domain.run_check(db, _cfg(), launch, row, resolved, photo, now)
        recheck_in = gate_domain.seconds_to_recheck(row, now)
        unverified = row.failed_at is not None
    del photo
    return _back(p._view_url(target, identity_outcome=result.outcome.value), outcome=result.outcome.value,
                 matched=result.matched, message=_outcome_text(result.outcome.value), recheck_in=recheck_in,
                 unverified=unverified)


@bp.get("/status")
def status() -> Response:
    """Polled by the framed player while the learner signs in in another window. Reads only: the
    session cookie is not rewritten, so this never races the sign-in window's cookie."""
    return jsonify(signed_in=signed_in_account_id() is not None, signed_in_at=session.get(SIGNED_IN_AT_KEY) or "")


@bp.get("/signed-in")
def signed_in() -> Response:
    """Where the sign-in window lands: it tells the player (postMessage, same origin) and closes."""
    return p._render("identity_signed_in.html")


# --- hooks for lti_tool.player ----------------------------------------------------------------------

def start_quiz(db: Session, launch: LaunchContext, resolved: Resolved, now: datetime, launch_url: str) -> QuizAttempt:
    """``player.start``: a quiz that requires identity assurance opens only through a passed gate,
    and its attempt takes the gate's cmi5 session id (so all its statements are stamped)."""
    quiz = resolved.quiz
    current = quiz_domain.open_attempt(db, launch)
    if quiz is None or quiz.identity is None or (current is not None and current.quiz_target == quiz.target):
        return quiz_domain.start_attempt(db, launch, resolved, now, launch_url)
    learner = _learner(db, launch)
    key = gate_domain.gate_key(launch, quiz.target)
    step = gate_domain.gate_step(db, key, learner, quiz.identity.min_level, now)
    row = gate_domain.pending_gate(db, key)
    if step is not Step.PASSED or row is None:
        raise STEP_ERRORS[step](f"identity gate: {step}", gate_url=gate_url(quiz.target))
    attempt = quiz_domain.start_attempt(db, launch, resolved, now, launch_url, session_id=row.session_id)
    gate_domain.consume(db, row, now, attempt_id=attempt.id, recheck=quiz.identity.recheck)
    return attempt


def quiz_panel(db: Session, launch: LaunchContext, resolved: Resolved, attempt: QuizAttempt | None,
               now: datetime) -> dict[str, Any] | None:
    """What the quiz page shows of the gate (None: the quiz requires no identity assurance)."""
    quiz = resolved.quiz
    if quiz is None or quiz.identity is None:
        return None
    panel: dict[str, Any] = {"requirement": quiz.identity, "gate_url": gate_url(quiz.target), "passed": False,
                             "row": None, "recheck_in": None, "outcome": request.args.get("identity_outcome"),
                             "ttl_minutes": int(gate_domain.GATE_TTL.total_seconds() // 60),
                             "manage_url": url_for("player_identity.gate", target=quiz.target, manage=1,
                                                   next=p._view_url(quiz.target))}
    if panel["outcome"] not in OUTCOMES:
        panel["outcome"] = None
    if attempt is not None:
        row = gate_domain.assurance_of(db, attempt)
        panel.update(row=row, recheck_in=gate_domain.seconds_to_recheck(row, now),
                     recheck_url=url_for("player_identity.recheck", target=quiz.target))
        return panel
    try:
        learner = _learner(db, launch)
        step = gate_domain.gate_step(db, gate_domain.gate_key(launch, quiz.target), learner, quiz.identity.min_level,
                                     now)
    except GateError as err:
        panel["error"] = err.key
        return panel
    panel.update(passed=step is Step.PASSED, learner=learner)
    return panel


# --- errors and headers -----------------------------------------------------------------------------

def _gate_error(err: GateError) -> Response:
    way = err.params.get("gate_url")
    # The form's target (or proctoring session) leads back to the gate (a body over the limit is never
    # read: no form then).
    if way is None and not isinstance(err, PhotoTooLarge) and request.blueprint == bp.name:
        for name in ("proctoring", "target"):
            if request.values.get(name):
                way = url_for("player_identity.gate", **{name: request.values[name]}, next=request.values.get("next"))
                break
    if p._wants_json():
        return Response(jsonify(error={"code": err.key, "message": t(err.key, p._locale()), "gate_url": way,
                                       "outcome": err.params.get("outcome")}).get_data(),
                        status=err.status, content_type="application/json")
    outcome = err.params.get("outcome")
    return p._render("identity_message.html", err.status, title_key=err.title_key, text_key=err.key,
                     gate_url=way, outcome=outcome if outcome in OUTCOMES else None)


# The player's own pages (start, answer, submit) raise gate errors too: they get the same page,
# with the way to the gate. Registered on import, which init_player does before mounting bp.
p.bp.register_error_handler(GateError, _gate_error)
bp.register_error_handler(GateError, _gate_error)
bp.register_error_handler(PlayerError, p._player_error)
bp.register_error_handler(RequestEntityTooLarge, lambda _err: _gate_error(PhotoTooLarge("the photo is too large")))
bp.register_error_handler(XapiError, p._store_error)


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # pages show one learner's state
    return response
