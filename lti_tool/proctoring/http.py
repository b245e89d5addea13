"""The proctoring blueprint at /lti/proctoring (1EdTech Proctoring Services 1.0, tool side): thin —
parse, call ``messages`` / ``session`` / ``acs`` and the identity gate (``identity.gate``), render.
Errors are ``LtiError``s rendered as the LTI error page, the gate's errors on it too; on the gate's
own pages the gate renders them.

Platforms post every launch, proctoring ones included, to the one redirect URI they registered
(/lti/launch; Security Framework 1.0 §5.1.1.2 redirect_uri). ``init_app`` therefore adds a hook
that takes the id_tokens whose message_type is a proctoring one before the resource-link view
runs; it reads the type unverified only to choose the handler, which then verifies everything.

Routes: /lti/proctoring/<id>/start (after the gate: the auto-POSTed LtiStartAssessment),
/<id>/monitor (the window that repeats the face check during the assessment) and /<id>/check.

The gate runs at /player/identity/gate?proctoring=<id> (``ProctoringGate``, the gate's consumer of
``proctoring=``): what it needs of the launch (``gate.GateSettings``) is kept in the browser's
signed session keyed by the proctoring session id, beside the ids this browser was launched into.
The player's own session (``player.session.KEY``), which another tab may be using, is left alone.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, render_template, request, session, url_for
from pylti1p3.contrib.flask.request import FlaskRequest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from identity.gate import challenges
from identity.gate import domain as gate
from identity.gate import face as gate_face
from identity.gate import http as gate_http
from identity.gate.consumers import CheckContext, GateFor, register_consumer
from identity.gate.errors import GateError
from identity.gate.texts import t as gate_t
from identity.storage import AttemptAssurance
from lti_tool import claims as lti
from lti_tool.errors import BadLaunch, LaunchForbidden, LtiError, NotFound
from lti_tool.proctoring import acs as proctoring_acs
from lti_tool.proctoring import gate as proctoring_gate
from lti_tool.proctoring import messages as proctoring
from lti_tool.proctoring import session as proctoring_session
from lti_tool.proctoring.gate import GateSettings, ProctoredGate
from lti_tool.services import current_tool
from lti_tool.storage import LtiProctoringSession
from player import identity as player_identity
from player import pages as player_pages
from player.domain import AttemptClosed, NoLaunch, PlayerError, resolve_in_launch
from player.i18n import t as player_t
from player.statements import SEALER_KEY, actor, write

log = logging.getLogger(__name__)
bp = Blueprint("lti_proctoring", __name__, template_folder="templates")
SESSION_KEY = "lti_proctoring"   # the proctoring sessions this browser was launched into
GATE_KEY = "lti_proctoring.gate"  # per proctoring session id: its GateSettings
CSRF_KEY = "lti_proctoring.csrf"
MAX_OWNED = 5                    # a few at once (tabs, retries); the cookie stays small
# Seconds between repeated checks during a proctored assessment when the catalogue target's identity
# requirement sets none: drawn at random by the gate (player_assurance.consume). The platform's own
# assessment (no target) has none unless the link's hocvu_recheck_min/_max custom parameters set them.
DEFAULT_RECHECK = (180, 420)
OUTCOMES = gate_http.OUTCOMES   # the gate's outcomes (face_check.Outcome values, "not_live")


def _no_store(response: BaseResponse) -> BaseResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


def _now() -> datetime:
    return datetime.now(UTC)


def _own(public_id: str, settings: GateSettings) -> None:
    owned = [*[p for p in session.get(SESSION_KEY) or [] if p != public_id], public_id][-MAX_OWNED:]
    stored = session.get(GATE_KEY)
    kept = stored if isinstance(stored, dict) else {}
    session[SESSION_KEY] = owned
    session[GATE_KEY] = {p: kept[p] for p in owned if p in kept} | {public_id: settings.to_session()}


def _settings(public_id: str) -> GateSettings | None:
    kept = session.get(GATE_KEY)
    return GateSettings.from_session(kept.get(public_id)) if isinstance(kept, dict) else None


def _require_owned(public_id: str) -> None:
    if public_id not in (session.get(SESSION_KEY) or []):
        # Only the browser the platform launched may continue: a copied link is refused.
        raise LaunchForbidden("this proctoring session was not started in this browser; "
                              "start the assessment again from the learning platform")


def _csrf() -> str:
    token = session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = session[CSRF_KEY] = secrets.token_urlsafe(24)
    return token


def _gate_url(public_id: str, next_url: str) -> str:
    return url_for("identity_gate.gate", proctoring=public_id, next=next_url)


def start_url(public_id: str) -> str:
    return url_for("lti_proctoring.start_assessment", public_id=public_id)


def proctored_gate(public_id: str) -> ProctoredGate:
    """The gate of a proctoring session this browser was launched into and that is still open
    (``NoLaunch``/``AttemptClosed`` otherwise: the player's message page)."""
    settings = _settings(public_id)
    if public_id not in (session.get(SESSION_KEY) or []) or settings is None:
        raise NoLaunch("this proctoring session was not started in this browser")
    with current_tool().session() as db:
        try:
            row = proctoring_session.get_session(db, public_id)
        except NotFound:   # its registration was removed since
            raise NoLaunch("this proctoring session no longer exists") from None
        if row.state in proctoring_session.CLOSED:
            raise AttemptClosed("this proctoring session has already ended")
        return proctoring_gate.proctored_gate(row, settings)


def _in_catalogue(target: str) -> bool:
    from player.catalogue import UnknownTarget

    catalogue = current_app.extensions.get(player_pages.CATALOGUE_EXT)
    try:
        return catalogue is not None and catalogue.resolve(target) is not None
    except UnknownTarget:
        return False


def _take_proctoring_launch() -> BaseResponse | None:
    """before_request: a proctoring id_token posted to /lti/launch is handled here."""
    if request.endpoint != "lti.launch" or request.method != "POST":
        return None
    if proctoring.peek_message_type(request.form.get("id_token", "")) not in proctoring.PROCTORING_TYPES:
        return None
    return _launch()


def _launch() -> BaseResponse:
    tool = current_tool()
    with tool.session() as db:
        conf = tool.conf(db)
        message = proctoring.ProctoringMessageLaunch(FlaskRequest(), conf, launch_data_storage=tool.storage(),
                                                     requests_session=tool.http)
        message.target_exists = _in_catalogue
        message.validate()   # every failure is an LtiError: nothing stored
        try:
            body = message.claims()
            row = conf.registration_row(body["iss"], message.get_client_id())
            assert row is not None   # validate() found it
            if body[lti.MESSAGE_TYPE] == proctoring.END_ASSESSMENT:
                ended, end = proctoring_session.record_end(db, body, tenant_id=row.tenant_id, registration_id=row.id)
                db.commit()
                log.info("proctoring session %s ended by the platform", ended.public_id)
                return _no_store(Response(render_template(
                    "proctoring/ended.html", state=ended.state, attempt_number=ended.attempt_number,
                    error_message=end.error_message, return_url=end.return_url, locale=lti.locale_of(body))))
            started = proctoring_session.record_start(db, body, tenant_id=row.tenant_id, registration_id=row.id)
            settings = GateSettings.from_claims(body)
            db.commit()
            public_id = started.public_id
        finally:
            message.drop_cached()
    # The gate's pages know the learner from the session row and these settings, keyed by its id.
    _own(public_id, settings)
    # POST → GET (303): a reload never re-posts the id_token. The gate signs in and checks the face.
    return _no_store(redirect(_gate_url(public_id, start_url(public_id)), 303))


@bp.get("/<public_id>/start")
def start_assessment(public_id: str) -> BaseResponse:
    """After the gate: the signed LtiStartAssessment, auto-POSTed to the platform (Proctoring §3.3)."""
    _require_owned(public_id)
    tool, now = current_tool(), _now()
    with tool.session() as db:
        row = proctoring_session.get_session(db, public_id)
        if row.state in proctoring_session.CLOSED:
            raise NotFound("this proctoring session has already ended")
        passed = proctoring_gate.gate_passed(db, row, now)
        if passed is None:
            # Not (or no longer) verified: back to the gate, which shows the step to take.
            return _no_store(redirect(_gate_url(public_id, request.path), 303))
        person, assurance = passed
        token = proctoring.start_assessment_jwt(row, tool.registration(db, row.registration_id), person)
        proctoring_session.mark_started(db, row, person, assurance_session_id=assurance.session_id, now=now)
        # The gate is used up by this attempt; its checks now repeat at random moments.
        gate.consume(db, assurance, now, recheck=_recheck_interval(row))
        db.commit()
        target = row.start_assessment_url
    log.info("proctoring session %s: identity verified, LtiStartAssessment sent", public_id)
    return _no_store(Response(render_template(
        "proctoring/start_assessment.html", start_assessment_url=target, jwt=token,
        monitor_url=url_for("lti_proctoring.monitor", public_id=public_id))))


def _recheck_interval(row: LtiProctoringSession) -> tuple[int, int] | None:
    """The target quiz's recheck interval (catalogue ``identity.recheck``), else DEFAULT_RECHECK; for
    the platform's assessment, the link's (hocvu_recheck_min/_max), else none scheduled."""
    target = row.gate_target
    if not target:
        settings = _settings(row.public_id)
        return settings.recheck if settings is not None else None
    try:
        quiz = player_pages.catalogue().resolve(target).quiz
    except Exception:   # the gate resolved it a moment ago; a catalogue reload is no reason to fail
        quiz = None
    recheck = quiz.identity.recheck if quiz is not None and quiz.identity is not None else None
    return recheck or DEFAULT_RECHECK


def _started(db: Session, public_id: str) -> tuple[LtiProctoringSession, AttemptAssurance]:
    """The running session and the gate's row of its checks."""
    row = proctoring_session.get_session(db, public_id)
    if row.state != proctoring_session.STARTED or row.assurance_session_id is None:
        raise NotFound(f"this proctoring session is not running ({row.state})")
    assurance = db.scalar(select(AttemptAssurance).where(AttemptAssurance.tenant_id == row.tenant_id,
                                                         AttemptAssurance.session_id == row.assurance_session_id))
    if assurance is None:
        raise NotFound("the identity checks of this session are gone")
    return row, assurance


@bp.get("/<public_id>/monitor")
def monitor(public_id: str) -> BaseResponse:
    """Open beside the assessment: takes the face check when the gate says it is due."""
    _require_owned(public_id)
    with current_tool().session() as db:
        row, assurance = _started(db, public_id)
        due = gate.seconds_to_recheck(assurance, _now())
        state, flags = row.state, row.flags
    return _no_store(Response(render_template(
        "proctoring/monitor.html", state=state, flags=flags, recheck_in=due, csrf=_csrf(),
        check_url=url_for("lti_proctoring.check", public_id=public_id),
        challenge_url=url_for("lti_proctoring.challenge", public_id=public_id),
        result=request.args.get("outcome") if request.args.get("outcome") in OUTCOMES else None)))


def _check_csrf() -> None:
    expected = session.get(CSRF_KEY)
    if not isinstance(expected, str) or not hmac.compare_digest(expected, request.form.get("csrf", "")):
        raise BadLaunch("the check form has expired; reload the monitoring window")


@bp.post("/<public_id>/challenge")
def challenge(public_id: str) -> BaseResponse:
    """A liveness challenge for the next repeated check of this session (bound to its gate row and
    learner; ``identity.gate.challenges``)."""
    _require_owned(public_id)
    _check_csrf()
    with current_tool().session() as db:
        _row, assurance = _started(db, public_id)
        response = gate_http.challenge_response(db, assurance.account_id, challenges.check_scope(assurance.session_id),
                                                _now())
        db.commit()
    return _no_store(response)


@bp.post("/<public_id>/check")
def check(public_id: str) -> BaseResponse:
    """A repeated face check during the assessment: a burst answering a challenge of this session (the
    gate's domain keeps it and writes its statement); a check that fails is reported to the platform
    through ACS."""
    gate_http.use_memory_for_uploads()   # the frames stay in memory, the body bounded
    _require_owned(public_id)
    _check_csrf()
    tool, now = current_tool(), _now()
    with tool.session() as db:
        _row, assurance = _started(db, public_id)
        account_id, scope = assurance.account_id, challenges.check_scope(assurance.session_id)
    capture = gate_http.read_capture(account_id, scope, now)
    with tool.session() as db:
        row, assurance = _started(db, public_id)
        # Its statement is stamped (unverified once a check failed) and signed like every other one.
        result = gate_face.run_check(db, gate_http.gate_config(), _checks(row, _settings(public_id)), assurance,
                                     capture, now)
        matched = result.result.matched
        verified = assurance.failed_at is None and matched
        db.commit()
        recheck_in = gate.seconds_to_recheck(assurance, now)
    del capture
    acs = None
    if not matched:
        # Proctoring, Assessment Control Service: flag (or terminate, per the course) the attempt.
        acs = proctoring_acs.report_failed_check(public_id, tool=tool, checked_at=now).outcome
    if request.accept_mimetypes.best == "application/json":
        return _no_store(jsonify(outcome=result.outcome, matched=matched, verified=verified,
                                 acs=acs, recheck_in=recheck_in))
    return _no_store(redirect(url_for("lti_proctoring.monitor", public_id=public_id,
                                      outcome=result.outcome), 303))


def _render_error(err: LtiError) -> BaseResponse:
    log.info("proctoring request refused (%s %s): %s", err.status, err.code, err.message)
    page = render_template("lti/error.html", title=err.title, message=err.message, status=err.status, code=err.code)
    return _no_store(Response(page, status=err.status, content_type="text/html; charset=utf-8"))


bp.register_error_handler(LtiError, _render_error)


def _render_page_error(err: PlayerError | GateError) -> BaseResponse:
    """The gate's errors (no enrolment, face model missing, unusable photo) and the player's on the
    LTI error page, in both languages."""
    t = gate_t if isinstance(err, GateError) else player_t
    text = t(err.key, "vi") + " / " + t(err.key, "en")
    return _render_error(_as_lti(err.status, err.key, text))


def _as_lti(status: int, code: str, message: str) -> LtiError:
    err = LtiError(message)
    err.status, err.code = status, code
    return err


bp.register_error_handler(PlayerError, _render_page_error)
bp.register_error_handler(GateError, _render_page_error)


# --- the identity gate's consumer of ?proctoring=<id> ------------------------------------------------

def _checks(row: LtiProctoringSession, settings: GateSettings | None) -> CheckContext:
    """Where the checks of a proctored attempt go: the catalogue item's, as in the player, or the
    platform's assessment as their parent, written to the tenant's LRS and sealed."""
    opened = proctoring_gate.gate_launch(row).player_session()
    if row.gate_target:
        return player_identity.check_context(opened, resolve_in_launch(player_pages.catalogue(), opened,
                                                                       row.gate_target))
    assessment = proctoring_gate.assessment_activity(row, settings or GateSettings("vi", "", 2, None))
    sealer = current_app.extensions.get(SEALER_KEY)
    return CheckContext(actor=actor(opened), parent=assessment,
                        write=lambda db, statements: write(db, row.tenant_id, statements, sealer=sealer))


class ProctoringGate:
    def gate_for(self, value: str, next_url: str | None) -> GateFor:
        pg = proctored_gate(value)
        fields = {"proctoring": value, "next": next_url or start_url(value)}
        # As url_for's **values (Any): mypy cannot know that no key of a dict is one of its own (_external: bool).
        values: Mapping[str, Any] = fields
        way = url_for("identity_gate.gate", **values)
        with current_tool().session() as db:
            row = proctoring_session.get_session(db, value)
        if pg.target is not None:   # the link names a catalogue item: its requirement, as in the player
            opened = pg.launch.player_session()
            resolved = resolve_in_launch(player_pages.catalogue(), opened, pg.target)
            return GateFor(external=player_identity.external_of(opened), key=pg.key,
                           min_level=player_identity.min_level(resolved), title=resolved.item.title,
                           checks=player_identity.check_context(opened, resolved), fields=fields,
                           locale=pg.launch.locale, way=way)
        return GateFor(external=player_identity.external_of(pg.launch.player_session()), key=pg.key,
                       min_level=pg.min_level, title=pg.title, checks=_checks(row, _settings(value)), fields=fields,
                       locale=pg.launch.locale, way=way)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp, url_prefix="/lti/proctoring")
    app.before_request(_take_proctoring_launch)
    register_consumer(app, "proctoring", ProctoringGate())
