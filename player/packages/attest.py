"""The hub's attestation of an assessed AU's own statements (``identity.gate.attestation``), run by
the LRS in the transaction that stores them (``lrs.cmi5.rules.add_batch_listener``).

A batch from an AU session whose session id is an identity gate's (the AU was launched through the
gate: ``player.packages.gate``) gets one attestation per statement, written by the player with the
sealer, which stamps and signs it like the quiz's statements. Sessions of AUs that are not assessed
have no gate row and pass untouched; so do statements already attested (an idempotent re-send).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.gate.attestation import ATTEST_VERB, attestation
from identity.gate.domain import assurance_for
from lrs.cmi5.rules import add_batch_listener
from lrs.cmi5.storage import Cmi5Session
from lrs.storage import Statement
from player.statements import SEALER_KEY, Sealer, write

log = logging.getLogger(__name__)
SealerSource = Callable[[], Sealer | None]
_sealers: list[SealerSource] = []


def init_attestation(sealer: SealerSource) -> None:
    """Start attesting; ``sealer`` gives the identity gate's sealer (None: the gate is not set up)."""
    _sealers[:] = [sealer]
    add_batch_listener(on_au_batch)


def arm_sealer(db: Session) -> Sealer | None:
    """Put the sealer in the database session's info (``player.statements.write`` reads it there), so
    what the LMS writes in the AU's transaction (satisfied, cmi5 §9.3.9) is sealed too; returns it."""
    sealer: Sealer | None = db.info.get(SEALER_KEY) or (_sealers[0]() if _sealers else None)
    if sealer is not None:
        db.info[SEALER_KEY] = sealer
    return sealer


def on_au_batch(db: Session, row: Cmi5Session, statements: list[dict[str, Any]]) -> None:
    gate = assurance_for(db, row.tenant_id, row.session_id)
    if gate is None or not statements:
        return  # not an assessed AU's session
    sealer = arm_sealer(db)
    if sealer is None:
        # Without the hub's key the attestation would prove nothing; the auditor shows the AU's
        # statements as unattested, which is the truth.
        log.error("AU session %s is identity-assured but the hub has no sealer: not attested", row.session_id)
        return
    wanted = {str(st["id"]).lower(): st for st in statements if (st.get("verb") or {}).get("id") != ATTEST_VERB}
    # Attested already (a re-send): by the hub itself (no credential), never by whoever else wrote one.
    done = {str(i).lower() for i in db.scalars(select(Statement.object_statement_id).where(
        Statement.tenant_id == row.tenant_id, Statement.verb_id == ATTEST_VERB, Statement.credential_id.is_(None),
        Statement.object_statement_id.in_(list(wanted))))}
    now = datetime.now(UTC)
    out = [attestation(row.tenant_id, st, row.registration, row.session_id, now)
           for sid, st in wanted.items() if sid not in done]
    if out:
        write(db, row.tenant_id, out, sealer=sealer)
