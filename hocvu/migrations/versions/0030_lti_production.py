"""LTI tool in production: shared launch state, registrations that can be disabled, AGS line items the
tool manages itself (lti_tool.storage.LtiLaunchState, LtiResourceLink; LtiRegistration.disabled;
LtiScoreOutbox's programmatic-mode and delivery-state columns)

Extends the lti_tool branch (0011). Written by hand to match the models;
tests/test_migrations.py checks that they agree.

Revision ID: 0030
Revises: 0011
Create Date: 2026-11-30 09:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lti_launch_state',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('expires', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('lti_launch_state', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_launch_state_expires'), ['expires'], unique=False)

    op.create_table('lti_resource_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('resource_link_id', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('lineitems_url', sa.String(length=2048), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('lineitem_url', sa.String(length=2048), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['lti_registrations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('registration_id', 'deployment_id', 'resource_link_id', name='uq_lti_resource_links_link')
    )
    with op.batch_alter_table('lti_resource_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_resource_links_tenant_id'), ['tenant_id'], unique=False)

    with op.batch_alter_table('lti_registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('lti_score_outbox', schema=None) as batch_op:
        batch_op.alter_column('lineitem_url', existing_type=sa.String(length=2048), nullable=True)
        batch_op.add_column(sa.Column('lineitems_url', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('lineitem_spec', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('resource_link_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('user_id', sa.String(length=255), nullable=True))
        batch_op.create_index('ix_lti_score_outbox_link', ['registration_id', 'resource_link_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lti_score_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_lti_score_outbox_link')
        batch_op.drop_column('user_id')
        batch_op.drop_column('resource_link_id')
        batch_op.drop_column('lineitem_spec')
        batch_op.drop_column('lineitems_url')
        batch_op.alter_column('lineitem_url', existing_type=sa.String(length=2048), nullable=False)

    with op.batch_alter_table('lti_registrations', schema=None) as batch_op:
        batch_op.drop_column('disabled')

    with op.batch_alter_table('lti_resource_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_resource_links_tenant_id'))
    op.drop_table('lti_resource_links')

    with op.batch_alter_table('lti_launch_state', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_launch_state_expires'))
    op.drop_table('lti_launch_state')
