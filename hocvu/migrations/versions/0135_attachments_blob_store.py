"""lrs: attachment bytes move to a content-addressed blob store (issue 17 item 2, lrs.blobs).

``attachments`` keeps the metadata: ``content`` becomes nullable (rows written from now on leave
it NULL; older rows keep their bytes until ``hocvu attachments migrate`` moves them, and reads
fall back to them meanwhile), ``length`` is added (filled from the bytes of the rows there are),
and an index on ``sha2`` lets the sweep and erasure ask whether any tenant still names a hash.
Extends the lrs branch (0110). Written by hand to match the model (lrs.storage.Attachment).

Revision ID: 0135
Revises: 0110
Create Date: 2026-12-07 07:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0135'
down_revision = '0110'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('attachments', sa.Column('length', sa.BigInteger(), nullable=True))
    attachments = sa.table('attachments', sa.column('length', sa.BigInteger), sa.column('content', sa.LargeBinary))
    # length() of a BLOB (SQLite) or a bytea (PostgreSQL) counts bytes.
    op.execute(attachments.update().values(length=sa.func.length(attachments.c.content)))
    # SQLite cannot ALTER a column: batch mode copies the table (PostgreSQL alters in place).
    with op.batch_alter_table('attachments') as batch:
        batch.alter_column('length', existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column('content', existing_type=sa.LargeBinary(), nullable=True)
    op.create_index('ix_attachments_sha2', 'attachments', ['sha2'])


def downgrade() -> None:
    attachments = sa.table('attachments', sa.column('content', sa.LargeBinary))
    moved = op.get_bind().execute(sa.select(sa.func.count()).select_from(attachments)
                                  .where(attachments.c.content.is_(None))).scalar_one()
    if moved:
        raise RuntimeError(f"{moved} attachments have their bytes in the blob store only; "
                           "this downgrade would lose them (copy them back first)")
    op.drop_index('ix_attachments_sha2', table_name='attachments')
    with op.batch_alter_table('attachments') as batch:
        batch.alter_column('content', existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column('length')
