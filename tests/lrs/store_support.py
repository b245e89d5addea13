"""A fresh PostgreSQL store for tests that write through the hub's own store (lrs.statements.store)
rather than over HTTP: migrated, with one tenant and an all-scopes credential."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hocvu import db as dbops
from lrs import credentials
from lrs.credentials import Principal
from lrs.storage import Database
from tests.conftest import scratch_pg


@contextmanager
def migrated_store(label: str, slug: str) -> Iterator[tuple[Database, Principal]]:
    """A new database (dropped on exit), migrated, and the principal of tenant ``slug``'s credential."""
    with scratch_pg(label) as url:
        db = Database(url)
        try:
            dbops.upgrade(db)
            with db.session() as s:
                tenant = credentials.create_tenant(s, slug, slug.capitalize())
                cred, _secret = credentials.create_credential(s, tenant, "bulk", ["all"])
                principal = Principal(cred.id, tenant.id, cred.key, frozenset(cred.scopes), cred.authority)
                s.commit()
            yield db, principal
        finally:
            db.dispose()
