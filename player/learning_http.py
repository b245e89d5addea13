""""My learning" at ``/learning``: a signed-in citizen's courses, progress, scores, verified attempts
and certificates; their own records to download; erasure on request. Thin over ``player.learning``.

- ``GET /learning``: the page (sign-in first when needed);
- ``GET /learning/records.json``: every statement of theirs in the national tenant, as the LRS keeps
  them (``{"statements": [...]}``, xAPI 2.0 Part 2 §2.4 statement format), as an attachment;
- ``GET /learning/records.csv``: the same, one row each (RFC 4180);
- ``GET /learning/erase``: what erasure removes and keeps, with a confirmation form;
- ``POST /learning/erase``: with the form token, the confirmation box ticked, and a VNeID sign-in
  less than ``FRESH`` old (a session left open on a shared phone cannot erase someone's records).

Only the national tenant's records are the citizen's to download or erase here: what a ministry's
LMS sent belongs to that ministry's tenant and is asked for there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

from flask import Blueprint, Flask, Response, current_app, request, session, stream_with_context, url_for
from werkzeug.wrappers import Response as BaseResponse

from identity import web
from player import citizen, learning, pages
from player.catalogue import Course
from player.domain import BadInput, registration_for
from player.front import SIGNED_IN_AT_KEY, citizen_db, login_url, national_tenant
from player.session import KEY

bp = Blueprint("learning", __name__, template_folder="templates")
CERTIFICATES_EXT = "player.certificates"
FRESH: Final = timedelta(minutes=15)   # as the identity gate's SIGN_IN_FRESH


def init_learning(app: Flask) -> None:
    app.register_blueprint(bp, url_prefix="/learning")


def register_certificates(app: Flask, source: learning.CertificateSource) -> None:
    """Where "my learning" gets the learner's certificates (the credentials package registers one)."""
    app.extensions.setdefault(CERTIFICATES_EXT, []).append(source)


def _certificates(db: object, tenant_id: int, learner: object) -> list[learning.Certificate]:
    found: list[learning.Certificate] = []
    for source in current_app.extensions.get(CERTIFICATES_EXT, []):
        found.extend(source(db, tenant_id, learner))
    return found


def _session_for(tenant_id: int, who: citizen.Citizen, locale: str) -> learning.SessionFor:
    return lambda course: citizen.course_session(tenant_id, who, course.target, locale)


@bp.get("/", strict_slashes=False, endpoint="mine")
def mine() -> BaseResponse:
    with citizen_db() as (db, who):
        if who is None:
            return web.see_other(login_url(url_for("learning.mine")))
        tenant_id = national_tenant(db)
        records = learning.course_records(db, pages.catalogue(), _session_for(tenant_id, who, pages.locale()))
        certificates = _certificates(db, tenant_id, citizen.learner(who))
    return pages.render("player/learning.html", who=who, records=records, certificates=certificates,
                        erased=request.args.get("erased"))


def _records(who: citizen.Citizen) -> Iterator[dict[str, object]]:
    with citizen_db() as (db, _who):
        yield from learning.statements_of(db, national_tenant(db), citizen.learner(who))


def _require_citizen() -> citizen.Citizen | BaseResponse:
    with citizen_db() as (_db, who):
        pass
    return who if who is not None else web.see_other(login_url(request.path))


def _attachment(name: str) -> dict[str, str]:
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return {"Content-Disposition": f'attachment; filename="hocvu-{name}-{day}"'}


@bp.get("/records.json")
def records_json() -> BaseResponse:
    who = _require_citizen()
    if not isinstance(who, citizen.Citizen):
        return who

    def body() -> Iterator[str]:
        yield '{"statements": ['
        for i, st in enumerate(_records(who)):
            yield ("," if i else "") + json.dumps(st, ensure_ascii=False, separators=(",", ":"))
        yield "]}\n"

    return Response(stream_with_context(body()), content_type="application/json; charset=utf-8",
                    headers=_attachment("records.json"))


@bp.get("/records.csv")
def records_csv() -> BaseResponse:
    who = _require_citizen()
    if not isinstance(who, citizen.Citizen):
        return who
    rows = learning.records_csv(_records(who), pages.locale())
    # A byte-order mark, so a spreadsheet opens the Vietnamese text as UTF-8.
    return Response(stream_with_context(("\ufeff" if i == 0 else "") + r for i, r in enumerate(rows)),
                    content_type="text/csv; charset=utf-8", headers=_attachment("records.csv"))


def _fresh() -> bool:
    when = session.get(SIGNED_IN_AT_KEY)
    return isinstance(when, int) and datetime.now(UTC) - datetime.fromtimestamp(when, UTC) <= FRESH


@bp.get("/erase")
def erase_confirm() -> BaseResponse:
    who = _require_citizen()
    if not isinstance(who, citizen.Citizen):
        return who
    return pages.render("player/erase.html", who=who, fresh=_fresh(),
                        reauth_url=login_url(url_for("learning.erase_confirm")))


@bp.post("/erase")
def erase() -> BaseResponse:
    pages.check_csrf(request.form.get("csrf"))
    if request.form.get("confirm") != "yes":
        raise BadInput("the erasure was not confirmed")
    with citizen_db() as (db, who):
        if who is None or not _fresh():
            return web.see_other(login_url(url_for("learning.erase_confirm")))
        tenant_id = national_tenant(db)
        courses: list[Course] = list(pages.catalogue().courses.values())
        registrations = [registration_for(citizen.course_session(tenant_id, who, c.target, "vi")) for c in courses]
        erased = learning.erase_learner(db, tenant_id, citizen.learner(who), registrations)
    session.pop(KEY, None)       # the session's attempts and AU sessions are gone with the records
    session.pop(pages.AU_KEY, None)
    return web.see_other(url_for("learning.mine", erased=len(erased.statement_ids)))


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"   # one citizen's records
    return response
