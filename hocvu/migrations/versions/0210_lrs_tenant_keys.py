"""lrs: on PostgreSQL the primary keys of statement_agents, statement_activities and documents lead
with tenant_id (issue 17 item 5b: Citus distributes a table by tenant only when its unique keys
include the distribution column).

- statement_agents (seq, agent_key) -> (tenant_id, seq, agent_key), statement_activities
  (seq, activity_id) -> (tenant_id, seq, activity_id). Their deletes by seq (erasure, a detached
  month: lrs.audit.erasure, lrs.partitions) name the tenant too, so they keep using the key.
- documents (id) -> (tenant_id, id); `id` keeps its sequence, so inserts do not change.

SQLite keeps its keys (a lone INTEGER PRIMARY KEY is what autoincrements there; Citus is PostgreSQL).
The models keep the old primary keys as the ORM's identity: Alembic does not compare primary keys.

Each new key's unique index is built first, then becomes the primary key (USING INDEX). The build
blocks writes to the table; on a large store build it beforehand without blocking them, and this
revision then only swaps the keys (hocvu.migrations.tenant_keys):

    CREATE UNIQUE INDEX CONCURRENTLY statement_agents_tenant_key ON statement_agents (tenant_id, seq, agent_key);
    CREATE UNIQUE INDEX CONCURRENTLY statement_activities_tenant_key
        ON statement_activities (tenant_id, seq, activity_id);
    CREATE UNIQUE INDEX CONCURRENTLY documents_tenant_key ON documents (tenant_id, id);

Revision ID: 0210
Revises: 0180
Create Date: 2026-12-07 19:00:00
"""

from hocvu.migrations.tenant_keys import SURROGATE, lead_with_tenant, restore

revision = '0210'
down_revision = '0180'
branch_labels = None
depends_on = None

KEYS = {
    'statement_agents': (('tenant_id', 'seq', 'agent_key'), ('seq', 'agent_key')),
    'statement_activities': (('tenant_id', 'seq', 'activity_id'), ('seq', 'activity_id')),
    'documents': SURROGATE,
}


def upgrade() -> None:
    lead_with_tenant(KEYS)


def downgrade() -> None:
    restore(KEYS)
