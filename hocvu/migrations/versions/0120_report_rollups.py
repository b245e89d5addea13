"""connectors: report rollups (enrolments, groups, group learners, watermarks) and tenant metadata

Issue 17 item 3: the dashboard reads SQL aggregates kept up to date incrementally
(``connectors.rollups``), never every statement; tenants carry a ministry and a province, which
reports group by when no roster says otherwise. Every key of the new tables starts with tenant_id.
Extends the connectors branch (0007). Written by hand to match the models.

Revision ID: 0120
Revises: 0007
Create Date: 2026-12-07 04:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0120'
down_revision = '0007'
branch_labels = None
depends_on = None

IRI = 2048


def _tenant() -> sa.Column[int]:
    return sa.Column('tenant_id', sa.Integer(), sa.ForeignKey('tenants.id'), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ministry', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('province', sa.String(length=128), nullable=True))
    op.create_table(
        'report_rollup_state',
        sa.Column('tenant_id', sa.Integer(), sa.ForeignKey('tenants.id'), nullable=False, autoincrement=False),
        sa.Column('stored', sa.DateTime(timezone=True), nullable=True),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('statements', sa.BigInteger(), nullable=False),
        sa.Column('runs', sa.BigInteger(), nullable=False),
        sa.Column('refreshed', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id'),
    )
    op.create_table(
        'report_enrolments', _tenant(),
        sa.Column('course_id', sa.String(length=IRI), nullable=False),
        sa.Column('actor_key', sa.String(length=IRI), nullable=False),
        sa.Column('first', sa.DateTime(timezone=True), nullable=False),
        sa.Column('week', sa.String(length=10), nullable=False),
        sa.Column('province', sa.String(length=128), nullable=False),
        *(sa.Column(n, sa.Integer(), nullable=False) for n in ('completed', 'judged', 'passed', 'verified')),
        sa.Column('session_seconds', sa.Float(), nullable=False),
        sa.Column('session_n', sa.Integer(), nullable=False),
        sa.Column('any_seconds', sa.Float(), nullable=False),
        sa.Column('any_n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'course_id', 'actor_key'),
    )
    op.create_index('ix_report_enrolments_tenant_actor', 'report_enrolments', ['tenant_id', 'actor_key'])
    op.create_table(
        'report_groups', _tenant(),
        sa.Column('dimension', sa.String(length=16), nullable=False),
        sa.Column('group_key', sa.String(length=IRI), nullable=False),
        *(sa.Column(n, sa.BigInteger(), nullable=False) for n in (
            'learners', 'graded_learners', 'enrolments', 'completed', 'judged', 'passed', 'attempts', 'verified')),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('timed', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'dimension', 'group_key'),
    )
    op.create_table(
        'report_group_learners', _tenant(),
        sa.Column('dimension', sa.String(length=16), nullable=False),
        sa.Column('group_key', sa.String(length=IRI), nullable=False),
        sa.Column('actor_key', sa.String(length=IRI), nullable=False),
        sa.Column('enrolments', sa.Integer(), nullable=False),
        sa.Column('graded', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'dimension', 'group_key', 'actor_key'),
    )
    op.create_index('ix_report_group_learners_tenant_actor', 'report_group_learners', ['tenant_id', 'actor_key'])


def downgrade() -> None:
    op.drop_table('report_group_learners')
    op.drop_table('report_groups')
    op.drop_table('report_enrolments')
    op.drop_table('report_rollup_state')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('province')
        batch_op.drop_column('ministry')
