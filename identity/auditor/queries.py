"""What a national auditor reads: identity-assured attempts, their checks, signatures and chain
inclusion (issue 5, item 2). Flask-free; ``identity.auditor.http`` serves it.

An *attempt* is what the course player seals: the statements of one tenant that share a cmi5 session
id (cmi5 §9.6.3.1, context extension ``sessionid``) and a registration, stamped with the identity
stamp (``identity.stamp``) and signed by the hub (``identity.signing``). Each face check is a
statement of the attempt (verb ``CHECK_VERB``, ``result.extensions[EXT_FACE_CHECK]``); the gate's
first check is written before the attempt starts, so every attempt has one. Those IRIs are the
course player's (``identity.gate.face``; identity may not import lti_tool, a test pins them).

For each attempt: the learner's pseudonym (the stamp's ``subject``: never a name or a citizen ID),
the VNeID identification level and outcome of its latest stamp, each face check (time, outcome,
distance, threshold), and per statement whether its JWS verifies with the hub's certificate
(against the statement as stored, as ``identity.signing.verify_stamped`` does) and whether its
audit-chain entry exists with the statement's canonical hash (``lrs.audit.chain``).

Finding attempts stays on indexes: face-check statements are read per tenant in ``seq`` order on
``ix_statements_tenant_verb_seq`` (tenant, verb, seq), optionally bounded by ``stored`` (the period)
and by the check's object id (the course: the check's object is ``<quiz activity id>/identity-check``);
each new attempt's statements come by registration (``ix_statements_tenant_registration_seq``).
An attempt is listed once, at its first check that passes the filters; the page cursor is the
(tenant id, seq) of the last check read. The problem filters (unverified, failed checks, signature
invalid) select attempts having *any* of the ticked problems; as they are computed, a page may
hold fewer attempts than asked, and a scan stops after ``max_scan`` checks with a cursor to go on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from identity.auditor.attestations import mark_attestations, signature_hashes
from identity.auditor.signals import DEFAULT_REPEATED_FAILURES, SIGNALS, FaceCheck, Signals, face_check, signals_for
from identity.gate.face import CHECK_VERB
from identity.stamp import stamp_of
from identity.stamp_guard import signed_by_trusted
from lrs.audit.archived import ArchivedStatement
from lrs.audit.chain import content_hash, iso
from lrs.blobs import attachments as attachment_store
from lrs.errors import BadRequest, NotFound
from lrs.storage import AuditCheckpoint, AuditEntry, Statement, Tenant
from schemas.cmi5 import EXT_SESSION

BATCH: Final = 200
MAX_SCAN: Final = 5000
MAX_LIMIT: Final = 200
# Problems of the record itself, then the signals about who made it (identity.auditor.signals).
# "supervised": checked in person by an instructor (identity.gate.supervised), a lower assurance level.
# "photo_only": a photo matched without liveness (the accessibility fallback, issue 12): a lower level.
PROBLEMS: Final = ("unverified", "failed_checks", "signature_invalid", "supervised", "photo_only", *SIGNALS)
VERIFIED: Final = "verified"  # identity.stamp.VERIFIED
SUPERVISED: Final = "supervised"  # identity.stamp.SUPERVISED
PHOTO_ONLY: Final = "photo-only"  # identity.stamp.PHOTO_ONLY
OUTCOMES: Final = (VERIFIED, SUPERVISED, PHOTO_ONLY)  # the stamp's outcomes kept as they are


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
    repeated_failures: int = DEFAULT_REPEATED_FAILURES  # AssurancePolicy.repeated_failures

    def filters(self) -> dict[str, Any]:
        """The query as JSON (the access log, the page's links): no cursor."""
        return {"tenant": self.tenant, "course": self.course, "since": iso(self.since) if self.since else None,
                "until": iso(self.until) if self.until else None, "problems": sorted(self.problems)}


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
    # An assessed package AU's own statement (which the hub may not stamp): "attested" when a hub-signed
    # attestation covers it as stored (identity.gate.attestation), "altered" when one covers it but its
    # content hash differs, "invalid" when the covering attestation does not verify, "missing" when the
    # attempt has attestations but none for this unsigned statement; None where it does not apply.
    attestation: str | None = None


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
    outcome: str                      # the latest stamp's: verified, supervised, photo-only, else "unverified"
    started: str
    ended: str
    checks: list[FaceCheck]
    statements: list[StatementAudit]
    signals: Signals = field(default_factory=Signals)
    anchor: int = 0                   # seq of the check it is listed at (the cursor)
    # The latest stamp's assurance level (face-liveness, face-photo, supervised, none) and liveness (the
    # challenge method and its result, or "none" for a photo); None in stamps older than issue 12's.
    assurance: str | None = None
    liveness: str | None = None
    liveness_result: str | None = None

    @property
    def failed_checks(self) -> int:
        return sum(c.failed for c in self.checks)

    @property
    def signatures_invalid(self) -> int:
        return sum(s.signature in ("invalid", "missing") for s in self.statements)

    @property
    def attestations_broken(self) -> int:
        return sum(s.attestation in ("altered", "invalid", "missing") for s in self.statements)

    @property
    def chain_problems(self) -> int:
        return sum(s.chain != "included" for s in self.statements)

    def problems(self) -> set[str]:
        found = set()
        if self.outcome not in OUTCOMES:
            found.add("unverified")
        if self.outcome == SUPERVISED:
            found.add("supervised")
        if self.outcome == PHOTO_ONLY:
            found.add("photo_only")
        if self.failed_checks:
            found.add("failed_checks")
        if self.signatures_invalid or self.attestations_broken:
            found.add("signature_invalid")
        return found | self.signals.flags()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("anchor")
        data["signals"] = self.signals.as_dict()
        data.update(failed_checks=self.failed_checks, signatures_invalid=self.signatures_invalid,
                    attestations_broken=self.attestations_broken,
                    chain_problems=self.chain_problems, problems=sorted(self.problems()))
        return data


@dataclass
class AttemptPage:
    attempts: list[Attempt]
    cursor: tuple[int, int] | None          # where the next page starts; None: no more
    tenants_read: list[int] = field(default_factory=list)  # whose data this page read (the access log)


# --- reading ---------------------------------------------------------------------------------------


def _as_utc(moment: datetime) -> datetime:
    # ``stored`` is written in UTC; SQLite keeps it without its offset, so bounds go in as UTC too.
    return moment.astimezone(UTC)


def _session_id(full: dict[str, Any]) -> str | None:
    ext = (full.get("context") or {}).get("extensions")
    value = ext.get(EXT_SESSION) if isinstance(ext, dict) else None
    return value if isinstance(value, str) else None


def signature_tokens(session: Session, tenant_id: int,
                     rows: Iterable[Statement | ArchivedStatement]) -> dict[str, bytes]:
    """The stored JWS of each signature attachment of ``rows``, by ``sha2``."""
    hashes = {h for r in rows for h in signature_hashes(r.full)}
    # Through the blob store, bytes verified; missing or altered ones are left out, so the pages and
    # bundles show that signature as absent (a failed check) rather than fail whole.
    return {p.sha2: p.body for p in attachment_store.load(session, tenant_id, hashes, skip_bad=True)}


def _course_prefix(course: str) -> str:
    return course.rstrip("/") + "/"


def _matches(row: Statement, q: AttemptQuery) -> bool:
    """The SQL filters of the scan, again in Python (to find an attempt's first matching check)."""
    stored = row.stored if row.stored.tzinfo else row.stored.replace(tzinfo=UTC)
    if q.since is not None and stored < q.since:
        return False
    if q.until is not None and stored >= q.until:
        return False
    return q.course is None or (row.object_activity_id or "").startswith(_course_prefix(q.course))


def tenants_in_scope(session: Session, q: AttemptQuery) -> list[tuple[int, str]]:
    stmt = select(Tenant.id, Tenant.slug).order_by(Tenant.id)
    if q.tenant is not None:
        stmt = stmt.where(Tenant.slug == q.tenant)
    rows = [(r.id, r.slug) for r in session.execute(stmt)]
    if q.tenant is not None and not rows:
        raise NotFound(f"no tenant {q.tenant!r}")
    if q.after is not None:
        rows = [r for r in rows if r[0] >= q.after[0]]
    return rows


def _check_rows(session: Session, tenant_id: int, q: AttemptQuery, after_seq: int, limit: int) -> list[Statement]:
    s = Statement
    stmt = select(s).where(s.tenant_id == tenant_id, s.verb_id == CHECK_VERB, s.seq > after_seq)
    if q.since is not None:
        stmt = stmt.where(s.stored >= _as_utc(q.since))
    if q.until is not None:
        stmt = stmt.where(s.stored < _as_utc(q.until))
    if q.course is not None:
        prefix = _course_prefix(q.course).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(s.object_activity_id.like(prefix + "%", escape="\\"))
    return list(session.scalars(stmt.order_by(s.seq).limit(limit)))


def find_attempts(session: Session, q: AttemptQuery, certificates: Sequence[bytes]) -> AttemptPage:
    """One page of attempts (see the module docstring for the order and the cursor)."""
    limit = max(1, min(q.limit, MAX_LIMIT))
    found: list[Attempt] = []
    read: list[int] = []
    scanned = 0
    for tenant_id, slug in tenants_in_scope(session, q):
        after = q.after[1] if q.after is not None and q.after[0] == tenant_id else 0
        read.append(tenant_id)
        while True:
            rows = _check_rows(session, tenant_id, q, after, BATCH)
            if not rows:
                break
            regs = {r.registration for r in rows if r.registration}
            groups = _load_groups(session, tenant_id, regs)
            for row in rows:
                after, scanned = row.seq, scanned + 1
                sid = _session_id(row.full)
                group = groups.get((row.registration or "", sid or ""))
                # Listed once: at its first check that passes the filters (on this page or before).
                first = min((m.seq for m in group or [] if m.verb_id == CHECK_VERB and _matches(m, q)),
                            default=row.seq)
                if sid is not None and group is not None and first == row.seq:
                    attempt = _attempt(session, tenant_id, slug, row.registration or "", sid, group, certificates,
                                       q.repeated_failures)
                    attempt.anchor = row.seq
                    if not q.problems or attempt.problems() & q.problems:
                        found.append(attempt)
                if len(found) >= limit or scanned >= q.max_scan:
                    return AttemptPage(found, (tenant_id, row.seq), read)
            if len(rows) < BATCH:
                break
    return AttemptPage(found, None, read)


def _load_groups(session: Session, tenant_id: int,
                 registrations: Iterable[str]) -> dict[tuple[str, str], list[Statement]]:
    """Statements of the registrations, grouped by (registration, cmi5 session id), in seq order."""
    regs = sorted(registrations)
    groups: dict[tuple[str, str], list[Statement]] = {}
    for i in range(0, len(regs), 500):
        for row in session.scalars(select(Statement).where(
                Statement.tenant_id == tenant_id, Statement.registration.in_(regs[i:i + 500])).order_by(Statement.seq)):
            sid = _session_id(row.full)
            if sid is not None:
                groups.setdefault((row.registration or "", sid), []).append(row)
    return groups


def get_attempt(session: Session, tenant: str, registration: str, session_id: str,
                certificates: Sequence[bytes], repeated_failures: int = DEFAULT_REPEATED_FAILURES) -> Attempt:
    """One attempt, by its tenant's slug, registration and cmi5 session id."""
    tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == tenant))
    if tenant_id is None:
        raise NotFound(f"no tenant {tenant!r}")
    group = _load_groups(session, tenant_id, [registration.lower()]).get((registration.lower(), session_id))
    if not group or not any(stamp_of(r.full) is not None or r.verb_id == CHECK_VERB for r in group):
        raise NotFound(f"tenant {tenant!r} has no identity-assured attempt {session_id!r} in registration "
                       f"{registration!r}")
    return _attempt(session, tenant_id, tenant, registration.lower(), session_id, group, certificates,
                    repeated_failures)


def _activities(full: dict[str, Any]) -> tuple[str | None, str | None]:
    """(quiz, course) from a check statement's context activities (parent, grouping of type course)."""
    ctx = (full.get("context") or {}).get("contextActivities") or {}
    parent = next((a.get("id") for a in ctx.get("parent") or [] if isinstance(a, dict)), None)
    course = next((a.get("id") for a in ctx.get("grouping") or [] if isinstance(a, dict)
                   and ((a.get("definition") or {}).get("type") or "").endswith("/activities/course")), None)
    return parent, course


def _attempt(session: Session, tenant_id: int, slug: str, registration: str, session_id: str,
             group: list[Statement], certificates: Sequence[bytes], repeated_failures: int) -> Attempt:
    ids = [r.statement_id for r in group]
    entries: dict[str, tuple[int, str | None]] = {}
    # On (tenant, statement_id): no ORDER BY, which would walk the tenant's whole chain in position
    # order instead. The latest entry of an id wins (it was erased and stored again).
    for sid, pos, h in session.execute(select(AuditEntry.statement_id, AuditEntry.position, AuditEntry.content_hash)
                                       .where(AuditEntry.tenant_id == tenant_id, AuditEntry.kind == "stored",
                                              AuditEntry.statement_id.in_(ids))):
        if sid is not None and pos > entries.get(sid, (0, None))[0]:
            entries[sid] = (pos, h)
    last_checkpoint = session.scalar(select(func.max(AuditCheckpoint.position)).where(
        AuditCheckpoint.tenant_id == tenant_id)) or 0
    tokens = signature_tokens(session, tenant_id, group)
    audits: list[StatementAudit] = []
    latest_stamp: dict[str, Any] | None = None
    activity = course = None
    checks: list[FaceCheck] = []
    for row in group:
        full = row.full
        stamp = stamp_of(full)
        if stamp is not None:
            latest_stamp = stamp
        if row.verb_id == CHECK_VERB:
            checks.append(face_check(row))
            parent, grouping = _activities(full)
            activity, course = activity or parent, course or grouping
        audits.append(_audit(row, stamp, tokens, entries.get(row.statement_id), last_checkpoint, certificates))
    mark_attestations(group, audits, tokens, certificates)
    stamp = latest_stamp or {}
    level = stamp.get("level")
    subject = stamp.get("subject")
    if activity is None:
        parent, grouping = _activities(group[0].full)
        activity, course = parent, grouping
    pseudonym = subject if isinstance(subject, str) else None
    return Attempt(tenant_id, slug, registration, session_id, activity, course, pseudonym,
                   level if isinstance(level, int) else None,
                   next((o for o in OUTCOMES if stamp.get("outcome") == o), "unverified"),
                   str(group[0].full.get("timestamp", "")), str(group[-1].full.get("timestamp", "")), checks, audits,
                   signals_for(session, tenant_id, pseudonym, checks, repeated_failures),
                   assurance=_text(stamp.get("assurance")), liveness=_text(stamp.get("liveness")),
                   liveness_result=_text(stamp.get("livenessResult")))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _audit(row: Statement, stamp: dict[str, Any] | None, tokens: dict[str, bytes], entry: tuple[int, str | None] | None,
           last_checkpoint: int, certificates: Sequence[bytes]) -> StatementAudit:
    full = row.full
    declared = signature_hashes(full)
    detail: str | None = None
    if not declared:
        signature = "missing" if stamp is not None else "unsigned"
    else:
        present = [tokens[h] for h in declared if h in tokens and hashlib.sha256(tokens[h]).hexdigest() == h.lower()]
        detail = signed_by_trusted(full, present, certificates) if present else "the JWS is not stored"
        signature = "valid" if detail is None else "invalid"
    if entry is None:
        chain, position = "missing", None
    else:
        position = entry[0]
        chain = "included" if entry[1] == content_hash(full) else "altered"
    return StatementAudit(row.statement_id, row.seq, row.verb_id, str(full.get("timestamp", "")), iso(row.stored),
                          row.voided, stamp is not None, stamp.get("outcome") if stamp else None, signature, detail,
                          chain, position, position is not None and position <= last_checkpoint)


def problems_from(values: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(v for v in values if v)
    unknown = sorted(chosen - set(PROBLEMS))
    if unknown:
        raise BadRequest(f"unknown problem filter(s) {', '.join(unknown)}; choose from {', '.join(PROBLEMS)}")
    return chosen

