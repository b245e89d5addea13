"""`hocvu lake archive` on the embedded database: SQLite's statements are one table (no monthly
partitions, lrs.partitions), so there is no month to archive and the command says so."""

from __future__ import annotations

from flask import Flask

from tests.lrs.audit.test_audit_chain import _hub, cli


def test_archiving_needs_postgresql(sqlite_only_app: Flask, tmp_path: object) -> None:
    code, out = cli(sqlite_only_app, "lake", "archive", "2026-01", "--to", str(tmp_path), "--cert", str(_hub()[2]))
    assert code == 1 and "archiving needs PostgreSQL" in out, out
