"""course player: the ledger of ops synced from learners' devices (player.storage.SyncedOp)

Offline first (issue 14): a device queues ops with client-generated ids and syncs them in order;
this ledger makes a replayed op a no-op and keeps each device's ops in order. Extends the player
branch (0009). Written by hand to match the model; tests/test_migrations.py checks that they agree.

Revision ID: 0060
Revises: 0009
Create Date: 2026-12-07 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0060'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('player_synced_ops',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('op_id', sa.String(length=36), nullable=False),
    sa.Column('learner_key', sa.String(length=2048), nullable=False),
    sa.Column('device', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=512), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('statement_ids', sa.JSON(), nullable=False),
    sa.Column('synced', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'op_id', name='uq_player_synced_ops_op')
    )
    op.create_index('ix_player_synced_ops_device', 'player_synced_ops',
                    ['tenant_id', 'learner_key', 'device', 'seq'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_player_synced_ops_device', table_name='player_synced_ops')
    op.drop_table('player_synced_ops')
