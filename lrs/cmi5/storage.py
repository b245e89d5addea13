"""The LRS's cmi5 tables: one row per AU session (cmi5 §9.6.3.1), and one per AU and registration
(what the AU has reported so far: the "once per registration" rules of cmi5 §9.3 need it).

A session row is written by the LMS (``player.packages``) before the AU is launched; the AU's
credential (``credential_id``, made when the one-time fetch URL is used, cmi5 §8.2) points at it,
and ``lrs.cmi5.rules`` checks every statement that credential sends against it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lrs.dialect_schema import tenant_identity
from lrs.storage import IRI_LEN, Base

LAUNCHED, INITIALIZED, TERMINATED, ABANDONED = "launched", "initialized", "terminated", "abandoned"
WAIVED = "waived"  # a row that only records a waiver's session id (no AU ran)
ENDED = (TERMINATED, ABANDONED, WAIVED)


class Cmi5Session(Base):
    __tablename__ = "lrs_cmi5_sessions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "session_id", name="uq_lrs_cmi5_sessions_session"),
        # The fetch token is 256 random bits: its hash needs an index, not a cross-tenant unique key.
        Index("ix_lrs_cmi5_sessions_fetch", "fetch_hash"),
        Index("ix_lrs_cmi5_sessions_open", "tenant_id", "registration", "au_iri", "state"),
        Index("ix_lrs_cmi5_sessions_credential", "credential_id"),
    )
    # PostgreSQL's primary key is (tenant_id, id), for Citus (migration 0215); so is the ORM's identity.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    session_id: Mapped[str] = mapped_column(String(36))
    registration: Mapped[str] = mapped_column(String(36))
    actor: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor_key: Mapped[str] = mapped_column(String(IRI_LEN))
    course_iri: Mapped[str] = mapped_column(String(IRI_LEN))
    au_iri: Mapped[str] = mapped_column(String(IRI_LEN))
    package_key: Mapped[str] = mapped_column(String(32))        # player.packages: the imported course
    launch_mode: Mapped[str] = mapped_column(String(16))        # Normal | Browse | Review (cmi5 §10.2.2)
    move_on: Mapped[str] = mapped_column(String(32))
    mastery_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    # SHA-256 of the one-time fetch token (cmi5 §8.2.1); NULL once it was used.
    fetch_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credentials.id"), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    launched: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    initialized: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_statement: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failed: Mapped[bool] = mapped_column(Boolean, default=False)  # a Failed statement in this session
    prefs_read: Mapped[bool] = mapped_column(Boolean, default=False)  # the AU read cmi5LearnerPreferences (§11)
    # Who opened it, for the LMS's own follow-up (the player session of the learner, opaque here).
    opener: Mapped[dict[str, Any]] = mapped_column(JSON)
    __mapper_args__ = tenant_identity(tenant_id, id)


class Cmi5AuStatus(Base):
    __tablename__ = "lrs_cmi5_au_status"
    __table_args__ = (UniqueConstraint("tenant_id", "registration", "au_iri", name="uq_lrs_cmi5_au_status"),)
    # PostgreSQL's primary key is (tenant_id, id), for Citus (migration 0215); so is the ORM's identity.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    registration: Mapped[str] = mapped_column(String(36))
    au_iri: Mapped[str] = mapped_column(String(IRI_LEN))
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    passed: Mapped[bool] = mapped_column(Boolean, default=False)
    waived: Mapped[bool] = mapped_column(Boolean, default=False)
    satisfied: Mapped[bool] = mapped_column(Boolean, default=False)
    score_scaled: Mapped[float | None] = mapped_column(Float, nullable=True)
    __mapper_args__ = tenant_identity(tenant_id, id)
