"""player: every key of the player's tables leads with tenant_id (issue 17, item 5b)

So the schema can be distributed by tenant on Citus (a distributed table's unique and foreign keys
must include the distribution column; tests/test_tenant_keys.py):

* PostgreSQL only: the primary keys of player_quiz_attempts, player_assurances, player_synced_ops
  and player_scorm_attempts become (tenant_id, id); `id` keeps its sequence, so inserts are as
  before. player_assurances' foreign key to its attempt becomes (tenant_id, attempt_id) ->
  player_quiz_attempts (tenant_id, id), still NO ACTION; an assurance can no longer name another
  tenant's attempt. SQLite keeps `INTEGER PRIMARY KEY` (its autoincrement needs it alone) and the
  single-column foreign key.
* Both databases: the unique keys (open_key), (session_id), (pending_key), (attempt_id) become
  (tenant_id, ...). open_key and pending_key already name the tenant, session_id is a uuid4, and
  attempt ids are one sequence: no rows that were distinct collide, none that collided become distinct
  within a tenant. SQLite rebuilds the two tables with foreign keys off, since player_assurances
  refers to player_quiz_attempts (see 0090).

Each new primary key's unique index is built first and then becomes the key (USING INDEX,
hocvu.migrations.tenant_keys): on a large store build them beforehand without blocking writes, e.g.
`CREATE UNIQUE INDEX CONCURRENTLY player_quiz_attempts_tenant_key ON player_quiz_attempts (tenant_id, id)`,
and likewise for the other three tables. The unique keys' new indexes are built in the revision.
Extends the player branch (0085). Written by hand to match the models (player.storage,
player.packages.scorm_storage, identity.storage.AttemptAssurance).

Revision ID: 0212
Revises: 0085
Create Date: 2026-12-07 19:00:00
"""

from alembic import op

from hocvu.migrations.tenant_keys import SURROGATE, lead_with_tenant, restore, sqlite_rebuild

revision = '0212'
down_revision = '0085'
branch_labels = None
depends_on = None

KEYS = {t: SURROGATE for t in ('player_quiz_attempts', 'player_assurances', 'player_synced_ops',
                               'player_scorm_attempts')}
# table -> {unique constraint: its column}; each is (column) before and (tenant_id, column) after.
UNIQUE = {'player_quiz_attempts': {'uq_player_quiz_attempts_open_key': 'open_key'},
          'player_assurances': {'uq_player_assurances_session_id': 'session_id',
                                'uq_player_assurances_pending_key': 'pending_key',
                                'uq_player_assurances_attempt_id': 'attempt_id'}}
OLD_FK = 'player_assurances_attempt_id_fkey'  # PostgreSQL's name for 0009's unnamed key
NEW_FK = 'fk_player_assurances_attempt'


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        _postgresql(tenant_keyed=True)
    else:
        _sqlite(tenant_keyed=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        _postgresql(tenant_keyed=False)
    else:
        _sqlite(tenant_keyed=False)


def _postgresql(*, tenant_keyed: bool) -> None:
    lead = 'tenant_id, ' if tenant_keyed else ''
    # The attempts' primary key cannot be replaced while a foreign key depends on it.
    op.execute(f'ALTER TABLE player_assurances DROP CONSTRAINT {OLD_FK if tenant_keyed else NEW_FK}')
    if tenant_keyed:
        lead_with_tenant(KEYS)
    else:
        restore(KEYS)
    for table, keys in UNIQUE.items():
        changes = ', '.join(f'DROP CONSTRAINT {name}, ADD CONSTRAINT {name} UNIQUE ({lead}{column})'
                            for name, column in keys.items())
        op.execute(f'ALTER TABLE {table} {changes}')
    if tenant_keyed:
        op.execute(f'ALTER TABLE player_assurances ADD CONSTRAINT {NEW_FK} FOREIGN KEY (tenant_id, attempt_id) '
                   'REFERENCES player_quiz_attempts (tenant_id, id)')
    else:
        op.execute(f'ALTER TABLE player_assurances ADD CONSTRAINT {OLD_FK} FOREIGN KEY (attempt_id) '
                   'REFERENCES player_quiz_attempts (id)')


def _sqlite(*, tenant_keyed: bool) -> None:
    with sqlite_rebuild(op.get_bind(), revision):
        for table, keys in UNIQUE.items():
            with op.batch_alter_table(table, schema=None) as batch_op:
                for name, column in keys.items():
                    batch_op.drop_constraint(name, type_='unique')
                    batch_op.create_unique_constraint(name, ['tenant_id', column] if tenant_keyed else [column])

