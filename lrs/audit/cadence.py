"""Holding a chain to its checkpoint cadence: signed checkpoints may not be missing for longer
than the policy that makes them allows (issue 13 case 6).

Why only the chain's end counts as a failure. A checkpoint signs one entry hash, and every entry
hash chains over all the entries before it, so the *latest* checkpoint vouches for the whole chain
up to it: an entry altered anywhere before it (and the chain recomputed) contradicts that
signature, whether or not the checkpoints in between are still there. What a checkpoint-less
intruder with database access can do is rewrite what comes *after* the latest checkpoint they
leave standing, and delete the later ones. That leaves a tail of entries longer (in count, or in
age) than the hub ever lets go unsigned: ``check`` fails the chain then, naming the positions that
lack a checkpoint. A long stretch between two checkpoints is reported (``gaps``), not failed: the
later checkpoint covers it, and it has innocent causes (a batch signed before checkpoints were made
inside batches, an unreadable key for a while). Deleted checkpoints anywhere are proved by an
external witness (``lrs.audit.witness``).

The rule: the entries after the latest checkpoint number at most ``every + grace_entries``, and the
oldest of them was recorded at most ``minutes + grace_minutes`` ago. The cadence and its grace
come from the settings (HOCVU_AUDIT_CHECKPOINT_EVERY/_MINUTES, HOCVU_AUDIT_VERIFY_GRACE_ENTRIES/
_MINUTES); a hub that checkpoints as configured (on append, and from cron with `hocvu audit
checkpoint` for quiet tenants) always keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.audit.chain import iso
from lrs.storage import AuditCheckpoint, AuditEntry, as_utc


@dataclass(frozen=True)
class Cadence:
    every: int  # entries between checkpoints (HOCVU_AUDIT_CHECKPOINT_EVERY)
    minutes: float  # minutes between checkpoints while entries wait (HOCVU_AUDIT_CHECKPOINT_MINUTES)
    grace_entries: int  # HOCVU_AUDIT_VERIFY_GRACE_ENTRIES
    grace_minutes: float  # HOCVU_AUDIT_VERIFY_GRACE_MINUTES
    now: datetime  # when the verification runs

    @property
    def max_entries(self) -> int:
        return self.every + self.grace_entries

    @property
    def max_age(self) -> timedelta:
        return timedelta(minutes=self.minutes + self.grace_minutes)


@dataclass(frozen=True)
class Missing:
    """Why the chain's end breaks the cadence, and from which position."""

    reason: str
    position: int


def gaps(positions: list[int], cadence: Cadence) -> list[tuple[int, int]]:
    """Stretches (first, last position) between two checkpoints longer than the cadence allows."""
    found, before = [], 0
    for position in sorted(positions):
        if position - before > cadence.max_entries:
            found.append((before + 1, position))
        before = position
    return found


def check(session: Session, tenant_id: int, entries: int, last_checkpoint: int, cadence: Cadence) -> Missing | None:
    """The tail rule of the module docstring, over a chain of ``entries`` whose latest checkpoint
    is at ``last_checkpoint`` (0: none)."""
    waiting = entries - last_checkpoint
    if waiting <= 0:
        return None
    first = last_checkpoint + 1
    where = (f"positions {first}..{entries} ({waiting} entries) have no signed checkpoint"
             + (f" after the latest one, at position {last_checkpoint}" if last_checkpoint else ""))
    hint = ("checkpoints were deleted, or the hub could not sign them (see its log; `hocvu audit checkpoint` "
            "signs the head)")
    if waiting > cadence.max_entries:
        return Missing(f"checkpoints missing: {where}, more than the cadence allows (one every {cadence.every} "
                       f"entries + {cadence.grace_entries} of grace): {hint}", first)
    recorded = session.scalar(select(AuditEntry.recorded).where(AuditEntry.tenant_id == tenant_id,
                                                                AuditEntry.position == first))
    if recorded is not None and cadence.now - as_utc(recorded) > cadence.max_age:
        return Missing(f"checkpoints missing: {where}; the oldest was recorded {iso(recorded)}, longer ago than the "
                       f"cadence allows ({cadence.minutes:g} minutes + {cadence.grace_minutes:g} of grace): {hint}",
                       first)
    return None


def checkpoint_positions(session: Session, tenant_id: int) -> list[int]:
    return list(session.scalars(select(AuditCheckpoint.position).where(AuditCheckpoint.tenant_id == tenant_id)
                                .order_by(AuditCheckpoint.position)))
