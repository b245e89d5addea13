"""statements: a small request stored, chained and committed by one statement on PostgreSQL (issue 17 item 1)

``hocvu_append_committing`` ends the one statement of ``lrs.pg_one_trip``, which the hub sends on a
connection in autocommit mode: the statement is then the whole transaction, so it must refuse,
before anything of it is kept, whatever the hub would have done next in a transaction of its own.
It raises SQLSTATE HU001 (an unassigned class; the hub then stores the request the usual way) when

* not every statement of the request was new (a re-sent id: the hub compares it, and rolls the
  request back on a conflict),
* an Activity definition of the request is new or would change the stored one (the hub merges and
  writes those under row locks, lrs.activity_definitions),
* a checkpoint of the audit chain is due at the new head (the hub signs it, with a key the database
  does not hold, in the same transaction as the entries: lrs.audit.chain).

Otherwise it appends the entries with ``hocvu_audit_append`` (migration 0170) and returns its rows.

Revision ID: 0190
Revises: 0170
Create Date: 2026-12-07 14:00:00.000000
"""
from alembic import op

revision = '0190'
down_revision = '0170'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION hocvu_append_committing(
    p_stored bigint, p_sent integer, p_definitions_kept boolean, p_tenant integer, p_entries json,
    p_recorded timestamptz, p_checkpoint_every bigint, p_checkpoint_minutes double precision)
RETURNS TABLE (o_position bigint, o_entry_hash text, o_checkpoint_position bigint, o_checkpoint_time timestamptz)
LANGUAGE plpgsql AS $fn$
DECLARE
    a record;
    last_position bigint;
    cp_position bigint;
    cp_time timestamptz;
BEGIN
    IF p_stored <> p_sent THEN
        RAISE EXCEPTION 'hocvu: a statement of the request was stored before' USING ERRCODE = 'HU001';
    END IF;
    IF NOT p_definitions_kept THEN
        RAISE EXCEPTION 'hocvu: the request defines an Activity anew' USING ERRCODE = 'HU001';
    END IF;
    FOR a IN SELECT * FROM hocvu_audit_append(p_tenant, p_entries, p_recorded) LOOP
        o_position := a.o_position;
        o_entry_hash := a.o_entry_hash;
        o_checkpoint_position := a.o_checkpoint_position;
        o_checkpoint_time := a.o_checkpoint_time;
        last_position := a.o_position;
        cp_position := a.o_checkpoint_position;
        cp_time := a.o_checkpoint_time;
        RETURN NEXT;
    END LOOP;
    -- The hub's rule (lrs.audit.chain._checkpoint_if_due); NULL: the hub signs no checkpoints.
    IF p_checkpoint_every IS NOT NULL AND last_position > cp_position
       AND (last_position - cp_position >= p_checkpoint_every
            OR p_recorded - cp_time >= p_checkpoint_minutes * interval '1 minute') THEN
        RAISE EXCEPTION 'hocvu: an audit checkpoint is due' USING ERRCODE = 'HU001';
    END IF;
END
$fn$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS hocvu_append_committing(bigint, integer, boolean, integer, json, "
                   "timestamptz, bigint, double precision)")
