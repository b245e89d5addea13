"""Imported packages: which AUs / SCOs are assessed (identity assurance applies to them; issue 16)

player.packages.storage.ImportedPackage.assessed: the publisher's AU ids (cmi5) or the manifest's
item identifiers (SCORM) an administrator marked as assessed; a JSON list, empty for none.

Revision ID: 0155
Revises: 0081
Create Date: 2026-12-07 07:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0155'
down_revision = '0081'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('player_packages') as batch_op:
        batch_op.add_column(sa.Column('assessed', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('player_packages') as batch_op:
        batch_op.drop_column('assessed')
