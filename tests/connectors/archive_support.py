"""A hub for the archive scenarios (lake archive, erasure through archives, rollups of archived
months): its own PostgreSQL database, the hub's signing key from files (so the CLI, run as another
process, signs with the same key), a checkpoint every 4 entries, and a partition for every month
from ``since`` (each scenario moves its statements into a month of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from hocvu import db as dbops
from hocvu.app import create_app
from hocvu.settings import Settings
from lrs import partitions
from lrs.storage import Database
from tests.conftest import scratch_pg
from tests.lrs.audit.test_audit_chain import _hub


@contextmanager
def archive_hub(name: str, since: date, instance: Path) -> Iterator[dict[str, Any]]:
    """{"app", "db", "key", "cert", "instance"}: the key and certificate files, the instance folder."""
    with scratch_pg(name) as url:
        database = Database(url)
        dbops.upgrade(database)
        _, key, cert = _hub()
        app = create_app(Settings.of(database_url=url, secret_key="test-secret", signing_key_file=key,
                                     signing_cert_file=cert, checkpoint_every=4, instance_dir=instance), db=database)
        with database.engine.begin() as conn:
            partitions.ensure(conn, since=since)
        try:
            yield {"app": app, "db": database, "key": key, "cert": cert, "instance": instance}
        finally:
            database.dispose()
