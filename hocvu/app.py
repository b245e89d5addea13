"""The app factory: one Flask app wiring the packages together (DESIGN.md, composition root)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, request
from sqlalchemy.orm import Session

from connectors.export import pseudonym_key
from connectors.http_reports import ReportsConfig
from connectors.http_reports import init_app as init_reports
from credentials.config import Holder
from credentials.hooks import CredentialHooks
from credentials.http import init_app as init_credentials_http
from credentials.issuing import credential_url, ring_of
from credentials.issuing import mine as held_credentials
from credentials.revocation import sweep
from hocvu import configs
from hocvu.attachments import blob_store
from hocvu.attachments import register as register_blobs
from hocvu.availability import init_app as init_availability
from hocvu.background import PeriodicTask
from hocvu.body_limit import BodyLimit
from hocvu.cookie_session import CookieSessionInterface
from hocvu.delivery import init_delivery
from hocvu.settings import Settings
from identity.auditor.http import AuditorConfig
from identity.auditor.http import init_app as init_auditor
from identity.gate.face import purge_expired
from identity.gate.http import CONFIG_EXT as GATE_CONFIG
from identity.gate.http import SEALER_EXT
from identity.gate.http import init_app as init_gate
from identity.http import init_app as init_identity
from identity.settings import IdentitySettings
from identity.stamp import STAMP_IRI
from identity.stamp_guard import stamp_guard
from lrs.alternate_syntax import AlternateRequestSyntax
from lrs.audit.archive_erasure import ARCHIVE_KEY_KEY, archive_key
from lrs.audit.chain import AuditPolicy, JwsSigner, LazySigner
from lrs.audit.erasure import ERASURE_HOOKS_KEY
from lrs.http import LrsConfig, init_app
from lrs.storage import Database, Tenant, as_utc
from lti_tool.ags import retry_pending_scores
from lti_tool.http import LtiConfig
from lti_tool.http import init_app as init_lti
from player.catalogue import Catalogue
from player.front import FrontConfig, init_front
from player.http import init_player
from player.learning import Certificate
from player.learning_http import init_learning, register_certificates
from player.packages.cmi5.web import Cmi5Config, init_cmi5_web
from player.packages.http import init_packages
from player.packages.scorm_http import init_scorm
from player.pages import on_attempt_finished
from player.session import Learner, PlayerSession
from player.statements import SEALER_KEY
from player.webapp import init_webapp

CREDENTIAL_HOOKS = "credentials.hooks"  # app.extensions: the CredentialHooks the player and LTI tool call


def audit_policy(settings: Settings, material: Callable[[], Any] | None = None) -> AuditPolicy:
    """The audit chain's checkpoints, signed by the hub's statement-signing key (loaded on the
    first checkpoint, so a process that never checkpoints never reads it). ``material``: the app
    passes the identity gate's (``HubKey``); by default the settings' key files, else the instance
    folder's."""
    load = material or configs.hub_key(settings).material

    def signer() -> JwsSigner:
        loaded = load()
        return JwsSigner(loaded.key, loaded.cert)

    audit = settings.audit
    return AuditPolicy(signer=LazySigner(signer), checkpoint_every=audit.checkpoint_every,
                       checkpoint_minutes=audit.checkpoint_minutes, append=not audit.bench_no_audit_chain)


def hub_certificates(app: Flask, settings: Settings | None = None) -> Callable[[], list[bytes]]:
    """The certificates a stamped statement must be signed with (identity.stamp_guard) and auditors
    check signatures with: the hub's own, which the identity gate signs with (tests may replace it;
    read on first use), plus HOCVU_STAMP_TRUSTED_CERTS."""
    extra = configs.trusted_certificates(settings or app.extensions["hocvu.settings"])

    def certificates() -> list[bytes]:
        return [app.extensions[GATE_CONFIG].material().cert_pem, *extra]

    return certificates


def init_forwarding(app: Flask, settings: Settings, database: Database) -> object | None:
    """Statement forwarding (connectors.forwarding.tasks). A successful statement write only nudges the
    forwarder; delivery runs on its thread or a Celery worker, never inside the request."""
    try:  # celery and tincan come with the `connectors` extra
        from connectors.forwarding.config import ForwardConfig
        from connectors.forwarding.tasks import Forwarder
    except ImportError as exc:
        logging.getLogger(__name__).warning("statement forwarding is off: %s (install hocvu[connectors])", exc)
        return None
    forwarder = Forwarder(database, ForwardConfig.from_secret(settings.secret_key), settings.hub.broker_url)
    app.extensions["hocvu.forwarder"] = forwarder
    if settings.forwarding.forward_seconds > 0:
        forwarder.start(settings.forwarding.forward_seconds)

    @app.after_request
    def _nudge_forwarding(response: Response) -> Response:
        if request.path == "/xapi/statements" and request.method in ("POST", "PUT") and response.status_code < 300:
            forwarder.nudge()
        return response

    return forwarder


def init_rollups(app: Flask, settings: Settings, database: Database) -> Database | None:
    """Report rollups (connectors.rollups): refreshed every HOCVU_ROLLUP_SECONDS in this process (the
    watermark's row lock lets every worker do so), and told of erasures in the erasure's transaction.
    Returns the read replica (HOCVU_DATABASE_REPLICA_URL) reports, exports and auditors read from."""
    from connectors.rollups import forget_learner, refresh

    info = dict(database.sessions.kw.get("info") or {})
    info[ERASURE_HOOKS_KEY] = (*info.get(ERASURE_HOOKS_KEY, ()), forget_learner)
    database.sessions.configure(info=info)
    if settings.reports.rollup_seconds > 0:
        app.extensions["connectors.rollups"] = PeriodicTask("report-rollups", settings.reports.rollup_seconds,
                                                            lambda: refresh(database)).start()
    url = settings.hub.database_replica_url
    if not url:
        return None
    replica = Database(url, connect_timeout=settings.hub.db_connect_timeout,
                       statement_timeout=settings.hub.db_statement_timeout or None)
    app.extensions["hocvu.replica_db"] = replica
    return replica


def init_partitions(app: Flask, settings: Settings, database: Database) -> None:
    """PostgreSQL: the statements' monthly partitions made ahead every HOCVU_PARTITION_SECONDS, with
    or without traffic (lrs.partitions.keep_ahead: one process at a time, a no-op when they exist)."""
    if settings.lrs.partition_seconds > 0 and database.engine.dialect.name == "postgresql":
        from lrs.partitions import keep_ahead

        app.extensions["lrs.partitions"] = PeriodicTask("statement-partitions", settings.lrs.partition_seconds,
                                                        lambda: keep_ahead(database.engine)).start()


def init_identity_gate(app: Flask, settings: Settings, identity: IdentitySettings) -> None:
    """The identity gate with the hub's signing key (``HubKey``, one per app: the gate's stamps, the
    audit checkpoints and the trusted certificates all use it); its sealer becomes the statement
    writers' (the player's and proctoring's), so every statement of an assured attempt is signed."""
    cfg = configs.assurance_config(settings, identity, configs.hub_key(settings, identity.instance_dir))
    init_gate(app, cfg)
    app.extensions[SEALER_KEY] = app.extensions[SEALER_EXT]
    if cfg.policy.face_purge_seconds > 0:
        # Retention (HOCVU_FACE_RETENTION_DAYS): each web process deletes expired enrolments every
        # HOCVU_FACE_PURGE_SECONDS (6 h by default); a plain DELETE by time, safe to run concurrently.
        def purge() -> None:
            database: Database = app.extensions["hocvu.db"]
            with database.session() as session:
                purge_expired(session, app.extensions[GATE_CONFIG].policy, datetime.now(UTC))
                session.commit()

        app.extensions["identity.face_purge"] = PeriodicTask("face-enrolment-purge", cfg.policy.face_purge_seconds,
                                                             purge).start()


def init_credentials(app: Flask, settings: Settings, database: Database, courses: Catalogue) -> CredentialHooks:
    """Verifiable credentials: their pages and keys, the hooks the player and the LTI tool call (in
    app.extensions[CREDENTIAL_HOOKS]), erasure's hook (in every session's info, so ``lrs.audit.erasure``
    revokes the learner's credentials in its transaction), and the sweep that revokes credentials
    whose evidence was voided."""
    cfg = configs.credentials_config(settings, database, courses)
    init_credentials_http(app, cfg)
    hooks = CredentialHooks(cfg)
    app.extensions[CREDENTIAL_HOOKS] = hooks
    info = dict(database.sessions.kw.get("info") or {})
    info[ERASURE_HOOKS_KEY] = (*info.get(ERASURE_HOOKS_KEY, ()), hooks.erased)
    database.sessions.configure(info=info)
    ring_of(cfg)  # no app secret fails now, not at the first completion
    if cfg.sweep_seconds > 0:
        def run_sweep() -> None:
            with database.session() as s:
                sweep(s, cfg, datetime.now(UTC))
                s.commit()

        app.extensions["credentials.sweep"] = PeriodicTask("credentials-sweep", cfg.sweep_seconds, run_sweep).start()
    return hooks


def _course_of(target: str) -> str:
    """``course/<c>/...`` → ``<c>``: the course a catalogue target belongs to."""
    return target.split("/")[1] if target.startswith("course/") and target.count("/") >= 1 else ""


def _issue_credential(hooks: CredentialHooks, opened: PlayerSession) -> None:
    """A finished attempt may complete the course: the credential is issued then (no name until the
    learner chooses one to show)."""
    course = _course_of(opened.target)
    if course:
        hooks.quiz_finished(opened.tenant_id, opened.learner.home_page, opened.learner.account, course)


def _certificates(hooks: CredentialHooks, db: Session, tenant_id: int, learner: Learner) -> list[Certificate]:
    """"My learning"'s certificates: the learner's live credentials (the player does not import the
    credentials package; this adapter is the composition root's)."""
    tenant = db.get(Tenant, tenant_id)
    if tenant is None:
        return []
    holder = Holder(tenant_id, learner.home_page, learner.account)
    return [Certificate(title={"vi": (row.document or {}).get("name", ""), "en": (row.document or {}).get("name", "")},
                        issued=as_utc(row.issued), url=credential_url(hooks.cfg, tenant.slug, row.public_id),
                        course_target=f"course/{row.course_id}")
            for row in held_credentials(db, holder) if row.revoked is None]


def _credential_comment(hooks: CredentialHooks, opened: PlayerSession) -> str | None:
    course = _course_of(opened.target)
    return hooks.ags_comment(opened.tenant_id, opened.learner.home_page, opened.learner.account, course) \
        if course else None


def create_app(settings: Settings | None = None, *, db: Database | None = None,
               identity: IdentitySettings | None = None) -> Flask:
    """The hub. ``settings``: the tree (default: from the environment, ``SettingError`` on a bad
    value); ``db`` and ``identity`` let tests give their own database and VNeID client."""
    settings = settings or Settings.from_env()
    app = Flask("hocvu")
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.lrs.max_body_bytes,
                      JSON_AS_ASCII=False)
    app.session_interface = CookieSessionInterface()  # no signer built, no header parsed, without a cookie
    database = db or Database(settings.database_url, connect_timeout=settings.hub.db_connect_timeout,
                              statement_timeout=settings.hub.db_statement_timeout or None)
    app.extensions["hocvu.settings"] = settings
    app.extensions["hocvu.db"] = database
    # Cursors get their own key derived from the app secret, so rotating one use is independent.
    cursor_secret = hashlib.sha256(b"hocvu/more-cursor/" + settings.secret_key.encode()).digest()
    certificates = hub_certificates(app, settings)
    # Only hub-signed statements may carry the identity stamp (identity.stamp_guard).
    init_app(app, LrsConfig(db=database, cursor_secret=cursor_secret, page_cap=settings.lrs.max_page_size,
                            max_statement_bytes=min(settings.lrs.max_statement_bytes, settings.lrs.max_body_bytes),
                            audit=audit_policy(settings, lambda: app.extensions[GATE_CONFIG].material()),
                            reserved_extensions={STAMP_IRI: stamp_guard(certificates)},
                            analyze_every=settings.lrs.analyze_every,
                            credential_cache_seconds=settings.lrs.credential_cache_seconds))
    # Attachment bytes (lrs.blobs): one store for the primary and the replica, which share rows.
    blobs = blob_store(settings)
    register_blobs(database, blobs)
    app.extensions["hocvu.blobs"] = blobs
    # An erasure reaches the archived months by a keyed digest of the learner (lrs.audit.archive_erasure).
    info = dict(database.sessions.kw.get("info") or {})
    database.sessions.configure(info={**info, ARCHIVE_KEY_KEY: archive_key(settings.secret_key)})
    identity_settings = identity or configs.identity_settings(settings)
    init_identity(app, identity_settings, database)
    init_identity_gate(app, settings, identity_settings)
    courses = configs.catalogue(settings)
    init_player(app, courses)
    init_packages(app, configs.package_store(settings))   # imported cmi5/SCORM packages' files
    init_cmi5_web(app, Cmi5Config(settings.hub.national_tenant,   # cmi5: fetch URL, launch, admin API and page
                                  timedelta(hours=settings.packages.cmi5_session_hours)))
    init_scorm(app)   # SCORM 1.2/2004 courses' player and run-time (player.packages.scorm_http)
    # The citizen's front door at / and "my learning": the second source of player sessions.
    init_front(app, FrontConfig(settings.hub.national_tenant, settings.hub.national_tenant_name))
    init_learning(app)   # "my learning" at /learning
    init_webapp(app)     # the manifest, /sw.js and /offline
    hooks = init_credentials(app, settings, database, courses)
    on_attempt_finished(app, lambda opened: _issue_credential(hooks, opened))
    register_certificates(app, lambda db, tenant_id, learner: _certificates(hooks, db, tenant_id, learner))
    tool = init_lti(app, LtiConfig(db=database, secret_key=settings.secret_key, base_url=settings.public_url,
                                   score_comment=lambda opened: _credential_comment(hooks, opened),
                                   redis_url=settings.hub.redis_url, jwks_min_age=settings.lti.lti_jwks_min_age,
                                   jwks_max_age=settings.lti.lti_jwks_max_age,
                                   jwks_refetch_seconds=settings.lti.lti_jwks_refetch_seconds,
                                   token_margin_seconds=settings.lti.lti_token_margin_seconds))
    if settings.lti.score_retry_seconds > 0:
        # AGS 2.0: a score the platform could not take is retried with backoff, never lost.
        app.extensions["hocvu.score_retries"] = PeriodicTask(
            "ags-score-retries", settings.lti.score_retry_seconds, lambda: retry_pending_scores(tool)).start()
    init_forwarding(app, settings, database)
    replica = init_rollups(app, settings, database)
    init_partitions(app, settings, database)
    if replica is not None:
        register_blobs(replica, blobs)
    # Analysts' pseudonyms get their own key derived from the app secret (see connectors.export).
    init_reports(app, ReportsConfig(db=database, pseudonym_key=pseudonym_key(settings.secret_key),
                                    min_group=settings.reports.report_min_group, read_db=replica))
    init_auditor(app, AuditorConfig(db=database, certificates=certificates, read_db=replica,
                                    repeated_failures=app.extensions[GATE_CONFIG].policy.repeated_failures))
    # A database that is away is a 503 with Retry-After everywhere; /healthz and /readyz probe.
    init_availability(app, settings, database)
    init_delivery(app)   # fingerprinted static files, compressed pages (after every blueprint is known)
    # Flask's documented way to wrap its WSGI app (mypy sees the assignment as replacing a method).
    app.wsgi_app = AlternateRequestSyntax(app.wsgi_app,  # type: ignore[method-assign]
                                          max_body=settings.lrs.max_body_bytes)
    # Outermost: the body limit holds on the bytes received, chunked or not (hocvu.body_limit).
    app.wsgi_app = BodyLimit(app.wsgi_app, settings.lrs.max_body_bytes)  # type: ignore[method-assign]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app
