"""Does a face that failed the check belong to another learner of the tenant? (issue 12, auditor signal
"matches another learner's enrolment").

When a check sees one face that is not the learner's own enrolment (``no_match``), the probe (a burst's
mean frontal aligned embedding, which the liveness decision made already; a fallback photo's aligned
embedding) is compared with the enrolments of the other VNeID accounts linked to a learner of the same
tenant: the most recent ``AssurancePolicy.cross_match_max`` of them. A match (at or under the band's
accept edge, ``face_check.calibration.Band``) goes into the check's statement
(``result.extensions[EXT_FACE_CHECK].otherEnrolments``), signed
and chained with it, where the auditor pages read it; the learner is told nothing more than "no match".

Privacy (Decree 13/2023/NĐ-CP Art. 3: processed only for the purpose consented to, identity
verification; Personal Data Protection Law 2025): only sealed embeddings are stored; each is opened here
in memory with the face key, compared and dropped; no picture and no probe embedding is kept, and the
other learners are named only by their pseudonyms. Enrolments are national, so "of the tenant" means of
the accounts the tenant's learners linked (``identity_bindings``).

Cost: no further pass of the face model for a burst (its mean embedding is reused), then per
enrolment an AES-GCM open, a JSON parse and one distance: 0.29 ms each measured on a 2-core machine
under load (2000 in 0.58 s), so ~0.3 s for the default limit of 1000. Only ``no_match`` checks pay it,
one per request: the learner waits that much longer to hear "no match", nobody else waits. A tenant with
more enrolments than the limit gets its most recent ones compared and ``truncated`` says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.orm import Session

from identity import storage as identity_storage
from identity.stamp import pseudonym_of

if TYPE_CHECKING:
    from face_check.verification import Embedding
    from identity.gate.face import AssuranceConfig

REPORTED: Final = 3   # nearest matches named in the statement: enough to act on, not a list of learners


@dataclass(frozen=True)
class CrossMatch:
    """What one comparison found: how many enrolments were compared (``truncated``: the tenant has more
    than the limit), the nearest matches as (pseudonym, distance), and the time it took."""

    compared: int
    limit: int
    truncated: bool
    matches: tuple[tuple[str, float], ...]
    unreadable: int = 0      # enrolments that no longer open (another model or key): skipped
    ms: float = 0.0

    def detail(self) -> dict[str, Any]:
        """The ``otherEnrolments`` member of the check statement's face-check extension."""
        return {"compared": self.compared, "limit": self.limit, "truncated": self.truncated,
                "matches": [{"subject": s, "distance": d} for s, d in self.matches]}


def cross_match(db: Session, cfg: AssuranceConfig, *, tenant_id: int, account_id: int,
                probe: Embedding) -> CrossMatch | None:
    """Compare the aligned embedding ``probe`` with the tenant's other enrolments (see the module
    docstring). None when switched off (``cross_match_max`` 0)."""
    from face_check.calibration import aligned_distance
    from face_check.errors import EmbeddingInvalid

    limit = cfg.policy.cross_match_max
    if limit <= 0:
        return None
    started = time.perf_counter()
    band = cfg.face().band
    rows = identity_storage.tenant_enrolments(db, tenant_id, exclude_account=account_id, limit=limit + 1)
    found: list[tuple[str, float]] = []
    unreadable = 0
    for _account, subject_hmac, ciphertext in rows[:limit]:
        subject = pseudonym_of(subject_hmac)
        try:
            distance = aligned_distance(cfg.open_enrolment(subject, ciphertext), probe)
        except EmbeddingInvalid:  # another key, or a reference of the old single-photo pipeline
            unreadable += 1
            continue
        if distance <= band.accept:
            found.append((subject, round(distance, 6)))
    found.sort(key=lambda m: m[1])
    compared = min(len(rows), limit) - unreadable
    return CrossMatch(compared, limit, len(rows) > limit, tuple(found[:REPORTED]), unreadable,
                      (time.perf_counter() - started) * 1000)
