"""connectors: learner records from roster imports (connectors.storage.LearnerRecord)

A branch of its own from 0001 (branch label learners); `hocvu db upgrade` applies every head.

Revision ID: 0008
Revises: 0001
Create Date: 2026-11-22 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0001'
branch_labels = ('learners',)
depends_on = None


def upgrade() -> None:
    op.create_table('learner_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('learner_key', sa.String(length=2048), nullable=False),
    sa.Column('agent', sa.JSON(), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=True),
    sa.Column('province', sa.String(length=128), nullable=True),
    sa.Column('unit', sa.String(length=255), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'learner_key', name='uq_learner_records_tenant_key')
    )
    op.create_index(op.f('ix_learner_records_tenant_id'), 'learner_records', ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_learner_records_tenant_id'), table_name='learner_records')
    op.drop_table('learner_records')
