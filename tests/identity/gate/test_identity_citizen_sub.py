"""No citizen ID in clear, anywhere, whatever the provider puts in ``sub`` (issue 12, item 4;
Decree 13/2023/NĐ-CP Art. 2.3: the personal identification number is personal data; Art. 3 and the
Personal Data Protection Law 2025 (91/2025/QH15): only what the purpose needs).

A provider that uses the 12-digit citizen ID as ``sub`` (the built-in demo provider with
``demo_sub="citizen_id"``, and npm oidc-provider with an account whose id is the number), then the
whole gate through the real pages (sign-in, bind, enrol, check, a stamped and signed quiz attempt),
the auditor's JSON, CSV, page and proof bundle, LTI Proctoring's ``verified_user`` claim for that gate,
and ``hocvu identity find``; then every column of every table (SQLite and PostgreSQL), every captured log
record, every page and export, the claim, the session cookie and the instance folder's files are
searched: the number is in none of them, in clear, grouped, as an unkeyed SHA-256 or inside a JWT/JWS.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hocvu.cli import main
from identity.demo_provider import DEMO_CITIZENS
from identity.settings import IdentitySettings
from identity.stamp import pseudonymous_subject
from lrs import credentials
from lrs.storage import Database
from tests.conftest import scratch_pg
from tests.identity.auditor.auditor_support import basic
from tests.identity.conftest import Browser, OidcProvider
from tests.identity.gate.gate_support import CALLBACK, PEPPER, IdentityEnv, Learner, build_identity_env, stamp
from tests.identity.leaks import decode_session, dump_database, leaks

DEMO = DEMO_CITIZENS[0]          # Nguyễn Văn An, level 2; sub = his citizen ID with demo_sub="citizen_id"
OIDC_LOGIN = "003195000777"      # tools/oidc/provider.mjs: an account whose id (so sub) is its citizen ID


def _scratch_postgresql() -> Iterator[str]:
    with scratch_pg("sub") as url:
        yield url


@pytest.fixture(params=[
    ("demo", "sqlite"), pytest.param(("demo", "postgresql"), marks=pytest.mark.postgres),
    ("oidc-provider", "sqlite"), pytest.param(("oidc-provider", "postgresql"), marks=pytest.mark.postgres)],
    ids=lambda p: "-".join(p))
def citizen_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[IdentityEnv, str, str]]:
    """(env, provider, the citizen ID the provider sends as sub)."""
    provider, backend = request.param
    urls = _scratch_postgresql() if backend == "postgresql" else iter([None])
    url = next(urls)
    if provider == "demo":
        def identity(base: str, instance: Path) -> IdentitySettings:
            return IdentitySettings.demo(base, "test-secret", instance, redirect_uri=CALLBACK, pepper=PEPPER,
                                         demo_sub="citizen_id")
        citizen_id = DEMO.citizen_id
    else:
        oidc: OidcProvider = request.getfixturevalue("oidc_provider")

        def identity(base: str, instance: Path) -> IdentitySettings:
            return oidc.settings(pepper=PEPPER, instance_dir=instance)
        citizen_id = OIDC_LOGIN
    env, server = build_identity_env(tmp_path, url=url, identity=identity)
    yield env, provider, citizen_id
    server.shutdown()
    server.server_close()
    env.db.dispose()
    next(urls, None)


def _sign_in(learner: Learner, provider: str) -> None:
    if provider == "demo":
        learner.sign_in(DEMO.sub)  # the demo page's button names the demo key; the token's sub is the ID
        return
    callback = Browser(learner.client).authorize(OIDC_LOGIN, next_url="/player/identity/signed-in")
    assert learner.client.get(callback).status_code == 303


def test_a_citizen_id_as_sub_is_kept_nowhere(citizen_env: tuple[IdentityEnv, str, str],
                                            caplog: pytest.LogCaptureFixture) -> None:
    env, provider, citizen_id = citizen_env
    seen: list[str] = []  # every page, JSON and export the hub answered
    learner = env.learner()
    with caplog.at_level(logging.DEBUG):  # every logger, at its most talkative
        _sign_in(learner, provider)
        for res in (learner.gate(), learner.bind(), learner.enrol("A_img2.jpg"), learner.gate(),
                    learner.check("A_img2.jpg"), learner.start(), learner.submit(), learner.gate(manage="1"),
                    learner.client.get("/identity/")):
            assert res.status_code in (200, 303), res.get_data(as_text=True)[:500]
            seen.append(res.get_data(as_text=True))
        seen += _auditor_views(env, learner)
        seen.append(_find_by_citizen_id(env, citizen_id))
    statements = learner.statements()
    stamps = [s for st, _ in statements if (s := stamp(st)) is not None]
    assert stamps and {s["outcome"] for s in stamps} == {"verified"}
    issuer = env.app.extensions["identity"].settings.issuer
    assert {s["subject"] for s in stamps} == {pseudonymous_subject(PEPPER, issuer, citizen_id)}

    claim = json.dumps(_verified_user_claim(env, learner), ensure_ascii=False)
    assert "hocvu-subject:" in claim

    assert caplog.records, "the flow should have logged something to inspect"
    dump = dump_database(env.db)
    assert "hocvu-subject:" in dump and "checked-identity" in dump  # the dump sees accounts and statements
    cookie = learner.client.get_cookie("session")
    assert cookie is not None and "identity.account" in decode_session(cookie.value)
    files = "\n".join(p.read_bytes().decode(errors="replace") for p in env.instance_dir.rglob("*") if p.is_file())
    found = {where: leaks(text, citizen_id) for where, text in (
        ("logs", caplog.text), ("database", dump), ("pages and exports", "\n".join(seen)),
        ("cookie", cookie.value), ("session", decode_session(cookie.value)), ("instance files", files),
        ("statements", repr(statements)), ("LTI Proctoring verified_user", claim))}
    assert found == {where: [] for where in found}


def _verified_user_claim(env: IdentityEnv, learner: Learner) -> dict[str, Any]:
    """The verified_user claim LTI Proctoring would send for this gate (lti_tool.proctoring.gate.gate_passed
    builds the person the same way: the account's name and the gate's pseudonymous subject)."""
    from identity.gate.domain import stamp_for
    from identity.storage import get_account
    from lti_tool.proctoring.messages import VerifiedPerson, verified_user

    [row] = learner.assurance()
    with env.db.session() as s:
        account = get_account(s, row.account_id)
        return verified_user(VerifiedPerson(full_name=account.full_name or "", subject=row.subject,
                                            summary=stamp_for(row)))


def _auditor_views(env: IdentityEnv, learner: Learner) -> list[str]:
    """The auditor's list (HTML, JSON, CSV), the attempt's page and its proof bundle."""
    with env.db.session() as s:
        slug = _slug(s, learner.launch.tenant_id)
        cred, secret = credentials.create_national_credential(s, "auditor", "citizen-sub test")
        s.commit()
        auth = basic(cred.key, secret)
    client = env.app.test_client()
    listing = client.get("/audit/attempts.json", query_string={"tenant": slug}, headers=auth)
    assert listing.status_code == 200
    [attempt] = listing.get_json()["attempts"]
    which = {"tenant": slug, "registration": attempt["registration"], "session": attempt["session_id"]}
    answers = [listing, client.get("/audit/", query_string={"tenant": slug}, headers=auth),
               client.get("/audit/attempts.csv", query_string={"tenant": slug}, headers=auth),
               client.get("/audit/attempt", query_string=which, headers=auth),
               client.get("/audit/bundle", query_string=which, headers=auth)]
    assert [a.status_code for a in answers] == [200] * 5
    return [a.get_data(as_text=True) for a in answers]


def _slug(session: Any, tenant_id: int) -> str:
    from lrs.storage import Tenant

    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    return str(tenant.slug)


def _find_by_citizen_id(env: IdentityEnv, citizen_id: str) -> str:
    """``hocvu identity find`` finds the account by the citizen ID (the provider's SoDinhDanh claim) and
    prints its pseudonym, not the number."""
    database: Database = env.db
    url = database.engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    result = CliRunner().invoke(main, ["identity", "find"], input=citizen_id + "\n", env={
        "HOCVU_DATABASE_URL": url, "HOCVU_VNEID_PEPPER": PEPPER.decode(), "HOCVU_VNEID_ISSUER": "",
        "HOCVU_DEMO_IDP": "", "HOCVU_SECRET_KEY": "test-secret"})
    assert result.exit_code == 0, result.output
    assert "hocvu-subject:" in result.output
    return result.output
