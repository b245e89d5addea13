"""Reports over HTTP: the dashboard at /reports/, its numbers as JSON, statement exports as CSV or
JSON Lines. Thin: parse, authorise, call ``connectors.reports`` / ``connectors.export``, serialise.

Who gets in (HTTP Basic, as the xAPI endpoint):

* a tenant's own LRS credential with the ``all`` or ``all/read`` scope: that tenant only, with
  real learner keys (the tenant holds them already);
* a national **analyst** credential (``lrs.credentials.authenticate_national``): every tenant, but
  only pseudonymised — learner keys and registrations are replaced by keyed HMACs, whatever the
  request asks (issue 5: "analyst credentials can read across tenants only through pseudonymised
  exports");
* nobody else: no credential 401, a tenant credential without read-all scope or a national
  auditor 403 (auditors have their own pages). Errors are ``{"error": {...}}`` JSON on the JSON and
  CSV endpoints and an HTML page on the dashboard.

pandas is imported by the dashboard and JSON views only when called, so the web
process (and an install without the ``connectors`` extra) starts without it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.archive import coverage
from connectors.archive.coverage import archived_in
from connectors.export import DEFAULT_SETTLE, ExportQuery, Plan, iter_rows, parse_time, parse_until, plan
from connectors.export_files import csv_chunks, jsonl_chunks
from connectors.export_schema import SCHEMA
from connectors.replica import replica_lag, replica_now
from lrs.credentials import authenticate, authenticate_national, parse_basic
from lrs.errors import BadRequest, Forbidden, Unauthorized, XapiError
from lrs.storage import Database, Tenant

log = logging.getLogger(__name__)
bp = Blueprint("reports", __name__, template_folder="templates")
EXTENSION: Final = "hocvu.reports"
REALM: Final = 'Basic realm="hocvu reports", charset="UTF-8"'  # RFC 7617 §2, §2.1
CURSOR_HEADER: Final = "X-Hocvu-Export-Cursor"
# Archived months the range covers (not in the file): "<tenant>/<YYYY-MM>=<statements>, ..." (connectors.archive).
ARCHIVED_HEADER: Final = "X-Hocvu-Export-Archived"
REPORT_ARCHIVED_HEADER: Final = "X-Hocvu-Report-Archived"  # the same, for a report window's figures
# The page loads nothing: inline styles and inline SVG only (the charts), forms back to itself.
CSP: Final = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
              "base-uri 'none'; frame-ancestors 'none'")


@dataclass(frozen=True)
class ReportsConfig:
    db: Database
    pseudonym_key: bytes  # connectors.export.pseudonym_key(app secret)
    min_group: int = 5        # k of k-anonymity: HOCVU_REPORT_MIN_GROUP
    # A streaming replica (HOCVU_DATABASE_REPLICA_URL) that reports and exports read from; sign-in
    # (a revoked credential must stop at once) stays on the primary ``db``.
    read_db: Database | None = None

    @property
    def reader(self) -> Database:
        return self.read_db or self.db


@dataclass(frozen=True)
class Viewer:
    key: str                # the credential, for the access log
    tenant_id: int | None   # None: every tenant (national analyst)
    pseudonymise: bool


def _config() -> ReportsConfig:
    cfg: ReportsConfig = current_app.extensions[EXTENSION]
    return cfg


def viewer(session: Session, authorization: str | None) -> Viewer:
    """Who is asking, and what they may see (the rules in the module docstring)."""
    key, secret = parse_basic(authorization)
    try:
        principal = authenticate(session, key, secret)
    except Unauthorized as tenant_error:
        try:
            national = authenticate_national(session, authorization)
        except Unauthorized:
            raise tenant_error from None
        national.require_role("analyst")
        return Viewer(national.key, None, True)
    if not principal.has_any("all/read"):  # has_any: "all" counts too
        raise Forbidden("reports and exports need a credential with the 'all' or 'all/read' scope")
    return Viewer(principal.key, principal.tenant_id, False)


def _query(session: Session, v: Viewer, *, settle: timedelta) -> ExportQuery:
    args = request.args
    wanted = args.get("tenant") or None
    if v.tenant_id is not None:
        own = session.scalar(select(Tenant.slug).where(Tenant.id == v.tenant_id))
        if own is None:
            raise Unauthorized("this credential's tenant no longer exists")
        if wanted and wanted != own:
            raise Forbidden("a tenant's credential reads its own tenant only")
        tenants: list[str] | None = [own]
    else:
        tenants = [wanted] if wanted else None
    since = parse_time(args["since"], "since") if args.get("since") else None
    until = parse_until(args["until"]) if args.get("until") else None
    return ExportQuery(tenants=tenants, since=since, until=until, after_cursor=args.get("after") or None,
                       settle=settle, pseudonymise=v.pseudonymise)


def _settle() -> timedelta:
    raw = request.args.get("settle")
    if raw is None:
        return DEFAULT_SETTLE
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1
    if not 0 <= seconds <= 3600:
        raise BadRequest("settle must be a number of seconds from 0 to 3600")
    return timedelta(seconds=seconds)


def _open(settle: timedelta) -> tuple[Session, Viewer, ExportQuery]:
    session = _config().db.session()
    try:
        v = viewer(session, request.headers.get("Authorization"))
        q = _query(session, v, settle=settle)
    except Exception:
        session.close()
        raise
    log.info("reports: %s %s tenants=%s pseudonymised=%s", v.key, request.endpoint, q.tenants or "all",
             v.pseudonymise)
    return session, v, q


def _secure(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # learners' data: never in a shared cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _report(q: ExportQuery) -> Any:
    """The report, read from the replica when there is one (its lag on the report): from the rollups
    (and their tail of fresh statements) over the whole history; from the statements themselves for
    a time window (since/until), which rollups do not keep."""
    cfg = _config()
    with cfg.reader.session() as session:
        lag = replica_lag(session) if cfg.read_db is not None else None
        if q.since is None and q.until is None:
            from connectors.rollups.report import rollup_report

            p = plan(session, q, pseudonym_key=cfg.pseudonym_key)
            return rollup_report(session, p.tenants, min_group=cfg.min_group, pseudonymised=q.pseudonymise,
                                 replica_lag=lag)
        from connectors.reports import load_report

        report = load_report(session, q, min_group=cfg.min_group, pseudonym_key=cfg.pseudonym_key)
        return dataclasses.replace(report, replica_lag=lag)


@bp.get("/")
def dashboard() -> Response:
    session, v, q = _open(timedelta(0))
    try:
        from connectors.report_page import render

        report = _report(q)
        choices = None
        if v.tenant_id is None:
            choices = [(t.slug, t.name) for t in session.scalars(select(Tenant).order_by(Tenant.name))]
    finally:
        session.close()
    args = {k: request.args[k] for k in ("tenant", "since", "until") if request.args.get(k)}
    html = render(report, dashboard={
        "tenants": choices, "tenant": request.args.get("tenant", ""), "since": request.args.get("since", ""),
        "until": request.args.get("until", ""),
        "json_url": "report.json" + ("?" + urlencode(args) if args else ""),
        "csv_url": "export.csv?" + urlencode({**args, "settle": "0"}),
    })
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    return _secure(_archived(response, report))


@bp.get("/report.json")
def report_json() -> Response:
    session, _, q = _open(timedelta(0))
    try:
        report = _report(q)
    finally:
        session.close()
    body = json.dumps(report.to_json(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _secure(_archived(Response(body, content_type="application/json; charset=utf-8"), report))


def _archived(response: Response, report: Any) -> Response:
    if report.archived:  # the window covers months that left the store for the lake: not in these figures
        response.headers[REPORT_ARCHIVED_HEADER] = coverage.header(report.archived)
    return response


def _stream(db: Database, p: Plan, fmt: str) -> Iterator[bytes]:
    # Its own session (and no app context): the body is produced after the view has returned.
    session = db.session()
    try:
        pages = iter_rows(session, p)
        for chunk in (csv_chunks(pages) if fmt == "csv" else jsonl_chunks(pages)):
            yield chunk.encode("utf-8")
    finally:
        session.close()


@bp.get("/export.<fmt>")
def export(fmt: str) -> Response:
    """The statements of the viewer's scope as CSV or JSON Lines (``hocvu.statements.v1``), with the
    cursor for the next incremental export in a header (``after=<cursor>`` continues from it), and the
    archived months the range covers, which the file lacks, in another (``ARCHIVED_HEADER``)."""
    if fmt not in ("csv", "jsonl"):
        raise BadRequest("exports over HTTP are export.csv or export.jsonl (Parquet: hocvu export statements)")
    session, _, q = _open(_settle())
    session.close()
    with _config().reader.session() as reads:
        # On a replica, "now" is what it has replayed: the cursor never passes what it has not seen.
        p = plan(reads, q, pseudonym_key=_config().pseudonym_key, now=replica_now(reads))
        archived = archived_in(reads, p.tenants, p.since, p.bound)
    scope = q.tenants[0] if q.tenants else "all"
    name = f"statements-{scope}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.{fmt}"
    response = Response(_stream(_config().reader, p, fmt), content_type="text/csv; charset=utf-8" if fmt == "csv"
                        else "application/jsonl; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers[CURSOR_HEADER] = p.cursor
    response.headers["X-Hocvu-Export-Schema"] = SCHEMA
    if archived:  # months the range covers that left the store for the lake: not in this file
        response.headers[ARCHIVED_HEADER] = coverage.header(archived)
    return _secure(response)


@bp.errorhandler(XapiError)
def _error(err: XapiError) -> Response:
    headers: dict[str, Any] = dict(err.headers)
    if err.status == 401:
        headers["WWW-Authenticate"] = REALM
    if request.endpoint == "reports.dashboard":
        title = {401: "Cần đăng nhập / Sign-in required", 403: "Không được phép / Not allowed"}.get(
            err.status, "Yêu cầu không hợp lệ / Invalid request")
        page = render_template("reports/error.html", status=err.status, code=err.code, title=title,
                               message=err.message)
        response = Response(page, status=err.status, headers=headers, content_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = CSP
        return _secure(response)
    body = json.dumps(err.body(), ensure_ascii=False, separators=(",", ":"))
    return _secure(Response(body, status=err.status, headers=headers,
                            content_type="application/json; charset=utf-8"))


def init_app(app: Flask, cfg: ReportsConfig) -> None:
    app.extensions[EXTENSION] = cfg
    app.register_blueprint(bp, url_prefix="/reports")
