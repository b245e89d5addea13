"""The course player's one table: quiz attempts (the identity gate's state is ``identity.storage``'s).

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
    ForeignKey,
    Index,
    Integer,
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
