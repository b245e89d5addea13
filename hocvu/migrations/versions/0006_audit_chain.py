"""lrs: the per-tenant audit chain (lrs.storage AuditEntry, AuditHead, AuditCheckpoint)

A branch of its own from 0001 (branch label audit); `hocvu db upgrade` applies every head.
Statements stored before this revision have no chain entry: `hocvu audit verify` reports them.

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-22 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0001'
branch_labels = ('audit',)
depends_on = None


def upgrade() -> None:
    op.create_table('audit_entries',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('statement_id', sa.String(length=36), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('recorded', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'position')
    )
    op.create_index('ix_audit_entries_tenant_statement', 'audit_entries', ['tenant_id', 'statement_id'],
                    unique=False)
    op.create_table('audit_heads',
    sa.Column('tenant_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('checkpoint_position', sa.BigInteger(), nullable=False),
    sa.Column('checkpoint_time', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id')
    )
    op.create_table('audit_checkpoints',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'position')
    )


def downgrade() -> None:
    op.drop_table('audit_checkpoints')
    op.drop_table('audit_heads')
    op.drop_index('ix_audit_entries_tenant_statement', table_name='audit_entries')
    op.drop_table('audit_entries')
