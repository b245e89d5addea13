"""Accounts keyed by (issuer, sub) and the once-only binding of an external learner identity (an
LTI platform's iss + sub) to an account, per tenant."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from identity import storage
from identity.claims import subject_hmac
from identity.errors import BadRequest, BindingConflict
from identity.oidc_client import VerifiedIdentity
from identity.settings import IdentitySettings
from lrs import credentials

PEPPER = b"bindings-test-pepper-0123456789"

LMS = "https://lms.moet.example"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_session(request: pytest.FixtureRequest, make_app: Callable[[IdentitySettings], Flask]) -> Iterator[Session]:
    """A session on each backend (PostgreSQL through tests/conftest.py's migrated database)."""
    app = make_app(IdentitySettings()) if request.param == "sqlite" else request.getfixturevalue("postgresql_app")
    with app.extensions["hocvu.db"].session() as session:
        yield session
        session.rollback()  # release SQLite's write lock for the next test


def _identity(sub: str, **kw: object) -> VerifiedIdentity:
    issuer = str(kw.pop("issuer", "https://vneid.example"))
    values: dict[str, object] = dict(issuer=issuer, subject_hmac=subject_hmac(PEPPER, issuer, sub),
                                     name="Nguyễn Văn An", birthdate=date(1990, 3, 15), citizen_id_hmac="a" * 64,
                                     level=1)
    values.update(kw)
    return VerifiedIdentity(**values)  # type: ignore[arg-type]


def _tenant(session: Session) -> int:
    return credentials.create_tenant(session, f"t-{uuid.uuid4().hex[:10]}", "Bộ thử nghiệm").id


def test_account_is_keyed_by_issuer_and_subject(db_session: Session) -> None:
    """OIDC Core §5.7: iss + sub is the only stable identifier; each sign-in refreshes the rest."""
    sub = uuid.uuid4().hex
    first = storage.record_sign_in(db_session, _identity(sub))
    again = storage.record_sign_in(db_session, _identity(sub, level=2, name="Nguyễn Văn Ân"))
    other_issuer = storage.record_sign_in(db_session, _identity(sub, issuer="https://other.example"))
    db_session.commit()
    assert first.id == again.id != other_issuer.id
    assert again.level == 2 and again.full_name == "Nguyễn Văn Ân"


def test_binding_is_made_once(db_session: Session) -> None:
    tenant = _tenant(db_session)
    a = storage.record_sign_in(db_session, _identity(uuid.uuid4().hex))
    b = storage.record_sign_in(db_session, _identity(uuid.uuid4().hex))
    lti_sub = uuid.uuid4().hex
    bound = storage.bind_external_identity(db_session, a.id, tenant_id=tenant, issuer=LMS, subject=lti_sub)
    # The same binding again is a no-op; to another account it is refused (409), never moved.
    again = storage.bind_external_identity(db_session, a.id, tenant_id=tenant, issuer=LMS, subject=lti_sub)
    assert again.id == bound.id
    with pytest.raises(BindingConflict) as err:
        storage.bind_external_identity(db_session, b.id, tenant_id=tenant, issuer=LMS, subject=lti_sub)
    assert err.value.status == 409
    db_session.commit()
    found = storage.account_for_external(db_session, tenant_id=tenant, issuer=LMS, subject=lti_sub)
    assert found is not None and found.id == a.id


def test_bindings_are_per_tenant(db_session: Session) -> None:
    """DESIGN.md tenancy: one tenant's binding neither blocks nor is visible to another's."""
    t1, t2 = _tenant(db_session), _tenant(db_session)
    a = storage.record_sign_in(db_session, _identity(uuid.uuid4().hex))
    b = storage.record_sign_in(db_session, _identity(uuid.uuid4().hex))
    storage.bind_external_identity(db_session, a.id, tenant_id=t1, issuer=LMS, subject="learner-1")
    storage.bind_external_identity(db_session, b.id, tenant_id=t2, issuer=LMS, subject="learner-1")
    db_session.commit()
    assert storage.account_for_external(db_session, tenant_id=t1, issuer=LMS, subject="learner-1").id == a.id  # type: ignore[union-attr]
    assert storage.account_for_external(db_session, tenant_id=t2, issuer=LMS, subject="learner-1").id == b.id  # type: ignore[union-attr]
    assert storage.account_for_external(db_session, tenant_id=t1, issuer=LMS, subject="nobody") is None


def test_binding_needs_an_existing_account_and_sane_identity(db_session: Session) -> None:
    tenant = _tenant(db_session)
    with pytest.raises(storage.AccountNotFound):
        storage.bind_external_identity(db_session, 10**9, tenant_id=tenant, issuer=LMS, subject="x")
    a = storage.record_sign_in(db_session, _identity(uuid.uuid4().hex))
    with pytest.raises(BadRequest):
        storage.bind_external_identity(db_session, a.id, tenant_id=tenant, issuer=LMS, subject="")
    with pytest.raises(BadRequest):
        storage.bind_external_identity(db_session, a.id, tenant_id=tenant, issuer=LMS, subject="s" * 256)
