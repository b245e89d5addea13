"""cmi5 AU sessions and per-registration AU status (lrs.cmi5.storage)

Revision ID: 0081
Revises: 0080
Create Date: 2026-12-07 03:41:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0081'
down_revision = '0080'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lrs_cmi5_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('registration', sa.String(length=36), nullable=False),
    sa.Column('actor', sa.JSON(), nullable=False),
    sa.Column('actor_key', sa.String(length=2048), nullable=False),
    sa.Column('course_iri', sa.String(length=2048), nullable=False),
    sa.Column('au_iri', sa.String(length=2048), nullable=False),
    sa.Column('package_key', sa.String(length=32), nullable=False),
    sa.Column('launch_mode', sa.String(length=16), nullable=False),
    sa.Column('move_on', sa.String(length=32), nullable=False),
    sa.Column('mastery_score', sa.Float(), nullable=True),
    sa.Column('fetch_hash', sa.String(length=64), nullable=True),
    sa.Column('credential_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('launched', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires', sa.DateTime(timezone=True), nullable=False),
    sa.Column('initialized', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_statement', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed', sa.Boolean(), nullable=False),
    sa.Column('prefs_read', sa.Boolean(), nullable=False),
    sa.Column('opener', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['credential_id'], ['credentials.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'session_id', name='uq_lrs_cmi5_sessions_session')
    )
    op.create_index('ix_lrs_cmi5_sessions_credential', 'lrs_cmi5_sessions', ['credential_id'], unique=False)
    op.create_index('ix_lrs_cmi5_sessions_fetch', 'lrs_cmi5_sessions', ['fetch_hash'], unique=False)
    op.create_index('ix_lrs_cmi5_sessions_open', 'lrs_cmi5_sessions',
                    ['tenant_id', 'registration', 'au_iri', 'state'], unique=False)
    op.create_table('lrs_cmi5_au_status',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('registration', sa.String(length=36), nullable=False),
    sa.Column('au_iri', sa.String(length=2048), nullable=False),
    sa.Column('completed', sa.Boolean(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('waived', sa.Boolean(), nullable=False),
    sa.Column('satisfied', sa.Boolean(), nullable=False),
    sa.Column('score_scaled', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'registration', 'au_iri', name='uq_lrs_cmi5_au_status')
    )


def downgrade() -> None:
    op.drop_table('lrs_cmi5_au_status')
    op.drop_index('ix_lrs_cmi5_sessions_open', table_name='lrs_cmi5_sessions')
    op.drop_index('ix_lrs_cmi5_sessions_fetch', table_name='lrs_cmi5_sessions')
    op.drop_index('ix_lrs_cmi5_sessions_credential', table_name='lrs_cmi5_sessions')
    op.drop_table('lrs_cmi5_sessions')
