"""The credentials blueprint: parse, call the domain, serialise (DESIGN.md, thin HTTP layer).

Public (no sign-in; an employer, a wallet, any verifier):
  GET  /.well-known/did.json                       the hub's DID document (did:web), every published key
  GET  /credentials/issuers/<slug>/did.json        a tenant issuer's DID document (issuer mode "tenant")
  GET  /credentials/status/<slug>/<n>              a BitstringStatusListCredential
  GET  /credentials/achievements/<course>          the course's Open Badges Achievement
  GET  /credentials/<slug>/<id>                    the credential's verification page (its ``id``); JSON on Accept
  GET  /credentials/<slug>/<id>.json               the credential, to download
  GET  /credentials/<slug>/<id>/print              a printable page with a QR code to the verification page
  GET  /credentials/<slug>/<id>/qr.svg             that QR code
  GET  /credentials/verify, POST (paste or upload)  the verification page
  POST /credentials/api/verify                     JSON: the credential in, the report out
The learner's own (``credentials.learner``): ``/credentials/mine`` and renaming.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

from flask import Flask, Response, jsonify, request, url_for
from sqlalchemy.orm import Session

from credentials import learner, qr
from credentials.completion import Completion
from credentials.config import CredentialsConfig
from credentials.did import did_document, hub_did, tenant_did
from credentials.errors import (
    BadCredentialInput,
    CredentialError,
    CredentialNotFound,
    StatusListNotFound,
    UnknownCourse,
)
from credentials.issuer import tenant_by_slug
from credentials.issuing import credential_url, find
from credentials.keys import published_keys
from credentials.openbadge import achievement
from credentials.storage import CredentialStatusList, IssuedCredential
from credentials.texts import t
from credentials.verify import Report, verify_document
from credentials.web import CONFIG_EXT, VC_TYPE, bp, config, db, locale, render, vc_json
from identity import web

MAX_INPUT: Final = 256 * 1024   # a credential is a few KB; anything this large is not one

# --- keys and status -------------------------------------------------------------------------------

@bp.get("/.well-known/did.json")
def hub_did_document() -> Response:
    with db() as s:
        kids = [k.kid for k in published_keys(s)]
    return jsonify(did_document(hub_did(config().public_url), kids))


@bp.get("/credentials/issuers/<slug>/did.json")
def tenant_did_document(slug: str) -> Response:
    with db() as s:
        if tenant_by_slug(s, slug) is None:
            raise CredentialNotFound("no such issuer")
        kids = [k.kid for k in published_keys(s)]
    return jsonify(did_document(tenant_did(config().public_url, slug), kids))


@bp.get("/credentials/status/<slug>/<int:number>")
def status_list(slug: str, number: int) -> Response:
    with db() as s:
        tenant = tenant_by_slug(s, slug)
        row = s.get(CredentialStatusList, (tenant.id, number)) if tenant is not None else None
        if row is None:
            raise StatusListNotFound("no such status list")
        res = vc_json(row.document)
    # Verifiers may cache a list a minute (Bitstring Status List v1.0 §2.2 ``ttl``): a revocation shows that fast.
    res.headers["Cache-Control"] = "public, max-age=60"
    return res


@bp.get("/credentials/achievements/<course_id>")
def course_achievement(course_id: str) -> Response:
    rules = config().courses(course_id)
    if rules is None:
        raise UnknownCourse("no such course")
    return jsonify(achievement(config().base, Completion(rules, (), rules.quizzes)))


# --- one credential ----------------------------------------------------------------------------------

def _stored(s: Session, slug: str, public_id: str) -> IssuedCredential:
    return find(s, slug, public_id)[1]


def _stored_report(s: Session, row: IssuedCredential) -> Report:
    if row.document is None:  # erased on a privacy request: only the revocation remains
        return Report().fail("revoked", "status", "Bitstring Status List v1.0 §3.2", "revoked")
    return verify_document(s, config(), row.document)


@bp.get("/credentials/<slug>/<public_id>")
def credential(slug: str, public_id: str) -> Response:
    with db() as s:
        row = _stored(s, slug, public_id)
        if request.accept_mimetypes.best in ("application/json", VC_TYPE, "application/ld+json") \
                and row.document is not None:
            return vc_json(row.document)
        report = _stored_report(s, row)
    return render("credentials/verify.html", report=report, form=False)


@bp.get("/credentials/<slug>/<public_id>.json")
def download(slug: str, public_id: str) -> Response:
    with db() as s:
        row = _stored(s, slug, public_id)
        if row.document is None:
            raise CredentialNotFound("this credential was erased")
        return vc_json(row.document, download=f"chung-chi-{row.course_id}-{public_id[:8]}.json")


@bp.get("/credentials/<slug>/<public_id>/print")
def printable(slug: str, public_id: str) -> Response:
    with db() as s:
        row = _stored(s, slug, public_id)
        report = _stored_report(s, row)
    link = credential_url(config(), slug, public_id)
    return render("credentials/print.html", report=report, link=link, qr_svg=qr.svg(link),
                  json_url=url_for("credentials.download", slug=slug, public_id=public_id))


@bp.get("/credentials/<slug>/<public_id>/qr.svg")
def qr_code(slug: str, public_id: str) -> Response:
    with db() as s:
        _stored(s, slug, public_id)
    return Response(qr.svg(credential_url(config(), slug, public_id)), content_type="image/svg+xml")


# --- verifying what an employer brings -------------------------------------------------------------

def _read_input() -> Any:
    upload = request.files.get("file")
    raw: bytes | str = upload.read(MAX_INPUT + 1) if upload and upload.filename else \
        request.form.get("credential", "") if request.form else request.get_data()
    if len(raw) > MAX_INPUT:
        raise BadCredentialInput("that is too large to be a credential")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadCredentialInput("that is not JSON: paste the whole credential file") from None


@bp.route("/credentials/verify", methods=["GET", "POST"])
def verify_page() -> Response:
    if request.method == "GET":
        return render("credentials/verify.html", report=None, form=True)
    try:
        document = _read_input()
    except BadCredentialInput:
        return render("credentials/verify.html", 400, report=Report().fail(
            "malformed", "shape", "RFC 8259", "not JSON"), form=True)
    with db() as s:
        report = verify_document(s, config(), document, datetime.now(UTC))
    return render("credentials/verify.html", report=report, form=True)


@bp.post("/credentials/api/verify")
def verify_api() -> Response:
    with db() as s:
        report = verify_document(s, config(), _read_input(), datetime.now(UTC))
    return jsonify(report.as_json())


@bp.errorhandler(CredentialError)
def _error(err: CredentialError) -> Response:
    if request.path.startswith("/credentials/api/") or web.wants_json() or request.path.endswith(".json"):
        res = jsonify(err.body())
        res.status_code = err.status
        return res
    return render("credentials/message.html", err.status, title=t("error.title", locale()), text=err.message)


@bp.after_request
def _headers(response: Response) -> Response:
    if request.path.startswith("/credentials/mine"):
        response.headers["Cache-Control"] = "no-store"  # one learner's list
    elif request.method == "GET":
        # Keys, lists and credentials are public: a verifier running in a browser may read them.
        response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response


def init_app(app: Flask, cfg: CredentialsConfig) -> None:
    assert learner.__name__  # imported for its routes, registered on the same blueprint (credentials.web.bp)
    app.extensions[CONFIG_EXT] = cfg
    app.register_blueprint(bp)
