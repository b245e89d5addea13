"""Every primary, unique and foreign key of the migrated PostgreSQL schema starts with tenant_id, so
the schema can be distributed by tenant on Citus (issue 17, item 5b; Citus "Distributing by tenant
ID": a distributed table's unique constraints must include the distribution column, and foreign
keys between distributed tables must include it too).

The exceptions are listed with a reason, REFERENCE: tables that are not per tenant (or are read
before the tenant is known). On Citus they become reference tables, replicated to every node; a
foreign key from a distributed table to a reference table is allowed, so such keys need no tenant_id
either. A new table or key must lead with tenant_id, or be argued here.
"""

from __future__ import annotations

from typing import Final

import pytest
from sqlalchemy import text

from hocvu.db import load_models
from lrs.storage import Base, Database

pytestmark = pytest.mark.postgres

REFERENCE: Final = {
    "alembic_version": "Alembic's own bookkeeping, one row",
    "tenants": "the tenants themselves: the distribution key's own table",
    "credentials": "looked up by key before the tenant is known (HTTP Basic carries no tenant); small",
    "national_credentials": "cross-tenant auditors and analysts: belong to no tenant",
    "credential_issuer_keys": "the hub's signing keys for learner credentials, one set for the hub",
    "lti_tool_keys": "the LTI tool's own signing keys, one set for the hub",
    "lti_launch_state": "an OIDC login's state, looked up by its key before the platform (and tenant) is known",
    "lti_registrations": "looked up by (issuer, client_id) on every launch before the tenant is known",
    "identity_accounts": "a citizen's VNeID account spans tenants (the national tenant and ministries)",
    "face_enrolments": "one per identity account (a reference table's child)",
    "forward_gaps": "the forwarder's scan bookkeeping over the global statement sequence, one set for the hub",
    "forward_horizon": "the forwarder's scan bookkeeping over the global statement sequence, one row",
    "identity_challenges": "a liveness challenge belongs to a VNeID account, which spans tenants (identity_accounts)",
    "player_packages": "the national course catalogue's imported packages, shared by every tenant",
}

KEYS = text("""
SELECT c.conrelid::regclass::text AS tbl, c.conname, c.contype,
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(att, ord)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.att) AS cols,
       c.confrelid::regclass::text AS target
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE n.nspname = current_schema() AND c.contype IN ('p', 'u', 'f') AND c.conparentid = 0
ORDER BY 1, 2
""")


def test_every_key_leads_with_tenant_id(postgresql_app) -> None:  # type: ignore[no-untyped-def]
    """Citus distribution by tenant: PK, unique and FK keys start with tenant_id, except as argued above."""
    db: Database = postgresql_app.extensions["hocvu.db"]
    with db.engine.connect() as conn:
        keys = conn.execute(KEYS).all()
    assert keys, "the migrated schema has no keys?"
    offending = sorted({f"{k.tbl}.{k.conname} {k.cols}" for k in keys
                        if k.cols[0] != "tenant_id" and k.tbl not in REFERENCE
                        and not (k.contype == "f" and k.target in REFERENCE)})
    assert not offending, f"keys that do not lead with tenant_id (Citus cannot distribute them by tenant): {offending}"
    tables = {k.tbl for k in keys}
    assert not set(REFERENCE) - tables, "an exception names a table the schema does not have"


def test_every_model_identity_leads_with_tenant_id() -> None:
    """The ORM's identity of every per-tenant model leads with tenant_id, as the PostgreSQL key does:
    the ORM's own UPDATE/DELETE of a changed object and ``session.get`` then name the tenant, so
    they use the key's index (by id alone they could not: a sequential scan) and reach one shard
    on Citus."""
    load_models()
    wrong = sorted(f"{m.local_table.name} {[c.name for c in m.primary_key]}" for m in Base.registry.mappers
                   if m.local_table.name not in REFERENCE and m.primary_key[0].name != "tenant_id")
    assert not wrong, f"models whose ORM identity does not lead with tenant_id (__mapper_args__): {wrong}"
