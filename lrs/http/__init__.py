"""The xAPI resources over HTTP: ``frame`` (version, authentication, sessions, headers, errors, the
blueprint) and one module per resource, whose routes join the frame's blueprint when imported.
``init_app`` mounts them at /xapi."""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException

from lrs.audit.chain import POLICY_KEY
from lrs.credentials import credential_cache_for
from lrs.errors import XapiError
from lrs.http import documents, resources, statements  # noqa: F401  (their routes join the blueprint)
from lrs.http.frame import (
    CREDENTIAL_CACHE,
    PREFIX,
    LrsConfig,
    bp,
    render_error,
    render_http,
    render_unexpected,
)
from lrs.maintenance import KEEPER_KEY, StatsKeeper
from lrs.reserved_extensions import RESERVED_KEY
from lrs.statements import MAX_STATEMENT_BYTES_KEY

__all__ = ["LrsConfig", "init_app"]


def init_app(app: Flask, cfg: LrsConfig) -> None:
    app.extensions["lrs"] = cfg
    app.extensions[CREDENTIAL_CACHE] = credential_cache_for(cfg.db.url, cfg.credential_cache_seconds)
    # SQLite's planner is not steered by statistics here; only PostgreSQL's keeper runs ANALYZE.
    analyze_every = cfg.analyze_every if cfg.db.dialect == "postgresql" else 0
    # Every session of this database appends to the audit chain with this policy, whoever opens
    # it (the course player writes statements in-process, not through this blueprint).
    cfg.db.sessions.configure(info={POLICY_KEY: cfg.audit, RESERVED_KEY: dict(cfg.reserved_extensions),
                                    MAX_STATEMENT_BYTES_KEY: cfg.max_statement_bytes,
                                    KEEPER_KEY: StatsKeeper(cfg.db.engine, analyze_every)})
    app.register_blueprint(bp, url_prefix=PREFIX)
    app.register_error_handler(XapiError, render_error)
    app.register_error_handler(HTTPException, render_http)
    app.register_error_handler(Exception, render_unexpected)
