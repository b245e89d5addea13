"""Opening AU sessions and the one-time fetch (cmi5 §8.2): what the LMS calls, Flask-free.

The fetch token is 256 random bits kept only as its SHA-256; redeeming it once makes an LRS
credential whose key starts with ``rules.KEY_PREFIX`` and whose scopes are what an AU needs
(statements, its State and Agent Profile documents), limited by ``rules`` to the session's actor,
registration and session id. A second redemption is refused (cmi5 §8.2.3's error JSON).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.cmi5.rules import KEY_PREFIX
from lrs.cmi5.storage import ENDED, LAUNCHED, Cmi5Session
from lrs.credentials import hash_secret
from lrs.identifiers import actor_key
from lrs.storage import Credential, as_utc

AU_SCOPES = ["statements/write", "statements/read/mine", "state", "profile"]


class FetchRefused(Exception):
    """cmi5 §8.2.3: the token was used already, or never issued; ``code`` is the spec's error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def body(self) -> dict[str, Any]:
        # cmi5 §8.2.3: {"error-code": "1"|"2"|"3", "error-text": ...}
        return {"error-code": str(self.code), "error-text": self.message}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(db: Session, *, tenant_id: int, actor: dict[str, Any], registration: str, course_iri: str,
                 au_iri: str, package_key: str, launch_mode: str, move_on: str, mastery_score: float | None,
                 now: datetime, ttl: timedelta, opener: dict[str, Any],
                 session_id: str | None = None) -> tuple[Cmi5Session, str]:
    """A new AU session in state ``launched`` and its one-time fetch token. ``session_id``: one the
    LMS chose beforehand (an identity gate's, whose check statements already carry it), else a new one."""
    token = secrets.token_urlsafe(32)
    row = Cmi5Session(tenant_id=tenant_id, session_id=session_id or str(uuid.uuid4()), registration=registration,
                      actor=actor, actor_key=actor_key(actor), course_iri=course_iri, au_iri=au_iri,
                      package_key=package_key,
                      launch_mode=launch_mode, move_on=move_on, mastery_score=mastery_score,
                      fetch_hash=_digest(token), credential_id=None, state=LAUNCHED, launched=now,
                      expires=now + ttl, failed=False, prefs_read=False, opener=opener)
    db.add(row)
    db.flush()
    return row, token


def redeem(db: Session, token: str, now: datetime) -> tuple[Cmi5Session, str]:
    """The session of ``token`` and a fresh ``Basic`` auth token for it; FetchRefused on reuse."""
    row = db.scalars(select(Cmi5Session).where(Cmi5Session.fetch_hash == _digest(token))
                     .with_for_update()).first()
    if row is None:
        # Used tokens are forgotten (their hash cleared), so reuse and forgery look the same.
        raise FetchRefused(1, "this fetch URL was already used or was never issued")
    if now > as_utc(row.expires) or row.state in ENDED:
        raise FetchRefused(2, "the AU session of this fetch URL has ended")
    secret = secrets.token_urlsafe(32)
    key = KEY_PREFIX + secrets.token_hex(16)
    cred = Credential(tenant_id=row.tenant_id, key=key, secret_hash=hash_secret(secret),
                      name=f"cmi5 AU session {row.session_id}", scopes=list(AU_SCOPES),
                      authority={"objectType": "Agent", "name": "cmi5 AU session",
                                 "account": {"homePage": "https://hocvu.vn/credentials", "name": key}},
                      created=now, revoked=None)
    db.add(cred)
    db.flush()
    row.credential_id, row.fetch_hash = cred.id, None
    return row, base64.b64encode(f"{key}:{secret}".encode()).decode()


def open_sessions(db: Session, tenant_id: int, registration: str, au_iri: str | None = None) -> list[Cmi5Session]:
    """Sessions not yet terminated or abandoned (of one AU, or of the whole registration)."""
    q = select(Cmi5Session).where(Cmi5Session.tenant_id == tenant_id, Cmi5Session.registration == registration,
                                  Cmi5Session.state.not_in(ENDED))
    if au_iri is not None:
        q = q.where(Cmi5Session.au_iri == au_iri)
    return list(db.scalars(q.with_for_update()))


def end(db: Session, row: Cmi5Session, state: str, now: datetime) -> None:
    """Mark ``row`` terminated or abandoned. Its credential stays valid until it expires, so a late
    statement is answered with the cmi5 rule it breaks (403), not a bare 401."""
    row.state, row.ended, row.fetch_hash = state, now, None
    db.flush()
