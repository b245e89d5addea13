"""Shared by the importer tests: a fresh tenant on the app's database, running an importer on a
sample file of tests/data, and reading back what was stored."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.importers import Report
from connectors.storage import LearnerRecord
from lrs import credentials
from lrs.storage import Database, Statement

DATA = Path(__file__).resolve().parent.parent / "data"
LMS = "https://lms.example.gov.vn"
ADL = "http://adlnet.gov/expapi/verbs/"
TYPES = "http://adlnet.gov/expapi/activities/"
SOURCE = "https://hocvu.vn/xapi/extensions/import-source"


@dataclass(frozen=True)
class Target:
    """A tenant made for one test, on the database of the app under test (SQLite or PostgreSQL)."""

    slug: str
    id: int
    database: Database

    def run(self, importer: Callable[..., Report], path: Path, **options: Any) -> Report:
        with self.database.session() as session:
            return importer(session, self.id, path, progress=False, **options)

    def statements(self) -> dict[str, dict[str, Any]]:
        """The tenant's statements by id, without what the LRS adds (stored, authority, version)."""
        with self.database.session() as session:
            rows = session.scalars(select(Statement.full).where(Statement.tenant_id == self.id)
                                   .order_by(Statement.seq)).all()
        return {s["id"]: {k: v for k, v in s.items() if k not in ("stored", "authority", "version")} for s in rows}

    def stored_full(self) -> list[dict[str, Any]]:
        with self.database.session() as session:
            return list(session.scalars(select(Statement.full).where(Statement.tenant_id == self.id)))

    def learners(self) -> dict[str, LearnerRecord]:
        with self.database.session() as session:
            return {r.learner_key: r for r in session.scalars(
                select(LearnerRecord).where(LearnerRecord.tenant_id == self.id))}

    def session(self) -> Session:
        return self.database.session()


def new_target(app: Flask) -> Target:
    database: Database = app.extensions["hocvu.db"]
    with database.session() as session:
        tenant = credentials.create_tenant(session, f"t-{uuid.uuid4().hex[:12]}", "Sở Giáo dục và Đào tạo (thử)")
        session.commit()
        return Target(tenant.slug, tenant.id, database)


def verb(name: str, vi: str, base: str = ADL, en: str | None = None) -> dict[str, Any]:
    return {"id": base + name, "display": {"en-US": en or name, "vi": vi}}


def rejections(report: Report) -> list[tuple[int, int | None, str]]:
    return [(r.line, r.item, r.reason) for r in report.rejected]
