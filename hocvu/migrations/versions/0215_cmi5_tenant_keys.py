"""cmi5: on PostgreSQL lrs_cmi5_sessions' and lrs_cmi5_au_status' primary keys are (tenant_id, id),
for Citus, as 0214 does for identity_bindings (issue 17 item 5b; hocvu.migrations.tenant_keys).

Revision ID: 0215
Revises: 0155
Create Date: 2026-12-07 19:00:00
"""

from hocvu.migrations.tenant_keys import SURROGATE, lead_with_tenant, restore

revision = '0215'
down_revision = '0155'
branch_labels = None
depends_on = None

KEYS = {'lrs_cmi5_sessions': SURROGATE, 'lrs_cmi5_au_status': SURROGATE}


def upgrade() -> None:
    lead_with_tenant(KEYS)


def downgrade() -> None:
    restore(KEYS)
