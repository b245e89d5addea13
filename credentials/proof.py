"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite (W3C VC Data Integrity EdDSA
Cryptosuites v1.0 §3.3; the proof's shape is VC Data Integrity 1.0 §2.1 "Proofs").

Creating (§3.3.1 "Create Proof"): the proof configuration (the proof's options with the document's
``@context``, §3.3.5) and the document without its proof are each canonicalised with RDFC-1.0
(``credentials.jsonld.canonize``, §3.3.3 "Transformation"), hashed with SHA-256, and the two hashes
concatenated, proof configuration first (§3.3.4 "Hashing"); Ed25519 signs that (§3.3.6
"Serialization"), and ``proofValue`` is its multibase base58-btc encoding.

Verifying (§3.3.2 "Verify Proof") recomputes the same bytes and checks the signature with the key
the ``verificationMethod`` names, which the caller resolves (``KeyResolver``): only a key the caller
already trusts can ever verify a proof; a key carried inside the document never can.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from credentials.errors import CredentialError
from credentials.jsonld import canonize
from credentials.multikey import decode_multibase, encode_multibase

PROOF_TYPE: Final = "DataIntegrityProof"
CRYPTOSUITE: Final = "eddsa-rdfc-2022"
ASSERTION: Final = "assertionMethod"


class ProofInvalid(CredentialError):
    """The document's proof does not verify; ``clause`` names the rule it broke."""

    status, code = 400, "proof_invalid"

    def __init__(self, message: str, clause: str) -> None:
        super().__init__(f"{message} ({clause})")
        self.clause = clause


@dataclass(frozen=True)
class VerificationKey:
    """A key the verifier trusts, as its controller document lists it."""

    id: str            # the verification method id: "<controller DID>#<multibase key>"
    controller: str    # the DID whose document lists it under assertionMethod
    public_key: Ed25519PublicKey


KeyResolver = Callable[[str], VerificationKey | None]


def xml_datetime(moment: datetime) -> str:
    """An XML Schema dateTimeStamp in UTC, to the second (VC Data Model 2.0 §4.9 "Validity Period")."""
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware time is required")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash_data(document: dict[str, Any], options: dict[str, Any]) -> bytes:
    config = dict(options)
    if "@context" in document:
        config["@context"] = document["@context"]  # §3.3.5 step 4
    # §3.3.4: SHA-256 of the canonical proof configuration, then of the canonical document.
    return hashlib.sha256(canonize(config).encode()).digest() + hashlib.sha256(canonize(document).encode()).digest()


def add_proof(document: dict[str, Any], key: Ed25519PrivateKey, verification_method: str,
              created: datetime) -> dict[str, Any]:
    """A copy of ``document`` secured with an ``eddsa-rdfc-2022`` proof (VC Data Integrity 1.0 §4.2)."""
    if "proof" in document:
        raise ValueError("the document already has a proof")
    options: dict[str, Any] = {"type": PROOF_TYPE, "cryptosuite": CRYPTOSUITE, "created": xml_datetime(created),
                               "verificationMethod": verification_method, "proofPurpose": ASSERTION}
    signature = key.sign(_hash_data(document, options))
    secured = copy.deepcopy(document)
    # A set of one proof (VC Data Integrity 1.0 §2.1 allows one or more): Open Badges 3.0's JSON
    # schema requires ``proof`` to be an array.
    secured["proof"] = [{**options, "proofValue": encode_multibase(signature)}]
    return secured


def _single_proof(secured: dict[str, Any]) -> dict[str, Any]:
    proof = secured.get("proof")
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    if not isinstance(proof, dict):
        raise ProofInvalid("the credential has no proof, or more than one", "VC Data Integrity 1.0 §2.1")
    return proof


def verify_proof(secured: dict[str, Any], resolve: KeyResolver, *, purpose: str = ASSERTION) -> VerificationKey:
    """Check ``secured``'s proof; returns the key that verified it, else raises ``ProofInvalid``."""
    proof = _single_proof(secured)
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofInvalid(f"not a {CRYPTOSUITE} {PROOF_TYPE}", "VC Data Integrity EdDSA Cryptosuites v1.0 §3.3.2")
    if proof.get("proofPurpose") != purpose:
        raise ProofInvalid(f"the proof's purpose is not {purpose}", "VC Data Integrity 1.0 §4.3 step 9")
    created = proof.get("created")
    try:
        if created is not None:
            datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        signature = decode_multibase(str(proof.get("proofValue", "")))
    except ValueError as err:
        raise ProofInvalid(f"malformed proof: {err}", "VC Data Integrity 1.0 §2.1") from None
    method = proof.get("verificationMethod")
    key = resolve(method) if isinstance(method, str) else None
    if key is None:
        raise ProofInvalid("the proof names a verification method this verifier does not trust",
                           "VC Data Integrity 1.0 §4.3 step 5 (retrieve verification method)")
    unsecured = {k: v for k, v in secured.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    try:
        key.public_key.verify(signature, _hash_data(unsecured, options))
    except InvalidSignature:
        raise ProofInvalid("the signature does not match the credential: it was changed after signing, or "
                           "signed by another key", "VC Data Integrity EdDSA Cryptosuites v1.0 §3.3.2") from None
    return key
