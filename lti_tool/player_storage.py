"""The course player's one table: quiz attempts (``lti_tool.storage`` belongs to the LTI side).

Lesson progress needs no table: it lives in the learner's xAPI State document (``lrs.documents``),
where any xAPI reporting tool can read it too. Quiz attempts need server-side state that learners
cannot touch (start time, deadline, saved answers) and a uniqueness rule: one open attempt per
learner and resource link, enforced by the database so two tabs or a double click cannot race it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lrs.storage import IRI_LEN, Base

OPEN, SUBMITTED, EXPIRED = "open", "submitted", "expired"


class QuizAttempt(Base):
    __tablename__ = "player_quiz_attempts"
    __table_args__ = (
        # NULLs never collide (SQLite and PostgreSQL alike), so only open attempts are unique.
        UniqueConstraint("open_key", name="uq_player_quiz_attempts_open_key"),
        Index("ix_player_quiz_attempts_lookup", "tenant_id", "registration", "quiz_target"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    # The learner and resource link, as the cmi5 registration derived from them (player_domain).
    registration: Mapped[str] = mapped_column(String(36))
    issuer: Mapped[str] = mapped_column(String(IRI_LEN))
    sub: Mapped[str] = mapped_column(String(255))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    quiz_target: Mapped[str] = mapped_column(String(512))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per registration and quiz
    # "<tenant_id>:<registration>" while the attempt is open, NULL once it has ended.
    open_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # open | submitted | expired
    # The cmi5 AU session the attempt belongs to (cmi5 §9.6.3.1) and when it was initialized,
    # so an attempt that expires unattended can still be terminated in its own session.
    session_id: Mapped[str] = mapped_column(String(36))
    session_started: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # {question id: [choice ids]}: saved as the learner answers, final at submission.
    answers: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    score_raw: Mapped[int | None] = mapped_column(Integer, nullable=True)
    score_max: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class AttemptAssurance(Base):
    """Identity assurance of one quiz attempt (``lti_tool.player_assurance``): the gate before it
    (VNeID sign-in, face check) and the checks repeated during it. Kept here, not in the cookie,
    so every request and process (and an expiry nobody watches) stamps the attempt the same way.

    A row starts as a *pending gate* for (tenant, registration, target) before the attempt exists,
    with the cmi5 session id the attempt will use; statements carrying that session id are stamped
    from this row and signed. When the attempt starts the row is attached to it.
    """

    __tablename__ = "player_assurances"
    __table_args__ = (
        UniqueConstraint("session_id", name="uq_player_assurances_session_id"),
        # NULLs never collide: one pending gate per learner, link and target; attached rows have none.
        UniqueConstraint("pending_key", name="uq_player_assurances_pending_key"),
        UniqueConstraint("attempt_id", name="uq_player_assurances_attempt_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    registration: Mapped[str] = mapped_column(String(36))
    target: Mapped[str] = mapped_column(String(512))
    session_id: Mapped[str] = mapped_column(String(36))
    pending_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("player_quiz_attempts.id"), nullable=True)
    # identity_accounts.id: that table is on another migration branch (identity), hence no FK here.
    account_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(128))  # pseudonymous (identity.stamp), never a citizen ID
    level: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    signed_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    min_level: Mapped[int] = mapped_column(SmallInteger)
    # The face check the stamp reports: the latest one, or once a check failed during the
    # attempt, that failed one for the rest of it (never silently verified again).
    check_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    check_distance: Mapped[float | None] = mapped_column(Float, nullable=True)
    check_threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    check_metric: Mapped[str | None] = mapped_column(String(16), nullable=True)
    check_model: Mapped[str | None] = mapped_column(String(32), nullable=True)
    check_detector: Mapped[str | None] = mapped_column(String(32), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    checks: Mapped[int] = mapped_column(Integer)
    last_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    recheck_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recheck_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recheck_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
