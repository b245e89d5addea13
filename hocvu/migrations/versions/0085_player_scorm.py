"""SCORM player: learners' CMI data per attempt (issue 16)

player.packages.scorm_storage.ScormAttempt: the run-time data of each learner's attempt at each SCO,
for resume, statements and grades (the SCORM courses are rows of player_packages, 0080). Extends the
player branch (0060). Written by hand to match the models; tests/test_migrations.py checks they agree.

Revision ID: 0085
Revises: 0060
Create Date: 2026-12-07 04:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0085'
down_revision = '0060'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('player_scorm_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('registration', sa.String(length=36), nullable=False),
    sa.Column('course_id', sa.String(length=64), nullable=False),
    sa.Column('sco', sa.String(length=255), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('cmi', sa.JSON(), nullable=False),
    sa.Column('suspended', sa.Boolean(), nullable=False),
    sa.Column('ended', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.Column('session_started', sa.DateTime(timezone=True), nullable=True),
    sa.Column('total_seconds', sa.Float(), nullable=False),
    sa.Column('completion', sa.String(length=16), nullable=True),
    sa.Column('success', sa.String(length=16), nullable=True),
    sa.Column('score_scaled', sa.Float(), nullable=True),
    sa.Column('started', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'registration', 'course_id', 'sco', 'number',
                        name='uq_player_scorm_attempts_number')
    )
    op.create_index('ix_player_scorm_attempts_learner', 'player_scorm_attempts',
                    ['tenant_id', 'registration', 'course_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_player_scorm_attempts_learner', table_name='player_scorm_attempts')
    op.drop_table('player_scorm_attempts')
