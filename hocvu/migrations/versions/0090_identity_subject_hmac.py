"""identity: accounts keyed by HMAC(issuer, sub); the clear subject is dropped

VNeID may use the 12-digit citizen ID as ``sub``, so ``identity_accounts.subject`` could hold it in
clear (Decree 13/2023/NĐ-CP Art. 2.3, Personal Data Protection Law 2025). Each existing row gets
``subject_hmac`` = ``identity.claims.subject_hmac(pepper, issuer, subject)`` (the construction is
copied here, frozen, so later changes to the module cannot change what this revision wrote; a test
pins that both agree), then the clear column is dropped.

The pepper reaches this revision, in order, from:
1. ``config.attributes["vneid_pepper"]`` (``hocvu.db.upgrade(db, pepper=...)``: tests, a caller
   that holds the identity settings);
   ``hocvu db upgrade`` passes ``HOCVU_VNEID_PEPPER``, else the instance folder's ``vneid_pepper``
   file (``hocvu.configs.existing_pepper``: exactly what sign-ins use; never created here).
With accounts to convert and no pepper, the revision stops before changing anything.

Safe on both backends: every hash is computed before the first DDL (pysqlite runs a DDL statement
that opens no transaction on its own, so a failure must come first); the clear values are
overwritten before the column is dropped; SQLite rebuilds the table (batch mode) with foreign keys
off in one explicit transaction, checked before commit (bindings and enrolments reference the
accounts' ids, which the copy keeps)
and ``secure_delete`` on, so freed pages are zeroed; PostgreSQL rewrites the table, so neither the
dropped column nor dead tuples linger in its heap file.
Extends the identity branch (0005).

Revision ID: 0090
Revises: 0005
Create Date: 2026-12-07 09:00:00.000000
"""
import hashlib
import hmac
from typing import Literal

import sqlalchemy as sa
from alembic import context, op

from hocvu.migrations.tenant_keys import sqlite_rebuild

revision = '0090'
down_revision = '0005'
branch_labels = None
depends_on = None

_PREFIX = b"hocvu/stamp/subject|"  # identity.claims.SUBJECT_HMAC_PREFIX at this revision


def _subject_hmac(pepper: bytes, issuer: str, subject: str) -> str:
    message = f"{len(issuer)}:{issuer}|{subject}".encode()
    return hmac.new(pepper, _PREFIX + message, hashlib.sha256).hexdigest()


def _pepper() -> bytes:
    pepper = context.config.attributes.get("vneid_pepper")
    if not isinstance(pepper, bytes) or len(pepper) < 16:
        raise RuntimeError(
            "migration 0090 needs the VNeID pepper to hash the subjects of existing identity accounts: "
            "set HOCVU_VNEID_PEPPER (or HOCVU_INSTANCE_DIR to the folder holding vneid_pepper) as the hub "
            "runs with, then run `hocvu db upgrade` again. Nothing was changed.")
    return pepper


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, issuer, subject FROM identity_accounts")).all()
    hashes = {}
    if rows:
        pepper = _pepper()
        hashes = {row.id: _subject_hmac(pepper, row.issuer, row.subject) for row in rows}
    if bind.dialect.name == "sqlite":
        with sqlite_rebuild(bind, revision, secure_delete=True):
            _rekey(bind, hashes, recreate="always")
        return
    _rekey(bind, hashes, recreate="auto")
    if bind.dialect.name == "postgresql":
        # A USING expression that is not the bare column makes PostgreSQL write the table anew
        # (ALTER TABLE docs, "Notes"): old tuple versions and the dropped column's data go with the
        # old file at commit.
        op.execute("ALTER TABLE identity_accounts ALTER COLUMN subject_hmac TYPE varchar(64) "
                   "USING lower(subject_hmac)")


def _rekey(bind: sa.engine.Connection, hashes: dict[int, str], recreate: Literal["auto", "always"]) -> None:
    with op.batch_alter_table('identity_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_hmac', sa.String(length=64), nullable=True))
    table = sa.table('identity_accounts', sa.column('id', sa.Integer()), sa.column('subject', sa.String()),
                     sa.column('subject_hmac', sa.String()))
    for account_id, digest in hashes.items():
        # The clear value is overwritten too, before the column goes: no copy of it survives in a
        # reused SQLite page nor in a PostgreSQL dead tuple.
        bind.execute(table.update().where(table.c.id == account_id).values(subject_hmac=digest, subject=digest))
    with op.batch_alter_table('identity_accounts', schema=None, recreate=recreate) as batch_op:
        batch_op.drop_constraint('uq_identity_accounts_issuer_subject', type_='unique')
        batch_op.drop_column('subject')
        batch_op.alter_column('subject_hmac', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint('uq_identity_accounts_subject_hmac', ['subject_hmac'])


def downgrade() -> None:
    # The clear subjects are gone by design; a downgraded hub would key accounts by the hash, so the
    # next sign-in of each person would make a new account. Refused rather than done silently wrong.
    raise RuntimeError("0090 cannot be undone: the clear subjects it replaced were deleted on purpose")
