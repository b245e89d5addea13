"""Database lifecycle for the composition root: Alembic migrations applied in code."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from lrs import partitions
from lrs.dialect_schema import in_schema
from lrs.storage import Base, Database

# Months of statement partitions `hocvu db upgrade` keeps ahead of this one (PostgreSQL).
PARTITIONS_AHEAD = partitions.AHEAD

MIGRATIONS = Path(__file__).parent / "migrations"
# Every package's storage module shares lrs.storage.Base; importing them makes their tables known.
STORAGE_MODULES = ("lrs.storage", "identity.storage", "lti_tool.storage", "player.storage",
                   "connectors.storage", "credentials.storage", "lrs.cmi5.storage", "player.packages.storage",
                   "player.packages.scorm_storage", "lrs.blobs.storage")


def load_models() -> MetaData:
    """Import every package's models and return the shared metadata."""
    for module in STORAGE_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return Base.metadata


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(db: Database, revision: str = "heads", *, pepper: bytes | None = None) -> None:
    """Apply migrations on the app's own engine (so an in-memory SQLite DB is migrated in place).
    "heads": each package's migrations form a branch from 0001, so all heads are applied.
    ``pepper``: the VNeID pepper for revision 0090 (else it reads HOCVU_VNEID_PEPPER or the
    instance folder's, as sign-ins do)."""
    if db.dialect == "sqlite" and db.url.startswith("sqlite:///") and not db.url.endswith(":memory:"):
        Path(db.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(db)
    if pepper is not None:
        cfg.attributes["vneid_pepper"] = pepper
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
        # PostgreSQL: the statements' monthly partitions, made ahead (lrs.partitions).
        partitions.ensure(connection, ahead=PARTITIONS_AHEAD)


def include_object(dialect: str) -> Callable[..., bool]:
    """Alembic's include_object for comparing ``dialect``'s schema with the models: the schema
    differs by database where the statements are partitioned (lrs.partitions), so what exists on
    the other database only is skipped, and so are the partitions themselves."""
    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and reflected and name and partitions.is_partition(name):
            return False
        return in_schema(obj if not reflected or compare_to is None else compare_to, type_, dialect)
    return include


def revision(db: Database, message: str) -> None:
    """Autogenerate a migration (a developer tool: `hocvu db revision -m ...`)."""
    cfg = alembic_config(db)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.revision(cfg, message=message, autogenerate=True)
