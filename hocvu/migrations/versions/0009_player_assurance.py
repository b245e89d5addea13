"""course player: identity assurance per quiz attempt (lti_tool.player_storage.AttemptAssurance)

The gate before a quiz that requires identity assurance and the face checks repeated during the
attempt. Extends the player branch (0004). Written by hand to match the model;
tests/test_migrations.py checks that they agree.

Revision ID: 0009
Revises: 0004
Create Date: 2026-11-23 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('player_assurances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('registration', sa.String(length=36), nullable=False),
    sa.Column('target', sa.String(length=512), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('pending_key', sa.String(length=64), nullable=True),
    sa.Column('attempt_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=True),
    sa.Column('signed_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('min_level', sa.SmallInteger(), nullable=False),
    sa.Column('check_outcome', sa.String(length=16), nullable=True),
    sa.Column('check_distance', sa.Float(), nullable=True),
    sa.Column('check_threshold', sa.Float(), nullable=True),
    sa.Column('check_metric', sa.String(length=16), nullable=True),
    sa.Column('check_model', sa.String(length=32), nullable=True),
    sa.Column('check_detector', sa.String(length=32), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checks', sa.Integer(), nullable=False),
    sa.Column('last_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recheck_min', sa.Integer(), nullable=True),
    sa.Column('recheck_max', sa.Integer(), nullable=True),
    sa.Column('recheck_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['player_quiz_attempts.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('attempt_id', name='uq_player_assurances_attempt_id'),
    sa.UniqueConstraint('pending_key', name='uq_player_assurances_pending_key'),
    sa.UniqueConstraint('session_id', name='uq_player_assurances_session_id')
    )


def downgrade() -> None:
    op.drop_table('player_assurances')
