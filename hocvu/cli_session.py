"""What every ``hocvu`` command module shares: a database session per command, and output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from hocvu.attachments import blob_store
from hocvu.settings import Settings
from lrs.audit.archive_erasure import ARCHIVE_KEY_KEY, archive_key
from lrs.blobs import BLOBS_KEY
from lrs.errors import XapiError
from lrs.storage import Database


@contextmanager
def cli_session(info: dict[str, Any] | None = None, *,
                errors: tuple[type[Exception], ...] = ()) -> Iterator[Session]:
    """A session on HOCVU_DATABASE_URL, committed when the command succeeds. A domain error becomes
    click's error (its message, exit status 1), not a traceback. ``info``: what every session of
    this database carries (e.g. the audit chain's checkpoint policy); ``errors``: more error classes
    that carry a ``message`` for the person at the terminal (a package's own errors)."""
    settings = Settings.from_env()
    database = Database(settings.database_url)
    # Every command's sessions find the attachment store (lrs.blobs) and the archive erasure key
    # (lrs.audit.archive_erasure), as the web processes' do; the key read only by an erasure that needs it.
    database.sessions.configure(info={BLOBS_KEY: blob_store(settings),
                                      ARCHIVE_KEY_KEY: lambda: archive_key(settings.secret_key), **(info or {})})
    session = database.session()
    caught: tuple[type[Exception], ...] = (XapiError, *errors)
    try:
        yield session
        session.commit()
    except caught as err:
        session.rollback()
        raise click.ClickException(getattr(err, "message", str(err))) from None
    finally:
        session.close()
        database.dispose()


def chain_policy() -> dict[str, Any]:
    """The sessions' ``info`` of a command that writes the audit chain: it checkpoints with the
    hub's key on the hub's cadence, as the web processes do (`hocvu audit verify` holds every chain
    to that cadence, lrs.audit.cadence)."""
    from hocvu.app import audit_policy
    from lrs.audit.chain import POLICY_KEY

    return {POLICY_KEY: audit_policy(Settings.from_env())}


def emit(as_json: bool, data: Any, text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else text)
