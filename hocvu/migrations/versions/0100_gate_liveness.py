"""identity: liveness at the gate (issue 12): the check's liveness method, result and assurance level on
player_assurances, and the server-side store of issued challenges (single use, expiring)

Extends the identity branch (0091); player_assurances is the player branch's (0009), hence depends_on.
Rows already there keep NULL: their check was a single photo (``liveness: none`` in the stamp).
Written by hand to match the models (identity.storage).

Revision ID: 0100
Revises: 0091
Create Date: 2026-12-07 04:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0100'
down_revision = '0091'
branch_labels = None
depends_on = '0009'


def upgrade() -> None:
    with op.batch_alter_table('player_assurances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_liveness', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('check_liveness_result', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('check_assurance', sa.String(length=24), nullable=True))
    op.create_table('identity_challenges',
                    sa.Column('nonce', sa.String(length=64), nullable=False),
                    sa.Column('account_id', sa.Integer(), nullable=False),
                    sa.Column('scope', sa.String(length=80), nullable=False),
                    sa.Column('document', sa.String(length=2000), nullable=False),
                    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
                    sa.PrimaryKeyConstraint('nonce'))
    with op.batch_alter_table('identity_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_challenges_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('identity_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_challenges_expires_at'))
    op.drop_table('identity_challenges')
    with op.batch_alter_table('player_assurances', schema=None) as batch_op:
        batch_op.drop_column('check_assurance')
        batch_op.drop_column('check_liveness_result')
        batch_op.drop_column('check_liveness')
