"""connectors: statement forwarding (targets, cursors, dead letters, gap tracking)

Continues the connectors branch after 0008_learner_records (connectors.storage: ForwardTarget,
ForwardItem, ForwardGap, ForwardHorizon). Written by hand to match the models.

Revision ID: 0007
Revises: 0008
Create Date: 2026-11-23 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('forward_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('endpoint', sa.String(length=2048), nullable=False),
    sa.Column('auth_key', sa.String(length=255), nullable=False),
    sa.Column('secret_sealed', sa.Text(), nullable=False),
    sa.Column('xapi_version', sa.String(length=8), nullable=False),
    sa.Column('verb_prefix', sa.String(length=2048), nullable=True),
    sa.Column('activity_prefix', sa.String(length=2048), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('batch_size', sa.Integer(), nullable=False),
    sa.Column('cursor_seq', sa.BigInteger(), nullable=False),
    sa.Column('delivered', sa.BigInteger(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('next_attempt', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_token', sa.String(length=32), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'name', name='uq_forward_targets_tenant_name')
    )
    op.create_index(op.f('ix_forward_targets_tenant_id'), 'forward_targets', ['tenant_id'], unique=False)
    op.create_table('forward_items',
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('next_attempt', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['seq'], ['statements.seq'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['forward_targets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('target_id', 'seq')
    )
    op.create_index('ix_forward_items_due', 'forward_items', ['target_id', 'state', 'next_attempt'], unique=False)
    op.create_table('forward_gaps',
    sa.Column('lo', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('hi', sa.BigInteger(), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('lo')
    )
    op.create_table('forward_horizon',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('scanned_seq', sa.BigInteger(), nullable=False),
    sa.Column('safe_seq', sa.BigInteger(), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('forward_horizon')
    op.drop_table('forward_gaps')
    op.drop_index('ix_forward_items_due', table_name='forward_items')
    op.drop_table('forward_items')
    op.drop_index(op.f('ix_forward_targets_tenant_id'), table_name='forward_targets')
    op.drop_table('forward_targets')
