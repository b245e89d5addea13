"""identity: on PostgreSQL identity_bindings' primary key is (tenant_id, id)
(issue 17 item 5b: Citus distributes a table by tenant only when its unique keys include the
distribution column). `id` keeps its sequence, so inserts do not change; SQLite keeps its keys (a
lone INTEGER PRIMARY KEY is what autoincrements there) and the models keep `id` as the ORM's
identity. On a large table build the new key's index beforehand (hocvu.migrations.tenant_keys).

Revision ID: 0214
Revises: 0100
Create Date: 2026-12-07 19:00:00
"""

from hocvu.migrations.tenant_keys import SURROGATE, lead_with_tenant, restore

revision = '0214'
down_revision = '0100'
branch_labels = None
depends_on = None

KEYS = {'identity_bindings': SURROGATE}


def upgrade() -> None:
    lead_with_tenant(KEYS)


def downgrade() -> None:
    restore(KEYS)
