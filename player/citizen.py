"""The citizen source: a person who signs in with VNeID at the front door and learns with no LMS.

A second source of player sessions beside LTI launches (``player.session``): the learner IS the
VNeID account. Nothing new is registered in ``identity``:

- the learner is an xAPI account (xAPI 2.0 Part 2 §2.4.2.3) whose ``homePage`` is the hub's
  ``CITIZEN_HOME`` and whose ``name`` is the account's pseudonymous subject
  (``identity.stamp.pseudonymous_subject``: keyed HMAC of the provider's iss and sub, never a citizen
  ID), so the national store holds no personal data, and the subject in an identity stamp equals the
  actor's account name;
- its tenant is the national tenant (``Settings.national_tenant``), which keeps every citizen's
  records with the same stamps and signatures as the ministries' LMS launches;
- the identity gate sees a bound learner: the citizen's ``ExternalId`` (national tenant, CITIZEN_HOME,
  subject) is bound to the signed-in account itself (``identity.storage.bind_external_identity``), so
  an identity-assured quiz asks for no linking step, only the face check;
- each course is its own link: the registration is the learner's and the course's
  (``player.domain.registration_for``), the same on every device and after every sign-in.

Flask-free: the front door (``player.front``) reads the browser session and calls these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from identity import storage as identity_storage
from identity.stamp import pseudonym_of
from lrs import credentials
from lrs.storage import Tenant
from player.session import Learner, PlayerSession

SOURCE = "citizen"
# The account home page of citizens who learn at the hub itself (xAPI account.homePage: "the
# canonical home page for the system the account is on"): the hub, not VNeID, since the name is
# the hub's pseudonym and means nothing at VNeID.
CITIZEN_HOME = "https://hocvu.vn/citizens"
ACCOUNT_ID = "account_id"   # in PlayerSession.source_data: the VNeID account the session belongs to


@dataclass(frozen=True)
class Citizen:
    """A signed-in VNeID account as the player sees it."""

    account_id: int
    subject: str   # pseudonymous (identity.stamp.pseudonym_of)
    name: str      # for the page only; never written to the LRS


def citizen_of(db: Session, account_id: int) -> Citizen:
    """The citizen behind a signed-in account; ``identity.errors.AccountNotFound`` if it is gone."""
    account = identity_storage.get_account(db, account_id)
    # The account is keyed by the HMAC of (iss, sub), which is the pseudonym's body: the same
    # subject the gate stamps (identity.stamp.pseudonymous_subject), without the clear sub.
    return Citizen(account.id, pseudonym_of(account.subject_hmac), account.full_name or "")


def national_tenant_id(db: Session, slug: str, name: str) -> int:
    """The national tenant's id, created on first use (two first requests at once: one creates it,
    the other finds it). The caller commits."""
    found = db.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if found is not None:
        return found
    try:
        with db.begin_nested():
            tenant = credentials.create_tenant(db, slug, name)
        return tenant.id
    except IntegrityError:
        found = db.scalar(select(Tenant.id).where(Tenant.slug == slug))
        if found is None:
            raise
        return found


def learner(citizen: Citizen) -> Learner:
    return Learner(CITIZEN_HOME, citizen.subject, citizen.name)


def course_session(tenant_id: int, citizen: Citizen, course_target: str, locale: str) -> PlayerSession:
    """The player session a citizen opens on one course of the catalogue: no score reporter (no
    gradebook but their own, in "my learning"), no staff view."""
    return PlayerSession(tenant_id=tenant_id, learner=learner(citizen), link=course_target, target=course_target,
                         locale=locale, source=SOURCE, staff=False, reporter=None,
                         source_data={ACCOUNT_ID: citizen.account_id})


def bind_to_account(db: Session, tenant_id: int, citizen: Citizen, now: datetime | None = None) -> None:
    """The citizen's external identity in the national tenant is their own account: bound once,
    never moved (``bind_external_identity`` refuses another account). The caller commits."""
    identity_storage.bind_external_identity(db, citizen.account_id, tenant_id=tenant_id, issuer=CITIZEN_HOME,
                                            subject=citizen.subject, now=now or datetime.now(UTC))


def belongs_to(opened: PlayerSession, account_id: int | None) -> bool:
    """Whether a citizen's player session still belongs to the account signed in in this browser:
    after a sign-out, or a sign-in as someone else on a shared phone, it is closed."""
    return account_id is not None and opened.source_data.get(ACCOUNT_ID) == account_id
