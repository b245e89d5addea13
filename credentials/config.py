"""What the credentials package is given at start-up by the composition root (``hocvu/app.py``).

The package may not import the player (DESIGN.md, one-way imports), so the two facts it needs from
it arrive as plain values and callables: the course rules (``CourseRules``, built from the player's
catalogue) and who the learner of the current request is (``Holder``, read from the player's
session). Completion itself is read from the tenant's LRS (``credentials.completion``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lrs.storage import Database

# Bitstring Status List v1.0 §2.1: "a minimum of 131,072 entries" (16 KB), for group privacy.
MIN_STATUS_LIST_SIZE: Final = 131_072
IssuerMode = Literal["hub", "tenant"]


@dataclass(frozen=True)
class RequiredQuiz:
    """A quiz the course's credential requires passed (a graded quiz of the course)."""

    activity_id: str                 # its xAPI Activity id: what the "passed" statement's object is
    title: Mapping[str, str]         # {"vi": ..., "en": ...}
    min_level: int | None = None     # VNeID level its attempts must be verified at; None: no identity required


@dataclass(frozen=True)
class CourseRules:
    """A course as its credential sees it."""

    course_id: str
    activity_id: str
    title: Mapping[str, str]
    description: Mapping[str, str]
    quizzes: tuple[RequiredQuiz, ...]
    competences: tuple[tuple[str, str], ...] = ()    # (framework, code), e.g. ("digcomp-2.2", "4.2")

    @property
    def identity_required(self) -> bool:
        return any(q.min_level is not None for q in self.quizzes)


@dataclass(frozen=True)
class Holder:
    """The learner as the source that opened the player knows them, in one tenant. ``name`` is the
    name the learner chose to show on their credentials ("" shows none)."""

    tenant_id: int
    home_page: str
    account: str
    name: str = ""

    @property
    def actor(self) -> dict[str, Any]:
        """The xAPI Agent the player writes the learner's statements with (an account)."""
        return {"objectType": "Agent", "account": {"homePage": self.home_page, "name": self.account}}


def _derive(secret: str, purpose: bytes) -> bytes:
    if not secret:
        raise ValueError("the credentials package needs the app secret (HOCVU_SECRET_KEY)")
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(secret.encode())


@dataclass(frozen=True)
class CredentialsConfig:
    db: Database
    public_url: str
    secret_key: str = field(repr=False)
    courses: Callable[[str], CourseRules | None]
    # The statement authority the completion facts must carry (the player's): statements any tenant
    # credential could write for the learner never count.
    trusted_authority: Mapping[str, Any]
    current_holder: Callable[[], Holder | None] = lambda: None
    issuer_mode: IssuerMode = "hub"
    hub_name: str = "Bình dân học vụ số"
    valid_days: int = 0                      # 0: credentials do not expire
    status_list_size: int = MIN_STATUS_LIST_SIZE
    sweep_seconds: float = 0

    @property
    def base(self) -> str:
        return self.public_url.rstrip("/")

    def key_ring_secret(self) -> bytes:
        return _derive(self.secret_key, b"hocvu/credentials/issuer-keys/v1")

    def subject_id(self, holder: Holder) -> str:
        """The keyed pseudonymous ``credentialSubject.id``: stable per learner account in a tenant,
        meaningless without the hub's secret, never the citizen ID nor the LMS's own user id."""
        key = _derive(self.secret_key, b"hocvu/credentials/subject/v1")
        message = "\x1f".join((str(holder.tenant_id), holder.home_page, holder.account)).encode()
        return "urn:hocvu:learner:" + hmac.new(key, message, hashlib.sha256).hexdigest()[:40]
