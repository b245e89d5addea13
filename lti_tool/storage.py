"""The LTI tool's one storage module: platform registrations, deployments, the tool's own keys,
dynamic-registration invitations and the AGS score outbox. Models sit on the shared
``lrs.storage.Base`` so one Alembic history covers every package (migration 0003, branch ``lti_tool``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", order_by="LtiDeployment.id")


class LtiDeployment(Base):
    """A deployment of the tool inside a registered platform (LTI Core 1.3 §3.1.3, `deployment_id`)."""

    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("registration_id", "deployment_id", name="uq_lti_deployments_reg_dep"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    registration: Mapped[LtiRegistration] = relationship(back_populates="deployments")


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
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_registrations.id", ondelete="SET NULL"), nullable=True)


class LtiScoreOutbox(Base):
    """Every AGS score is written here before it is sent (a write-ahead outbox), so a platform
    outage or a crash never loses one. ``status``: pending → delivered, or failed when the
    platform rejects the score for good (kept for an operator)."""

    __tablename__ = "lti_score_outbox"
    __table_args__ = (Index("ix_lti_score_outbox_due", "status", "next_attempt"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id"))
    lineitem_url: Mapped[str] = mapped_column(String(URL_LEN))
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
