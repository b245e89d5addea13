"""LTI tool: proctoring sessions and their Assessment Control Service requests
(lti_tool.storage.LtiProctoringSession, LtiProctoringControl; 1EdTech Proctoring Services 1.0)

Extends the lti_tool branch (0003). Written by hand to match the models;
tests/test_migrations.py checks that they agree.

Revision ID: 0011
Revises: 0003
Create Date: 2026-11-23 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lti_proctoring_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=1024), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('sub', sa.String(length=255), nullable=False),
    sa.Column('resource_link_id', sa.String(length=255), nullable=False),
    sa.Column('context_id', sa.String(length=255), nullable=False),
    sa.Column('attempt_number', sa.Integer(), nullable=False),
    sa.Column('session_data', sa.Text(), nullable=True),
    sa.Column('start_assessment_url', sa.String(length=2048), nullable=False),
    sa.Column('acs_url', sa.String(length=2048), nullable=True),
    sa.Column('acs_actions', sa.JSON(), nullable=False),
    sa.Column('failure_action', sa.String(length=16), nullable=False),
    sa.Column('gate_target', sa.String(length=512), nullable=False),
    sa.Column('end_assessment_return', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('verified_subject', sa.String(length=128), nullable=True),
    sa.Column('verification', sa.JSON(), nullable=True),
    sa.Column('assurance_session_id', sa.String(length=36), nullable=True),
    sa.Column('flags', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['registration_id'], ['lti_registrations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id'),
    sa.UniqueConstraint('registration_id', 'deployment_id', 'sub', 'resource_link_id', 'attempt_number',
                        name='uq_lti_proctoring_sessions_attempt')
    )
    with op.batch_alter_table('lti_proctoring_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_proctoring_sessions_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('lti_proctoring_controls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('reason_code', sa.String(length=64), nullable=True),
    sa.Column('incident_severity', sa.Float(), nullable=False),
    sa.Column('incident_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('platform_status', sa.String(length=32), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['lti_proctoring_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lti_proctoring_controls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_proctoring_controls_session_id'), ['session_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lti_proctoring_controls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_proctoring_controls_session_id'))

    op.drop_table('lti_proctoring_controls')
    with op.batch_alter_table('lti_proctoring_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_proctoring_sessions_tenant_id'))

    op.drop_table('lti_proctoring_sessions')
