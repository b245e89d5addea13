"""connectors: the rollups' sums of archived months (data-loss fix: a rollup rebuild, or a voiding's
recompute of an enrolment, read only the live statements and silently lost what archived months had
added to the dashboard's figures).

``report_archived_enrolments`` holds, per tenant, archived month and enrolment, the sums of that
month's statements (``connectors.rollups.archived``), written by ``hocvu lake archive`` in the
transaction that drops the partition; ``report_archived_months`` lists the months whose sums are
there; ``report_archived_voids`` the statements voided after their month was archived (taken out by
``hocvu rollups refresh --archive DIR``, which reads them in the lake). Months archived before this revision are not listed: ``hocvu rollups refresh --rebuild``
refuses while a tenant has one, until ``--archive DIR`` computes them from the lake's files.
Keys lead with tenant_id (Citus); both databases (nothing is archived on SQLite).

Revision ID: 0200
Revises: 0120
Create Date: 2026-12-07 13:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0200'
down_revision = '0120'
branch_labels = None
depends_on = None

IRI = 2048


def upgrade() -> None:
    op.create_table(
        'report_archived_enrolments',
        sa.Column('tenant_id', sa.Integer(), sa.ForeignKey('tenants.id'), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('course_id', sa.String(length=IRI), nullable=False),
        sa.Column('actor_key', sa.String(length=IRI), nullable=False),
        sa.Column('first', sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(n, sa.Integer(), nullable=False) for n in ('completed', 'judged', 'passed', 'verified')),
        sa.Column('session_seconds', sa.Float(), nullable=False),
        sa.Column('session_n', sa.Integer(), nullable=False),
        sa.Column('any_seconds', sa.Float(), nullable=False),
        sa.Column('any_n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'month', 'course_id', 'actor_key'),
    )
    op.create_index('ix_report_archived_enrolments_tenant_actor', 'report_archived_enrolments',
                    ['tenant_id', 'actor_key'])
    op.create_table(
        'report_archived_months',
        sa.Column('tenant_id', sa.Integer(), sa.ForeignKey('tenants.id'), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('enrolments', sa.Integer(), nullable=False),
        sa.Column('computed', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'month'),
    )
    op.create_table(
        'report_archived_voids',
        sa.Column('tenant_id', sa.Integer(), sa.ForeignKey('tenants.id'), nullable=False),
        sa.Column('statement_id', sa.String(length=36), nullable=False),
        sa.Column('voided_by', sa.String(length=36), nullable=False),
        sa.Column('noted', sa.DateTime(timezone=True), nullable=False),
        sa.Column('month', sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id', 'statement_id'),
    )


def downgrade() -> None:
    op.drop_table('report_archived_voids')
    op.drop_table('report_archived_months')
    op.drop_index('ix_report_archived_enrolments_tenant_actor', table_name='report_archived_enrolments')
    op.drop_table('report_archived_enrolments')
