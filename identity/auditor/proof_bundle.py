"""Proof bundles: statements an auditor can prove were stored, unaltered, by the hub (issue 5, item 2).

A bundle is one JSON document (UTF-8), so it can be mailed, archived and read by any tool:

    {
      "format": "hocvu-proof-bundle",
      "version": 1,                    # this layout; a reader refuses versions it does not know
      "created": "2026-...Z",
      "tenant": {"id": 3, "slug": "bo-noi-vu"},
      "selection": {...},              # what was asked for: an attempt, or statement ids
      "certificates": ["-----BEGIN CERTIFICATE-----..."],   # the hub's (PEM)
      "statements": [{"statement": {...as stored...}, "signatures": {"<sha2>": "<compact JWS>"},
                      "archive": "tenant=<slug>/month=<YYYY-MM>"}],   # optional: read from the lake
      "chain": {"version": "hocvu-audit-chain/1",
                "entries": [...],      # lrs.audit.chain.entry_dict, consecutive positions
                "checkpoint": {...}}   # lrs.audit.verify.checkpoint_dict: signed, at the last entry
    }

``archive`` (optional, issue 17 item 2 follow-up) says a statement was read from its month's archive
(``hocvu audit bundle --archive DIR``, identity.auditor.archived) after its row was checked against
its chain entry; it is information only: a verifier checks such a statement exactly as the others
(its chain entries never left the database), and bundles without it are as valid as before.

The segment runs from the first selected statement's 'stored' entry to the signed checkpoint
covering the last one (``build`` asks for one when none covers it yet, if it is given a signer).

``verify_bundle`` checks, with no database and no network, and reports the first failure naming
the statement or entry: each statement's JWS signatures (xAPI 1.0.3 Part Two §2.6 / xAPI 2.0
§4.2.6) with the certificate (the bundle's, or the ``trusted`` ones an auditor pinned: a forger can
replace the bundle's), the JWS bytes against the attachment's ``sha2``; each statement's canonical
hash against its chain entry; every entry's hash and link from the first to the checkpoint; and
the checkpoint's signature over the chain's hash at its position.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.auditor.attestations import signature_hashes
from identity.auditor.queries import signature_tokens
from identity.gate.attestation import attested
from identity.stamp import stamp_of
from identity.stamp_guard import signed_by_trusted
from lrs.audit.archived import ArchivedStatement
from lrs.audit.chain import CHAIN_VERSION, AuditPolicy, content_hash, iso, make_checkpoint, recompute_entry_hash
from lrs.audit.verify import check_checkpoint, proof_material
from lrs.storage import Statement, Tenant

FORMAT: Final = "hocvu-proof-bundle"
VERSION: Final = 1


# --- building (reads the database) -------------------------------------------------------------------


def statements_of(session: Session, tenant_id: int, statement_ids: Iterable[str]) -> list[Statement]:
    """Statement rows of a tenant by id, in seq order."""
    ids = sorted({s.lower() for s in statement_ids})
    rows: list[Statement] = []
    for i in range(0, len(ids), 500):
        rows.extend(session.scalars(select(Statement).where(
            Statement.tenant_id == tenant_id, Statement.statement_id.in_(ids[i:i + 500]))))
    return sorted(rows, key=lambda r: r.seq)


def build(session: Session, tenant_id: int, rows: Sequence[Statement | ArchivedStatement],
          certificates: Sequence[bytes], *,
          selection: Mapping[str, Any], policy: AuditPolicy | None = None) -> dict[str, Any]:
    """The bundle of ``rows`` (statements of one tenant). With a ``policy`` whose signer is set, a
    checkpoint is made (in the caller's transaction) when none covers the statements yet."""
    slug = session.scalar(select(Tenant.slug).where(Tenant.id == tenant_id)) or ""
    ids = [r.statement_id for r in rows]
    entries, checkpoint = proof_material(session, tenant_id, ids)
    if entries and checkpoint is None and policy is not None and policy.signer is not None:
        make_checkpoint(session, tenant_id, policy, force=True)
        entries, checkpoint = proof_material(session, tenant_id, ids)
    tokens = signature_tokens(session, tenant_id, rows)
    certs = list(dict.fromkeys(certificates))
    if policy is not None and policy.signer is not None and checkpoint is not None:
        certs = list(dict.fromkeys([*certs, policy.signer.certificate_pem]))
    return {
        "format": FORMAT, "version": VERSION, "created": iso(datetime.now(UTC)),
        "tenant": {"id": tenant_id, "slug": slug}, "selection": dict(selection),
        "certificates": [c.decode("ascii") for c in certs],
        "statements": [_item(r, tokens) for r in rows],
        "chain": {"version": CHAIN_VERSION, "entries": entries, "checkpoint": checkpoint},
    }


def _item(row: Statement | ArchivedStatement, tokens: Mapping[str, bytes]) -> dict[str, Any]:
    item: dict[str, Any] = {"statement": row.full,
                            "signatures": {h: tokens[h].decode("ascii") for h in signature_hashes(row.full)
                                           if h in tokens}}
    if isinstance(row, ArchivedStatement):
        item["archive"] = row.where
    return item


def dumps(bundle: Mapping[str, Any]) -> bytes:
    # Plain JSON: floats print as Python's shortest repr, which reads back as the same double, so
    # each statement's canonical hash is the same after the round trip.
    return json.dumps(bundle, ensure_ascii=False, indent=1, allow_nan=False).encode("utf-8")


# --- verifying (no database, no network) ----------------------------------------------------------


@dataclass
class BundleFailure:
    kind: str                          # bundle | signature | attestation | statement | entry | checkpoint
    reason: str
    statement_id: str | None = None
    position: int | None = None

    def __str__(self) -> str:
        where = [f"statement {self.statement_id}" if self.statement_id else "",
                 f"entry at position {self.position}" if self.position is not None else ""]
        return f"{self.kind} failed ({', '.join(w for w in where if w) or 'the bundle'}): {self.reason}"


@dataclass
class BundleReport:
    tenant: str = ""
    statements: int = 0
    signatures: int = 0
    attestations: int = 0              # hub attestations of AU statements checked against them
    entries: int = 0
    checkpoint: int | None = None
    certificates: list[str] = field(default_factory=list)   # SHA-256 fingerprints, to compare out of band
    failure: BundleFailure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


class _Failed(Exception):
    def __init__(self, failure: BundleFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


def fingerprint(pem: bytes) -> str:
    return x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex(":")


def verify_bundle(path: str | Path | bytes, trusted: Sequence[bytes] | None = None) -> BundleReport:
    """Check a bundle file (or its bytes); the report's ``failure`` is the first that does not hold.
    ``trusted``: PEM certificates to check with instead of the bundle's own."""
    report = BundleReport()
    try:
        data = path if isinstance(path, bytes) else Path(path).read_bytes()
        _verify(_load(data), report, trusted)
    except _Failed as failed:
        report.failure = failed.failure
    return report


def _load(data: bytes) -> dict[str, Any]:
    try:
        bundle = json.loads(data)
    except ValueError as err:
        raise _Failed(BundleFailure("bundle", f"not a JSON document: {err}")) from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise _Failed(BundleFailure("bundle", f"not a {FORMAT} document"))
    if bundle.get("version") != VERSION:
        raise _Failed(BundleFailure("bundle", f"version {bundle.get('version')!r} is not one this reader knows "
                                              f"({VERSION})"))
    return bundle


def _certificates(bundle: dict[str, Any], trusted: Sequence[bytes] | None, report: BundleReport) -> list[bytes]:
    try:
        own = [c.encode("ascii") for c in bundle["certificates"]]
        report.certificates = [fingerprint(c) for c in own]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise _Failed(BundleFailure("bundle", f"the certificates are not PEM X.509 certificates ({err})")) from None
    certs = list(trusted) if trusted else own
    if not certs:
        raise _Failed(BundleFailure("bundle", "the bundle holds no certificate of the hub"))
    return certs


def _verify(bundle: dict[str, Any], report: BundleReport, trusted: Sequence[bytes] | None) -> None:
    certs = _certificates(bundle, trusted, report)
    try:
        tenant_id = int(bundle["tenant"]["id"])
        report.tenant = str(bundle["tenant"].get("slug", ""))
        items = [(dict(i["statement"]), dict(i.get("signatures") or {})) for i in bundle["statements"]]
        chain = bundle["chain"]
        entries = [dict(e) for e in chain["entries"]]
        checkpoint = chain.get("checkpoint")
    except (KeyError, TypeError, ValueError) as err:
        raise _Failed(BundleFailure("bundle", f"the bundle is missing a part or malformed ({err})")) from None
    if chain.get("version") != CHAIN_VERSION:
        raise _Failed(BundleFailure("bundle", f"chain version {chain.get('version')!r} is not {CHAIN_VERSION}"))
    report.statements = len(items)
    for statement, signatures in items:
        report.signatures += _check_signatures(statement, signatures, certs)
    report.attestations = _check_attestations([s for s, _ in items])
    report.entries = len(entries)
    by_id = _check_links(entries, tenant_id)
    for statement, _ in items:
        sid = str(statement.get("id", "")).lower()
        entry = by_id.get(sid)
        if entry is None:
            raise _Failed(BundleFailure("statement", "no 'stored' entry of the chain segment names it", sid))
        if content_hash(statement) != entry["content_hash"]:
            raise _Failed(BundleFailure("statement", "its canonical hash differs from its chain entry's "
                                                     "(the statement was altered)", sid, entry["position"]))
    if not isinstance(checkpoint, dict):
        raise _Failed(BundleFailure("checkpoint", "no signed checkpoint covers the segment"))
    report.checkpoint = checkpoint.get("position")
    if checkpoint.get("tenant_id") != tenant_id:
        raise _Failed(BundleFailure("checkpoint", "it is another tenant's checkpoint", None, report.checkpoint))
    at = {e["position"]: e["entry_hash"] for e in entries}
    try:
        reason = check_checkpoint(checkpoint, at.get(checkpoint["position"]), certs)
    except (KeyError, TypeError, ValueError) as err:
        reason = f"the checkpoint is malformed ({err})"
    if reason:
        raise _Failed(BundleFailure("checkpoint", reason, None, report.checkpoint))


def _check_attestations(statements: list[dict[str, Any]]) -> int:
    """Each attestation (``identity.gate.attestation``; its signature was checked with the others) whose
    AU statement is in the bundle must cover it as it is: the statement's canonical hash is the attested one."""
    by_id = {str(s.get("id", "")).lower(): s for s in statements}
    checked = 0
    for statement in statements:
        claim = attested(statement)
        covered = by_id.get(claim["statement"].lower()) if claim is not None else None
        if claim is None or covered is None:
            continue
        if content_hash(covered) != claim["sha256"]:
            raise _Failed(BundleFailure("attestation", "the statement was altered after the hub attested it (its "
                                                       "canonical hash is not the attested one)",
                                        claim["statement"].lower()))
        checked += 1
    return checked


def _check_signatures(statement: dict[str, Any], signatures: dict[str, Any], certs: Sequence[bytes]) -> int:
    """The number of signatures checked; raises at the first that fails."""
    sid = str(statement.get("id", "")).lower() or None
    declared = signature_hashes(statement)
    if not declared:
        if stamp_of(statement) is not None:
            raise _Failed(BundleFailure("signature", "it carries the identity stamp but no signature", sid))
        return 0  # an unstamped statement: proven by the chain alone
    for sha2 in declared:
        token = signatures.get(sha2)
        if not isinstance(token, str):
            raise _Failed(BundleFailure("signature", f"the JWS of attachment {sha2[:16]}... is "
                                                     "missing from the bundle", sid))
        raw = token.encode("ascii", "replace")
        if hashlib.sha256(raw).hexdigest() != sha2.lower():
            raise _Failed(BundleFailure("signature", "the JWS is not the one the statement's signature attachment "
                                                     "names (its SHA-256 differs)", sid))
        reason = signed_by_trusted(statement, [raw], certs)
        if reason is not None:
            raise _Failed(BundleFailure("signature", reason, sid))
    return len(declared)


def _check_links(entries: list[dict[str, Any]], tenant_id: int) -> dict[str, dict[str, Any]]:
    """Each entry's hash and link to the one before; returns the 'stored' entries by statement id."""
    if not entries:
        raise _Failed(BundleFailure("entry", "the chain segment is empty"))
    stored: dict[str, dict[str, Any]] = {}
    prev: dict[str, Any] | None = None
    for e in entries:
        try:
            pos, sid = e["position"], e.get("statement_id")
            if e["tenant_id"] != tenant_id:
                raise _Failed(BundleFailure("entry", "the entry is another tenant's", sid, pos))
            if prev is not None and pos != prev["position"] + 1:
                raise _Failed(BundleFailure("entry", f"expected position {prev['position'] + 1}: an entry was "
                                                     "removed or reordered", sid, pos))
            if prev is not None and e["prev_hash"] != prev["entry_hash"]:
                raise _Failed(BundleFailure("entry", "prev_hash is not the entry_hash of the entry before it",
                                            sid, pos))
            if recompute_entry_hash(e) != e["entry_hash"]:
                raise _Failed(BundleFailure("entry", "entry_hash does not match the entry's fields (altered)",
                                            sid, pos))
        except (KeyError, TypeError, ValueError) as err:
            raise _Failed(BundleFailure("entry", f"the entry is malformed ({err})", None,
                                        e.get("position") if isinstance(e, dict) else None)) from None
        if e["kind"] == "stored" and sid:
            stored[str(sid)] = e
        prev = e
    return stored
