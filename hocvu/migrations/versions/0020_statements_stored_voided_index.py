"""lrs: ix_statements_tenant_stored (tenant_id, stored) becomes ix_statements_tenant_stored_voided
(tenant_id, stored, voided), so SQLite answers GET /statements?since=/until= pages from the index
alone instead of sorting the tenant's statements whole (issue 13; lrs.statement_query._page_query).

The start of a branch of its own for the xAPI store's tables (branch label lrs), as the other
packages' branches start from 0001; `hocvu db upgrade` applies every head. On PostgreSQL the new
index is built while writes wait (an ordinary CREATE INDEX, inside the upgrade's transaction): on a
large store, build it beforehand with CREATE INDEX CONCURRENTLY under the same name and this
revision only drops the old one.

Revision ID: 0020
Revises: 0001
Create Date: 2026-12-07 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0001'
branch_labels = ('lrs',)
depends_on = None


def _has_index(name: str) -> bool:
    return name in {ix['name'] for ix in sa.inspect(op.get_bind()).get_indexes('statements')}


def upgrade() -> None:
    if not _has_index('ix_statements_tenant_stored_voided'):
        op.create_index('ix_statements_tenant_stored_voided', 'statements', ['tenant_id', 'stored', 'voided'],
                        unique=False)
    op.drop_index('ix_statements_tenant_stored', table_name='statements')


def downgrade() -> None:
    op.create_index('ix_statements_tenant_stored', 'statements', ['tenant_id', 'stored'], unique=False)
    op.drop_index('ix_statements_tenant_stored_voided', table_name='statements')
