"""cmi5 over HTTP at /player/cmi5: the one-time fetch URL (cmi5 §8.2), the learner's course page and
AU launch (a player session opened it: an LTI launch, a citizen's sign-in), and the package admin API.

The admin API takes HTTP Basic with a credential of the national tenant (HOCVU_NATIONAL_TENANT) that
holds the xAPI ``all`` scope: imported courses are the national catalogue, shared by every tenant.
Its launch, waive and abandon calls act in that credential's tenant for the actor named in the
request (a test harness such as CATAPULT's, or an administrator's check); that credential can
already write any statement for any actor of its tenant, so they grant nothing more.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, Response, current_app, has_app_context, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

import schemas
from identity import web
from identity.gate.consumers import register_consumer
from lrs.cmi5 import sessions as lrs_sessions
from lrs.cmi5.storage import Cmi5AuStatus, Cmi5Session
from lrs.credentials import Principal, authenticate, parse_basic
from lrs.errors import BadRequest, Forbidden, XapiError
from lrs.identifiers import agent_key
from lrs.storage import Tenant
from player import pages
from player.domain import OutsideLaunch, registration_for
from player.grades import ScoreReporter
from player.packages import assessed, attest, imports, listing
from player.packages import gate as package_gate
from player.packages.cmi5 import importer, model, progress
from player.packages.cmi5.launch import LaunchRequest, au_at, launch_au
from player.packages.cmi5.lms_statements import lms_activity_id
from player.packages.errors import PackageError, PackageNotFound
from player.packages.fetch import fetch as fetch_package
from player.packages.http import package_store
from player.packages.storage import ImportedPackage
from player.statements import SEALER_KEY, Sealer
from player.statements import actor as player_actor

bp = Blueprint("cmi5", __name__, template_folder="../../templates")
CONFIG_EXT = "player.packages.cmi5"
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type"}


@dataclass(frozen=True)
class Cmi5Config:
    national_tenant: str
    session_ttl: timedelta = timedelta(hours=12)


def init_cmi5(app: Flask, config: Cmi5Config) -> None:
    app.extensions[CONFIG_EXT] = config
    app.register_blueprint(bp, url_prefix="/player/cmi5")
    progress.init_progress(_reporters)
    attest.init_attestation(_sealer)
    register_consumer(app, package_gate.FIELD, package_gate.PackageGate())
    catalogue = app.extensions[pages.CATALOGUE_EXT]
    # Once per catalogue: one catalogue object may serve several apps (each reads its own database).
    if cmi5_packages not in catalogue.providers:
        catalogue.providers.append(cmi5_packages)


def cmi5_packages(locale: str) -> list[Any]:
    """The imported courses as catalogue items (Catalogue.providers), from the current app's database."""
    with pages.db() as db:
        return listing.items(db, locale)


def _sealer() -> Sealer | None:
    # Like _reporters: the LRS runs the attestation inside the AU's xAPI request, where the app is.
    found: Sealer | None = current_app.extensions.get(SEALER_KEY) if has_app_context() else None
    return found


def _reporters() -> Mapping[str, ScoreReporter]:
    # The LRS runs the progress listener inside the AU's xAPI request: the app is there. From the
    # CLI (no app) no grade goes anywhere.
    return pages.reporters() if has_app_context() else {}


def _config() -> Cmi5Config:
    cfg: Cmi5Config = current_app.extensions[CONFIG_EXT]
    return cfg


def _hub_url() -> str:
    return request.url_root.rstrip("/")


# --- the AU's fetch URL (cmi5 §8.2) ----------------------------------------------------------------

@bp.route("/fetch/<token>", methods=["POST", "OPTIONS"])
def fetch(token: str) -> Response:
    if request.method == "OPTIONS":
        return Response(status=204, headers=CORS)
    with pages.db() as db:
        try:
            _, auth = lrs_sessions.redeem(db, token, pages.now())
            body: dict[str, Any] = {"auth-token": auth}
        except lrs_sessions.FetchRefused as refused:
            db.rollback()
            body = refused.body()
    # cmi5 §8.2.2/§8.2.3: 200 with JSON, the token or the error; never cached.
    response = jsonify(body)
    response.headers.update(CORS)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the learner's pages ---------------------------------------------------------------------------

def _package(db: Session, slug: str) -> ImportedPackage:
    pkg = db.scalars(select(ImportedPackage).where(ImportedPackage.slug == slug)).first()
    if pkg is None or pkg.format != importer.FORMAT:  # a SCORM course plays at scorm/<id>
        raise PackageNotFound(f"no imported course {slug!r}")
    return pkg


@bp.get("/course/<slug>")
def course_page(slug: str) -> Response:
    launch = pages.current_launch()
    if not (launch.target == f"{listing.PREFIX}{slug}" or launch.target.startswith(f"{listing.PREFIX}{slug}/")):
        raise OutsideLaunch(target=launch.target)
    with pages.db() as db:
        pkg = _package(db, slug)
        course = model.from_json(pkg.structure)
        registration = registration_for(launch)
        rows = {s.au_iri: s for s in db.scalars(select(Cmi5AuStatus).where(
            Cmi5AuStatus.tenant_id == launch.tenant_id, Cmi5AuStatus.registration == registration))}
        aus = [(i, au, rows.get(lms_activity_id(course.id, au.id))) for i, au in enumerate(course.aus())]
        parsed = listing.parse_target(launch.target)
        if parsed and parsed[1] is not None:
            aus = [a for a in aus if a[0] == parsed[1]]
        title = listing.title_in(pkg.title, pages.locale())
        description = listing.title_in(pkg.description, pages.locale())
        here = url_for("cmi5.course_page", slug=slug)
        # Assessed AUs (player.packages.assessed) open through the identity gate: the page says so first.
        gates = {i: package_gate.gate_url(f"{listing.PREFIX}{slug}/au/{i}", here) for i, au, _ in aus
                 if assessed.is_assessed(pkg, au.id)}
    return pages.render("player/cmi5_course.html", texts=_text, title=title, description=description,
                        aus=aus, slug=slug, gates=gates, name=lambda text: listing.title_in(text, pages.locale()))


@bp.post("/course/<slug>/au/<int:index>")
def launch_page(slug: str, index: int) -> BaseResponse:
    launch = pages.current_launch()
    pages.check_csrf(request.form.get("csrf"))
    allowed = {f"{listing.PREFIX}{slug}", f"{listing.PREFIX}{slug}/au/{index}"}
    if launch.target not in allowed:
        raise OutsideLaunch(target=launch.target)
    now = pages.now()
    with pages.db() as db:
        pkg = _package(db, slug)
        _, au = au_at(pkg, index)
        session_id = None
        if assessed.is_assessed(pkg, au.id):
            # Identity assurance applies (player.packages.assessed): the gate first, consumed by this launch.
            row = package_gate.require_passed(db, launch, f"{listing.PREFIX}{slug}/au/{index}", now,
                                              url_for("cmi5.course_page", slug=slug))
            session_id = row.session_id
        launched = launch_au(db, package_store(), LaunchRequest(
            tenant_id=launch.tenant_id, actor=player_actor(launch), registration=registration_for(launch),
            package=pkg, au_index=index, hub_url=_hub_url(),
            return_url=url_for("cmi5.course_page", slug=slug, _external=True), now=now,
            ttl=_config().session_ttl, opener=launch.to_session(), session_id=session_id))
    return web.see_other(launched.url)


TEXTS = {
    "cmi5.launch": ("Mở bài học", "Open"),
    "cmi5.satisfied": ("Đã đạt yêu cầu", "Done"),
    "cmi5.waived": ("Được miễn", "Waived"),
    "cmi5.score": ("Điểm: {score}", "Score: {score}"),
    "cmi5.assessed": ("Bài kiểm tra: cần xác thực danh tính bằng VNeID và khuôn mặt trước khi mở.",
                      "Assessed: verify your identity with VNeID and a face check before opening it."),
    "cmi5.verify": ("Xác thực danh tính", "Verify identity"),
}


def _text(key: str, locale: str, **params: Any) -> str | None:
    pair = TEXTS.get(key)
    if pair is None:
        return None
    text = pair[1] if locale.startswith("en") else pair[0]
    return text.format(**params) if params else text


# --- the admin API ---------------------------------------------------------------------------------

def admin_principal(db: Session) -> Principal:
    key, secret = parse_basic(request.headers.get("Authorization"))
    principal = authenticate(db, key, secret)
    principal.require("all")
    tenant = db.get(Tenant, principal.tenant_id)
    if tenant is None or tenant.slug != _config().national_tenant:
        raise Forbidden("only the national tenant's administrators manage the shared course catalogue")
    return principal


@bp.post("/admin/packages")
def admin_import() -> tuple[Response, int]:
    store = package_store()
    with pages.db() as db:
        admin_principal(db)
        if request.is_json:
            url = (request.get_json(silent=True) or {}).get("url")
            if not isinstance(url, str):
                raise BadRequest("send a package (zip or cmi5.xml) as the body, or JSON {\"url\": ...}")
            data, source = fetch_package(url, store.config.fetch), url
        else:
            data = request.get_data()
            source = request.headers.get("X-Filename") or "upload"
        pkg = imports.import_package(db, store, data, source, pages.now())
        body = imports.describe(pkg)
    imports.after_commit(db, store)
    return jsonify(body), 201


@bp.get("/admin/packages")
def admin_list() -> Response:
    with pages.db() as db:
        admin_principal(db)
        rows = db.scalars(select(ImportedPackage).order_by(ImportedPackage.slug))
        return jsonify([imports.describe(p) for p in rows])


@bp.put("/admin/packages/<slug>/assessed")
def admin_assessed(slug: str) -> Response:
    """Which AUs / SCOs of a course are assessed (identity assurance applies: ``player.packages.assessed``):
    JSON ``{"assessed": [unit id, ...]}``, exactly those (an empty list: none). Any format."""
    body = request.get_json(silent=True)
    chosen = body.get("assessed") if isinstance(body, dict) else None
    if not isinstance(chosen, list) or not all(isinstance(u, str) for u in chosen):
        raise BadRequest('send JSON {"assessed": ["<AU id or SCO identifier>", ...]}')
    with pages.db() as db:
        admin_principal(db)
        pkg = db.scalars(select(ImportedPackage).where(ImportedPackage.slug == slug)).first()
        if pkg is None:
            raise PackageNotFound(f"no imported course {slug!r}")
        assessed.set_assessed(pkg, chosen)
        body = imports.describe(pkg)
    return jsonify(body)


@bp.delete("/admin/packages/<slug>")
def admin_remove(slug: str) -> Response:
    with pages.db() as db:
        admin_principal(db)
        pkg = db.scalars(select(ImportedPackage).where(ImportedPackage.slug == slug)).first()  # any format
        if pkg is None:
            raise PackageNotFound(f"no imported course {slug!r}")
        key, files = pkg.package_key, pkg.has_files
        db.delete(pkg)
    if files:
        package_store().remove(key)
    return Response(status=204)


def _actor_and_registration(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    actor = body.get("actor")
    if not isinstance(actor, dict) or agent_key(actor) is None:
        raise BadRequest("actor must be an xAPI Agent with an identifier (mbox, account, ...)")
    registration = body.get("registration") or str(uuid.uuid4())
    if not schemas.is_uuid(registration):
        raise BadRequest("registration must be a UUID")
    return actor, registration


def _au_index(body: dict[str, Any]) -> int:
    index = body.get("au", 0)
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise BadRequest("au must be the AU's index in the course structure (0, 1, ...)")
    return index


@bp.post("/admin/packages/<slug>/launch")
def admin_launch(slug: str) -> Response:
    body = request.get_json(silent=True) or {}
    actor, registration = _actor_and_registration(body)
    with pages.db() as db:
        principal = admin_principal(db)
        pkg = _package(db, slug)
        launched = launch_au(db, package_store(), LaunchRequest(
            tenant_id=principal.tenant_id, actor=actor, registration=registration, package=pkg,
            au_index=_au_index(body), hub_url=_hub_url(),
            return_url=str(body.get("returnURL") or f"{_hub_url()}/player/cmi5/returned"), now=pages.now(),
            ttl=_config().session_ttl, launch_mode=str(body.get("launchMode") or "Normal")))
        return jsonify(url=launched.url, registration=registration, sessionId=launched.session.session_id,
                       activityId=launched.session.au_iri)


@bp.post("/admin/packages/<slug>/waive")
def admin_waive(slug: str) -> Response:
    """Waive an AU for a registration; without ``actor``, the learner of the registration's last session."""
    body = request.get_json(silent=True) or {}
    with pages.db() as db:
        principal = admin_principal(db)
        if body.get("actor") is None and isinstance(body.get("registration"), str):
            last = db.scalars(select(Cmi5Session).where(Cmi5Session.tenant_id == principal.tenant_id,
                                                        Cmi5Session.registration == body["registration"])
                              .order_by(Cmi5Session.id.desc())).first()
            if last is None:
                raise PackageNotFound(f"no AU session of registration {body['registration']!r}")
            body["actor"] = last.actor
        actor, registration = _actor_and_registration(body)
        pkg = _package(db, slug)
        done = progress.waive(db, principal.tenant_id, actor, registration, pkg, _au_index(body),
                              str(body.get("reason") or "Administrative"), pages.now())
    return jsonify(satisfied=done)


@bp.post("/admin/sessions/<session_id>/abandon")
def admin_abandon(session_id: str) -> Response:
    with pages.db() as db:
        principal = admin_principal(db)
        ended = progress.abandon_session(db, principal.tenant_id, session_id, pages.now())
    return jsonify(abandoned=ended)


@bp.get("/returned")
def returned() -> Response:
    """Where an AU launched by the admin API sends the learner back (cmi5 §10.2.6 returnURL)."""
    return Response("returned", content_type="text/plain; charset=utf-8")


@bp.errorhandler(PackageError)
def _package_error(err: PackageError) -> tuple[Response, int]:
    return jsonify(err.body()), err.status


@bp.errorhandler(XapiError)
def _xapi_error(err: XapiError) -> tuple[Response, int, dict[str, str]]:
    return jsonify(err.body()), err.status, err.headers
