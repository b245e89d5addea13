"""identity: face enrolments (identity.storage.FaceEnrolment)

One encrypted face embedding per VNeID account, kept with the learner's consent and deleted when
it is withdrawn; no picture is ever stored. Extends the identity branch (0002). Written by hand to
match the model; tests/test_migrations.py checks that they agree.

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-23 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('face_enrolments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('detector', sa.String(length=64), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['identity_accounts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id')
    )


def downgrade() -> None:
    op.drop_table('face_enrolments')
