"""lrs: on PostgreSQL the primary keys of statement_agents, statement_activities and documents lead
with tenant_id (issue 17 item 5b: Citus distributes a table by tenant only when its unique keys
include the distribution column).

- statement_agents: the look-up index's columns (tenant_id, agent_key, seq) become the primary key
  in place of (seq, agent_key), and the look-up index goes; a narrow (seq) index serves the deletes
  by statement (erasure, a detached month: lrs.audit.erasure, lrs.partitions). The same for
  statement_activities with activity_id. Still two indexes a table, but the wide key (an IRI or an
  Agent's key, 60-120 bytes) is indexed once instead of twice, and the other is append-only.
- documents (id) -> (tenant_id, id); `id` keeps its sequence, so inserts do not change.

SQLite keeps its keys and indexes (a lone INTEGER PRIMARY KEY is what autoincrements there; Citus is
PostgreSQL). The models keep the old primary keys as the ORM's identity: Alembic does not compare
primary keys; the indexes are marked per database (lrs.storage).

Each new key's unique index is built first, then becomes the primary key (USING INDEX). The builds
block writes to the table; on a large store make the indexes beforehand without blocking them, and
this revision then only swaps the keys (hocvu.migrations.tenant_keys):

    CREATE UNIQUE INDEX CONCURRENTLY statement_agents_tenant_key ON statement_agents (tenant_id, agent_key, seq);
    CREATE INDEX CONCURRENTLY ix_statement_agents_seq ON statement_agents (seq);
    CREATE UNIQUE INDEX CONCURRENTLY statement_activities_tenant_key
        ON statement_activities (tenant_id, activity_id, seq);
    CREATE INDEX CONCURRENTLY ix_statement_activities_seq ON statement_activities (seq);
    CREATE UNIQUE INDEX CONCURRENTLY documents_tenant_key ON documents (tenant_id, id);

Revision ID: 0210
Revises: 0180
Create Date: 2026-12-07 19:00:00
"""
from alembic import op

from hocvu.migrations.tenant_keys import SURROGATE, lead_with_tenant, restore

revision = '0210'
down_revision = '0180'
branch_labels = None
depends_on = None

# side table -> its key column
SIDE = {'statement_agents': 'agent_key', 'statement_activities': 'activity_id'}
KEYS = {
    **{t: (('tenant_id', key, 'seq'), ('seq', key)) for t, key in SIDE.items()},
    'documents': SURROGATE,
}


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in SIDE:
        op.execute(f'CREATE INDEX IF NOT EXISTS ix_{table}_seq ON {table} (seq)')
    lead_with_tenant(KEYS)
    for table in SIDE:
        op.execute(f'DROP INDEX ix_{table}_lookup')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, key in SIDE.items():
        op.execute(f'CREATE INDEX ix_{table}_lookup ON {table} (tenant_id, {key}, seq)')
    restore(KEYS)
    for table in SIDE:
        op.execute(f'DROP INDEX ix_{table}_seq')
