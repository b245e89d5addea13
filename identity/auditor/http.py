"""The national auditor's pages at /audit (issue 5, item 2). Thin: parse, authorise, call
``identity.auditor.queries`` / ``identity.auditor.proof_bundle``, log the access, serialise.

Who gets in: a national credential with the **auditor** role (``hocvu national create --role
auditor``), by HTTP Basic (RFC 7617), checked by ``lrs.credentials.authenticate_national``. No
credential or a wrong secret: 401 with a challenge; an analyst, or a tenant's own credential: 403.
Auditors read every tenant and change nothing of it.

Every answer that shows data (page, JSON, CSV, proof bundle) is first written into the audit chain
of each tenant whose data it read, as an 'access' entry (``lrs.audit.chain.record_access``: actor
``auditor:<key>``, the view, the filters, the attempts shown) and committed; only then is the data
sent, so nothing is shown unlogged. A listing over every tenant logs into each tenant it read; one
that read no tenant (there is none yet) is noted in the application log only, as it showed nothing.

| route | what |
|---|---|
| ``GET /audit/`` | attempts (HTML) with filters: tenant, course, since, until, problem (repeatable) |
| ``GET /audit/attempts.json`` | the same as JSON, with ``more`` (the next page's URL, or "") |
| ``GET /audit/attempts.csv`` | every matching attempt as CSV (``CSV_COLUMNS``) |
| ``GET /audit/attempt?tenant=&registration=&session=`` | one attempt (HTML); ``/audit/attempt.json`` |
| ``GET /audit/bundle?tenant=&registration=&session=`` | the attempt's proof bundle (JSON file) |
| ``GET /audit/bundle?tenant=&statement=ID&statement=...`` | chosen statements' proof bundle |

Statements of months archived to the lake (``hocvu lake archive``) are not readable here: an attempt
or a bundle that needs them answers 404 ``archived`` naming the months and the ``hocvu audit bundle
--archive DIR`` command that builds the bundle (identity.auditor.archived).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.auditor import archived, parsing, proof_bundle
from identity.auditor import queries as aq
from lrs.audit.chain import policy_of, record_access
from lrs.credentials import NationalPrincipal, authenticate, authenticate_national, parse_basic
from lrs.errors import BadRequest, Forbidden, NotFound, Unauthorized, XapiError
from lrs.storage import Database, Tenant

log = logging.getLogger(__name__)
bp = Blueprint("auditor", __name__, template_folder="templates")
EXTENSION: Final = "identity.auditor"
REALM: Final = 'Basic realm="hocvu audit", charset="UTF-8"'  # RFC 7617 §2, §2.1
# The pages load nothing: inline styles only, forms and links back to themselves.
CSP: Final = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
              "frame-ancestors 'none'")
HTML_VIEWS: Final = ("auditor.attempts_page", "auditor.attempt_page")
LOGGED_IDS: Final = 40  # attempts or statements named in one access entry (it must stay small)
# v2 (issue 12): the signals' three columns at the end (identity.auditor.signals).
# v3 (issue 12, liveness): the attempt's assurance level and liveness (method, result), and each check's
# liveness, at the end; outcome may also be "photo-only" (the photo fallback, a lower level).
CSV_SCHEMA: Final = "hocvu.audit.attempts.v4"
# One row per attempt (RFC 4180). The face checks' values are joined with ';' in check order.
CSV_COLUMNS: Final = (
    "tenant", "registration", "session_id", "course", "activity", "learner_pseudonym", "level", "outcome",
    "started", "ended", "statements", "checks", "failed_checks", "check_times", "check_outcomes",
    "check_distances", "check_thresholds", "signatures_valid", "signatures_invalid", "chain_included",
    "chain_problems", "problems", "lms_accounts", "suspicious_failures", "matched_other_learners",
    "assurance", "liveness", "liveness_result", "check_liveness", "statements_attested", "attestations_broken",
)


# The filter's and the flags' names on the pages (Vietnamese / English).
PROBLEM_LABELS: Final = {
    "unverified": "chưa xác minh / unverified", "failed_checks": "kiểm tra thất bại / failed checks",
    "signature_invalid": "chữ ký sai / signature invalid",
    "supervised": "kiểm tra trực tiếp có giám sát (mức thấp hơn) / supervised in person (lower level)",
    "photo_only": "chỉ bằng ảnh, không kiểm tra người thật (mức thấp hơn) / photo only, no liveness (lower level)",
    "several_lms_accounts": "một VNeID, nhiều tài khoản học / one VNeID, several LMS accounts",
    "repeated_failures": "thất bại lặp lại / repeated failures",
    "matches_other_learner": "khớp khuôn mặt người học khác / matches another learner's face",
}


@dataclass(frozen=True)
class AuditorConfig:
    db: Database
    certificates: Callable[[], Sequence[bytes]]  # the hub's certificate(s), as the stamp guard trusts
    repeated_failures: int = 3  # identity.settings.AssurancePolicy.repeated_failures
    # A streaming replica the pages' queries read from (HOCVU_DATABASE_REPLICA_URL). Sign-in, the
    # access log and proof bundles (which may sign a checkpoint) stay on the primary ``db``.
    read_db: Database | None = None


def _config() -> AuditorConfig:
    cfg: AuditorConfig = current_app.extensions[EXTENSION]
    return cfg


def auditor(session: Session, authorization: str | None) -> NationalPrincipal:
    try:
        national = authenticate_national(session, authorization)
    except Unauthorized as national_error:
        key, secret = parse_basic(authorization)
        try:
            authenticate(session, key, secret)
        except Unauthorized:
            raise national_error from None
        raise Forbidden("a tenant's credential cannot open the auditor pages; they need a national auditor "
                        "credential") from None
    national.require_role("auditor")
    return national


def _query() -> aq.AttemptQuery:
    args = request.args
    try:
        limit = int(args.get("limit", "50"))
    except ValueError:
        raise BadRequest("limit must be a whole number") from None
    return aq.AttemptQuery(
        tenant=args.get("tenant") or None, course=args.get("course") or None,
        since=parsing.parse_bound(args["since"], "since") if args.get("since") else None,
        until=parsing.parse_bound(args["until"], "until", upper=True) if args.get("until") else None,
        problems=aq.problems_from(args.getlist("problem")),
        after=parsing.decode_cursor(args["after"]) if args.get("after") else None, limit=limit,
        repeated_failures=_config().repeated_failures)


def _log_access(session: Session, who: NationalPrincipal, tenants: dict[int, list[str]],
                detail: dict[str, Any]) -> None:
    """One 'access' entry per tenant read (``tenants``: id -> ids shown of it), then commit."""
    for tenant_id, shown in sorted(tenants.items()):
        note = {**detail, "shown": shown[:LOGGED_IDS], "count": len(shown)}
        try:
            record_access(session, tenant_id, f"auditor:{who.key}", note)
        except ValueError:  # a long filter value: the entry keeps what fits
            record_access(session, tenant_id, f"auditor:{who.key}",
                          {"view": detail.get("view"), "count": len(shown), "truncated": True})
    if not tenants:
        log.info("audit access by %s to %s read no tenant's data", who.key, detail.get("view"))
    session.commit()


def _secure(response: Response, *, html: bool = False) -> Response:
    response.headers["Cache-Control"] = "no-store"  # learners' data: never in a shared cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    if html:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
    return response


def _json(data: Any) -> Response:
    return _secure(Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                            content_type="application/json; charset=utf-8"))


def _open() -> tuple[Session, NationalPrincipal]:
    session = _config().db.session()
    try:
        return session, auditor(session, request.headers.get("Authorization"))
    except Exception:
        session.close()
        raise


@contextmanager
def _reading(primary: Session) -> Iterator[Session]:
    """The session the page's queries read from: the replica's when one is set, else ``primary``."""
    replica = _config().read_db
    if replica is None:
        yield primary
        return
    session = replica.session()
    try:
        yield session
    finally:
        session.close()


def _page(view: str) -> tuple[aq.AttemptQuery, aq.AttemptPage, list[tuple[str, str]]]:
    session, who = _open()
    try:
        q = _query()
        with _reading(session) as reads:
            page = aq.find_attempts(reads, q, _config().certificates())
            tenants = [(t.slug, t.name) for t in reads.scalars(select(Tenant).order_by(Tenant.name))]
        shown: dict[int, list[str]] = {t: [] for t in page.tenants_read}
        for a in page.attempts:
            shown[a.tenant_id].append(a.session_id)
        _log_access(session, who, shown, {"view": view, "filters": q.filters()})
    finally:
        session.close()
    return q, page, tenants


def _more(endpoint: str, cursor: tuple[int, int] | None) -> str:
    if cursor is None:
        return ""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "after"]
    args.append(("after", parsing.encode_cursor(cursor)))
    return f"{request.script_root}/audit/{endpoint}?{urlencode(args)}"


@bp.get("/")
def attempts_page() -> Response:
    q, page, tenants = _page("attempts.html")
    html = render_template("audit/attempts.html", q=q, page=page, tenants=tenants, problems=aq.PROBLEMS,
                           labels=PROBLEM_LABELS,
                           more=_more("", page.cursor), args=request.args,
                           csv_url="attempts.csv?" + urlencode([(k, v) for k, v in request.args.items(multi=True)
                                                                 if k not in ("after", "limit")]))
    return _secure(Response(html, content_type="text/html; charset=utf-8"), html=True)


@bp.get("/attempts.json")
def attempts_json() -> Response:
    q, page, _ = _page("attempts.json")
    return _json({"attempts": [a.as_dict() for a in page.attempts], "more": _more("attempts.json", page.cursor),
                  "filters": q.filters()})


@bp.get("/attempts.csv")
def attempts_csv() -> Response:
    """Every matching attempt (all pages), one row each. The access is logged, for every tenant in
    scope, before the first byte is sent."""
    session, who = _open()
    try:
        q = replace(_query(), after=None, limit=aq.MAX_LIMIT)
        scope = aq.tenants_in_scope(session, q)
        _log_access(session, who, {t: [] for t, _ in scope}, {"view": "attempts.csv", "filters": q.filters()})
    finally:
        session.close()
    name = f"attempts-{q.tenant or 'all'}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.csv"
    response = Response(_csv(_config().read_db or _config().db, _config().certificates(), q),
                        content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Hocvu-Export-Schema"] = CSV_SCHEMA
    return _secure(response)


def csv_row(a: aq.Attempt) -> list[str]:
    def num(v: float | None) -> str:
        return "" if v is None else repr(v)

    return [a.tenant, a.registration, a.session_id, a.course or "", a.activity or "", a.subject or "",
            "" if a.level is None else str(a.level), a.outcome, a.started, a.ended, str(len(a.statements)),
            str(len(a.checks)), str(a.failed_checks), ";".join(c.time for c in a.checks),
            ";".join(c.outcome or "" for c in a.checks), ";".join(num(c.distance) for c in a.checks),
            ";".join(num(c.threshold) for c in a.checks),
            str(sum(s.signature == "valid" for s in a.statements)), str(a.signatures_invalid),
            str(sum(s.chain == "included" for s in a.statements)), str(a.chain_problems),
            ";".join(sorted(a.problems())), str(a.signals.lms_accounts), str(a.signals.suspicious_failures),
            ";".join(a.signals.matched_others), a.assurance or "", a.liveness or "", a.liveness_result or "",
            ";".join(_check_liveness(c) for c in a.checks),
            str(sum(s.attestation == "attested" for s in a.statements)), str(a.attestations_broken)]


def _check_liveness(c: Any) -> str:
    """A check's liveness in one cell: "method:result", "none" (a photo), "" (not said)."""
    if c.liveness and c.liveness_result:
        return f"{c.liveness}:{c.liveness_result}"
    return c.liveness or ""


def _csv(db: Database, certificates: Sequence[bytes], q: aq.AttemptQuery) -> Iterator[bytes]:
    # Its own session: the body is produced after the view has returned.
    session = db.session()
    try:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
        writer.writerow(CSV_COLUMNS)
        while True:
            page = aq.find_attempts(session, q, certificates)
            for a in page.attempts:
                writer.writerow(csv_row(a))
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            if page.cursor is None:
                break
            q = replace(q, after=page.cursor)
    finally:
        session.close()


def _attempt_args() -> tuple[str, str, str]:
    args = request.args
    missing = [k for k in ("tenant", "registration", "session") if not args.get(k)]
    if missing:
        raise BadRequest(f"name the attempt with {', '.join(missing)}")
    return args["tenant"], args["registration"], args["session"]


def _one(view: str) -> aq.Attempt:
    session, who = _open()
    try:
        with _reading(session) as reads:
            attempt = archived.live_attempt_or_archived(reads, *_attempt_args(), _config().certificates(),
                                                        _config().repeated_failures)
        _log_access(session, who, {attempt.tenant_id: [attempt.session_id]},
                    {"view": view, "registration": attempt.registration})
    finally:
        session.close()
    return attempt


@bp.get("/attempt")
def attempt_page() -> Response:
    attempt = _one("attempt.html")
    bundle = "bundle?" + urlencode({"tenant": attempt.tenant, "registration": attempt.registration,
                                    "session": attempt.session_id})
    html = render_template("audit/attempt.html", a=attempt, bundle_url=bundle, labels=PROBLEM_LABELS)
    return _secure(Response(html, content_type="text/html; charset=utf-8"), html=True)


@bp.get("/attempt.json")
def attempt_json() -> Response:
    return _json(_one("attempt.json").as_dict())


@bp.get("/bundle")
def bundle() -> Response:
    """A proof bundle (``identity.auditor.proof_bundle``) of an attempt or of chosen statements. Its own
    access entry is logged first, and a checkpoint is signed when none covers the statements yet."""
    session, who = _open()
    try:
        chosen = request.args.getlist("statement")
        certificates = _config().certificates()
        if chosen:
            slug = request.args.get("tenant") or ""
            tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == slug))
            if tenant_id is None:
                raise NotFound(f"no tenant {slug!r}")
            # No archive here (an offline one): archived statements are refused naming their months.
            rows = archived.chosen(session, tenant_id, slug, chosen, None)
            selection: dict[str, Any] = {"statements": [r.statement_id for r in rows]}
        else:
            slug = _attempt_args()[0]
            tenant_id, selection, rows = archived.attempt(session, *_attempt_args(), certificates, None,
                                                          _config().repeated_failures)
        note = {"view": "bundle", **selection.get("attempt", {})}  # chosen statements: the entry's "shown"
        _log_access(session, who, {tenant_id: [r.statement_id for r in rows]}, note)
        data = proof_bundle.build(session, tenant_id, rows, certificates, selection=selection,
                                  policy=policy_of(session))
        session.commit()  # the checkpoint build() may have signed
    finally:
        session.close()
    name = f"proof-{slug}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    response = Response(proof_bundle.dumps(data), content_type="application/json; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return _secure(response)


@bp.errorhandler(XapiError)
def _error(err: XapiError) -> Response:
    headers: dict[str, Any] = dict(err.headers)
    if err.status == 401:
        headers["WWW-Authenticate"] = REALM
    if request.endpoint in HTML_VIEWS:
        title = {401: "Cần đăng nhập / Sign-in required", 403: "Không được phép / Not allowed",
                 404: "Không tìm thấy / Not found"}.get(err.status, "Yêu cầu không hợp lệ / Invalid request")
        page = render_template("audit/error.html", status=err.status, code=err.code, title=title, message=err.message)
        response = Response(page, status=err.status, headers=headers, content_type="text/html; charset=utf-8")
        return _secure(response, html=True)
    body = json.dumps(err.body(), ensure_ascii=False, separators=(",", ":"))
    return _secure(Response(body, status=err.status, headers=headers, content_type="application/json; charset=utf-8"))


def init_app(app: Flask, cfg: AuditorConfig) -> None:
    app.extensions[EXTENSION] = cfg
    app.register_blueprint(bp, url_prefix="/audit")
