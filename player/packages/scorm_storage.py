"""The SCORM player's table: the CMI data of each learner's attempts at each SCO.

The SCORM courses themselves are rows of the imported packages' table (``player.packages.storage.
ImportedPackage``, format ``scorm12`` / ``scorm2004``, written by ``scorm_import``): one catalogue
of imported courses whatever the format, its slug the ``<course_id>`` of ``scorm/<course_id>``.

An attempt row is one learner's attempt at one SCO within one resource link (the cmi5-style
registration ``player.domain.registration_for`` derives from learner and link), keyed by tenant
first (DESIGN.md). ``cmi`` is the run-time data the SCO wrote, element → value, checked by
``scorm_cmi`` before it is kept; the LMS-owned elements (entry, total_time, learner id) are the
hub's and never taken from the browser. ``session_started`` is set while a session of the attempt
is open (the page was served and no terminating commit came yet): the terminating commit writes the
session's statements once and clears it, so a repeated one writes nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lrs.dialect_schema import tenant_identity
from lrs.storage import Base


class ScormAttempt(Base):
    __tablename__ = "player_scorm_attempts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "registration", "course_id", "sco", "number",
                         name="uq_player_scorm_attempts_number"),
        Index("ix_player_scorm_attempts_learner", "tenant_id", "registration", "course_id"),
    )
    # PostgreSQL's primary key is (tenant_id, id), for Citus (migration 0212); so is the ORM's identity.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    registration: Mapped[str] = mapped_column(String(36))
    course_id: Mapped[str] = mapped_column(String(64))
    sco: Mapped[str] = mapped_column(String(255))              # the item identifier
    number: Mapped[int] = mapped_column(Integer)               # 1, 2, ... per learner, link and SCO
    cmi: Mapped[dict[str, str]] = mapped_column(JSON)
    suspended: Mapped[bool] = mapped_column(default=False)     # the last session ended with exit=suspend
    ended: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sessions: Mapped[int] = mapped_column(Integer, default=0)  # sessions ended so far
    session_started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    total_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # What the grade and the pages need without reading cmi: the statuses and the scaled score.
    completion: Mapped[str | None] = mapped_column(String(16), nullable=True)
    success: Mapped[str | None] = mapped_column(String(16), nullable=True)
    score_scaled: Mapped[float | None] = mapped_column(Float, nullable=True)
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __mapper_args__ = tenant_identity(tenant_id, id)
