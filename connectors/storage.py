"""The connectors' tables: forwarding targets and their cursors, dead letters, learner records, and
the reports' rollups (``connectors.rollups``).

One storage module for the package (DESIGN.md); every model shares ``lrs.storage.Base`` so one
Alembic history covers all packages.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lrs.dialect_schema import POSTGRESQL_ONLY, SQLITE_ONLY, tenant_identity
from lrs.storage import IRI_LEN, Base, SeqInt


class LearnerRecord(Base):
    """What a tenant knows about one learner beyond their statements (from a roster import):
    the metadata reports group by (province, unit). ``learner_key`` is the same key the store
    gives a statement's actor (``lrs.identifiers.agent_key``), so records join to statements."""

    __tablename__ = "learner_records"
    __table_args__ = (UniqueConstraint("tenant_id", "learner_key", name="uq_learner_records_tenant_key"),)
    # PostgreSQL's primary key is (tenant_id, id) (Citus, by tenant; migration 0213); SQLite keeps (id).
    # The ORM's identity is (tenant_id, id) on both (lrs.dialect_schema.tenant_identity).
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    learner_key: Mapped[str] = mapped_column(String(IRI_LEN))
    # The xAPI Agent (IFI and name) statements about this learner carry.
    agent: Mapped[dict[str, Any]] = mapped_column(JSON)
    display_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    province: Mapped[str | None] = mapped_column(String(128), nullable=True)
    unit: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Anything else the roster had, kept as given (column name -> text).
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __mapper_args__ = tenant_identity(tenant_id, id)


# --- forwarding (connectors.forwarding.targets) --------------------------------------------------------


class ForwardTarget(Base):
    """Another LRS that receives a copy of one tenant's statements. ``cursor_seq``: every
    statement of the tenant with ``seq`` at or below it has been delivered or set aside (filtered
    out, or handed to ``forward_items``). The secret is sealed with a key derived from the app
    secret and never shown again."""

    __tablename__ = "forward_targets"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_forward_targets_tenant_name"),)
    # PostgreSQL's primary key is (tenant_id, id) (Citus, by tenant; migration 0213); SQLite keeps (id).
    # The ORM's identity is (tenant_id, id) on both (lrs.dialect_schema.tenant_identity).
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(IRI_LEN))
    auth_key: Mapped[str] = mapped_column(String(255))
    secret_sealed: Mapped[str] = mapped_column(Text)
    xapi_version: Mapped[str] = mapped_column(String(8))
    verb_prefix: Mapped[str | None] = mapped_column(String(IRI_LEN), nullable=True)
    activity_prefix: Mapped[str | None] = mapped_column(String(IRI_LEN), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    batch_size: Mapped[int] = mapped_column(Integer, default=100)
    cursor_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    # Consecutive failed rounds (connection refused, 5xx, 429...): drives the backoff.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_success: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # A delivery round holds the target (one round at a time across processes and workers).
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __mapper_args__ = tenant_identity(tenant_id, id)


class ForwardItem(Base):
    """A statement that left a target's ordered stream: rejected by the target (``queued`` for
    another attempt, ``dead`` after too many) or committed after the cursor had passed its seq
    (``queued``, reason "late commit")."""

    __tablename__ = "forward_items"
    __table_args__ = (
        Index("ix_forward_items_due", "target_id", "state", "next_attempt"),
        # The target's tenant (migration 0213). PostgreSQL: the key to the target includes it (Citus,
        # by tenant), which also keeps an item from naming another tenant's target. SQLite: forward_targets'
        # key is (id) alone there, so the foreign key is by target_id.
        ForeignKeyConstraint(["tenant_id", "target_id"], ["forward_targets.tenant_id", "forward_targets.id"],
                             name="forward_items_tenant_id_target_id_fkey", ondelete="CASCADE", info=POSTGRESQL_ONLY),
        ForeignKeyConstraint(["target_id"], ["forward_targets.id"], ondelete="CASCADE", info=SQLITE_ONLY),
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    target_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(ForeignKey("statements.seq", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))  # queued | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ForwardGap(Base):
    """Statement seqs ``lo..hi`` not (yet) visible while a higher one is: a transaction still
    running, or a number no commit will ever use (rollback, ON CONFLICT). See forward_horizon."""

    __tablename__ = "forward_gaps"
    lo: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=False)
    hi: Mapped[int] = mapped_column(BigInteger)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ForwardHorizon(Base):
    """One row: how far the statements table has been scanned for gaps, and ``safe_seq``, the
    highest seq below which no statement can still appear (save late commits, see
    forward_horizon). Delivery never reads past it."""

    __tablename__ = "forward_horizon"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    scanned_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    safe_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- report rollups (connectors.rollups) ------------------------------------------------------------
# Every key starts with tenant_id (DESIGN.md, Scale: distributable by tenant on Citus).


class RollupState(Base):
    """How far one tenant's statements are rolled up: every statement at or before the keyset
    (``stored``, ``seq``) is in the rollups. The row is also the refresh's lock (one refresher per
    tenant at a time, whatever the number of workers)."""

    __tablename__ = "report_rollup_state"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True, autoincrement=False)
    stored: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    statements: Mapped[int] = mapped_column(BigInteger, default=0)  # statements read so far (all kinds)
    runs: Mapped[int] = mapped_column(BigInteger, default=0)
    refreshed: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class EnrolmentSums:
    """An enrolment's sums over its statements (``connectors.rollups.state``): the columns of the
    live enrolments and of an archived month's part of them, which add up column by column."""

    completed: Mapped[int] = mapped_column(Integer, default=0)
    judged: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    verified: Mapped[int] = mapped_column(Integer, default=0)
    session_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    session_n: Mapped[int] = mapped_column(Integer, default=0)
    any_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    any_n: Mapped[int] = mapped_column(Integer, default=0)


class RollupEnrolment(EnrolmentSums, Base):
    """One enrolment (a learner in a course of a tenant) as sums over its statements not voided, so
    a new statement adds to it and a voided one is taken out by recomputing this one row."""

    __tablename__ = "report_enrolments"
    __table_args__ = (Index("ix_report_enrolments_tenant_actor", "tenant_id", "actor_key"),)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    course_id: Mapped[str] = mapped_column(String(IRI_LEN), primary_key=True)
    actor_key: Mapped[str] = mapped_column(String(IRI_LEN), primary_key=True)
    first: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # earliest statement timestamp
    week: Mapped[str] = mapped_column(String(10))
    province: Mapped[str] = mapped_column(String(128))


class RollupGroup(Base):
    """A tenant's figures for one group of one breakdown (dimension tenant, course, province or week)."""

    __tablename__ = "report_groups"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(IRI_LEN), primary_key=True)
    learners: Mapped[int] = mapped_column(BigInteger, default=0)
    graded_learners: Mapped[int] = mapped_column(BigInteger, default=0)
    enrolments: Mapped[int] = mapped_column(BigInteger, default=0)
    completed: Mapped[int] = mapped_column(BigInteger, default=0)
    judged: Mapped[int] = mapped_column(BigInteger, default=0)
    passed: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(BigInteger, default=0)
    verified: Mapped[int] = mapped_column(BigInteger, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    timed: Mapped[int] = mapped_column(BigInteger, default=0)


class RollupLearner(Base):
    """A learner's enrolments in one group: what distinct-learner counts (k-anonymity) rest on."""

    __tablename__ = "report_group_learners"
    # No index led by (dimension, group_key): without fresh statistics PostgreSQL would take it for a
    # keyed DELETE and scan a whole group; the primary key serves the hidden groups' count (tenant_id IN ...).
    __table_args__ = (Index("ix_report_group_learners_tenant_actor", "tenant_id", "actor_key"),)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(IRI_LEN), primary_key=True)
    actor_key: Mapped[str] = mapped_column(String(IRI_LEN), primary_key=True)
    enrolments: Mapped[int] = mapped_column(Integer, default=0)
    graded: Mapped[int] = mapped_column(Integer, default=0)


class RollupArchived(EnrolmentSums, Base):
    """An enrolment's sums over the statements of one archived month (``connectors.rollups.archived``,
    migration 0200): what the month added to the rollups, kept when its statements leave the store, so
    a rebuild from zero or a voiding's recompute adds it back instead of losing it."""

    __tablename__ = "report_archived_enrolments"
    __table_args__ = (Index("ix_report_archived_enrolments_tenant_actor", "tenant_id", "actor_key"),)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    course_id: Mapped[str] = mapped_column(String(IRI_LEN), primary_key=True)
    actor_key: Mapped[str] = mapped_column(String(IRI_LEN), primary_key=True)
    first: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RollupArchivedMonth(Base):
    """An archived month whose sums are in ``report_archived_enrolments`` (a month with no course
    statement has no row there, and a month archived before migration 0200 has none yet)."""

    __tablename__ = "report_archived_months"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    enrolments: Mapped[int] = mapped_column(Integer, default=0)
    computed: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RollupArchivedVoid(Base):
    """A statement voided after its month was archived (xAPI 1.0.3 Part Two §2.3.2: it no longer
    counts): the refresh cannot read it to take it out, so it is noted here; ``hocvu rollups refresh
    --archive DIR`` finds it in the lake and takes it out (``month`` set then), and every later
    computation of an archived month's sums leaves it out (the archive's own ``voided`` is stale)."""

    __tablename__ = "report_archived_voids"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    statement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    voided_by: Mapped[str] = mapped_column(String(36))
    noted: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    month: Mapped[date | None] = mapped_column(Date, nullable=True)  # the archived month it was taken out of
