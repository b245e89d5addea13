"""lrs: national (cross-tenant) credentials for auditors and analysts (lrs.storage.NationalCredential)

A branch of its own from 0001 (branch label national); `hocvu db upgrade` applies every head.

Revision ID: 0010
Revises: 0001
Create Date: 2026-11-22 09:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0001'
branch_labels = ('national',)
depends_on = None


def upgrade() -> None:
    op.create_table('national_credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('national_credentials')
