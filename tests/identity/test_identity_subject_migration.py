"""Migration 0090 (issue 12, item 4): accounts written with the provider's ``sub`` in clear (a 12-digit
citizen ID, as VNeID may send) are re-keyed by HMAC(issuer, sub) and the clear column is dropped, on
SQLite and PostgreSQL, keeping every binding and face enrolment attached (Decree 13/2023/NĐ-CP
Art. 2.3: the personal identification number is personal data; Personal Data Protection Law 2025).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from hocvu import configs
from hocvu import db as dbops
from hocvu.settings import Settings
from identity.claims import subject_hmac
from identity.stamp import pseudonym_of, pseudonymous_subject
from lrs.storage import Database
from tests.conftest import scratch_pg

PEPPER = b"migration-test-pepper-0123456789abcdef"
ISSUER = "https://vneid.gov.vn"
CITIZEN_SUB = "003192123456"   # a 12-digit citizen ID used as sub (province 003: no real person's)
OTHER_SUB = "demo-0001"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _fresh_sqlite(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'mig.db'}")
    yield database
    database.dispose()


def _fresh_postgresql() -> Iterator[Database]:
    with scratch_pg("mig") as url:
        database = Database(url)
        try:
            yield database
        finally:
            database.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at the identity branch's revision before 0090, with accounts keyed by clear subs,
    a binding and a face enrolment pointing at the citizen-ID one."""
    maker = _fresh_sqlite(tmp_path) if request.param == "sqlite" else _fresh_postgresql()
    database = next(maker)
    dbops.upgrade(database, "0005")
    with database.engine.begin() as conn:
        tenant = conn.execute(sa.text("INSERT INTO tenants (slug, name, created) VALUES ('bo-gd', 'Bộ GD', :t) "
                                      "RETURNING id"), {"t": NOW}).scalar_one()
        ids = []
        for sub, name in ((CITIZEN_SUB, "Nguyễn Thị Minh Thư"), (OTHER_SUB, "Nguyễn Văn An")):
            ids.append(conn.execute(sa.text(
                "INSERT INTO identity_accounts (issuer, subject, full_name, level, created, last_login) "
                "VALUES (:i, :s, :n, 2, :t, :t) RETURNING id"), {"i": ISSUER, "s": sub, "n": name, "t": NOW}
            ).scalar_one())
        conn.execute(sa.text("INSERT INTO identity_bindings (tenant_id, account_id, external_issuer, external_subject, "
                             "created) VALUES (:t, :a, 'https://lms.example.vn', 'hv-17', :c)"),
                     {"t": tenant, "a": ids[0], "c": NOW})
        conn.execute(sa.text("INSERT INTO face_enrolments (account_id, ciphertext, model, detector, consent_at, "
                             "created) VALUES (:a, :x, 'Dlib', 'dlib', :c, :c)"),
                     {"a": ids[0], "x": b"hvfe1-sealed", "c": NOW})
    request.node.account_ids = ids
    yield database
    next(maker, None)


def _columns(database: Database) -> set[str]:
    return {c["name"] for c in sa.inspect(database.engine).get_columns("identity_accounts")}


def _dump(database: Database) -> str:
    meta = sa.MetaData()
    meta.reflect(database.engine)
    with database.engine.connect() as conn:
        return "\n".join(repr(tuple(row)) for table in meta.sorted_tables for row in conn.execute(sa.select(table)))


def test_subjects_become_keyed_hashes(old_db: Database, request: pytest.FixtureRequest) -> None:
    """Decree 13/2023/NĐ-CP Art. 2.3, Art. 3: after the upgrade no table holds the citizen ID used as
    sub; each account is keyed by the HMAC sign-ins compute (identity.claims.subject_hmac, which the
    frozen copy in the migration must equal), and its binding and enrolment still point at it."""
    citizen_id, other_id = request.node.account_ids
    dbops.upgrade(old_db, pepper=PEPPER)
    assert "subject" not in _columns(old_db) and "subject_hmac" in _columns(old_db)
    with old_db.engine.connect() as conn:
        keys: dict[int, str] = dict(conn.execute(sa.text("SELECT id, subject_hmac FROM identity_accounts")).all())
        assert keys == {citizen_id: subject_hmac(PEPPER, ISSUER, CITIZEN_SUB),
                        other_id: subject_hmac(PEPPER, ISSUER, OTHER_SUB)}
        # The stamps already written name the same person: the pseudonym did not change.
        assert pseudonym_of(keys[citizen_id]) == pseudonymous_subject(PEPPER, ISSUER, CITIZEN_SUB)
        assert conn.execute(sa.text("SELECT account_id FROM identity_bindings")).scalar_one() == citizen_id
        assert conn.execute(sa.text("SELECT account_id FROM face_enrolments")).scalar_one() == citizen_id
        if old_db.dialect == "sqlite":
            assert conn.execute(sa.text("PRAGMA foreign_key_check")).all() == []
    dump = _dump(old_db)
    assert "Nguyễn Thị Minh Thư" in dump  # the dump sees the rows
    assert CITIZEN_SUB not in dump and OTHER_SUB not in dump
    with pytest.raises(sa.exc.IntegrityError), old_db.engine.begin() as conn:  # still one account per (iss, sub)
        conn.execute(sa.text("INSERT INTO identity_accounts (issuer, subject_hmac, created, last_login) "
                             "VALUES (:i, :h, :t, :t)"), {"i": ISSUER, "h": keys[citizen_id], "t": NOW})


def test_sqlite_file_keeps_no_copy(tmp_path: Path) -> None:
    """The SQLite file itself (after a checkpoint folds the WAL in) holds none of the old subjects, not
    only its tables (the migration overwrites them, rebuilds the table and zeroes the pages it frees)."""
    database = Database(f"sqlite:///{tmp_path / 'file.db'}")
    dbops.upgrade(database, "0005")
    with database.engine.begin() as conn:
        for n in range(200):  # several pages of rows, so freed pages are really reused or zeroed
            conn.execute(sa.text("INSERT INTO identity_accounts (issuer, subject, level, created, last_login) "
                                 "VALUES (:i, :s, 2, :t, :t)"), {"i": ISSUER, "s": f"003192{n:06d}", "t": NOW})
    with database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = (tmp_path / "file.db").read_bytes()
    assert b"003192000123" in raw  # the detector sees the numbers before
    dbops.upgrade(database, pepper=PEPPER)
    with database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("file.db")]
    leaked = [(p.name, n) for p in files for n in range(200) if f"003192{n:06d}".encode() in p.read_bytes()]
    assert leaked == []


def test_without_the_pepper_nothing_changes(old_db: Database, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    """With accounts to convert and no pepper (neither given, nor HOCVU_VNEID_PEPPER, nor in the instance
    folder) the revision refuses before any change: a wrong or missing key would orphan every account."""
    monkeypatch.delenv("HOCVU_VNEID_PEPPER", raising=False)
    monkeypatch.setenv("HOCVU_INSTANCE_DIR", str(tmp_path / "empty-instance"))
    with pytest.raises(RuntimeError, match="needs the VNeID pepper"):
        dbops.upgrade(old_db)
    assert "subject" in _columns(old_db) and "subject_hmac" not in _columns(old_db)


def test_the_pepper_comes_from_the_instance_folder(old_db: Database, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """The embedded mode keeps its pepper in the instance folder; the migration reads it there (never
    making one), so accounts hash as the running hub's sign-ins will."""
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "vneid_pepper").write_text(PEPPER.decode() + "\n")
    settings = Settings.from_env({"HOCVU_INSTANCE_DIR": str(instance)})
    dbops.upgrade(old_db, pepper=configs.existing_pepper(settings))   # what `hocvu db upgrade` passes
    with old_db.engine.connect() as conn:
        keys = set(conn.execute(sa.text("SELECT subject_hmac FROM identity_accounts")).scalars())
    assert subject_hmac(PEPPER, ISSUER, CITIZEN_SUB) in keys


def test_an_empty_hub_needs_no_pepper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub with no accounts yet (every new install) upgrades without a pepper."""
    monkeypatch.delenv("HOCVU_VNEID_PEPPER", raising=False)
    monkeypatch.setenv("HOCVU_INSTANCE_DIR", str(tmp_path / "none"))
    database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    dbops.upgrade(database)
    assert "subject_hmac" in _columns(database)
    database.dispose()
