"""lrs: the attachments each archived month cites (data-loss fix: an erasure forgot attachments that
archived statements of other learners cite).

An archived month's statements left the store, but their attachment rows and blobs stay (proof
bundles and lake readers need them). An erasure forgets the attachments no statement cites; it
cannot read the lake, so ``hocvu lake archive`` lists each month's cited hashes here
(``archived_attachments``, lrs.blobs.archived) and ``hocvu lake erase`` keeps the list exact when it
rewrites a month. ``statement_archives.attachments_listed`` is false for the months archived before
this revision: until ``hocvu lake erase --archive DIR`` lists them from their statements file, an
erasure keeps every attachment (it cannot prove no archived statement cites one) and records on the
pending archive erasures (``archive_erasures.attachments``) what it still has to forget.
Keys lead with tenant_id (Citus); both databases (nothing is archived on SQLite).

Revision ID: 0180
Revises: 0160
Create Date: 2026-12-07 13:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0180'
down_revision = '0160'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'archived_attachments',
        sa.Column('tenant_id', sa.Integer(), nullable=False, autoincrement=False),
        sa.Column('sha2', sa.String(length=128), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'sha2', 'month'),
        sa.ForeignKeyConstraint(['tenant_id', 'month'], ['statement_archives.tenant_id', 'statement_archives.month']),
    )
    with op.batch_alter_table('statement_archives') as batch:
        batch.add_column(sa.Column('attachments_listed', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('archive_erasures') as batch:
        batch.add_column(sa.Column('attachments', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('archive_erasures') as batch:
        batch.drop_column('attachments')
    with op.batch_alter_table('statement_archives') as batch:
        batch.drop_column('attachments_listed')
    op.drop_table('archived_attachments')
