"""lrs: documents keep an Activity id or Agent key longer than 512 bytes as its SHA-256
("#sha256:<hex>"), so their unique key always fits a PostgreSQL index entry (issue 13;
lrs.documents.key_part, KEY_INLINE_BYTES). Data only: the rows with a longer part are rewritten
(on PostgreSQL there can be few, since longer keys could mostly not be stored; on SQLite any).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 09:10:00
"""
import hashlib

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

KEY_INLINE_BYTES = 512  # lrs.documents.KEY_INLINE_BYTES when this revision was written


def _part(value: str) -> str:
    data = value.encode('utf-8', 'surrogatepass')
    return value if len(data) <= KEY_INLINE_BYTES else '#sha256:' + hashlib.sha256(data).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    docs = sa.table('documents', sa.column('id', sa.BigInteger), sa.column('activity_id', sa.String),
                    sa.column('agent_key', sa.String))
    # A part over 512 bytes has over 128 characters: the database narrows, Python decides.
    rows = bind.execute(sa.select(docs.c.id, docs.c.activity_id, docs.c.agent_key).where(
        (sa.func.length(docs.c.activity_id) > KEY_INLINE_BYTES // 4)
        | (sa.func.length(docs.c.agent_key) > KEY_INLINE_BYTES // 4))).all()
    for doc_id, activity_id, agent_key in rows:
        new = {'activity_id': _part(activity_id), 'agent_key': _part(agent_key)}
        if new != {'activity_id': activity_id, 'agent_key': agent_key}:
            bind.execute(docs.update().where(docs.c.id == doc_id).values(**new))


def downgrade() -> None:
    pass  # a hash cannot be turned back into the part it stands for; shorter parts were never changed
