"""What the hub's attestations (``identity.gate.attestation``) prove about an attempt's AU statements:
each statement an assessed cmi5 AU sent itself is marked on its ``StatementAudit``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from identity.gate.attestation import attested, verify_covers
from lrs.cmi5.rules import KEY_PREFIX as CMI5_KEY_PREFIX
from lrs.comparison import SIGNATURE_USAGE_TYPE
from lrs.storage import Statement

if TYPE_CHECKING:
    from identity.auditor.queries import StatementAudit


def signature_hashes(full: Mapping[str, Any]) -> list[str]:
    """The ``sha2`` of each signature attachment of a statement (xAPI 1.0.3 Part Two §2.6)."""
    return [a["sha2"] for a in full.get("attachments") or []
            if isinstance(a, dict) and a.get("usageType") == SIGNATURE_USAGE_TYPE and isinstance(a.get("sha2"), str)]


def mark_attestations(group: list[Statement], audits: list[StatementAudit], tokens: dict[str, bytes],
                      certificates: Sequence[bytes]) -> None:
    """Mark each AU statement of the attempt with what its attestation proves (``StatementAudit.attestation``)."""
    by_covered: dict[str, list[Statement]] = {}
    for row in group:
        claim = attested(row.full)
        if claim is not None:
            by_covered.setdefault(claim["statement"].lower(), []).append(row)
    if not by_covered:
        return
    for row, audit in zip(group, audits, strict=True):
        if attested(row.full) is not None or audit.signature != "unsigned":
            continue  # the hub's own statements prove themselves by their signature
        found = by_covered.get(row.statement_id.lower())
        if not found:
            # Only what the AU sent (its session's credential) awaits an attestation; the hub's own
            # unsigned statements (an abandon by the CLI sweep, which holds no key) are just unsigned.
            if _sent_by_au(row.full):
                audit.attestation = "missing"
            continue
        problems = [verify_covers(a.full, [tokens[h] for h in signature_hashes(a.full) if h in tokens],
                                  certificates, row.full) for a in found]
        if any(p is None for p in problems):
            audit.attestation = "attested"
        else:
            audit.attestation = "altered" if any(p and "altered" in p for p in problems) else "invalid"


def _sent_by_au(full: Mapping[str, Any]) -> bool:
    account = (full.get("authority") or {}).get("account") or {}
    return isinstance(account, dict) and str(account.get("name", "")).startswith(CMI5_KEY_PREFIX)
