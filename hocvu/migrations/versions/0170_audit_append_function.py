"""audit: append a tenant's chain entries in one statement on PostgreSQL (issue 17 item 1)

``hocvu_audit_append(tenant, entries, recorded)`` locks the tenant's head (creating it at genesis,
as lrs.audit.chain.lock_head does), chains the entries on it, inserts them and moves the head, all
in the one statement, and returns each entry's position and hash with the head's checkpoint before
the append. The head's lock is taken by that statement and held only from there to the commit.

The hub still writes the hashed text: each entry comes as the JCS text of its fields split around
the position (``prefix``, ``suffix``; lrs.audit.chain.entry_text_parts), so the function does only
entry_hash = SHA-256(prev_hash ‖ prefix ‖ position ‖ suffix), the chain's definition
(lrs.audit.chain), on UTF-8 (the hub uses it only on a UTF8 database). SQLite keeps the hub's path.

Revision ID: 0170
Revises: 0006
Create Date: 2026-12-07 10:30:00.000000
"""
from alembic import op

revision = '0170'
down_revision = '0006'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION hocvu_audit_append(p_tenant integer, p_entries json, p_recorded timestamptz)
RETURNS TABLE (o_position bigint, o_entry_hash text, o_checkpoint_position bigint, o_checkpoint_time timestamptz)
LANGUAGE plpgsql AS $fn$
DECLARE
    head record;
    e record;
    pos bigint;
    prev text;
    positions bigint[] := '{}';
    prevs text[] := '{}';
    hashes text[] := '{}';
BEGIN
    INSERT INTO audit_heads AS a (tenant_id, position, entry_hash, checkpoint_position, checkpoint_time)
    VALUES (p_tenant, 0, repeat('0', 64), 0, p_recorded)
    ON CONFLICT (tenant_id) DO UPDATE SET position = a.position
    RETURNING a.position, a.entry_hash, a.checkpoint_position, a.checkpoint_time INTO head;
    pos := head.position;
    prev := head.entry_hash;
    FOR e IN SELECT x.prefix, x.suffix FROM json_to_recordset(p_entries) AS x(ord integer, prefix text, suffix text)
             ORDER BY x.ord LOOP
        pos := pos + 1;
        positions := positions || pos;
        prevs := prevs || prev;
        prev := encode(sha256(convert_to(prev || e.prefix || pos::text || e.suffix, 'UTF8')), 'hex');
        hashes := hashes || prev;
    END LOOP;
    INSERT INTO audit_entries (tenant_id, position, kind, statement_id, content_hash, detail, recorded,
                               prev_hash, entry_hash)
    SELECT p_tenant, positions[x.ord], x.kind, x.statement_id, x.content_hash, x.detail, p_recorded,
           prevs[x.ord], hashes[x.ord]
    FROM json_to_recordset(p_entries) AS x(ord integer, kind text, statement_id text, content_hash text, detail json);
    UPDATE audit_heads SET position = pos, entry_hash = prev WHERE tenant_id = p_tenant;
    RETURN QUERY SELECT positions[i], hashes[i], head.checkpoint_position, head.checkpoint_time
                 FROM generate_subscripts(positions, 1) AS i ORDER BY i;
END
$fn$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS hocvu_audit_append(integer, json, timestamptz)")
