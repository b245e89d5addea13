"""Steps the tenant-key revisions share (issue 17 item 5b): a PostgreSQL table's primary key
replaced by one that leads with tenant_id, as Citus needs to distribute the table by tenant, and
SQLite's table rebuild with foreign keys off (0090's too).

Revisions import them rather than repeat them; they only issue SQL, so what an old revision does
stays what it did."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op


def swap_primary_key(table: str, columns: tuple[str, ...]) -> None:
    """Make ``columns`` ``table``'s primary key (PostgreSQL). The new key's unique index is built
    first and then becomes the key (USING INDEX), so an operator can build it beforehand without
    blocking writes on a large table and the revision then only swaps the keys:

        CREATE UNIQUE INDEX CONCURRENTLY <table>_tenant_key ON <table> (<columns>);

    An index left invalid by a failed CONCURRENTLY build is dropped and built again."""
    index = f"{table}_tenant_key"
    op.execute(f"""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   WHERE c.relname = '{index}' AND c.relnamespace = current_schema()::regnamespace
                   AND NOT i.indisvalid) THEN EXECUTE 'DROP INDEX {index}'; END IF; END $$""")
    op.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table} ({', '.join(columns)})")
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, "
               f"ADD CONSTRAINT {table}_pkey PRIMARY KEY USING INDEX {index}")


# table -> (its new primary key, its old one)
Keys = dict[str, tuple[tuple[str, ...], tuple[str, ...]]]
SURROGATE: tuple[tuple[str, ...], tuple[str, ...]] = (("tenant_id", "id"), ("id",))


def lead_with_tenant(keys: Keys) -> None:
    """Upgrade: each table's new primary key, on PostgreSQL. SQLite keeps its keys: a lone INTEGER
    PRIMARY KEY is what autoincrements there, and Citus is PostgreSQL."""
    if op.get_bind().dialect.name == "postgresql":
        for table, (new, _old) in keys.items():
            swap_primary_key(table, new)


def restore(keys: Keys) -> None:
    """Downgrade: each table's old primary key, on PostgreSQL."""
    if op.get_bind().dialect.name == "postgresql":
        for table, (_new, old) in keys.items():
            swap_primary_key(table, old)


@contextmanager
def sqlite_rebuild(bind: sa.engine.Connection, revision: str, *, secure_delete: bool = False) -> Iterator[None]:
    """SQLite's table rebuild (its "generalized ALTER TABLE procedure", as in 0090): batch mode
    copies a table and drops the old one, which would fail, or cascade, while other tables refer to
    it. So foreign keys off, which only takes effect outside a transaction, then the rebuild in one
    explicit transaction, checked with foreign_key_check before commit. The pysqlite transaction
    left open by earlier revisions of this run is committed first (SQLite had already committed
    their DDL). ``secure_delete`` zeroes the pages the old table frees (0090: a column of clear
    subjects went)."""
    raw = bind.connection.dbapi_connection
    assert raw is not None
    raw.commit()
    raw.execute("PRAGMA foreign_keys = OFF")
    if secure_delete:
        raw.execute("PRAGMA secure_delete = ON")
    try:
        raw.execute("BEGIN")
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration {revision} would break {len(broken)} foreign key(s); nothing was changed")
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        if secure_delete:
            raw.execute("PRAGMA secure_delete = OFF")
        raw.execute("PRAGMA foreign_keys = ON")  # as lrs.storage's connect hook set it
