"""Verifiable credentials: issuer keys, issued credentials, status lists (credentials.storage)

A branch of its own from 0001, like every package's. Written by hand to match the models;
tests/test_migrations.py checks that they agree.

Revision ID: 0070
Revises: 0001
Create Date: 2026-12-07 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0070'
down_revision = '0001'
branch_labels = ('credentials',)
depends_on = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('credential_issuer_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('private_key_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kid')
    )
    op.create_table('credentials_issued',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=36), nullable=False),
    sa.Column('course_id', sa.String(length=64), nullable=False),
    sa.Column('agent_key', sa.String(length=2048), nullable=True),
    sa.Column('live_key', sa.String(length=64), nullable=True),
    sa.Column('subject_id', sa.String(length=128), nullable=True),
    sa.Column('display_name', sa.String(length=255), nullable=True),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('status_list', sa.Integer(), nullable=False),
    sa.Column('status_index', sa.Integer(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('identity_level', sa.Integer(), nullable=True),
    sa.Column('document', JSON_DOC, nullable=True),
    sa.Column('issued', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=32), nullable=True),
    sa.Column('replaced_by', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'public_id'),
    sa.UniqueConstraint('tenant_id', 'live_key', name='uq_credentials_issued_live'),
    sa.UniqueConstraint('tenant_id', 'status_list', 'status_index', name='uq_credentials_issued_status')
    )
    op.create_index('ix_credentials_issued_learner', 'credentials_issued', ['tenant_id', 'agent_key'], unique=False)
    op.create_table('credential_status_lists',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('allocated', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('document', JSON_DOC, nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'number')
    )


def downgrade() -> None:
    op.drop_table('credential_status_lists')
    op.drop_index('ix_credentials_issued_learner', table_name='credentials_issued')
    op.drop_table('credentials_issued')
    op.drop_table('credential_issuer_keys')
