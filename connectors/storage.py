"""The connectors' tables: forwarding targets and their cursors, dead letters, learner records.

One storage module for the package (DESIGN.md); every model shares ``lrs.storage.Base`` so one
Alembic history covers all packages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lrs.storage import IRI_LEN, Base


class LearnerRecord(Base):
    """What a tenant knows about one learner beyond their statements (from a roster import):
    the metadata reports group by (province, unit). ``learner_key`` is the same key the store
    gives a statement's actor (``lrs.identifiers.agent_key``), so records join to statements."""

    __tablename__ = "learner_records"
    __table_args__ = (UniqueConstraint("tenant_id", "learner_key", name="uq_learner_records_tenant_key"),)
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
