"""What an auditor should look at twice (issue 12, item 5): signals computed for each attempt, beside its
problems (unverified, failed checks, signature invalid). Each is a flag on the pages, a member of the
JSON and a CSV column, and a filter (``identity.auditor.queries.PROBLEMS``).

``several_lms_accounts``
    The VNeID account behind the attempt's stamp is linked to more than one learner account of the same
    tenant (``identity_bindings``). The gate allows it (one person may have two accounts in one LMS, or an
    LMS may re-create an account), but it is also what a person taking quizzes for others looks like, on
    their own VNeID account and face: the second LMS account goes straight to the face check against the
    first one's enrolment. Computed now, so older attempts of the first account are flagged too once a
    second one is linked.
``repeated_failures``
    At least ``AssurancePolicy.repeated_failures`` (default 3) checks of the attempt saw a face that was
    not the learner's (``no_match``), several faces (``several_faces``, someone beside the learner) or
    no live person doing the challenge (``not_live``: a photo, a print, a screen, a recording).
    ``no_face`` and ``unreadable`` are not counted: bad light or a camera hiccup say nothing about who
    sat there. Why 3: on the held-out test faces every genuine pair matched (30/30, README), so a genuine
    learner's ``no_match`` comes from poor conditions, a few per cent of checks at worst; three in one
    attempt (a handful of checks) is then around a one-in-a-thousand event, while someone trying photos
    or prints until one passes produces a string of them. Each failed check is already visible; this
    flag is for the pattern.
``matches_other_learner``
    A check's face did not match the learner's enrolment but matched another learner's enrolment in the
    tenant (``identity.gate.crossmatch``, recorded in the signed check statement): someone else sat the
    check, and the hub knows whose face it was (by pseudonym).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy.orm import Session

from identity import storage as identity_storage
from identity.gate.face import EXT_FACE_CHECK
from identity.stamp import subject_hmac_of
from lrs.storage import Statement

SIGNALS: Final = ("several_lms_accounts", "repeated_failures", "matches_other_learner")
# Outcomes that say something about who was in front of the camera (see the module docstring).
SUSPICIOUS_OUTCOMES: Final = frozenset({"no_match", "several_faces", "not_live"})
DEFAULT_REPEATED_FAILURES: Final = 3  # identity.settings.AssurancePolicy.repeated_failures


@dataclass
class FaceCheck:
    statement_id: str
    time: str                   # the check's statement timestamp
    kind: str | None            # "initial" (the gate) or "recheck"
    outcome: str | None         # face_check's outcome: match, no_match, no_face, ...
    success: bool | None        # result.success: the face matched
    distance: float | None
    threshold: float | None
    metric: str | None = None
    model: str | None = None
    # Another learner's enrolment the face matched (identity.gate.crossmatch): pseudonyms, nearest first.
    matches_others: list[str] = field(default_factory=list)
    others_compared: int | None = None   # enrolments compared (None: no comparison was made)
    # How the face was shown live: the challenge method, "none" (a photo), None (not said: before 0100).
    liveness: str | None = None
    liveness_result: str | None = None   # the liveness decision: "passed", "static", "planar", ...
    assurance: str | None = None         # face-liveness, face-photo, none (identity.stamp.ASSURANCE_*)

    @property
    def failed(self) -> bool:
        if self.kind == "supervised":  # an in-person check (identity.gate.supervised): no face to match
            return self.success is not True or self.outcome != "supervised"
        return self.success is not True or self.outcome != "match"

    @property
    def suspicious(self) -> bool:
        return self.outcome in SUSPICIOUS_OUTCOMES


def _number(detail: dict[str, Any], key: str) -> float | None:
    value = detail.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def face_check(row: Statement) -> FaceCheck:
    """A face-check statement (``identity.gate.face.check_statement``) as the auditor reads it."""
    result = row.full.get("result") or {}
    detail = (result.get("extensions") or {}).get(EXT_FACE_CHECK) or {}
    detail = detail if isinstance(detail, dict) else {}
    others = detail.get("otherEnrolments")
    others = others if isinstance(others, dict) else {}
    matches = [m["subject"] for m in others.get("matches") or []
               if isinstance(m, dict) and isinstance(m.get("subject"), str)]
    compared = others.get("compared")
    success = result.get("success")
    liveness = detail.get("liveness")
    method, decision = (liveness.get("method"), liveness.get("reason")) if isinstance(liveness, dict) else (
        liveness if isinstance(liveness, str) else None, None)
    assurance = detail.get("assurance")
    return FaceCheck(row.statement_id, str(row.full.get("timestamp", "")), detail.get("kind"), detail.get("outcome"),
                     success if isinstance(success, bool) else None, _number(detail, "distance"),
                     _number(detail, "threshold"), detail.get("metric"), detail.get("model"), matches,
                     compared if isinstance(compared, int) and not isinstance(compared, bool) else None,
                     method if isinstance(method, str) else None, decision if isinstance(decision, str) else None,
                     assurance if isinstance(assurance, str) else None)


@dataclass
class Signals:
    """An attempt's signals (see the module docstring)."""

    lms_accounts: int = 0              # learner accounts of the tenant linked to the VNeID account
    suspicious_failures: int = 0       # checks with a no_match, several_faces or not_live outcome
    repeated_at: int = DEFAULT_REPEATED_FAILURES
    matched_others: list[str] = field(default_factory=list)  # pseudonyms, each once, in check order

    def flags(self) -> set[str]:
        found = set()
        if self.lms_accounts > 1:
            found.add("several_lms_accounts")
        if self.suspicious_failures >= self.repeated_at:
            found.add("repeated_failures")
        if self.matched_others:
            found.add("matches_other_learner")
        return found

    def as_dict(self) -> dict[str, Any]:
        return {"lms_accounts": self.lms_accounts, "suspicious_failures": self.suspicious_failures,
                "repeated_failures_at": self.repeated_at, "matched_other_learners": list(self.matched_others)}


def signals_for(session: Session, tenant_id: int, subject: str | None, checks: list[FaceCheck],
                repeated_at: int = DEFAULT_REPEATED_FAILURES) -> Signals:
    """The signals of one attempt of ``tenant_id`` whose stamp names ``subject``, with its ``checks``:
    one indexed count of bindings, the rest from the statements already read."""
    key = subject_hmac_of(subject) if subject else None
    linked = identity_storage.linked_learners(session, tenant_id, key) if key else 0
    others: list[str] = []
    for check in checks:
        others += [s for s in check.matches_others if s not in others]
    return Signals(linked, sum(c.suspicious for c in checks), repeated_at, others)
