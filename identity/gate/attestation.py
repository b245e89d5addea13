"""The gate's attestation of statements it may not stamp: those an assessed cmi5 AU sends itself.

The quiz's statements are written by the hub, so the gate stamps and signs each (``identity.gate
.sealing``). An AU of an imported course posts its own statements to the LRS, and the LRS may not
change them: it sets only ``id``, ``stored``, ``authority`` and ``version`` (xAPI 1.0.3 Part Two
§2.4 / xAPI 2.0 §4.2.1 "The LRS shall not modify a Statement"), and a signed statement the AU sent
must stay as signed (xAPI 1.0.3 Part Two §2.6). So the hub writes, in the same transaction as each
AU statement of an assured session, one *attestation* statement of its own:

- actor: the AU statement's actor (the learner); verb ``ATTEST_VERB``;
- object: a ``StatementRef`` to the AU statement (xAPI 1.0.3 Part Two §2.4.4.3 "Statement
  References"), so a query for the AU's statements also returns their attestations (§2.1.3
  ``statementId`` filters and StatementRefs);
- ``context.registration`` and the cmi5 ``sessionid`` extension of the session (cmi5 §9.6.3.1),
  so the sealer stamps it (``identity.stamp``: who was verified, how, when) and signs it with the
  hub's key (xAPI 1.0.3 Part Two §2.6 / xAPI 2.0 §4.2.6), and the auditor groups it with the attempt;
- ``context.extensions[EXT_ATTESTS]``: ``{"statement": <id>, "sha256": <hash>}``, where the hash is
  the audit chain's content hash (``lrs.audit.chain.content_hash``: SHA-256 of the canonical JSON of
  the statement as stored, with the ``stored``/``authority``/``version`` the LRS gave it).

An auditor proves "who made this statement" offline: the attestation's JWS verifies with the hub's
certificate (``verify_covers``), its stamp names the verified learner, and the AU statement as the
LRS returns it hashes to the attested value; a statement altered after it was stored no longer does.
A re-sent AU statement (an idempotent retry) is attested once: the writer looks for an attestation
the hub itself stored (no credential) with that StatementRef. Its id is random, not derived from the
covered statement's: a client that could predict it could store a statement under it first and keep
the hub's attestation out.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from identity.stamp_guard import signed_by_trusted
from lrs.audit.chain import content_hash

ATTEST_VERB: Final = "https://hocvu.vn/xapi/verbs/attested"
EXT_ATTESTS: Final = "https://hocvu.vn/xapi/extensions/attests"
SESSION_EXT: Final = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"  # cmi5 §9.6.3.1


def attestation(tenant_id: int, covered: Mapping[str, Any], registration: str, session_id: str,
                now: datetime) -> dict[str, Any]:
    """The (unsigned, unstamped) attestation of ``covered``, an AU statement as stored; the sealer
    stamps and signs it when it is written."""
    return {
        "id": str(uuid.uuid4()),
        "actor": covered["actor"],
        "verb": {"id": ATTEST_VERB, "display": {"vi": "đã xác thực danh tính cho", "en-US": "attested"}},
        "object": {"objectType": "StatementRef", "id": covered["id"]},
        "context": {"registration": registration,
                    "extensions": {SESSION_EXT: session_id,
                                   EXT_ATTESTS: {"statement": covered["id"], "sha256": content_hash(dict(covered))}}},
        "timestamp": now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
    }


def attested(statement: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``{"statement", "sha256"}`` an attestation carries, or None when it is none."""
    if (statement.get("verb") or {}).get("id") != ATTEST_VERB:
        return None
    ctx = statement.get("context")
    ext = ctx.get("extensions") if isinstance(ctx, dict) else None
    value = ext.get(EXT_ATTESTS) if isinstance(ext, dict) else None
    if not isinstance(value, dict) or not isinstance(value.get("statement"), str) \
            or not isinstance(value.get("sha256"), str):
        return None
    return value


def verify_covers(attestation_st: Mapping[str, Any], signatures: Sequence[bytes], certificates: Sequence[bytes],
                  covered: Mapping[str, Any]) -> str | None:
    """None when ``attestation_st`` is signed by the hub (one of ``signatures`` verifies with one of
    ``certificates``, xAPI 1.0.3 Part Two §2.6) and covers ``covered`` as it is now; else why not."""
    claim = attested(attestation_st)
    if claim is None:
        return "it is not an attestation"
    obj = attestation_st.get("object") or {}
    if str(obj.get("id", "")).lower() != str(covered.get("id", "")).lower() \
            or claim["statement"].lower() != str(covered.get("id", "")).lower():
        return "it attests another statement"
    problem = signed_by_trusted(attestation_st, signatures, certificates)
    if problem is not None:
        return problem
    if claim["sha256"] != content_hash(dict(covered)):
        return "the statement was altered after it was attested (its content hash differs)"
    return None
