"""Database lifecycle for the composition root: Alembic migrations applied in code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from lrs.storage import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(db: Database, revision: str = "heads") -> None:
    """Apply migrations on the app's own engine (so an in-memory SQLite DB is migrated in place).
    "heads": each package's migrations form a branch from 0001, so all heads are applied."""
    if db.dialect == "sqlite" and db.url.startswith("sqlite:///") and not db.url.endswith(":memory:"):
        Path(db.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(db)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def revision(db: Database, message: str) -> None:
    """Autogenerate a migration (a developer tool: `hocvu db revision -m ...`)."""
    cfg = alembic_config(db)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.revision(cfg, message=message, autogenerate=True)
