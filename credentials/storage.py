"""The credentials package's tables: the issuer's keys, issued credentials and status lists.

Issued credentials and status lists belong to a tenant: their keys start with ``tenant_id``
(DESIGN.md, Scale: Citus-ready). The issuer's keys are the hub's own, like the LTI tool's.
Private keys are kept sealed (AES-GCM, ``credentials.keys.KeyRing``), never in the clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lrs.storage import IRI_LEN, Base, JsonDoc


class CredentialIssuerKey(Base):
    """An Ed25519 key the hub signs credentials with; every key not retired is published in the
    issuer's DID documents, so credentials it signed stay verifiable after a rotation."""

    __tablename__ = "credential_issuer_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The public key as Multikey ("z6Mk..."): the fragment of its verification method id.
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class IssuedCredential(Base):
    """One OpenBadgeCredential the hub issued. ``document`` is the signed credential as issued;
    erasure (``credentials.revocation.erase_learner``) empties it and the learner's columns and
    keeps only what the status list needs (the bit stays set: the credential reads as revoked)."""

    __tablename__ = "credentials_issued"
    __table_args__ = (
        # One bit per credential in its tenant's status list.
        UniqueConstraint("tenant_id", "status_list", "status_index", name="uq_credentials_issued_status"),
        # At most one live credential per learner and course: set while live, NULL once revoked
        # (NULLs never collide), so two requests racing to issue cannot both succeed.
        UniqueConstraint("tenant_id", "live_key", name="uq_credentials_issued_live"),
        Index("ix_credentials_issued_learner", "tenant_id", "agent_key"),
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID: the credential's id ends in it
    course_id: Mapped[str] = mapped_column(String(64))
    # The learner as the LRS knows them (lrs.identifiers.agent_key of the xAPI actor): how erasure
    # and "my learning" find their credentials. NULL once erased.
    agent_key: Mapped[str | None] = mapped_column(String(IRI_LEN), nullable=True)
    live_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # pseudonymous, never a citizen ID
    display_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    kid: Mapped[str] = mapped_column(String(64))  # the issuer key that signed it
    status_list: Mapped[int] = mapped_column(Integer)
    status_index: Mapped[int] = mapped_column(Integer)
    # The statement ids the credential cites as evidence: a voided or erased one revokes it.
    evidence: Mapped[list[str]] = mapped_column(JSON)
    identity_level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    document: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    issued: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(36), nullable=True)


class CredentialStatusList(Base):
    """A tenant's Bitstring Status List (W3C Bitstring Status List v1.0), published as a signed
    BitstringStatusListCredential (``document``). Its bits are not stored apart: they are the
    revoked credentials' ``status_index``, and ``document`` is rebuilt from them on each revocation,
    under this row's lock (``credentials.status_list``)."""

    __tablename__ = "credential_status_lists"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(Integer)        # bits
    allocated: Mapped[int] = mapped_column(Integer)   # indexes handed out
    version: Mapped[int] = mapped_column(Integer)     # bumped on each rebuild
    document: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
