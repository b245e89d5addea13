"""The imported packages' table: one row per course imported from a package (cmi5 now; SCORM joins
with its own ``format``), whatever the format. Its files are in ``player.packages.store``'s folder
``package_key``; ``structure`` is the parsed course structure as JSON (``cmi5.model`` reads it
back), so the catalogue never re-parses XML.

Courses are catalogue content like ``courses/*.yaml``: shared by every tenant, so no tenant_id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from lrs.storage import IRI_LEN, Base


class ImportedPackage(Base):
    __tablename__ = "player_packages"
    __table_args__ = (
        UniqueConstraint("package_key", name="uq_player_packages_key"),
        UniqueConstraint("slug", name="uq_player_packages_slug"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_key: Mapped[str] = mapped_column(String(32))     # the store folder (a random hex id)
    slug: Mapped[str] = mapped_column(String(64))            # catalogue target: package/<slug>
    format: Mapped[str] = mapped_column(String(16))          # cmi5 | scorm12 | scorm2004
    course_iri: Mapped[str] = mapped_column(String(IRI_LEN))
    title: Mapped[dict[str, str]] = mapped_column(JSON)      # language -> text
    description: Mapped[dict[str, str]] = mapped_column(JSON)
    structure: Mapped[dict[str, Any]] = mapped_column(JSON)
    has_files: Mapped[bool] = mapped_column(Boolean)         # False: a cmi5.xml alone (every AU url absolute)
    source: Mapped[str] = mapped_column(String(1024))        # the file name or URL it came from
    imported: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The AUs (publisher's AU ids) or SCOs (manifest item identifiers) an administrator marked as
    # assessed: identity assurance applies to them (player.packages.assessed). cmi5 has no standard
    # flag for it, so it is the hub's own choice, kept with the package (migration 0155).
    assessed: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
