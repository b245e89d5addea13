"""The LTI tool's one storage module: platform registrations, deployments, the tool's own keys,
dynamic-registration invitations, the AGS score outbox, and proctoring sessions with their ACS
requests, the shared launch state (nonces, cached launches, access tokens) and the resource links whose
line items the tool manages itself. Models sit on the shared ``lrs.storage.Base`` so one Alembic
history covers every package (migrations 0003, 0011, 0030 and 0211, branch ``lti_tool``).

Keys (issue 17 item 5b): every per-tenant table's primary, unique and foreign keys lead with
``tenant_id``, so the store can be distributed by tenant on Citus. ``lti_registrations`` is a
reference table (read by issuer and client_id before the tenant is known), so the foreign keys to
it stay single-column. On PostgreSQL the primary keys are (tenant_id, id) (migration 0211); the
tables keep ``id`` alone as their primary key in the metadata, which is what SQLite's autoincrement
needs, while the ORM's identity is (tenant_id, id) on both databases (``__mapper_args__``), so
``session.get`` and the ORM's own UPDATE/DELETE name the tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lrs.dialect_schema import POSTGRESQL_ONLY, SQLITE_ONLY, tenant_identity
from lrs.storage import Base

URL_LEN = 2048


class LtiRegistration(Base):
    """One LMS (platform) registered with the tool, owned by one tenant.

    LTI Core 1.3 §3.1.3: a platform is identified by its ``iss`` and the tool by the ``client_id``
    the platform gave it, so (issuer, client_id) is unique across the hub: a launch names only
    those two, and the tenant follows from the row."""

    __tablename__ = "lti_registrations"
    __table_args__ = (UniqueConstraint("issuer", "client_id", name="uq_lti_registrations_issuer_client"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(1024))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    auth_login_url: Mapped[str] = mapped_column(String(URL_LEN))   # OIDC authorization endpoint
    token_url: Mapped[str] = mapped_column(String(URL_LEN))        # OAuth 2 token endpoint
    keyset_url: Mapped[str] = mapped_column(String(URL_LEN))       # the platform's JWKS
    # Security Framework §4.1.1: the `aud` of our client assertion, when it is not the token URL
    # (Dynamic Registration §3.4: the platform's `authorization_server`).
    auth_audience: Mapped[str | None] = mapped_column(String(URL_LEN), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set by an operator (`hocvu lti platform disable`, /lti/admin/): launches are refused, scores wait.
    disabled: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Joined on the tenant too: on Citus the registration is a reference table and its deployments
    # are distributed, so the tenant routes the load to one shard (and the flush copies it over).
    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", order_by="LtiDeployment.id",
        primaryjoin="and_(LtiRegistration.id == foreign(LtiDeployment.registration_id), "
                    "LtiRegistration.tenant_id == foreign(LtiDeployment.tenant_id))")


class LtiDeployment(Base):
    """A deployment of the tool inside a registered platform (LTI Core 1.3 §3.1.3, `deployment_id`)."""

    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("tenant_id", "registration_id", "deployment_id",
                                       name="uq_lti_deployments_reg_dep"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)   # PostgreSQL: PK (tenant_id, id), migration 0211
    # Always its registration's tenant (a registration never changes tenant): the distribution column.
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    registration: Mapped[LtiRegistration] = relationship(
        back_populates="deployments",
        primaryjoin="and_(LtiRegistration.id == foreign(LtiDeployment.registration_id), "
                    "LtiRegistration.tenant_id == foreign(LtiDeployment.tenant_id))")
    __mapper_args__ = tenant_identity(tenant_id, id)


class LtiToolKey(Base):
    """One of the tool's RSA signing keys. The private key is sealed (AES-GCM under a key derived
    from the app secret, see ``lti_tool.keys``); the public JWK is published at /lti/jwks until
    the key is retired."""

    __tablename__ = "lti_tool_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LtiRegistrationInvite(Base):
    """A one-time URL an LMS administrator pastes to register their platform for one tenant by
    LTI Dynamic Registration 1.0. Only a hash of the token is kept."""

    __tablename__ = "lti_registration_invites"
    # Unique per tenant (Citus enforces uniqueness only within a distribution key): the invitation
    # link names its tenant, and the page looks the invite up by both (dynamic_registration.check_invite).
    __table_args__ = (UniqueConstraint("tenant_id", "token_hash", name="uq_lti_registration_invites_token"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)   # PostgreSQL: PK (tenant_id, id), migration 0211
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_registrations.id", ondelete="SET NULL"), nullable=True)
    __mapper_args__ = tenant_identity(tenant_id, id)


class LtiScoreOutbox(Base):
    """Every AGS score is written here before it is sent (a write-ahead outbox), so a platform
    outage or a crash never loses one. ``status``: pending → delivered, or failed when the
    platform rejects the score for good (kept for an operator, `hocvu lti scores --failed`).

    ``lineitem_url`` is the column the score goes to; it is empty while the tool has still to find
    or create its own line item in ``lineitems_url`` (AGS 2.0 §3.2, programmatic mode) from
    ``lineitem_spec``. ``resource_link_id`` and ``user_id`` let the roster show each learner's
    delivery state for a link."""

    __tablename__ = "lti_score_outbox"
    __table_args__ = (Index("ix_lti_score_outbox_due", "status", "next_attempt"),
                      Index("ix_lti_score_outbox_link", "registration_id", "resource_link_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)   # PostgreSQL: PK (tenant_id, id), migration 0211
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id"))
    lineitem_url: Mapped[str | None] = mapped_column(String(URL_LEN), nullable=True)
    lineitems_url: Mapped[str | None] = mapped_column(String(URL_LEN), nullable=True)
    lineitem_spec: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    resource_link_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    score: Mapped[dict[str, Any]] = mapped_column(JSON)   # the AGS Score body, timestamp fixed at creation
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # A sender owns a row until this time: two retry loops never send the same score at once.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    __mapper_args__ = tenant_identity(tenant_id, id)


class LtiResourceLink(Base):
    """A resource link whose launch offered AGS with ``lineitems`` but no ``lineitem`` (AGS 2.0
    §3.1: programmatic mode, e.g. Open edX; tool-created columns in Canvas and Moodle): where to
    find or create the tool's own line item, and, once found, the line item itself.

    LTI Core 1.3 §5.3.5: a resource link id is unique within its deployment. ``claimed_until``
    lets one sender at a time look the line item up or create it, so two learners finishing at
    once never create two gradebook columns."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("tenant_id", "registration_id", "deployment_id", "resource_link_id",
                                       name="uq_lti_resource_links_link"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)   # PostgreSQL: PK (tenant_id, id), migration 0211
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    lineitems_url: Mapped[str] = mapped_column(String(URL_LEN))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    lineitem_url: Mapped[str | None] = mapped_column(String(URL_LEN), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __mapper_args__ = tenant_identity(tenant_id, id)


class LtiLaunchState(Base):
    """The launch state every web process shares when no Redis is configured (DESIGN.md, Scale):
    OIDC nonces, cached deep-linking launches, access tokens (sealed). ``key`` is the SHA-256 of
    the cache key, so a take is one primary-key lookup; expired rows are ignored and swept."""

    __tablename__ = "lti_launch_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LtiProctoringSession(Base):
    """One proctored attempt (1EdTech Proctoring Services 1.0): opened by an ``LtiStartProctoring``
    launch, answered with ``LtiStartAssessment`` once the learner passed the identity gate, closed
    by ``LtiEndAssessment`` (``lti_tool.proctoring``). An attempt is the platform's (deployment,
    learner, resource link, attempt_number); a second start for the same attempt updates this row.

    ``public_id`` names the session in URLs (never the row id). The verified identity is kept only
    as its pseudonymous subject and a stamp-like summary, never a citizen ID or a photo."""

    __tablename__ = "lti_proctoring_sessions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "registration_id", "deployment_id", "sub", "resource_link_id",
                         "attempt_number", name="uq_lti_proctoring_sessions_attempt"),
        # Unique per tenant only (Citus enforces uniqueness within a distribution key). The session's
        # pages find it by public_id alone, before the tenant is known: on Citus that asks every
        # shard (one index probe each, ix_lti_proctoring_sessions_public_id), a few times per
        # proctored attempt. Two tenants cannot meet on one public_id in practice: 16 random bytes.
        UniqueConstraint("tenant_id", "public_id", name="uq_lti_proctoring_sessions_public_id"),
        Index("ix_lti_proctoring_sessions_public_id", "public_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)   # PostgreSQL: PK (tenant_id, id), migration 0211
    public_id: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id", ondelete="CASCADE"))
    issuer: Mapped[str] = mapped_column(String(1024))
    deployment_id: Mapped[str] = mapped_column(String(255))
    sub: Mapped[str] = mapped_column(String(255))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    context_id: Mapped[str] = mapped_column(String(255), default="")
    attempt_number: Mapped[int] = mapped_column(Integer)
    session_data: Mapped[str | None] = mapped_column(Text, nullable=True)   # echoed verbatim, never parsed
    start_assessment_url: Mapped[str] = mapped_column(String(URL_LEN))
    acs_url: Mapped[str | None] = mapped_column(String(URL_LEN), nullable=True)
    acs_actions: Mapped[list[str]] = mapped_column(JSON)
    failure_action: Mapped[str] = mapped_column(String(16))   # "flag" | "terminate": on a failed face check
    gate_target: Mapped[str] = mapped_column(String(512))     # the catalogue item whose identity gate applies
    end_assessment_return: Mapped[bool] = mapped_column(Boolean)
    # pending (identity gate) → started (LtiStartAssessment sent) → ended | terminated
    state: Mapped[str] = mapped_column(String(16))
    verified_subject: Mapped[str | None] = mapped_column(String(128), nullable=True)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The identity gate's cmi5 session id (player_assurances.session_id, on another migration
    # branch, hence no FK): its repeated face checks during the assessment are this session's.
    assurance_session_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    flags: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    __mapper_args__ = tenant_identity(tenant_id, id)


class LtiProctoringControl(Base):
    """One Assessment Control Service request (Proctoring Services 1.0, ACS) and the platform's
    answer, written before the call so a failure is on record too. ``outcome``: sent | failed."""

    __tablename__ = "lti_proctoring_controls"
    __table_args__ = (
        # PostgreSQL: the key names the session's tenant too, so a control can never point at another
        # tenant's session (and Citus keeps the two on one shard); SQLite keeps the plain key.
        ForeignKeyConstraint(["tenant_id", "session_id"],
                             ["lti_proctoring_sessions.tenant_id", "lti_proctoring_sessions.id"],
                             ondelete="CASCADE", info=POSTGRESQL_ONLY),
        ForeignKeyConstraint(["session_id"], ["lti_proctoring_sessions.id"], ondelete="CASCADE", info=SQLITE_ONLY),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)   # PostgreSQL: PK (tenant_id, id), migration 0211
    # Always its session's tenant: the distribution column.
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    session_id: Mapped[int] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    incident_severity: Mapped[float] = mapped_column(Float)
    incident_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    platform_status: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the ACS response status
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __mapper_args__ = tenant_identity(tenant_id, id)
