"""The LRS's one storage module: SQLAlchemy 2.x models and the database handle.

Every row users own carries ``tenant_id`` (DESIGN.md, Data: Tenancy). Statements keep the JSON
as stored plus an indexed column or side-table row for every query parameter of
xAPI 1.0.3 Part Three §2.1.3 / IEEE 9274.1.1 §4.1.6.1 (GET Statements).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from lrs import pool_liveness
from lrs.dialect_schema import POSTGRESQL_ONLY, SQLITE_ONLY, tenant_identity

# BIGINT on PostgreSQL (a sequence), INTEGER on SQLite so the column aliases the rowid.
SeqInt = BigInteger().with_variant(Integer, "sqlite")
# The statement as stored: JSONB on PostgreSQL so analysts can query it in place.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")
IRI_LEN = 2048


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    """One ministry LMS (or other organisation) whose records are kept apart from the others'."""

    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Metadata reports group by (issue 17): the ministry the tenant belongs to and its province,
    # used for learners no roster places elsewhere (`hocvu tenant set`).
    ministry: Mapped[str | None] = mapped_column(String(255), nullable=True)
    province: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Credential(Base):
    """A key/secret pair with xAPI scopes; the secret is kept only as a hash."""

    __tablename__ = "credentials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    # The xAPI Agent stored as `authority` on statements this credential writes.
    authority: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class NationalCredential(Base):
    """A cross-tenant credential for national auditors (read-only, every access logged) and
    analysts (pseudonymised exports only). Kept apart from tenant credentials so no tenant's
    xAPI scope can ever grant cross-tenant reach."""

    __tablename__ = "national_credentials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Statement(Base):
    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("tenant_id", "statement_id", name="uq_statements_tenant_statement", info=SQLITE_ONLY),
        # PostgreSQL: the id look-ups (re-sends, voiding, GET by id), per partition; unique in statement_ids.
        Index("ix_statements_tenant_statement", "tenant_id", "statement_id", info=POSTGRESQL_ONLY),
        # PostgreSQL: the primary key (tenant_id, seq, stored) serves it (migration 0110).
        Index("ix_statements_tenant_seq", "tenant_id", "seq", info=SQLITE_ONLY),
        Index("ix_statements_tenant_verb_seq", "tenant_id", "verb_id", "seq"),
        Index("ix_statements_tenant_registration_seq", "tenant_id", "registration", "seq"),
        # voided too: SQLite answers since/until pages from this index alone (lrs.statement_query).
        Index("ix_statements_tenant_stored_voided", "tenant_id", "stored", "voided", info=SQLITE_ONLY),
        # PostgreSQL: since/until pages walk it in (stored, seq) order from the bound
        # (lrs.statement_query._time_query), exports page on it by (stored, seq) (migration 0150).
        Index("ix_statements_tenant_stored_seq", "tenant_id", "stored", "seq", info=POSTGRESQL_ONLY),
        Index("ix_statements_tenant_ref", "tenant_id", "object_statement_id"),
        # Only statements whose object is a StatementRef (few): drives the StatementRef filter rule.
        Index("ix_statements_tenant_refs_seq", "tenant_id", "seq",
              postgresql_where=text("object_statement_id IS NOT NULL"),
              sqlite_where=text("object_statement_id IS NOT NULL")),
        # never reuse a sequence number: `stored` order is monotonic. PostgreSQL: monthly range
        # partitions by `stored`, primary key (tenant_id, seq, stored), made by migration 0110.
        {"sqlite_autoincrement": True, "postgresql_partition_by": "RANGE (stored)"},
    )
    seq: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    statement_id: Mapped[str] = mapped_column(String(36))
    verb_id: Mapped[str] = mapped_column(String(IRI_LEN))
    actor_key: Mapped[str] = mapped_column(String(IRI_LEN))
    object_type: Mapped[str] = mapped_column(String(16))
    object_activity_id: Mapped[str | None] = mapped_column(String(IRI_LEN), nullable=True)
    object_agent_key: Mapped[str | None] = mapped_column(String(IRI_LEN), nullable=True)
    object_statement_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    registration: Mapped[str | None] = mapped_column(String(36), nullable=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stored: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    is_voiding: Mapped[bool] = mapped_column(Boolean, default=False)
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credentials.id"), nullable=True)
    full: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    __mapper_args__ = tenant_identity(tenant_id, seq)


class StatementId(Base):
    """PostgreSQL only: the registry of a tenant's statement ids across all partitions of
    `statements` (a partitioned table's unique keys must include its partition key, `stored`).
    Batch ingest inserts here first, ON CONFLICT DO NOTHING, and stores only the ids it got."""

    __tablename__ = "statement_ids"
    __table_args__ = ({"info": POSTGRESQL_ONLY},)
    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    statement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class StatementAgent(Base):
    """An Agent/Group a statement relates to. ``direct`` marks actor and object, the ones the
    plain ``agent`` filter matches; the rest count only with ``related_agents=true``."""

    __tablename__ = "statement_agents"
    # SQLite: (seq, key) is the primary key, no surrogate id, and the look-up index serves the
    # filters. PostgreSQL (migration 0210): the look-up's columns are the primary key, leading with
    # tenant_id as Citus needs, and a narrow, append-only (seq) index serves the deletes by statement
    # (erasure, a detached month): two indexes either way, the wide one once. statement_activities too.
    __table_args__ = (Index("ix_statement_agents_lookup", "tenant_id", "agent_key", "seq", info=SQLITE_ONLY),
                      Index("ix_statement_agents_seq", "seq", info=POSTGRESQL_ONLY))
    seq: Mapped[int] = mapped_column(ForeignKey("statements.seq", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    agent_key: Mapped[str] = mapped_column(String(IRI_LEN), primary_key=True)
    direct: Mapped[bool] = mapped_column(Boolean)
    __mapper_args__ = tenant_identity(tenant_id, agent_key, seq)


class StatementActivity(Base):
    """An Activity a statement relates to; ``direct`` marks the statement's object."""

    __tablename__ = "statement_activities"
    __table_args__ = (Index("ix_statement_activities_lookup", "tenant_id", "activity_id", "seq", info=SQLITE_ONLY),
                      Index("ix_statement_activities_seq", "seq", info=POSTGRESQL_ONLY))
    seq: Mapped[int] = mapped_column(ForeignKey("statements.seq", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    activity_id: Mapped[str] = mapped_column(String(IRI_LEN), primary_key=True)
    direct: Mapped[bool] = mapped_column(Boolean)
    __mapper_args__ = tenant_identity(tenant_id, activity_id, seq)


class Attachment(Base):
    """An attachment a tenant's statements carry, once per tenant and SHA-2 (xAPI 1.0.3 Part Two
    §2.4.11): metadata only. The bytes live in the blob store under ``sha2`` (``lrs.blobs``), shared
    by tenants that send the same bytes; this row is what lets a tenant read them. ``content`` holds
    the bytes only in rows written before migration 0135, until ``hocvu attachments migrate``."""

    __tablename__ = "attachments"
    # The sweep and erasure ask whether any tenant's row still names a hash.
    __table_args__ = (Index("ix_attachments_sha2", "sha2"),)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    sha2: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(255))
    length: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Activity(Base):
    """The canonical definition of an Activity, served by the Activities resource."""

    __tablename__ = "activities"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(IRI_LEN), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)


class Document(Base):
    """A State, Activity Profile or Agent Profile document. Absent key parts are '' (not NULL)
    so the unique constraint holds on every database."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "kind", "activity_id", "agent_key", "registration", "doc_id", name="uq_documents_key"
        ),
    )
    # PostgreSQL's primary key is (tenant_id, id), for Citus (migration 0210); so is the ORM's identity.
    id: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(16))  # state | activity_profile | agent_profile
    activity_id: Mapped[str] = mapped_column(String(IRI_LEN), default="")
    agent_key: Mapped[str] = mapped_column(String(IRI_LEN), default="")
    registration: Mapped[str] = mapped_column(String(36), default="")
    doc_id: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(128))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __mapper_args__ = tenant_identity(tenant_id, id)


class AuditEntry(Base):
    """One link of a tenant's audit chain (``lrs.audit.chain``): append-only, never updated.

    ``kind`` is stored | voided | erased | access. ``content_hash`` is the SHA-256 of the canonical
    statement (stored entries); ``entry_hash`` chains this entry to ``prev_hash``."""

    __tablename__ = "audit_entries"
    # Finds a statement's entry (proof bundles) and the statements with no entry (verification).
    __table_args__ = (Index("ix_audit_entries_tenant_statement", "tenant_id", "statement_id"),)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    statement_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    recorded: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The newest entry of a tenant's chain; its row lock serialises appends per tenant."""

    __tablename__ = "audit_heads"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
    checkpoint_position: Mapped[int] = mapped_column(BigInteger)
    checkpoint_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditCheckpoint(Base):
    """A signed statement of a chain's head at one position: a compact JWS by the hub's key."""

    __tablename__ = "audit_checkpoints"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_hash: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    jws: Mapped[str] = mapped_column(Text)


class StatementArchive(Base):
    """A tenant's month of statements moved to the Parquet lake (``hocvu lake archive``, migration 0140).

    ``positions`` lists, as [first, last] runs, the chain positions of the archived statements' entries:
    verification (``lrs.audit.archived``) takes a statement missing from the store at one of them for
    archived, and checks it in the archive; a statement missing anywhere else is reported deleted.
    ``manifest_sha256`` pins the archive's manifest, which pins its files."""

    __tablename__ = "statement_archives"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True, autoincrement=False)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    statements: Mapped[int] = mapped_column(BigInteger)
    positions: Mapped[list[list[int]]] = mapped_column(JSON)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(Text)  # where it was written (a path as given; a hint, not a proof)
    archived: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Its cited attachments are listed (lrs.blobs.storage.ArchivedAttachment; false: archived before 0180).
    attachments_listed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))



class ArchiveErasure(Base):
    """An erasure still to apply to one archived (or detached, not yet archived: so no key to
    ``statement_archives``) month (lrs.audit.archive_erasure, migration 0160): the learner's key only
    as a keyed hash (HMAC, key id beside it), so the row says what to remove and not whose it is;
    deleted in the transaction that pins the rewritten archive's manifest.
    ``rewrite_sha256``: the manifest the rewrite will put in place, recorded before its files are
    renamed (a rerun after a crash tells its own rewrite from an altered archive by it)."""

    __tablename__ = "archive_erasures"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True, autoincrement=False)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    agent_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16))
    position: Mapped[int | None] = mapped_column(BigInteger)  # the live erasure's first chain entry
    requested: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rewrite_sha256: Mapped[str | None] = mapped_column(String(64))
    attachments: Mapped[list[str] | None] = mapped_column(JSON)  # still to forget (lrs.blobs.archived)

def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run while one writer commits; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL hands back aware ones.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def dialect_insert(session: Session) -> Any:
    """INSERT with ON CONFLICT for the database in use (both speak it; SQLAlchemy spells it per dialect)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


class Database:
    """An engine and its session factory; one per app, passed explicitly (no globals)."""

    def __init__(self, url: str, *, connect_timeout: int | None = None, statement_timeout: float | None = None,
                 **engine_kwargs: Any) -> None:
        """``connect_timeout`` (seconds) and ``statement_timeout`` (seconds, a lock wait included):
        how long a PostgreSQL connection or statement may take before it fails as unavailable
        (hocvu.availability answers 503); None: libpq's and the server's own (no limit)."""
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        self.url = url
        if url.startswith("sqlite"):
            engine_kwargs.setdefault("connect_args", {"check_same_thread": False})
        else:
            # No pool_pre_ping (a round trip per checkout): lrs.pool_liveness checks without one.
            engine_kwargs.setdefault("pool_recycle", pool_liveness.RECYCLE_SECONDS)
            connect: dict[str, Any] = dict(engine_kwargs.get("connect_args") or {})
            if connect_timeout:
                connect.setdefault("connect_timeout", int(connect_timeout))
            if statement_timeout:
                connect.setdefault("options", f"-c statement_timeout={int(statement_timeout * 1000)}")
            if connect:
                engine_kwargs["connect_args"] = connect
        self.engine: Engine = create_engine(url, **engine_kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        elif not engine_kwargs.get("pool_pre_ping"):
            pool_liveness.watch(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work (the pages' request scope): a session committed when the block ends,
        rolled back if it raises, closed either way. Not ``sessionmaker.begin()``: code inside may
        commit early (an LTI grade passback commits before its HTTP call), which that refuses."""
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def dispose(self) -> None:
        self.engine.dispose()
