"""lrs: on PostgreSQL, ix_statements_tenant_stored_voided (tenant_id, stored, voided) becomes
ix_statements_tenant_stored_seq (tenant_id, stored, seq) (issue 17, item 2).

GET /statements with since/until only is answered in (stored, seq) order by walking this index
from the bound (lrs.statement_query._time_query): a page reads its own rows, with or without planner
statistics. Exports' (stored, seq) keyset uses it too. SQLite keeps its index (its since/until pages
are served from it alone, with the rowid `seq` in every entry): nothing changes there.

On PostgreSQL the index is made on the partitioned parent, which builds it on every partition while
writes to `statements` wait. On a large store build it beforehand, partition by partition, without
blocking writes, and this revision then only drops the old index:

    CREATE INDEX ix_statements_tenant_stored_seq ON ONLY statements (tenant_id, stored, seq);  -- invalid, empty
    -- for each partition P (SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'statements'::regclass):
    CREATE INDEX CONCURRENTLY P_tenant_id_stored_seq_idx ON P (tenant_id, stored, seq);
    ALTER INDEX ix_statements_tenant_stored_seq ATTACH PARTITION P_tenant_id_stored_seq_idx;
    -- once every partition's index is attached, the parent's is valid; then `hocvu db upgrade`.

Revision ID: 0150
Revises: 0110
Create Date: 2026-12-07 08:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0150'
down_revision = '0110'
branch_labels = None
depends_on = None

NEW = 'ix_statements_tenant_stored_seq'
OLD = 'ix_statements_tenant_stored_voided'


def _valid_index(name: str) -> bool | None:
    """Whether index ``name`` exists and is valid (None: it does not exist)."""
    return op.get_bind().execute(sa.text("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                         "WHERE c.relname = :n AND c.relnamespace = current_schema()::regnamespace"),
                                 {"n": name}).scalar()


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    valid = _valid_index(NEW)
    if valid is False:
        # Made ON ONLY by an operator but not every partition's index attached yet: not usable.
        raise RuntimeError(f'{NEW} exists but is not valid: attach an index of every partition first (see 0150)')
    if valid is None:
        op.create_index(NEW, 'statements', ['tenant_id', 'stored', 'seq'], unique=False)
    op.drop_index(OLD, table_name='statements')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.create_index(OLD, 'statements', ['tenant_id', 'stored', 'voided'], unique=False)
    op.drop_index(NEW, table_name='statements')
