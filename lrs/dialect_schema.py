"""How the migrated schema differs by database, and the ORM identity of per-tenant models: marks
the models of every package's storage module use (hocvu.db compares the migrations with the models
through ``in_schema``)."""

from __future__ import annotations

from typing import Any, Final

# Where the schema differs by database (lrs.partitions): ``info["only"]`` names the one dialect a
# table, index or constraint exists on; the migrations' comparison (hocvu/migrations/env.py) skips it
# on the other. On PostgreSQL `statements` is partitioned by `stored`, so no key without `stored` can
# live on it: its ids' uniqueness moves to `statement_ids`, and the side tables' foreign keys to it go.
SQLITE_ONLY: Final = {"only": "sqlite"}
POSTGRESQL_ONLY: Final = {"only": "postgresql"}
PARTITIONED_TABLE: Final = "statements"


def tenant_identity(tenant_id: Any, *rest: Any) -> dict[str, Any]:
    """A per-tenant model's ``__mapper_args__``: its ORM identity is (tenant_id, ...), as its
    PostgreSQL key is, whatever SQLite's key (a lone INTEGER PRIMARY KEY autoincrements there). The
    ORM's own UPDATE/DELETE of a changed object and ``session.get`` then name the tenant, so they use
    the key's index (by id alone: a sequential scan) and reach one shard on Citus (issue 17 item 5b)."""
    return {"primary_key": [tenant_id, *rest]}


def in_schema(obj: Any, type_: str, dialect: str) -> bool:
    """Whether a model object exists in ``dialect``'s migrated schema (see SQLITE_ONLY above)."""
    only = getattr(obj, "info", {}).get("only")
    if only is not None:
        return bool(only == dialect)
    if type_ == "foreign_key_constraint" and dialect == "postgresql":
        return bool(obj.referred_table.name != PARTITIONED_TABLE)
    return True
