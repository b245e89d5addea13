"""The course player's tables: quiz attempts, and the ledger of ops synced from learners' devices
(the identity gate's state is ``identity.storage``'s).

Lesson progress needs no table: it lives in the learner's xAPI State document (``lrs.documents``),
where any xAPI reporting tool can read it too. Quiz attempts need server-side state that learners
cannot touch (start time, deadline, saved answers) and a uniqueness rule: one open attempt per
learner and resource link, enforced by the database so two tabs or a double click cannot race it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lrs.dialect_schema import tenant_identity
from lrs.storage import IRI_LEN, Base

OPEN, SUBMITTED, EXPIRED = "open", "submitted", "expired"


class QuizAttempt(Base):
    __tablename__ = "player_quiz_attempts"
    __table_args__ = (
        # NULLs never collide (SQLite and PostgreSQL alike), so only open attempts are unique. The key
        # names the tenant already; tenant_id leads it too, so Citus can distribute by tenant (0212).
        UniqueConstraint("tenant_id", "open_key", name="uq_player_quiz_attempts_open_key"),
        Index("ix_player_quiz_attempts_lookup", "tenant_id", "registration", "quiz_target"),
    )
    # PostgreSQL's primary key is (tenant_id, id), for Citus (migration 0212); so is the ORM's identity.
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
    __mapper_args__ = tenant_identity(tenant_id, id)


class SyncedOp(Base):
    """One op a learner's device queued and the sync endpoint applied (``player.offline``): the
    ledger that makes a replayed op a no-op (stored exactly once) and keeps a device's ops in order.

    Keyed by the client's op id within the tenant (DESIGN.md: every key starts with tenant_id);
    ``digest`` is the SHA-256 of the op as first sent, so the same id with other content is refused.
    Ops the server refused are not kept: sent again, they are judged again.
    """

    __tablename__ = "player_synced_ops"
    __table_args__ = (
        UniqueConstraint("tenant_id", "op_id", name="uq_player_synced_ops_op"),
        Index("ix_player_synced_ops_device", "tenant_id", "learner_key", "device", "seq"),
    )
    # PostgreSQL's primary key is (tenant_id, id), for Citus (migration 0212); so is the ORM's identity.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    op_id: Mapped[str] = mapped_column(String(36))
    learner_key: Mapped[str] = mapped_column(String(IRI_LEN))     # lrs.identifiers.agent_key of the learner
    device: Mapped[str] = mapped_column(String(36))               # the device's own UUID (its IndexedDB)
    seq: Mapped[int] = mapped_column(BigInteger)                  # the device's queue order
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(512))
    digest: Mapped[str] = mapped_column(String(64))
    statement_ids: Mapped[list[str]] = mapped_column(JSON)        # what the op stored, for a replay's answer
    synced: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __mapper_args__ = tenant_identity(tenant_id, id)
