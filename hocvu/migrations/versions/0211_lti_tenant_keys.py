"""lti_tool: every key of the per-tenant LTI tables leads with tenant_id (issue 17, item 5b)

So the store can be distributed by tenant on Citus, whose distributed tables' unique and foreign keys
must include the distribution column (tests/test_tenant_keys.py checks the migrated schema):
- lti_deployments and lti_proctoring_controls get a tenant_id (NOT NULL, a key to tenants), filled
  from their registration and session (a registration never changes tenant); the code sets it on
  every insert;
- the unique keys lead with tenant_id, on both databases. The invite's token_hash becomes unique per
  tenant (its link names the tenant, and the page looks it up by both); so does the proctoring
  session's public_id, with a plain index, since its pages look it up before the tenant is known
  (a query to every shard on Citus; the reasoning is in lti_tool.storage);
- PostgreSQL only: the primary keys become (tenant_id, id) (`id` keeps its sequence, so inserts do not
  change; SQLite's autoincrement needs `INTEGER PRIMARY KEY` alone), and the control's key to its
  session becomes (tenant_id, session_id) -> (tenant_id, id), still ON DELETE CASCADE.
Keys to lti_registrations stay single-column: it is a reference table, read by (issuer, client_id)
before the tenant is known.

SQLite rebuilds the changed tables (batch mode) with foreign keys off, in one explicit transaction
checked by foreign_key_check before commit: with them on, dropping the old lti_proctoring_sessions
would delete its controls (ON DELETE CASCADE), as 0090 explains for identity_accounts.
Extends the lti_tool branch (0030).

Revision ID: 0211
Revises: 0030
Create Date: 2026-12-07 19:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from hocvu.migrations.tenant_keys import sqlite_rebuild, swap_primary_key

revision = '0211'
down_revision = '0030'
branch_labels = None
depends_on = None

TABLES = ('lti_deployments', 'lti_registration_invites', 'lti_score_outbox', 'lti_proctoring_sessions',
          'lti_proctoring_controls', 'lti_resource_links')
# (child, parent, the child's key to it): the tables that get a tenant_id, from their parent's.
CHILDREN = (('lti_deployments', 'lti_registrations', 'registration_id'),
            ('lti_proctoring_controls', 'lti_proctoring_sessions', 'session_id'))
# (table, name before, columns before, name after): the new key is tenant_id + the old columns.
# The unnamed ones of 0003 and 0011 carry PostgreSQL's default names; SQLite's are matched to them
# by NAMING below.
UNIQUES = (
    ('lti_deployments', 'uq_lti_deployments_reg_dep', ['registration_id', 'deployment_id'],
     'uq_lti_deployments_reg_dep'),
    ('lti_registration_invites', 'lti_registration_invites_token_hash_key', ['token_hash'],
     'uq_lti_registration_invites_token'),
    ('lti_proctoring_sessions', 'lti_proctoring_sessions_public_id_key', ['public_id'],
     'uq_lti_proctoring_sessions_public_id'),
    ('lti_proctoring_sessions', 'uq_lti_proctoring_sessions_attempt',
     ['registration_id', 'deployment_id', 'sub', 'resource_link_id', 'attempt_number'],
     'uq_lti_proctoring_sessions_attempt'),
    ('lti_resource_links', 'uq_lti_resource_links_link', ['registration_id', 'deployment_id', 'resource_link_id'],
     'uq_lti_resource_links_link'),
)
# The look-ups by a random value before the tenant is known (no longer served by a unique key).
INDEXES = (('lti_proctoring_sessions', 'ix_lti_proctoring_sessions_public_id', ['public_id']),)
# Batch mode reflects SQLite's unnamed unique keys under PostgreSQL's default name.
NAMING = {"uq": "%(table_name)s_%(column_0_name)s_key"}
CONTROL_FK = 'lti_proctoring_controls_session_id_fkey'
CONTROL_TENANT_FK = 'lti_proctoring_controls_tenant_id_session_id_fkey'


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        with sqlite_rebuild(bind, revision):
            _upgrade_both()
        return
    _upgrade_both()
    if bind.dialect.name == 'postgresql':
        _upgrade_postgresql_keys()


def _upgrade_both() -> None:
    for child, parent, key in CHILDREN:
        with op.batch_alter_table(child, schema=None) as batch_op:
            batch_op.add_column(sa.Column('tenant_id', sa.Integer(), nullable=True))
        op.execute(f"UPDATE {child} SET tenant_id = "
                   f"(SELECT p.tenant_id FROM {parent} p WHERE p.id = {child}.{key})")
        with op.batch_alter_table(child, schema=None) as batch_op:
            batch_op.alter_column('tenant_id', existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(f'{child}_tenant_id_fkey', 'tenants', ['tenant_id'], ['id'])
    for table, old, columns, new in UNIQUES:
        with op.batch_alter_table(table, schema=None, naming_convention=NAMING) as batch_op:
            batch_op.drop_constraint(old, type_='unique')
            batch_op.create_unique_constraint(new, ['tenant_id', *columns])
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def _upgrade_postgresql_keys() -> None:
    # The control's key names the session's primary key: it goes first, and comes back composite.
    op.execute(f"ALTER TABLE lti_proctoring_controls DROP CONSTRAINT {CONTROL_FK}")
    for table in TABLES:
        swap_primary_key(table, ('tenant_id', 'id'))
    op.execute(f"ALTER TABLE lti_proctoring_controls ADD CONSTRAINT {CONTROL_TENANT_FK} "
               "FOREIGN KEY (tenant_id, session_id) REFERENCES lti_proctoring_sessions (tenant_id, id) "
               "ON DELETE CASCADE")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute(f"ALTER TABLE lti_proctoring_controls DROP CONSTRAINT {CONTROL_TENANT_FK}")
        for table in TABLES:
            swap_primary_key(table, ('id',))
        op.execute(f"ALTER TABLE lti_proctoring_controls ADD CONSTRAINT {CONTROL_FK} "
                   "FOREIGN KEY (session_id) REFERENCES lti_proctoring_sessions (id) ON DELETE CASCADE")
    if bind.dialect.name == 'sqlite':
        with sqlite_rebuild(bind, revision):
            _downgrade_both()
        return
    _downgrade_both()


def _downgrade_both() -> None:
    for table, name, _ in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    for table, old, columns, new in UNIQUES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(new, type_='unique')
            batch_op.create_unique_constraint(old, columns)
    for child, _, _ in CHILDREN:
        with op.batch_alter_table(child, schema=None) as batch_op:
            batch_op.drop_constraint(f'{child}_tenant_id_fkey', type_='foreignkey')
            batch_op.drop_column('tenant_id')

