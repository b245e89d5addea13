"""Imported course packages (player.packages.storage): cmi5 now, SCORM beside it

A branch of its own from 0001, like every package's. Written by hand to match the models;
tests/test_migrations.py checks that they agree.

Revision ID: 0080
Revises: 0001
Create Date: 2026-12-07 03:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0080'
down_revision = '0001'
branch_labels = ('packages',)
depends_on = None


def upgrade() -> None:
    op.create_table('player_packages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('package_key', sa.String(length=32), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('course_iri', sa.String(length=2048), nullable=False),
    sa.Column('title', sa.JSON(), nullable=False),
    sa.Column('description', sa.JSON(), nullable=False),
    sa.Column('structure', sa.JSON(), nullable=False),
    sa.Column('has_files', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=1024), nullable=False),
    sa.Column('imported', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('package_key', name='uq_player_packages_key'),
    sa.UniqueConstraint('slug', name='uq_player_packages_slug')
    )


def downgrade() -> None:
    op.drop_table('player_packages')
