"""The app factory: one Flask app wiring the packages together (DESIGN.md, composition root)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from connectors.export import pseudonym_key
from connectors.http_reports import ReportsConfig
from connectors.http_reports import init_app as init_reports
from connectors.report_settings import min_group_from_env
from hocvu.background import PeriodicTask
from hocvu.delivery import init_delivery
from hocvu.settings import Settings
from identity.auditor.http import AuditorConfig
from identity.auditor.http import init_app as init_auditor
from identity.gate.face import AssuranceConfig
from identity.gate.http import CONFIG_EXT as GATE_CONFIG
from identity.gate.http import SEALER_EXT
from identity.gate.http import init_app as init_gate
from identity.http import init_app as init_identity
from identity.settings import IdentitySettings
from identity.signing import HubKey
from identity.stamp import STAMP_IRI
from identity.stamp_guard import extra_certificates, stamp_guard
from lrs.alternate_syntax import AlternateRequestSyntax
from lrs.audit.chain import AuditPolicy, JwsSigner, LazySigner
from lrs.http.frame import LrsConfig, init_app
from lrs.storage import Database
from lti_tool.ags import retry_pending_scores
from lti_tool.http import LtiConfig
from lti_tool.http import init_app as init_lti
from player.front import FrontConfig, init_front
from player.http import init_player
from player.learning_http import init_learning
from player.statements import SEALER_KEY
from player.webapp import init_webapp


def audit_policy(settings: Settings, material: Callable[[], Any] | None = None) -> AuditPolicy:
    """The audit chain's checkpoints, signed by the hub's statement-signing key (loaded on the
    first checkpoint, so a process that never checkpoints never reads it). ``material``: the app
    passes the identity gate's (``HubKey``); by default HOCVU_SIGNING_KEY_FILE/CERT_FILE, else the
    instance folder."""
    load = material or HubKey().material

    def signer() -> JwsSigner:
        loaded = load()
        return JwsSigner(loaded.key, loaded.cert)

    return AuditPolicy(signer=LazySigner(signer), checkpoint_every=settings.audit_checkpoint_every,
                       checkpoint_minutes=settings.audit_checkpoint_minutes,
                       append=not settings.bench_no_audit_chain)


def hub_certificates(app: Flask) -> Callable[[], list[bytes]]:
    """The certificates a stamped statement must be signed with (identity.stamp_guard) and auditors
    check signatures with: the hub's own, which the identity gate signs with (tests may replace it;
    read on first use), plus HOCVU_STAMP_TRUSTED_CERTS."""
    extra = extra_certificates()

    def certificates() -> list[bytes]:
        return [app.extensions[GATE_CONFIG].material().cert_pem, *extra]

    return certificates


def init_forwarding(app: Flask, settings: Settings, database: Database) -> object | None:
    """Statement forwarding (connectors.forwarding.tasks). A successful statement write only nudges the
    forwarder; delivery runs on its thread or a Celery worker, never inside the request."""
    try:  # celery and tincan come with the `connectors` extra
        from connectors.forwarding.targets import ForwardConfig
        from connectors.forwarding.tasks import Forwarder
    except ImportError as exc:
        logging.getLogger(__name__).warning("statement forwarding is off: %s (install hocvu[connectors])", exc)
        return None
    forwarder = Forwarder(database, ForwardConfig.from_secret(settings.secret_key), settings.broker_url)
    app.extensions["hocvu.forwarder"] = forwarder
    if settings.forward_seconds > 0:
        forwarder.start(settings.forward_seconds)

    @app.after_request
    def _nudge_forwarding(response: Response) -> Response:
        if request.path == "/xapi/statements" and request.method in ("POST", "PUT") and response.status_code < 300:
            forwarder.nudge()
        return response

    return forwarder


def init_identity_gate(app: Flask, settings: Settings, identity: IdentitySettings) -> None:
    """The identity gate with the hub's signing key (``HubKey``, one per app: the gate's stamps, the
    audit checkpoints and the trusted certificates all use it); its sealer becomes the statement
    writers' (the player's and proctoring's), so every statement of an assured attempt is signed."""
    pepper = identity.pepper if identity.configured else b""
    hub_key = HubKey(identity.instance_dir)
    init_gate(app, AssuranceConfig.from_env(secret_key=settings.secret_key, pepper=pepper,
                                            instance_dir=identity.instance_dir, hub_key=hub_key))
    app.extensions[SEALER_KEY] = app.extensions[SEALER_EXT]


def create_app(settings: Settings | None = None, *, db: Database | None = None,
               identity: IdentitySettings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask("hocvu")
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.max_body_bytes,
                      JSON_AS_ASCII=False)
    database = db or Database(settings.database_url)
    app.extensions["hocvu.settings"] = settings
    app.extensions["hocvu.db"] = database
    # Cursors get their own key derived from the app secret, so rotating one use is independent.
    cursor_secret = hashlib.sha256(b"hocvu/more-cursor/" + settings.secret_key.encode()).digest()
    certificates = hub_certificates(app)
    # Only hub-signed statements may carry the identity stamp (identity.stamp_guard).
    init_app(app, LrsConfig(db=database, cursor_secret=cursor_secret, page_cap=settings.max_page_size,
                            audit=audit_policy(settings, lambda: app.extensions[GATE_CONFIG].material()),
                            reserved_extensions={STAMP_IRI: stamp_guard(certificates)}))
    identity_settings = identity or IdentitySettings.from_env(settings.public_url, settings.secret_key)
    init_identity(app, identity_settings, database)
    init_identity_gate(app, settings, identity_settings)
    init_player(app)
    # The citizen's front door at / and "my learning": the second source of player sessions.
    init_front(app, FrontConfig(settings.national_tenant, settings.national_tenant_name))
    init_learning(app)   # "my learning" at /learning
    init_webapp(app)     # the manifest, /sw.js and /offline
    tool = init_lti(app, LtiConfig(db=database, secret_key=settings.secret_key, base_url=settings.public_url,
                                   redis_url=settings.redis_url))
    if settings.score_retry_seconds > 0:
        # AGS 2.0: a score the platform could not take is retried with backoff, never lost.
        app.extensions["hocvu.score_retries"] = PeriodicTask(
            "ags-score-retries", settings.score_retry_seconds, lambda: retry_pending_scores(tool)).start()
    init_forwarding(app, settings, database)
    # Analysts' pseudonyms get their own key derived from the app secret (see connectors.export).
    init_reports(app, ReportsConfig(db=database, pseudonym_key=pseudonym_key(settings.secret_key),
                                    min_group=min_group_from_env()))
    init_auditor(app, AuditorConfig(db=database, certificates=certificates))
    init_delivery(app)   # fingerprinted static files, compressed pages (after every blueprint is known)
    app.wsgi_app = AlternateRequestSyntax(app.wsgi_app, max_body=settings.max_body_bytes)  # type: ignore[method-assign]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app
