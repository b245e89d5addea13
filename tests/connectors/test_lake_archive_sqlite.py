"""`hocvu lake archive` on the embedded database: SQLite's statements are one table (no monthly
partitions, lrs.partitions), so there is no month to archive and the command says so."""

from __future__ import annotations

import json

from flask import Flask

from tests.conftest import new_credential
from tests.lrs.audit.test_audit_chain import _hub, cli


def test_archiving_needs_postgresql(sqlite_only_app: Flask, tmp_path: object) -> None:
    code, out = cli(sqlite_only_app, "lake", "archive", "2026-01", "--to", str(tmp_path), "--cert", str(_hub()[2]))
    assert code == 1 and "archiving needs PostgreSQL" in out, out


def test_issue_17_item_2_archive_erasure_on_sqlite_is_a_clear_no_op(sqlite_only_app: Flask, tmp_path: object) -> None:
    """Nothing is archived on SQLite, so an erasure records nothing pending (it behaves as before)
    and `hocvu lake erase` says why it has nothing to do."""
    code, out = cli(sqlite_only_app, "lake", "erase", "--archive", str(tmp_path))
    assert code == 0 and "archives are PostgreSQL-only" in out, out
    slug = new_credential(sqlite_only_app, ["all"])[0]
    code, out = cli(sqlite_only_app, "audit", "erase", "--tenant", slug, "--agent", '{"mbox": "mailto:lan@example.vn"}',
                    "--yes", "--json", "--archive", str(tmp_path))
    assert code == 0 and "archived_months_pending" not in json.loads(out), out
