"""The Alembic migrations create exactly the schema the models describe, on each backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask

from hocvu.db import include_object, load_models
from lrs.storage import Database


def test_migrations_match_models(app: Flask) -> None:
    db: Database = app.extensions["hocvu.db"]
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(
            conn, opts={"include_object": include_object(conn.dialect.name)}), load_models())
    assert diff == [], f"models and migrations disagree; run `hocvu db revision`: {diff}"
