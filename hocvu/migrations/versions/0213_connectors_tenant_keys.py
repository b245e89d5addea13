"""connectors: learner_records', forward_targets' and forward_items' keys lead with tenant_id, so the
tables can be distributed by tenant on Citus (issue 17, item 5b; tests/test_tenant_keys.py).

- learner_records, forward_targets: on PostgreSQL the primary key becomes (tenant_id, id); `id` keeps
  its sequence, so inserts do not change. SQLite keeps (id) (its autoincrement needs INTEGER PRIMARY KEY).
- forward_items gets `tenant_id` (its target's, backfilled here; connectors.forwarding sets it on
  insert), and its primary key becomes (tenant_id, target_id, seq) on both databases (the forwarder's
  ON CONFLICT names one key on both). On PostgreSQL its foreign key to its target becomes
  (tenant_id, target_id) -> forward_targets (tenant_id, id), still ON DELETE CASCADE; SQLite keeps
  (target_id) -> forward_targets (id), the key forward_targets has there.

Revision ID: 0213
Revises: 0200
Create Date: 2026-12-07 19:00:00
"""
from alembic import op

from hocvu.migrations.tenant_keys import swap_primary_key
import sqlalchemy as sa

revision = '0213'
down_revision = '0200'
branch_labels = None
depends_on = None

BACKFILL = ('UPDATE forward_items SET tenant_id = forward_targets.tenant_id FROM forward_targets '
            'WHERE forward_targets.id = forward_items.target_id')
SINGLE_FK = 'forward_items_target_id_fkey'
COMPOSITE_FK = 'forward_items_tenant_id_target_id_fkey'


def _upgrade_postgresql() -> None:
    # The target's key is what the old foreign key stands on: it goes first.
    op.drop_constraint(SINGLE_FK, 'forward_items', type_='foreignkey')
    swap_primary_key('learner_records', ('tenant_id', 'id'))
    swap_primary_key('forward_targets', ('tenant_id', 'id'))
    op.add_column('forward_items', sa.Column('tenant_id', sa.Integer(), nullable=True))
    op.execute(BACKFILL)
    op.alter_column('forward_items', 'tenant_id', nullable=False)
    op.create_foreign_key('forward_items_tenant_id_fkey', 'forward_items', 'tenants', ['tenant_id'], ['id'])
    swap_primary_key('forward_items', ('tenant_id', 'target_id', 'seq'))
    op.create_foreign_key(COMPOSITE_FK, 'forward_items', 'forward_targets', ['tenant_id', 'target_id'],
                          ['tenant_id', 'id'], ondelete='CASCADE')


def _sqlite_items(tenant: bool) -> None:
    """SQLite alters no key in place: forward_items is made anew (as 0007 made it, with or without
    tenant_id), the rows copied over, and it takes the old one's place."""
    keys = ['tenant_id', 'target_id', 'seq'] if tenant else ['target_id', 'seq']
    op.create_table(
        'forward_items_new',
        *([sa.Column('tenant_id', sa.Integer(), sa.ForeignKey('tenants.id'), nullable=False)] if tenant else []),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('next_attempt', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['seq'], ['statements.seq'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['target_id'], ['forward_targets.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint(*keys),
    )
    columns = 'target_id, seq, state, attempts, reason, next_attempt, updated'
    if tenant:  # each item takes its target's tenant
        op.execute(f'INSERT INTO forward_items_new (tenant_id, {columns}) SELECT forward_targets.tenant_id, '
                   f'{", ".join("forward_items." + c for c in columns.split(", "))} FROM forward_items '
                   'JOIN forward_targets ON forward_targets.id = forward_items.target_id')
    else:
        op.execute(f'INSERT INTO forward_items_new ({columns}) SELECT {columns} FROM forward_items')
    op.drop_index('ix_forward_items_due', table_name='forward_items')
    op.drop_table('forward_items')
    op.rename_table('forward_items_new', 'forward_items')
    op.create_index('ix_forward_items_due', 'forward_items', ['target_id', 'state', 'next_attempt'], unique=False)


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        _upgrade_postgresql()
    else:
        _sqlite_items(tenant=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        _sqlite_items(tenant=False)
        return
    op.drop_constraint(COMPOSITE_FK, 'forward_items', type_='foreignkey')
    swap_primary_key('forward_items', ('target_id', 'seq'))
    op.drop_column('forward_items', 'tenant_id')
    swap_primary_key('forward_targets', ('id',))
    swap_primary_key('learner_records', ('id',))
    op.create_foreign_key(SINGLE_FK, 'forward_items', 'forward_targets', ['target_id'], ['id'], ondelete='CASCADE')
