"""lrs: the registry of months archived to the Parquet lake (issue 17 item 2; ``hocvu lake archive``).

One row per tenant and month whose statements left the store for the lake, with the chain positions
of their entries and the SHA-256 of the archive's manifest: what ``hocvu audit verify`` needs to tell
an archived statement from a deleted one (lrs.audit.archived). Both databases (on SQLite nothing is
ever archived: its statements are not partitioned).

Revision ID: 0140
Revises: 0110
Create Date: 2026-12-07 07:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0140'
down_revision = '0110'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'statement_archives',
        sa.Column('tenant_id', sa.Integer(), sa.ForeignKey('tenants.id'), nullable=False, autoincrement=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('statements', sa.BigInteger(), nullable=False),
        sa.Column('positions', sa.JSON(), nullable=False),
        sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
        sa.Column('location', sa.Text(), nullable=False),
        sa.Column('archived', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'month'),
    )


def downgrade() -> None:
    op.drop_table('statement_archives')
