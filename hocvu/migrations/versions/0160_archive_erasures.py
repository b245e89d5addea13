"""lrs: erasures still to apply to archived months (issue 17 item 2 follow-up; privacy).

``hocvu audit erase`` records one row per archived month of the tenant and per detached month not
yet archived (hence no key to statement_archives; lrs.audit.archive_erasure): the learner's agent
key only as an HMAC under a key derived from the hub's secret, never in clear. ``hocvu lake erase
--archive DIR`` rewrites the month without the learner's rows (or deletes them from the detached
table) and deletes the row in the same transaction that pins the new manifest. Keys lead with tenant_id (Citus); both databases
(on SQLite nothing is archived, so no row is ever written).

Revision ID: 0160
Revises: 0140
Create Date: 2026-12-07 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0160'
down_revision = '0140'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'archive_erasures',
        sa.Column('tenant_id', sa.Integer(), sa.ForeignKey('tenants.id'), nullable=False, autoincrement=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('agent_digest', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.String(length=16), nullable=False),
        sa.Column('position', sa.BigInteger(), nullable=True),
        sa.Column('requested', sa.DateTime(timezone=True), nullable=False),
        sa.Column('rewrite_sha256', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id', 'month', 'agent_digest'),
    )


def downgrade() -> None:
    op.drop_table('archive_erasures')
