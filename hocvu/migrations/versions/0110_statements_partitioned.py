"""lrs: on PostgreSQL, `statements` becomes a table partitioned by range of `stored` (issue 17, item 2).

The existing table is copied into a new partitioned one (monthly partitions from its oldest
statement to three months ahead, and a DEFAULT partition) and takes its name; its sequence
carries on, so every seq, id, voiding flag and the audit chain (which names statement ids) stay.
A partitioned table's unique keys must include the partition key, so:
- the primary key becomes (tenant_id, seq, stored);
- ix_statements_tenant_seq goes: the primary key's index serves (tenant_id, seq);
- (tenant_id, statement_id) is unique in a new registry, `statement_ids`, which batch ingest
  inserts into first (ON CONFLICT DO NOTHING); `statements` keeps a plain index on it;
- the foreign keys to statements.seq (statement_agents, statement_activities, forward_items) are
  dropped: they would need `stored` in every side row, and would forbid detaching a month whose rows
  they reference. The one write path adds side rows in the statement's transaction, erasure and
  detaching delete them, and forwarding drops items whose statement is gone (lrs.partitions).
The whole copy runs in the upgrade's transaction, while writes wait: plan a maintenance window for
a large store. SQLite: nothing changes.

Revision ID: 0110
Revises: 0021
Create Date: 2026-12-07 05:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from lrs.partitions import ensure, month_start

revision = '0110'
down_revision = '0021'
branch_labels = None
# After forwarding's tables: forward_items' foreign key to statements.seq must exist to be dropped
# (created after, it would be refused by the partitioned table).
depends_on = ('0007',)

COLUMNS = ('seq', 'tenant_id', 'statement_id', 'verb_id', 'actor_key', 'object_type', 'object_activity_id',
           'object_agent_key', 'object_statement_id', 'registration', 'timestamp', 'stored', 'voided',
           'is_voiding', 'credential_id', 'full')
# The unpartitioned table's indexes (besides its keys). The partitioned table has all but the first:
# its primary key (tenant_id, seq, stored) serves (tenant_id, seq), one index fewer per insert.
INDEXES = (
    ('ix_statements_tenant_seq', ['tenant_id', 'seq'], None),
    ('ix_statements_tenant_verb_seq', ['tenant_id', 'verb_id', 'seq'], None),
    ('ix_statements_tenant_registration_seq', ['tenant_id', 'registration', 'seq'], None),
    ('ix_statements_tenant_stored_voided', ['tenant_id', 'stored', 'voided'], None),
    ('ix_statements_tenant_ref', ['tenant_id', 'object_statement_id'], None),
    ('ix_statements_tenant_refs_seq', ['tenant_id', 'seq'], 'object_statement_id IS NOT NULL'),
    ('ix_statements_tenant_statement', ['tenant_id', 'statement_id'], None),
)


def _statements_table(name: str, **kw):  # type: ignore[no-untyped-def]
    op.create_table(
        name,
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('statement_id', sa.String(length=36), nullable=False),
        sa.Column('verb_id', sa.String(length=2048), nullable=False),
        sa.Column('actor_key', sa.String(length=2048), nullable=False),
        sa.Column('object_type', sa.String(length=16), nullable=False),
        sa.Column('object_activity_id', sa.String(length=2048), nullable=True),
        sa.Column('object_agent_key', sa.String(length=2048), nullable=True),
        sa.Column('object_statement_id', sa.String(length=36), nullable=True),
        sa.Column('registration', sa.String(length=36), nullable=True),
        sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
        sa.Column('stored', sa.DateTime(timezone=True), nullable=False),
        sa.Column('voided', sa.Boolean(), nullable=False),
        sa.Column('is_voiding', sa.Boolean(), nullable=False),
        sa.Column('credential_id', sa.Integer(), nullable=True),
        sa.Column('full', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(['credential_id'], ['credentials.id'], name='statements_credential_id_fkey'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name='statements_tenant_id_fkey'),
        **kw,
    )


def _drop_keys(table: str, kinds: str, **only) -> None:  # type: ignore[no-untyped-def]
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT conrelid::regclass::text, conname, contype FROM pg_constraint WHERE contype = ANY(:k) "
        "AND (conrelid = CAST(:t AS regclass) OR confrelid = CAST(:t AS regclass)) AND conparentid = 0"),
        {"k": list(kinds), "t": table}).all()
    for owner, name, _ in rows:
        if only.get('referencing') and owner == table:
            continue
        op.execute(f'ALTER TABLE {owner} DROP CONSTRAINT "{name}"')


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence('statements', 'seq')")).scalar()
    _drop_keys('statements', 'f', referencing=True)  # the side tables' and forward_items' FKs
    op.execute(f'ALTER SEQUENCE {sequence} OWNED BY NONE')
    op.rename_table('statements', 'statements_old')
    _drop_keys('statements_old', 'puf')
    for name, _, _ in INDEXES:
        op.execute(f'DROP INDEX IF EXISTS {name}')
    _statements_table('statements', postgresql_partition_by='RANGE (stored)')
    op.create_primary_key('statements_pkey', 'statements', ['tenant_id', 'seq', 'stored'])
    op.execute(f"ALTER TABLE statements ALTER COLUMN seq SET DEFAULT nextval('{sequence}')")
    for name, cols, where in INDEXES[1:]:
        op.create_index(name, 'statements', cols, unique=False,
                        postgresql_where=sa.text(where) if where else None)
    oldest = bind.execute(sa.text("SELECT min(stored) FROM statements_old")).scalar()
    ensure(bind, since=month_start(oldest) if oldest else None)
    names = ', '.join(f'"{c}"' for c in COLUMNS)
    op.execute(f'INSERT INTO statements ({names}) SELECT {names} FROM statements_old')
    op.create_table('statement_ids',
                    sa.Column('tenant_id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('statement_id', sa.String(length=36), nullable=False),
                    sa.Column('seq', sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint('tenant_id', 'statement_id'))
    op.execute('INSERT INTO statement_ids (tenant_id, statement_id, seq) SELECT tenant_id, statement_id, seq '
               'FROM statements_old')
    op.drop_table('statements_old')
    op.execute(f'ALTER SEQUENCE {sequence} OWNED BY statements.seq')


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence('statements', 'seq')")).scalar()
    op.execute(f'ALTER SEQUENCE {sequence} OWNED BY NONE')
    op.rename_table('statements', 'statements_part')
    op.execute('ALTER TABLE statements_part DROP CONSTRAINT statements_pkey')
    for name, _, _ in INDEXES:
        op.execute(f'DROP INDEX IF EXISTS {name}')
    _statements_table('statements')
    op.create_primary_key('statements_pkey', 'statements', ['seq'])
    op.create_unique_constraint('uq_statements_tenant_statement', 'statements', ['tenant_id', 'statement_id'])
    op.execute(f"ALTER TABLE statements ALTER COLUMN seq SET DEFAULT nextval('{sequence}')")
    names = ', '.join(f'"{c}"' for c in COLUMNS)
    op.execute(f'INSERT INTO statements ({names}) SELECT {names} FROM statements_part')
    op.execute('DROP TABLE statements_part CASCADE')
    op.drop_table('statement_ids')
    for name, cols, where in INDEXES[:-1]:
        op.create_index(name, 'statements', cols, unique=False,
                        postgresql_where=sa.text(where) if where else None)
    op.execute(f'ALTER SEQUENCE {sequence} OWNED BY statements.seq')
    for side in ('statement_agents', 'statement_activities'):
        op.create_foreign_key(f'{side}_seq_fkey', side, 'statements', ['seq'], ['seq'], ondelete='CASCADE')
    if sa.inspect(bind).has_table('forward_items'):
        op.create_foreign_key('forward_items_seq_fkey', 'forward_items', 'statements', ['seq'], ['seq'],
                              ondelete='CASCADE')
