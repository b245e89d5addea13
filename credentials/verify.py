"""Verifying a credential as an employer's page or client would: the shape, the issuer, the proof, the
issuer's key, the validity period and the revocation status, each a named check with the clause it
enforces. The answer is a ``Report``: what failed, or what the credential says was achieved, read
from the verified credential alone (nothing the hub knows about the learner besides).

Only credentials of this hub's issuers verify here: their keys are the hub's own (nothing is fetched,
DESIGN.md). The shape is checked strictly against what the hub issues (unknown properties refused):
with the RDF proof that makes what the page shows exactly what was signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session

from credentials.config import CredentialsConfig
from credentials.errors import CredentialError
from credentials.issuer import controller_known, key_resolver
from credentials.jsonld import OB_V3P0, VC_V2
from credentials.proof import ProofInvalid, verify_proof
from credentials.status_entry import StatusUnknown, revoked
from credentials.summary import Summary, summarise

SKEW: Final = timedelta(minutes=5)   # another machine's clock: validFrom a little ahead is not "not yet valid"
TOP: Final = frozenset({"@context", "id", "type", "name", "description", "issuer", "validFrom", "validUntil",
                        "awardedDate", "credentialSubject", "evidence", "credentialStatus", "credentialSchema",
                        "proof"})
SUBJECT: Final = frozenset({"id", "type", "achievement", "result", "activityEndDate", "identifier"})
TYPES: Final = ("OpenBadgeCredential", "AchievementCredential")


@dataclass
class Check:
    name: str
    ok: bool
    clause: str
    detail: str = ""


@dataclass
class Report:
    """``outcome``: valid | revoked | expired | not_yet_valid | invalid | unknown_issuer | malformed."""

    outcome: str = "valid"
    checks: list[Check] = field(default_factory=list)
    summary: Summary | None = None

    @property
    def verified(self) -> bool:
        return self.outcome == "valid"

    def fail(self, outcome: str, name: str, clause: str, detail: str) -> Report:
        self.outcome = outcome
        self.checks.append(Check(name, False, clause, detail))
        return self

    def passed(self, name: str, clause: str) -> None:
        self.checks.append(Check(name, True, clause))

    def as_json(self) -> dict[str, Any]:
        return {"verified": self.verified, "outcome": self.outcome,
                "checks": [c.__dict__ for c in self.checks],
                "credential": self.summary.as_json() if self.summary is not None else None}


def _shape(doc: Any) -> str | None:
    """Why ``doc`` is not a credential this hub issues, or None."""
    if not isinstance(doc, dict):
        return "not a JSON object"
    if doc.get("@context") != [VC_V2, OB_V3P0]:
        return f"@context must be exactly [{VC_V2}, {OB_V3P0}]"
    types = doc.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types or not any(t in types for t in TYPES):
        return "type must list VerifiableCredential and OpenBadgeCredential"
    unknown = set(doc) - TOP
    subject = doc.get("credentialSubject")
    if not isinstance(subject, dict) or not isinstance(subject.get("achievement"), dict):
        return "credentialSubject must be one object with an achievement"
    unknown |= {f"credentialSubject.{k}" for k in set(subject) - SUBJECT}
    if unknown:
        return f"properties this hub never issues: {', '.join(sorted(unknown))}"
    issuer = doc.get("issuer")
    if not isinstance(issuer, dict) or not isinstance(issuer.get("id"), str):
        return "issuer must be a Profile with an id"
    return None


def _time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _validity(report: Report, doc: dict[str, Any], now: datetime) -> bool:
    start, end = _time(doc.get("validFrom")), doc.get("validUntil")
    clause = "VC Data Model 2.0 §4.9 (validity period)"
    if start is None or (end is not None and _time(end) is None):
        report.fail("malformed", "validity", clause, "validFrom/validUntil are not dateTimeStamps")
        return False
    if start > now + SKEW:
        report.fail("not_yet_valid", "validity", clause, "validFrom is in the future")
        return False
    until = _time(end) if end is not None else None
    if until is not None and until <= now:
        report.fail("expired", "validity", clause, "validUntil has passed")
        return False
    report.passed("validity", clause)
    return True


def verify_document(session: Session, cfg: CredentialsConfig, doc: Any, now: datetime | None = None) -> Report:
    """Every check, in order; the first that fails decides the outcome."""
    now = now or datetime.now(UTC)
    report = Report()
    why = _shape(doc)
    if why is not None:
        return report.fail("malformed", "shape", "VC Data Model 2.0 §4 / Open Badges 3.0 §B.1.1", why)
    report.passed("shape", "VC Data Model 2.0 §4 / Open Badges 3.0 §B.1.1")
    issuer = doc["issuer"]["id"]
    if not controller_known(session, cfg, issuer):
        return report.fail("unknown_issuer", "issuer", "VC Data Model 2.0 §4.7 (issuer)",
                           "not issued by this hub: this page verifies the hub's own credentials only")
    report.passed("issuer", "VC Data Model 2.0 §4.7 (issuer)")
    try:
        key = verify_proof(doc, key_resolver(session, cfg))
    except (ProofInvalid, CredentialError) as err:
        return report.fail("invalid", "proof", getattr(err, "clause", "VC Data Integrity 1.0 §4.3"), err.message)
    if key.controller != issuer:
        return report.fail("invalid", "proof", "VC Data Integrity 1.0 §4.3 step 9 / VC Data Model 2.0 §4.7",
                           "the signing key belongs to another issuer than the one the credential names")
    report.passed("proof", "VC Data Integrity EdDSA Cryptosuites v1.0 §3.3.2 (eddsa-rdfc-2022)")
    report.summary = summarise(doc)
    if not _validity(report, doc, now):
        return report
    try:
        is_revoked = revoked(session, cfg, doc.get("credentialStatus"), issuer)
    except StatusUnknown as err:
        return report.fail("invalid", "status", err.clause, err.message)
    if is_revoked:
        return report.fail("revoked", "status", "Bitstring Status List v1.0 §3.2 (validate algorithm)",
                           "the issuer has revoked this credential")
    report.passed("status", "Bitstring Status List v1.0 §3.2 (validate algorithm)")
    return report
