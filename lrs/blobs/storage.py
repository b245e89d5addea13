"""The blob package's table: the attachments each archived month cites (lrs.blobs.archived,
migration 0180). The attachment rows themselves are ``lrs.storage.Attachment``."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKeyConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lrs.storage import Base, StatementArchive


class ArchivedAttachment(Base):
    """An attachment hash a tenant's archived month cites: an erasure keeps the tenant's attachment
    row (and blob) while any archived statement cites it."""

    __tablename__ = "archived_attachments"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "month"], [StatementArchive.tenant_id,
                                                                    StatementArchive.month]),)
    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sha2: Mapped[str] = mapped_column(String(128), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
