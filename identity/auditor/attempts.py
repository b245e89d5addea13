"""What an auditor asks and sees of identity-assured attempts (``AttemptQuery``, ``Attempt`` and its
checks and statements), and the small parsers the HTTP layer and the CLI share. The reading is
``identity.auditor.queries``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import schemas
from lrs.audit.chain import iso
from lrs.errors import BadRequest

MAX_SCAN: Final = 5000
MAX_LIMIT: Final = 200
PROBLEMS: Final = ("unverified", "failed_checks", "signature_invalid")
VERIFIED: Final = "verified"  # identity.stamp.VERIFIED


@dataclass(frozen=True)
class AttemptQuery:
    tenant: str | None = None         # a tenant's slug; None: every tenant
    course: str | None = None         # an activity IRI: attempts at quizzes under it
    since: datetime | None = None     # checks stored at or after (UTC)
    until: datetime | None = None     # checks stored before (UTC)
    problems: frozenset[str] = frozenset()  # any of PROBLEMS; empty: every attempt
    after: tuple[int, int] | None = None    # the cursor: (tenant id, seq) of the last check read
    limit: int = 50
    max_scan: int = MAX_SCAN

    def filters(self) -> dict[str, Any]:
        """The query as JSON (the access log, the page's links): no cursor."""
        return {"tenant": self.tenant, "course": self.course, "since": iso(self.since) if self.since else None,
                "until": iso(self.until) if self.until else None, "problems": sorted(self.problems)}


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

    @property
    def failed(self) -> bool:
        return self.success is not True or self.outcome != "match"


@dataclass
class StatementAudit:
    statement_id: str
    seq: int
    verb: str
    timestamp: str
    stored: str
    voided: bool
    stamped: bool
    outcome: str | None               # the stamp's outcome, None when unstamped
    signature: str                    # valid | invalid | missing (stamped, unsigned) | unsigned
    signature_detail: str | None
    chain: str                        # included | altered | missing
    chain_position: int | None
    checkpointed: bool                # a signed checkpoint covers the entry


@dataclass
class Attempt:
    tenant_id: int
    tenant: str
    registration: str
    session_id: str
    activity: str | None              # the quiz (the checks' parent activity)
    course: str | None                # the course grouping it, when the statements name one
    subject: str | None               # the learner's pseudonym
    level: int | None
    outcome: str                      # the latest stamp's outcome ("unverified" without one)
    started: str
    ended: str
    checks: list[FaceCheck]
    statements: list[StatementAudit]
    anchor: int = 0                   # seq of the check it is listed at (the cursor)

    @property
    def failed_checks(self) -> int:
        return sum(c.failed for c in self.checks)

    @property
    def signatures_invalid(self) -> int:
        return sum(s.signature in ("invalid", "missing") for s in self.statements)

    @property
    def chain_problems(self) -> int:
        return sum(s.chain != "included" for s in self.statements)

    def problems(self) -> set[str]:
        found = set()
        if self.outcome != VERIFIED:
            found.add("unverified")
        if self.failed_checks:
            found.add("failed_checks")
        if self.signatures_invalid:
            found.add("signature_invalid")
        return found

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("anchor")
        data.update(failed_checks=self.failed_checks, signatures_invalid=self.signatures_invalid,
                    chain_problems=self.chain_problems, problems=sorted(self.problems()))
        return data


@dataclass
class AttemptPage:
    attempts: list[Attempt]
    cursor: tuple[int, int] | None          # where the next page starts; None: no more
    tenants_read: list[int] = field(default_factory=list)  # whose data this page read (the access log)


# --- small parsers the HTTP layer and the CLI share ------------------------------------------------


def parse_bound(text: str, name: str, *, upper: bool = False) -> datetime:
    """An ISO 8601 date (midnight UTC; as an upper bound, the whole day) or date-time (UTC when it
    names no offset)."""
    text = text.strip()
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            return moment + timedelta(days=1) if upper else moment
        return schemas.parse_timestamp(text).astimezone(UTC)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date or date-time, not {text!r}") from None


def encode_cursor(cursor: tuple[int, int] | None) -> str:
    return f"{cursor[0]}.{cursor[1]}" if cursor else ""


def decode_cursor(text: str) -> tuple[int, int]:
    tenant, sep, seq = text.partition(".")
    if not (sep and tenant.isdigit() and seq.isdigit()):
        raise BadRequest(f"the page cursor looks like '3.1042', not {text!r}")
    return int(tenant), int(seq)


def problems_from(values: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(v for v in values if v)
    unknown = sorted(chosen - set(PROBLEMS))
    if unknown:
        raise BadRequest(f"unknown problem filter(s) {', '.join(unknown)}; choose from {', '.join(PROBLEMS)}")
    return chosen

